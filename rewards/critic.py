"""The official LLaVA-Critic-R1 reward: 0.9 x accuracy + 0.1 x format.

By default this is exactly the official reward (`examples/reward_function/math.py` of LLaVA-Critic-R1, format
weight 0.1) on pairwise rows: the same whitespace collapse, the same format full match, the content of the last
`\\boxed{}` (none, or unbalanced braces: 0) graded by mathruler's `grade_answer` against the label
(`rewards.grading`). `verdicts=lenient` also accepts the usual spellings of a label (`first`, `A`, `Response 1`,
..., listed in `normalise_preference`), which the official reward scores 0.

Accuracy is the preference reward for pairwise rows and the pointwise reward for score rows, chosen per
row from the converted dataset's `task` column (or, without it, from a non-empty `scale`), so one
`reward_funcs: [critic]` trains on a mixed pairwise + pointwise dataset.
"""

from __future__ import annotations

from typing import Any

from rewards.format import format_ok
from rewards.grading import NO_ANSWER, boxed_answer
from rewards.options import choice, flag, share
from rewards.pointwise import POINTWISE_MODES, pointwise_accuracy
from rewards.preference import TIES, VERDICT_MODES, preference_accuracy
from rewards.text import completion_text


class CriticReward:
    """A TRL reward combining accuracy and format; the weights must sum to 1 so rewards stay in [0, 1].

    A small class rather than a closure: instances pickle (multiprocessing data loaders, accelerate, Ray), and
    the options are visible as attributes. `critic_reward` is the default instance."""

    __name__ = "critic_reward"  # TRL names a reward's metrics after it

    def __init__(
        self,
        accuracy_weight: float = 0.9,
        format_weight: float = 0.1,
        ties: str = "match",
        pointwise_mode: str = "linear",
        tolerance: float = 0.1,
        single_think: bool = False,
        verdicts: str = "official",
    ) -> None:
        accuracy_weight, format_weight = (
            share("accuracy_weight", accuracy_weight),
            share("format_weight", format_weight),
        )
        if abs(accuracy_weight + format_weight - 1.0) > 1e-9:
            raise ValueError("accuracy_weight and format_weight must be >= 0 and sum to 1")
        self.accuracy_weight, self.format_weight = accuracy_weight, format_weight
        self.ties = choice("ties", ties, TIES)
        self.pointwise_mode = choice("pointwise_mode", pointwise_mode, POINTWISE_MODES)
        self.tolerance = share("tolerance", tolerance)
        self.single_think = flag("single_think", single_think)
        self.verdicts = choice("verdicts", verdicts, VERDICT_MODES)

    def accuracy_part(self) -> CriticReward:
        """This reward without its format part (weights 1 and 0, the other options kept): what decides whether a
        GRPO group's verdicts differ (dynamic sampling), where a blend would let all-wrong groups through on
        format alone."""
        return CriticReward(
            accuracy_weight=1.0,
            format_weight=0.0,
            ties=self.ties,
            pointwise_mode=self.pointwise_mode,
            tolerance=self.tolerance,
            single_think=self.single_think,
            verdicts=self.verdicts,
        )

    def __call__(self, prompts=None, completions=None, completion_ids=None, solution=None, **kwargs: Any):
        n = len(completions or [])
        tasks = kwargs.get("task") or [None] * n
        scales = kwargs.get("scale") or [None] * n
        rewards: list[float | None] = []
        answers: list[str] = []
        accuracies: list[float] = []
        formats: list[float] = []
        for completion, label, task, scale in zip(completions or [], solution or [], tasks, scales):
            text = completion_text(completion)
            boxed = boxed_answer(text)  # the box only, as the official reward: no `<answer>` tag
            answers.append((boxed or "")[:40])
            if (task == "pointwise") if task else bool(scale):
                accuracy = pointwise_accuracy(boxed, label, scale, self.pointwise_mode, self.tolerance)
            else:
                answer = boxed if boxed is not None else NO_ANSWER  # what mathruler grades without a box
                accuracy = preference_accuracy(answer, label, self.ties, self.verdicts)
            formatted = float(format_ok(text, single_think=self.single_think))
            formats.append(formatted)
            if accuracy is not None:
                accuracies.append(accuracy)
            weighted = (
                self.accuracy_weight * accuracy + self.format_weight * formatted if accuracy is not None else None
            )
            rewards.append(weighted)
        if kwargs.get("log_extra") is not None:
            kwargs["log_extra"]("critic_answer", answers)
        if kwargs.get("log_metric") is not None and formats:
            # The two components apart, so a run shows whether reward comes from format or from verdicts.
            kwargs["log_metric"]("critic/format", sum(formats) / len(formats))
            if accuracies:
                kwargs["log_metric"]("critic/accuracy", sum(accuracies) / len(accuracies))
        return rewards


critic_reward = CriticReward()
