"""Numbers checked once, for every command, right after parsing: one clear line instead of a crash deep in
generation or training, or a run that "succeeds" and does nothing (`rounds: 0`).

Rules go by field name, so a field means the same everywhere (`batch_size` of `eval` and of `best-of-n`);
TRL's own fields are checked where a wrong value would fail late (`per_device_train_batch_size: 0`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from rl_critic.ground.errors import UserError

# One name per idea across commands: `n` samples, `limit` rows, `batch_size` prompts per call, the critic's own
# with a `critic_` prefix (old names are aliases, parsed into these fields).
POSITIVE = set(
    (
        "n limit batch_size chunk max_new_tokens rounds pairs_per_question critic_batch_size critic_max_new_tokens "
        "min_pixels max_pixels max_shapes minutes num_proc per_device_train_batch_size gradient_accumulation_steps "
        "num_generations max_completion_length"
    ).split()
)
NON_NEGATIVE = {"temperature", "critic_temperature", "preflight_rows"}
PROBABILITY = {"tie_rate"}  # in [0, 1]
NUCLEUS = {"top_p"}  # in (0, 1]
_NUMBER_TYPES = {"int", "float", "int | None", "float | None", "Optional[int]", "Optional[float]"}


def _declared_number(field: dataclasses.Field) -> bool:
    declared = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", str(field.type))
    return declared.replace("typing.", "") in _NUMBER_TYPES


def _problem(name: str, value: Any) -> str | None:
    if name in POSITIVE and value <= 0:
        return "must be greater than 0"
    if name in NON_NEGATIVE and value < 0:
        return "must not be negative"
    if name in PROBABILITY and not 0 <= value <= 1:
        return "must be between 0 and 1"
    if name in NUCLEUS and not 0 < value <= 1:
        return "must be in (0, 1]"
    return None


def validate_numbers(instances) -> None:
    """Raise `UserError` for the first number field that is not a number or breaks its rule."""
    for instance in instances:
        if not dataclasses.is_dataclass(instance):
            continue
        for field in dataclasses.fields(instance):
            value = getattr(instance, field.name, None)
            if value is None or not _declared_number(field):
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise UserError(f"{field.name} must be a number, not {value!r}")
            problem = _problem(field.name, value)
            if problem:
                raise UserError(f"{field.name} {problem} (got {value})")
