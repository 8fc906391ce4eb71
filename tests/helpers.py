"""Small helpers tests import by dotted path (as recipes would)."""

from __future__ import annotations

from rewards.text import completion_text


def length_reward(completions, **kwargs) -> list[float]:
    """A reward that varies between completions of a random model, so GRPO advantages are non-zero
    (a random tiny model earns 0 on every critic reward; see STACK-NOTES)."""
    return [len(completion_text(c)) % 5 / 4 for c in completions]
