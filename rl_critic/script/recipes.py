"""Where the recipes live: the clone's `recipes/` folder, or the copy a `pip install` puts in
`<prefix>/share/rl-critic/recipes` (pyproject's data-files), so `rl-critic demo` and
`--config recipes/tiny/grpo_critic.yaml` work the same from a clone and from an installed package."""

from __future__ import annotations

import sys
from pathlib import Path

CLONE = Path(__file__).resolve().parents[2] / "recipes"
INSTALLED = Path(sys.prefix) / "share" / "rl-critic" / "recipes"


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
