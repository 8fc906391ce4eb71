"""TRL-compatible reward functions for critic training (format, preference, pointwise, answer accuracy).

Each function has TRL's signature `fn(prompts, completions, completion_ids=None, **kwargs) -> list[float | None]`
(dataset columns such as `solution`, `task`, `scale` arrive in kwargs), accepts conversational or plain
completions, never raises on what a model writes, and returns floats in [0, 1] (None where the *label*
is unusable, which TRL skips).

Recipes name them (`reward_funcs: [critic]`), with options after a colon (`critic:format_weight=0.2`,
`preference:ties=skip`; several separated by commas); `trl grpo --config` users give dotted paths
(`rewards.critic_reward`). `get("critic", format_weight=0.2)` builds the same variant from Python.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from typing import Any

from rewards.accuracy import AnswerAccuracyReward, answer_accuracy_reward
from rewards.critic import CriticReward, critic_reward
from rewards.format import FormatReward, format_reward
from rewards.pointwise import PointwiseReward, pointwise_reward
from rewards.preference import PreferenceReward, normalise_preference, preference_reward

# name -> reward class; its keyword arguments are that reward's options. Classes, not closures, so that every
# reward (the default instances and the ones built with options) pickles.
REWARDS: dict[str, type] = {
    "critic": CriticReward,
    "format": FormatReward,
    "preference": PreferenceReward,
    "pointwise": PointwiseReward,
    "answer_accuracy": AnswerAccuracyReward,
}
ALIASES = {"accuracy": "answer_accuracy", "r1": "critic"}


def names() -> list[str]:
    return sorted(REWARDS) + sorted(ALIASES)


def import_object(dotted: str):
    """`pkg.module.name` -> that object, with the working directory importable (as TRL does for reward
    functions: recipes may name code of the user's own project). Raises ImportError / AttributeError."""
    module_path, _, attribute = dotted.rpartition(".")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    return getattr(importlib.import_module(module_path), attribute)


def get(name: str, **options) -> Callable:
    """A reward function by registry name (with options), or by dotted import path (`pkg.module.fn`)."""
    key = ALIASES.get(name, name.removesuffix("_reward") if name.removesuffix("_reward") in REWARDS else name)
    if key in REWARDS:
        return REWARDS[key](**options)
    if "." in name:
        if options:
            raise ValueError(f"options are only supported for registered rewards, not {name!r}")
        try:
            function = import_object(name)
        except Exception as err:  # the module may fail any way its code can: a SyntaxError, a RuntimeError, ...
            detail = (str(err).strip().splitlines() or [""])[0][:200]
            raise ValueError(f"cannot import reward function {name!r}: {type(err).__name__}: {detail}") from err
        if not callable(function):
            raise ValueError(f"reward {name!r} is a {type(function).__name__}, not a function")
        return function
    raise ValueError(f"unknown reward {name!r}; choose from {', '.join(names())} or give a dotted import path")


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """`name:key=value,key=value` -> (name, options); values read as YAML scalars (0.2, true, skip)."""
    import yaml

    name, _, text = spec.partition(":")
    options: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, equals, value = item.partition("=")
        if not equals or not key.strip():
            raise ValueError(f"reward option {item!r} in {spec!r} is not key=value")
        options[key.strip()] = yaml.safe_load(value.strip()) if value.strip() else ""
    return name.strip(), options


def resolve(reward_specs: list[str] | str) -> list[Callable]:
    """`reward_funcs` of a recipe (names with optional options, or dotted paths) -> functions.

    A reward with options gets its own `__name__` (`critic:format_weight=0.2`), so TRL logs it apart."""
    if isinstance(reward_specs, str):
        reward_specs = [reward_specs]
    functions = []
    for spec in reward_specs:
        name, options = parse_spec(spec)
        try:
            function = get(name, **options)
        except TypeError as err:  # an option the reward does not have
            raise ValueError(f"reward {name!r} does not take these options: {err}") from err
        except ValueError as err:
            if not options:
                raise
            raise ValueError(f"reward {spec!r}: {err}") from err  # an option's value (`rewards/options.py`)
        if options:
            function.__name__ = spec.replace(" ", "")
        functions.append(function)
    return functions


__all__ = [
    "REWARDS",
    "AnswerAccuracyReward",
    "CriticReward",
    "FormatReward",
    "PointwiseReward",
    "PreferenceReward",
    "answer_accuracy_reward",
    "critic_reward",
    "format_reward",
    "get",
    "import_object",
    "names",
    "normalise_preference",
    "parse_spec",
    "pointwise_reward",
    "preference_reward",
    "resolve",
]
