"""Pointwise reward: how close is the boxed score to the label, on the row's own scale?

LLaVA-Critic's pointwise data scores 0-100 (`Final Score: N`), LLaVA-Bench 1-10, MLLM-as-a-Judge 1-5: the
distance is measured as a fraction of the row's range (the `scale` column, `"0-100"`), so a reward of
0.9 means the same closeness everywhere.
"""

from __future__ import annotations

import re
from typing import Any

from rewards.options import choice, share
from rewards.text import completion_text, final_answer, unwrap_latex

POINTWISE_MODES = ("linear", "band")

_NUMBER = re.compile(r"-?\d{1,6}(?:\.\d{1,6})?")
_SCALE = re.compile(r"(-?\d{1,6})\s*-\s*(-?\d{1,6})")


def parse_score(text: str | None) -> float | None:
    """The score in a boxed answer (`85`, `85/100`, `Score: 7.5`, `\\text{8}`); None if there is not
    exactly one leading number."""
    if text is None:
        return None
    text = unwrap_latex(text)
    if len(text) > 100:
        return None
    numbers = _NUMBER.findall(text)
    if not numbers:
        return None
    if len(numbers) == 2 and text.replace(" ", "").endswith("/" + numbers[1]):  # "85/100"
        return float(numbers[0])
    return float(numbers[0]) if len(numbers) == 1 else None


def scale_range(scale: str | None) -> tuple[int, int] | None:
    """(low, high) from a `"0-100"` style `scale` column; None when absent or malformed."""
    match = _SCALE.fullmatch(str(scale or "").strip())
    if match and int(match.group(1)) < int(match.group(2)):
        return int(match.group(1)), int(match.group(2))
    return None


def parse_scale(scale: str | None, label: float) -> tuple[float, float]:
    """(low, high) from the `scale` column, else guessed from the label (>10: 0-100, else 1-10)."""
    bounds = scale_range(scale)
    if bounds is not None:
        return float(bounds[0]), float(bounds[1])
    return (0.0, 100.0) if label > 10 else (1.0, 10.0)


def score_closeness(predicted: float | None, label: float, low: float, high: float, mode: str, tolerance: float):
    """1.0 at the label, falling to 0.0 (linear) or a 0/1 band of `tolerance` x range."""
    if predicted is None or not low <= predicted <= high:
        return 0.0
    distance = abs(predicted - label) / (high - low)
    if mode == "band":
        return 1.0 if distance <= tolerance + 1e-12 else 0.0
    return max(0.0, 1.0 - distance)


def pointwise_accuracy(
    answer: str | None, label_text: Any, scale: str | None, mode: str = "linear", tolerance: float = 0.1
) -> float | None:
    """Closeness of one boxed score to one label on the row's scale; None when the label is not a number."""
    label = parse_score(str(label_text)) if label_text is not None else None
    if label is None:
        return None
    low, high = parse_scale(scale, label)
    return score_closeness(parse_score(answer), label, low, high, mode, tolerance)


class PointwiseReward:
    """A TRL reward for score targets (`solution` = the score, `scale` = its range).

    mode: `"linear"` (1 - |boxed - label| / range) or `"band"` (1 within `tolerance` x range, else 0).
    Rows whose label is not a number return None.
    """

    __name__ = "pointwise_reward"

    def __init__(self, mode: str = "linear", tolerance: float = 0.1) -> None:
        self.mode, self.tolerance = choice("mode", mode, POINTWISE_MODES), share("tolerance", tolerance)

    def __call__(self, prompts=None, completions=None, completion_ids=None, solution=None, **kwargs: Any):
        scales = kwargs.get("scale") or [None] * len(solution or [])
        answers = [final_answer(completion_text(c)) for c in completions or []]
        return [
            pointwise_accuracy(answer, label, scale, self.mode, self.tolerance)
            for answer, label, scale in zip(answers, solution or [], scales)
        ]


pointwise_reward = PointwiseReward()
