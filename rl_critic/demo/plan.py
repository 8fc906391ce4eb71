"""How big each demo stage is, in steps and rows: one plan for a seed, whatever the machine.

Every stage runs a fixed, seeded number of steps, or stops on a validation rule evaluated at fixed steps (the
critic's warm start: two checkpoints in a row at `sft_stop_at`), and every checkpoint is scored (`watch.py`), so
a seed gives the same numbers on a fast machine and on a slow one; only the time differs, and it is estimated
here (`estimated_minutes`) and measured in the report, never used to decide anything. `--minutes` picks the plan:
the full one from 8 minutes up, else a reduced one (fewer rows and steps: the slow test's smoke run).

Sizes measured on 2 CPU cores with the demo's tiny Qwen2.5-VL (`tiny-model --size demo`, critic SFT ~8 steps/s
on one thread): when the critic's warm start begins to compare the responses with the picture depends on the seed
and the data order (step 400 to 2,000 on the runs measured, and 1 run in 12 not within 2,000: docs/demo.md), so two
orders race on the two cores; 2,000 steps keep the full plan within ~11 minutes when it runs to the end.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

FULL_PLAN_MINUTES = 8  # `--minutes` from here up runs the full plan, below it the reduced one
HARD_NEGATIVES = 0.5  # `convert --hard_negatives` on the answers stage's replayed rows and the critic GRPO prompts


@dataclass(frozen=True)
class DemoPlan:
    minutes: float
    seed: int
    critic_rows: int  # synthetic critic pairs; never repeated within the warm start (a tiny model memorises)
    policy_rows: int  # question -> answer rows: the starting policy's SFT, replayed in the critic's
    replay_rows: int  # critic rows replayed while the critic gets its answers back (`answers` stage)
    short_rows: int  # critic rows in the short layout mixed into the warm start (`CriticStages.stage_sft`)
    val_rows: int  # critic checkpoint selection only
    test_rows: int  # the reported held-out critic accuracy
    train_questions: int  # make-pairs, critic-DPO and policy GRPO train on these
    val_questions: int  # policy checkpoint selection only
    test_questions: int  # the reported held-out policy accuracy and best-of-N
    start_clean_steps: int  # the starting policy learns the colours from right answers first
    start_confused_steps: int  # then the annotator's (`annotator.py`)
    sft_steps: int  # the critic warm start's last step (it stops earlier on its validation rule)
    sft_short_first_steps: int  # the warm start's first steps, on the short layout alone (`stage_sft`)
    sft_runs: int  # warm starts racing to the validation target, each on its own data order (`stage_sft`)
    sft_every: int  # steps between the warm start's checkpoints (each scored on validation)
    sft_stop_at: float  # the warm start ends when two checkpoints in a row are this accurate on validation
    answer_steps: int
    grpo_steps: int  # critic GRPO; the best checkpoint on validation is kept
    best_of_n: int
    dpo_rounds: int
    dpo_questions: int
    policy_grpo_steps: int  # each of the two policy GRPO runs; the best checkpoint on validation is kept
    hard_negatives: float  # share of the replayed pairs (answers stage) and GRPO prompts that add a master-key twin
    model_size: str  # `tiny-model --size`: `demo` gives the critic 4 attention heads (docs/demo.md, issue 46)

    @classmethod
    def for_minutes(cls, minutes: float, seed: int = 0, hard_negatives: float = HARD_NEGATIVES) -> DemoPlan:
        if minutes < 1:
            raise ValueError("--minutes must be at least 1")
        if not 0 <= hard_negatives <= 1:
            raise ValueError(f"--hard_negatives is a share of the critic's pairs, from 0 to 1, not {hard_negatives}")
        full = minutes >= FULL_PLAN_MINUTES
        return cls(
            minutes=minutes,
            seed=seed,
            critic_rows=16000 if full else 3000,
            policy_rows=1000 if full else 300,
            replay_rows=2000 if full else 300,
            short_rows=8000 if full else 1500,
            val_rows=100 if full else 50,
            test_rows=200 if full else 64,
            train_questions=600 if full else 64,
            val_questions=100 if full else 32,
            test_questions=200 if full else 32,
            start_clean_steps=200,
            start_confused_steps=100,
            sft_steps=2000 if full else 300,
            sft_short_first_steps=400 if full else 100,
            sft_runs=2,
            sft_every=100 if full else 50,
            sft_stop_at=0.9,
            answer_steps=300 if full else 60,  # measured in `CriticStages.stage_answers`
            grpo_steps=50 if full else 25,
            best_of_n=8 if full else 4,
            dpo_rounds=3 if full else 1,
            dpo_questions=200 if full else 32,
            policy_grpo_steps=100 if full else 25,
            hard_negatives=hard_negatives,
            model_size="demo",
        )

    @property
    def name(self) -> str:
        return "full" if self.minutes >= FULL_PLAN_MINUTES else "reduced"

    def unreadable_ok(self) -> list[str]:
        """The flag every command that asks the trained critic gets in the reduced plan, whose critic is too short
        to learn: its verdicts may be unreadable, and the commands would stop at their first batch."""
        return ["--critic_unreadable_ok", "true"] if self.name == "reduced" else []

    def estimated_minutes(self) -> float:
        """About how long the plan takes on 2 idle CPU cores with the warm start running to its last step (one
        that stops on its validation rule sooner takes less); rates measured on seed 0's stages. Printed, never
        used to decide anything."""
        seconds = 100 if self.name == "full" else 50  # data, models, conversions, evaluations: mostly start-up
        seconds += (self.start_clean_steps + self.start_confused_steps) / 10
        seconds += self.sft_steps / 6 + self.answer_steps / 6 + self.grpo_steps / 1.6
        seconds += self.test_questions * self.best_of_n * 0.02 + self.dpo_rounds * 17 + self.policy_grpo_steps / 4
        return round(seconds / 60, 1)

    def as_dict(self) -> dict:
        return asdict(self)

    def outcome_settings(self) -> dict:
        return outcome_settings(self.as_dict())


def outcome_settings(settings: dict) -> dict:
    """What decides the numbers: a plan's settings but the minutes (which only picked the plan), so a demo folder
    made with `--minutes 12` is reused by `--minutes 15`, and one made by the reduced plan is not."""
    return {key: value for key, value in settings.items() if key != "minutes"}
