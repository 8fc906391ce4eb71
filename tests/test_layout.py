"""The architecture the folders promise: imports only point down.

    cli/  ->  train/ critique/ evaluation/ demo/  ->  generation/  ->  models/ script/
          ->  data_converters/  ->  rewards/  ->  ground/

`cli/` parses, dispatches and prints; nothing under it imports it (a `train/<method>.py` runs as
`python -m rl_critic.train.<method>` without the command line). `script/` (recipe parsing) and `models/` are the
floor the task packages stand on; `data_converters/` and `rewards/` know nothing of `rl_critic` but
`rl_critic.ground` (errors, safe file writing, hub look-ups), which imports nothing of the project.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GROUND = "rl_critic.ground"
TASKS = {"rl_critic.train", "rl_critic.critique", "rl_critic.evaluation", "rl_critic.demo"}
# folder -> the packages (or sub-packages) it must never import, lazily inside a function included; `GROUND` is
# the floor everyone may stand on
FORBIDDEN = {
    "rl_critic/ground": {"rl_critic", "data_converters", "rewards"},
    "rewards": {"data_converters", "rl_critic"},
    "data_converters": {"rl_critic"},
    "rl_critic/generation": {"rl_critic.cli", *TASKS},
    "rl_critic/models": {"rl_critic.cli", "rl_critic.generation", *TASKS},
    "rl_critic/script": {"rl_critic.cli", "rl_critic.models", "rl_critic.generation", *TASKS},
    **{f"rl_critic/{name}": {"rl_critic.cli"} for name in ("train", "critique", "evaluation", "demo")},
}


def imported_names(path: Path) -> set[str]:
    """Every absolute module (or name in one) a file imports, anywhere (lazy imports inside functions included):
    `from rl_critic.models import loader` gives `rl_critic.models` and `rl_critic.models.loader`."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def wrong_imports(path: Path, forbidden: set[str]) -> list[str]:
    def within(name: str, package: str) -> bool:
        return name == package or name.startswith(package + ".")

    return sorted(
        name
        for name in imported_names(path)
        if not within(name, GROUND) and any(within(name, package) for package in forbidden)
    )


@pytest.mark.parametrize("folder", sorted(FORBIDDEN))
def test_imports_point_down_only(folder):
    files = sorted((ROOT / folder).rglob("*.py"))
    assert files, f"{folder} has no modules: the layer list is out of date"
    wrong = {str(path.relative_to(ROOT)): wrong_imports(path, FORBIDDEN[folder]) for path in files}
    assert {path: names for path, names in wrong.items() if names} == {}


def project_modules() -> dict[str, Path]:
    modules = {}
    for package in ("rl_critic", "data_converters", "rewards"):
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            modules[name.removesuffix(".__init__")] = path
    return modules


def imported_project_modules(path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules a file imports (lazily too), each by the deepest name it names: `from a.b import c`
    is `a.b.c` when that is a module, else `a.b` (a package is not counted for each of its submodules)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                names.add(full if full in modules else node.module)
    return names & set(modules)


def test_no_module_imports_itself_through_others():
    """No import cycle, lazy imports included: two modules that import each other are one concept in two files
    (or one of them is in the wrong place)."""
    import graphlib

    modules = project_modules()
    graph = {name: imported_project_modules(path, modules) - {name} for name, path in modules.items()}
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as err:
        pytest.fail(f"import cycle: {' -> '.join(err.args[1])}")


def test_the_check_sees_lazy_imports_and_submodules(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from rl_critic.models import loader\n    import data_converters.io\n")
    assert wrong_imports(module, FORBIDDEN["data_converters"]) == ["rl_critic.models", "rl_critic.models.loader"]
    module.write_text("from rl_critic import cli\nfrom rl_critic.ground.errors import UserError\n")
    assert wrong_imports(module, FORBIDDEN["rl_critic/train"]) == ["rl_critic.cli"]
    assert wrong_imports(module, FORBIDDEN["data_converters"]) == ["rl_critic", "rl_critic.cli"]


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


def test_a_training_script_loads_only_what_it_uses():
    """`import rl_critic.train.sft` (what `accelerate launch -m rl_critic.train.sft` starts with) loads no critic
    code, no generation engine and no tiny-model builder: 44 project modules before the layout step, 21 after, 26
    with video (the media type, video sampling, and the collators that take videos), 27 with the tracker and
    hub checks made before a run loads (`train/tracking.py`)."""
    import subprocess
    import sys

    probe = (
        "import sys, rl_critic.train.sft; "
        "print(' '.join(m for m in sys.modules if m.startswith(('rl_critic', 'data_converters', 'rewards'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    ).stdout.split()
    unwanted = [
        m for m in loaded if m.startswith(("rl_critic.critique.", "rl_critic.generation", "rl_critic.models.tiny"))
    ]
    assert unwanted == [] and len(loaded) <= 27, loaded
