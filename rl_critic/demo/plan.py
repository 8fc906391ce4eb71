"""How big each demo stage is, derived from one number: the minutes the user gives it.

The sizes were measured on 2 CPU cores with the tiny Qwen2.5-VL (SFT ~5.5 steps/s, GRPO ~2 steps/s at
8 generations x 48 tokens): a 10-minute budget gives the warm start up to ~4 minutes and GRPO ~2.5, the
rest goes to evaluation, self-critique and start-up. Training stops on time or on steps, whichever
comes first, so a slower machine trains less rather than overrunning.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class DemoPlan:
    minutes: float
    seed: int
    train_rows: int  # critic rows (sft-r1 and grpo are made from the same rows)
    policy_rows: int  # question -> answer rows mixed into the warm start, so the model can also answer
    val_rows: int  # model selection (checkpoints) only
    test_rows: int  # the reported held-out accuracy
    question_rows: int  # self-critique questions
    sft_seconds: float
    sft_max_steps: int
    sft_save_steps: int
    sft_stop_at: float  # warm start ends when two checkpoints in a row are this accurate on val
    sft_runs: int  # seeded warm-start runs racing side by side (one thread each)
    grpo_seconds: float
    grpo_max_steps: int
    grpo_save_steps: int
    best_of_n: int

    @classmethod
    def for_minutes(cls, minutes: float, seed: int = 0) -> DemoPlan:
        if minutes < 1:
            raise ValueError("--minutes must be at least 1")
        full = minutes >= 5
        return cls(
            minutes=minutes,
            seed=seed,
            train_rows=3000 if full else 1000,
            policy_rows=1000 if full else 300,
            val_rows=100 if full else 50,
            test_rows=200 if full else 64,
            question_rows=48 if full else 8,
            sft_seconds=round(minutes * 60 * 0.40, 1),
            sft_max_steps=2000,
            sft_save_steps=50,  # the jump from chance to ~90% can take 100 steps: catch it on the way up
            sft_stop_at=0.75,  # 0.70 twice was met by a run stuck half-reading colours (64% on test)
            sft_runs=2 if (os.cpu_count() or 1) >= 2 else 1,
            grpo_seconds=round(minutes * 60 * 0.25, 1),
            grpo_max_steps=500,
            grpo_save_steps=25 if full else 10,
            best_of_n=8 if full else 4,
        )

    def as_dict(self) -> dict:
        return asdict(self)
