"""Checks of a reward's options, so that a typo is refused by name instead of training with a default.

Options arrive from recipes as YAML scalars (`critic:ties=skp,tolerance=abc`): a misspelt choice, a word where a
number belongs or `maybe` for a flag would otherwise be accepted and quietly mean something else (an unknown
choice compares unequal to every known one, a non-empty string is true).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any


def choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """`value` if it is one of `choices`, else a ValueError naming them."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def flag(name: str, value: Any) -> bool:
    """`value` if it is true or false (YAML's spellings arrive as booleans already), else a ValueError."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, not {value!r}")
    return value


def share(name: str, value: Any) -> float:
    """`value` as a float if it is a finite number from 0 to 1, else a ValueError."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not 0 <= value <= 1
    ):
        raise ValueError(f"{name} must be a number from 0 to 1, not {value!r}")
    return float(value)
