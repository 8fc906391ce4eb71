"""Whether a critic's verdicts can be read, said in one line, and a run stopped when its first batch reads none.

A critic whose answers hold no verdict gives ties and empty reports, not errors: measured, `eval critic` of an
untrained tiny model spent 424.6 s on 210 rows whose every answer was 512 newlines, and printed a normal report
(`parse_failure_rate 1.0` only in report.json); a recipe's 16 `critic_max_new_tokens` cut every rationale of a
trained critic, and GRPO ran to "nothing was learned". Every judging path counts what it could read here
(`Readability`, kept by `Judge`), stops when the very first batch reads none (`UnreadableVerdicts`, unless the
command is told `unreadable_ok`), and ends with `summary_line` when most verdicts could not be read.
"""

from __future__ import annotations

from dataclasses import dataclass

from rl_critic.ground.errors import UserError

MOSTLY = 0.5  # a share of unreadable verdicts above this is said at the end of a run


class UnreadableVerdicts(UserError):
    """The first batch of judgments held no readable verdict: the run would measure or learn nothing."""


@dataclass
class Readability:
    """Counts of one critic's judgments: made, unreadable, and unreadable ones cut at `max_new_tokens`."""

    max_new_tokens: int | None
    flag: str = "--critic_max_new_tokens"  # what the command calls the token budget, for the advice
    made: int = 0
    unreadable: int = 0
    cut: int = 0
    batches: int = 0

    def add(self, readable: list[bool], tokens: list[int | None]) -> None:
        """One batch: whether each judgment's verdict was read, and how many tokens it generated."""
        self.batches += 1
        self.made += len(readable)
        for ok, used in zip(readable, tokens):
            if not ok:
                self.unreadable += 1
                self.cut += self.max_new_tokens is not None and used is not None and used >= self.max_new_tokens

    @property
    def share(self) -> float:
        return self.unreadable / self.made if self.made else 0.0

    def cause(self) -> str:
        """The likeliest reason, from what the unreadable answers looked like."""
        if self.unreadable and self.cut >= self.unreadable / 2:
            return (
                f"{self.cut} of them used all {self.max_new_tokens} tokens ({self.flag}) without reaching a verdict: "
                "raise it if the critic writes a rationale first (a trained R1 critic's is ~40-300 tokens), or the "
                "critic is untrained and never ends"
            )
        return (
            "the critic answers without a verdict it can be read from (no \\boxed{} or verdict line): an untrained "
            "critic, or one trained with another instruction than the one asked (critic_instruction / --prompt)"
        )

    def summary_line(self, what: str = "verdicts") -> str | None:
        """One line when most verdicts could not be read, else None."""
        if not self.made or self.share <= MOSTLY:
            return None
        return f"{self.unreadable} of {self.made} {what} ({100 * self.share:.0f}%) could not be read: {self.cause()}"

    def check_first_batch(self, unreadable_ok: bool, option: str = "--critic_unreadable_ok true") -> None:
        """After the first batch: raise when none of its verdicts could be read, unless told to go on."""
        if self.batches == 1 and self.made and self.unreadable == self.made and not unreadable_ok:
            judgments = f"{self.made} judgments" if self.made > 1 else "judgment"
            raise UnreadableVerdicts(
                f"the critic's first {judgments} gave no readable verdict, so the run stopped there: "
                f"{self.cause()} ({option} goes on anyway)"
            )
