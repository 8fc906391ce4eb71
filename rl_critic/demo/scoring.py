"""Validation scores of checkpoints while they train, computed inside the demo's own process.

A fresh `rl-critic eval` per checkpoint spends most of its ~10 s importing torch, while a skill can appear
between two checkpoints 20 s apart; so checkpoints are scored here, on one thread (the training runs keep
the other busy), through the same code paths as `rl-critic eval critic` (`Judge` + `eval_critic`) and
`rl-critic eval policy` (`BestOfN` with one greedy answer). Each score's report is written beside the others.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rl_critic.ground.files import staged_file

JUDGE_TOKENS = 64  # the trained rationale is ~40 tokens; an untrained model is cut here
ANSWER_TOKENS = 16  # "The circle is red." is ~6


def _quiet_torch() -> None:
    import torch

    torch.set_num_threads(1)  # the loader keeps "Loading weights" bars off the stage lines


def _load(checkpoint: Path | str):
    from rl_critic.models.loader import ModelArguments, load_model_and_processor

    return load_model_and_processor(ModelArguments(model_name_or_path=str(checkpoint)))


def _write(report_file: Path, report: dict[str, Any]) -> None:
    with staged_file(report_file) as handle:
        json.dump(report, handle, indent=2)


class CriticScorer:
    """Strict pairwise accuracy of a checkpoint on a converted `eval` split."""

    def __init__(self, data: Path, reports: Path) -> None:
        self.data, self.reports, self._rows = data, reports, None

    def __call__(self, checkpoint: Path, name: str) -> float:
        from data_converters.io import load_any
        from rl_critic.critique.judge import Judge
        from rl_critic.evaluation.critic import eval_critic
        from rl_critic.generation.hf import HFEngine
        from rl_critic.generation.settings import SamplingSettings

        _quiet_torch()
        if self._rows is None:
            self._rows = load_any(str(self.data))
        judge = Judge(HFEngine(*_load(checkpoint)), SamplingSettings(max_new_tokens=JUDGE_TOKENS), batch_size=50)
        judge.unreadable_ok = True  # an early checkpoint judges nothing yet: a validation score of 0, not a stop
        report, _ = eval_critic(self._rows, judge)
        _write(self.reports / name / "report.json", {"model": str(checkpoint), "data": str(self.data), **report})
        return report["pairwise"]["accuracy_with_ties_strict"]


class PolicyScorer:
    """Greedy answer accuracy of a checkpoint on a question file (JSONL with reference answers)."""

    def __init__(self, questions: Path, reports: Path) -> None:
        self.questions, self.reports, self._questions = questions, reports, None

    def __call__(self, checkpoint: Path, name: str) -> float:
        from rl_critic.critique.pipeline import BestOfN
        from rl_critic.critique.questions import load_question, read_rows
        from rl_critic.evaluation.policy import policy_report
        from rl_critic.generation.hf import HFEngine
        from rl_critic.generation.settings import SamplingSettings
        from rl_critic.models.media import MediaBudget

        _quiet_torch()
        if self._questions is None:
            self._questions = [load_question(row, MediaBudget()) for row in read_rows(str(self.questions))]
        greedy = BestOfN(
            HFEngine(*_load(checkpoint)), None, SamplingSettings(max_new_tokens=ANSWER_TOKENS), "first", batch_size=50
        )
        report = policy_report(greedy.run(self._questions), "first", 1)
        _write(self.reports / name / "report.json", {"model": str(checkpoint), "data": str(self.questions), **report})
        return report["first"]
