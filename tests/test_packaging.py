"""Package metadata takes ranges (installable beside a cluster's CUDA torch or vLLM); CI's exact versions live
in requirements/ and must satisfy those ranges, or `make install` and a user's `pip install` disagree."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.requirements import Requirement

tomllib = pytest.importorskip("tomllib")
ROOT = Path(__file__).resolve().parents[1]


def _pins(name: str) -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements" / name).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            package, version = line.split("==")
            pins[package.lower().replace("_", "-")] = version
    return pins


def _requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = [r for group in project["optional-dependencies"].values() for r in group]
    return [Requirement(r) for r in project["dependencies"] + extras]


def test_package_metadata_takes_ranges_not_exact_pins():
    exact = [str(r) for r in _requirements() if any(spec.operator in ("==", "===") for spec in r.specifier)]
    assert exact == []


def test_ci_pins_satisfy_the_package_ranges():
    pins = {**_pins("constraints.txt"), **_pins("torch.txt")}
    checked = 0
    for requirement in _requirements():
        version = pins.get(requirement.name.lower().replace("_", "-"))
        if version is None:  # an extra CI does not install (deepspeed, vllm)
            continue
        assert requirement.specifier.contains(version, prereleases=True), (str(requirement), version)
        checked += 1
    assert checked >= 15  # torch, torchvision, transformers, trl, peft, datasets, ... and the dev extra
    assert _pins("torch.txt") == {k: v for k, v in pins.items() if k in ("torch", "torchvision")}


def test_the_wheel_ships_every_recipe(tmp_path):
    """An installed package has its recipes (`<prefix>/share/rl-critic/recipes`), built from a copy of the
    sources so the clone is left as it was."""
    import shutil
    import subprocess
    import sys
    import zipfile

    source = tmp_path / "src"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(".git", "build", "*.egg-info", "__pycache__", "outputs", "demo_out", ".*cache"),
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path / "wheel"),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    [wheel] = (tmp_path / "wheel").glob("*.whl")
    shipped = {
        name.split("/share/rl-critic/recipes/", 1)[1]
        for name in zipfile.ZipFile(wheel).namelist()
        if "/share/rl-critic/recipes/" in name
    }
    in_clone = {str(p.relative_to(ROOT / "recipes")) for p in (ROOT / "recipes").rglob("*") if p.is_file()}
    assert shipped == in_clone and "demo/sft_critic.yaml" in shipped
    examples = {
        name.split("/share/rl-critic/", 1)[1] for name in zipfile.ZipFile(wheel).namelist() if "/examples/" in name
    }
    # what the tiny recipes name (critic-DPO and policy GRPO read examples/questions.jsonl and its two pictures)
    assert examples == {"examples/questions.jsonl", "examples/red_circle.png", "examples/blue_square.png"}


def test_config_names_resolve_to_the_installed_recipes_outside_a_clone(tmp_path, monkeypatch):
    import rl_critic.script.recipes as recipes

    installed = tmp_path / "share" / "rl-critic" / "recipes"
    (installed / "tiny").mkdir(parents=True)
    (installed / "tiny" / "sft_critic.yaml").write_text("max_steps: 1\n")
    monkeypatch.setattr(recipes, "CLONE", tmp_path / "no-clone")
    monkeypatch.setattr(recipes, "INSTALLED", installed)
    monkeypatch.chdir(tmp_path)
    expected = str(installed / "tiny" / "sft_critic.yaml")
    assert recipes.resolve_config("recipes/tiny/sft_critic.yaml") == expected
    assert recipes.resolve_config("tiny/sft_critic.yaml") == expected
    assert recipes.resolve_config("recipes/tiny/missing.yaml") == "recipes/tiny/missing.yaml"  # the parser says so
    (tmp_path / "mine.yaml").write_text("max_steps: 2\n")
    assert recipes.resolve_config("mine.yaml") == "mine.yaml"  # a user's own file always wins
    assert recipes.recipes_dir() == installed


def test_tiny_recipes_find_their_data_outside_a_clone_or_say_what_builds_it(tmp_path, monkeypatch):
    import rl_critic.script.recipes as recipes
    from rl_critic.ground.errors import UserError

    installed = tmp_path / "share" / "rl-critic" / "recipes"
    installed.mkdir(parents=True)
    (installed.parent / "examples").mkdir()
    (installed.parent / "examples" / "questions.jsonl").write_text('{"question": "q"}\n')
    monkeypatch.setattr(recipes, "CLONE", tmp_path / "no-clone")
    monkeypatch.setattr(recipes, "INSTALLED", installed)
    monkeypatch.chdir(tmp_path)
    assert recipes.resolve_data("examples/questions.jsonl") == str(installed.parent / "examples" / "questions.jsonl")
    with pytest.raises(UserError, match=r"outputs/tiny-data/sft not found: .*make tiny-data.*--task sft --out"):
        recipes.resolve_data("outputs/tiny-data/sft")
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "questions.jsonl").write_text("{}\n")  # a folder's own file wins
    assert recipes.resolve_data("examples/questions.jsonl") == "examples/questions.jsonl"
