"""The architecture the folders promise: imports only point down.

    cli/  ->  train/ critique/ evaluation/ demo/  ->  generation/  ->  models/ script/  ->  data_converters/  ->  rewards/

`cli/` parses, dispatches and prints; nothing under it imports it (a `train/<method>.py` runs as
`python -m rl_critic.train.<method>` without the command line). `script/` (recipe parsing, one-line errors)
and `models/` are the floor the task packages stand on; `data_converters/` and `rewards/` know nothing of
`rl_critic`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TASKS = {"rl_critic.train", "rl_critic.critique", "rl_critic.evaluation", "rl_critic.demo"}
# folder -> the packages (or sub-packages) it must never import, lazily inside a function included
FORBIDDEN = {
    "rewards": {"data_converters", "rl_critic"},
    "data_converters": {"rl_critic"},
    "rl_critic/generation": {"rl_critic.cli", *TASKS},
    "rl_critic/models": {"rl_critic.cli", "rl_critic.generation", *TASKS},
    "rl_critic/script": {"rl_critic.cli", "rl_critic.models", "rl_critic.generation", *TASKS},
    **{f"rl_critic/{name}": {"rl_critic.cli"} for name in ("train", "critique", "evaluation", "demo")},
}


def imported_modules(path: Path) -> set[str]:
    """Every absolute module a file imports, anywhere (lazy imports inside functions included), with each of
    its parents: `from rl_critic.cli.dispatch import x` gives `rl_critic`, `rl_critic.cli`, ...dispatch."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {".".join(name.split(".")[:depth]) for name in modules for depth in range(1, name.count(".") + 2)}


@pytest.mark.parametrize("folder", sorted(FORBIDDEN))
def test_imports_point_down_only(folder):
    files = sorted((ROOT / folder).rglob("*.py"))
    assert files, f"{folder} has no modules: the layer list is out of date"
    wrong = {str(path.relative_to(ROOT)): sorted(imported_modules(path) & FORBIDDEN[folder]) for path in files}
    assert {path: names for path, names in wrong.items() if names} == {}


def test_the_check_sees_lazy_imports_and_submodules(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from rl_critic.models import loader\n    import data_converters.io\n")
    assert {"rl_critic", "rl_critic.models", "rl_critic.models.loader", "data_converters"} <= imported_modules(module)
    module.write_text("from rl_critic import cli\n")
    assert "rl_critic.cli" in imported_modules(module) and FORBIDDEN["rl_critic/train"] & imported_modules(module)


def test_there_is_one_entry_point_per_training_method(capsys):
    """`rl-critic train <method>` and `python -m rl_critic.train.<method>`; the old aliases are gone."""
    for alias in ("sft", "dpo", "grpo", "critic_dpo", "recipes"):
        assert not (ROOT / "rl_critic" / f"{alias}.py").exists()
    assert not (ROOT / "rl_critic" / "cli" / "critic_dpo.py").exists()
    from rl_critic.cli import COMMANDS, main

    assert "critic-dpo" not in COMMANDS and main(["critic-dpo", "--help"]) == 2
    for method in ("sft", "dpo", "grpo", "critic_dpo"):
        source = (ROOT / "rl_critic" / "train" / f"{method}.py").read_text(encoding="utf-8")
        assert "def make_parser(" in source and 'if __name__ == "__main__":' in source
    assert capsys.readouterr().err == "rl-critic: error: `rl-critic critic-dpo` is now `rl-critic train critic-dpo`\n"
