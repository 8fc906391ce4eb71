"""Where the recipes live: the clone's `recipes/` folder, or the copy a `pip install` puts in
`<prefix>/share/rl-critic/recipes` (pyproject's data-files), so `rl-critic demo` and
`--config recipes/tiny/grpo_critic.yaml` work the same from a clone and from an installed package; and the data
the tiny recipes name (`examples/questions.jsonl`, shipped beside them; `outputs/tiny-data/*`, built by `make
tiny-data`)."""

from __future__ import annotations

import sys
from pathlib import Path

CLONE = Path(__file__).resolve().parents[2] / "recipes"
INSTALLED = Path(sys.prefix) / "share" / "rl-critic" / "recipes"
TINY_DATA = ("outputs", "tiny-data")
# How to build what `make tiny-data` builds, without make (an installed package, another folder).
TINY_DATA_COMMANDS = (
    "rl-critic make-synthetic --n 512 --kind pairwise --seed 0 --out outputs/tiny-data/synthetic.parquet && "
    "rl-critic convert --source llava-critic-pairwise --input outputs/tiny-data/synthetic.parquet --task {task} "
    "--out outputs/tiny-data/{task}"
)


def recipes_dir() -> Path:
    """The clone's recipes when running from one (an editable install included), else the installed copy."""
    return CLONE if CLONE.is_dir() else INSTALLED


def resolve_config(path: str) -> str:
    """`path` as given when it exists; else a shipped recipe of that name (`recipes/tiny/sft_critic.yaml` or
    `tiny/sft_critic.yaml`); else `path` unchanged, for the parser to report as missing."""
    if Path(path).exists():
        return path
    relative = Path(path)
    if relative.is_absolute():
        return path
    if relative.parts[:1] == ("recipes",):
        relative = Path(*relative.parts[1:])
    shipped = recipes_dir() / relative
    return str(shipped) if shipped.is_file() else path


def resolve_data(path: str | None) -> str | None:
    """A recipe's `dataset_name` as given when it exists; `examples/...` missing here: the shipped examples (a
    recipe run from another folder, or from an installed package); `outputs/tiny-data/<task>` missing: one line
    saying how to build it (`make tiny-data` in a clone, the two commands elsewhere)."""
    from rl_critic.ground.errors import UserError

    if not path or Path(path).expanduser().exists():
        return path
    relative = Path(path)
    if relative.is_absolute():
        return path
    if relative.parts[:1] == ("examples",):
        shipped = recipes_dir().parent / relative
        return str(shipped) if shipped.exists() else path
    if relative.parts[:2] == TINY_DATA and len(relative.parts) == 3:
        raise UserError(
            f"{path} not found: the tiny recipes train on data `make tiny-data` builds in a clone (or, in this "
            f"folder: {TINY_DATA_COMMANDS.format(task=relative.parts[2])})"
        )
    return path
