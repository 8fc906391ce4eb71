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
