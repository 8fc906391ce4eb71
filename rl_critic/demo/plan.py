"""How big each demo stage is, derived from one number: the minutes the user gives it.

Sizes measured on 2 CPU cores with the tiny Qwen2.5-VL (critic SFT ~5.5 steps/s on one thread, policy
SFT ~14 steps/s): with 12 minutes the critic's SFT gets up to ~5.5 minutes, three seeded runs racing on
the two cores (measured: a run starts to compare answers with the picture suddenly, after 300 to 900 steps,
or not at all: 8 of 18 runs never did within 1,300-2,000 steps), its GRPO ~0.5, critic-DPO ~1.5 and the
policy GRPO ~1 (two runs side by side, one thread each); the rest is data, evaluation and start-up.
Training stops on time, on a validation target or on steps, whichever comes first, so a slower machine
trains less rather than overrunning.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class DemoPlan:
    minutes: float
    seed: int
    critic_rows: int  # synthetic critic pairs; never repeated within the warm start (a tiny model memorises)
    policy_rows: int  # question -> answer rows: the starting policy's SFT, replayed in the critic's
    replay_rows: int  # critic rows replayed while the critic gets its answers back (`answers` stage)
    val_rows: int  # critic checkpoint selection only
    test_rows: int  # the reported held-out critic accuracy
    train_questions: int  # make-pairs, critic-DPO and policy GRPO train on these
    val_questions: int  # policy checkpoint selection only
    test_questions: int  # the reported held-out policy accuracy and best-of-N
    start_clean_steps: int  # the starting policy learns the colours from right answers first
    start_confused_steps: int  # then the annotator's (`annotator.py`)
    sft_seconds: float
    sft_max_steps: int
    sft_stop_at: float  # critic warm start ends when two checkpoints in a row are this accurate on val
    sft_runs: int  # seeded warm-start runs racing side by side (one thread each)
    answer_steps: int
    grpo_seconds: float
    grpo_max_steps: int
    best_of_n: int
    dpo_rounds: int
    dpo_questions: int
    policy_grpo_seconds: float
    policy_grpo_max_steps: int

    @classmethod
    def for_minutes(cls, minutes: float, seed: int = 0) -> DemoPlan:
        if minutes < 1:
            raise ValueError("--minutes must be at least 1")
        full = minutes >= 8
        return cls(
            minutes=minutes,
            seed=seed,
            critic_rows=16000 if full else 3000,
            policy_rows=1000 if full else 300,
            replay_rows=2000 if full else 300,
            val_rows=100 if full else 50,
            test_rows=200 if full else 64,
            train_questions=600 if full else 64,
            val_questions=100 if full else 32,
            test_questions=200 if full else 32,
            start_clean_steps=200,
            start_confused_steps=100,
            sft_seconds=round(minutes * 60 * 0.45, 1),
            sft_max_steps=3000,
            sft_stop_at=0.9,
            sft_runs=3 if (os.cpu_count() or 1) >= 2 else 1,
            answer_steps=60,
            grpo_seconds=max(round(minutes * 60 * 0.05, 1), 30.0),  # floor: time to save one checkpoint
            grpo_max_steps=300,
            best_of_n=8 if full else 4,
            dpo_rounds=3 if full else 1,
            dpo_questions=200 if full else 32,
            policy_grpo_seconds=max(round(minutes * 60 * 0.08, 1), 40.0),
            policy_grpo_max_steps=400,
        )

    def as_dict(self) -> dict:
        return asdict(self)
