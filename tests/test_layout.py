"""The architecture the folders promise: imports only point down (`rl_critic` -> `data_converters` ->
`rewards`), and every module stays small enough to read."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {"rewards": {"data_converters", "rl_critic"}, "data_converters": {"rl_critic"}}


def imported_packages(path: Path) -> set[str]:
    """Top-level packages a module imports anywhere (lazy imports inside functions included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_point_down_only(package):
    wrong = {str(path.relative_to(ROOT)): sorted(imported_packages(path) & FORBIDDEN[package])
             for path in (ROOT / package).rglob("*.py")}  # fmt: skip
    assert not {path: names for path, names in wrong.items() if names}


def test_the_check_sees_lazy_imports(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from rl_critic.models import loader\n    import data_converters.io\n")
    assert imported_packages(module) == {"rl_critic", "data_converters"}


def test_no_module_is_over_300_lines():
    modules = [p for package in ("rl_critic", "rewards", "data_converters") for p in (ROOT / package).rglob("*.py")]
    sizes = {str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines()) for p in modules}
    assert {path: lines for path, lines in sizes.items() if lines > 300} == {}
