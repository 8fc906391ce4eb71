"""Best-of-N selection strategies over candidate answers, judged in batches across many questions.

LLaVA-Critic-R1's test-time self-critique: sample N answers, let the model (or another critic) judge
them, keep the best. The judged strategies are the judging schedules of `schedules` (the same code and rules
as the `critic_judge` GRPO reward), over a *list* of problems at once: each round's judgments for all questions
go through the judge engine together (one batched `generate` per round, not one call per pair).

| strategy | judgments per question of N distinct answers | pick |
|---|---|---|
| `knockout` | N-1 (2(N-1) with `both_orders`) | winner of a single-elimination bracket, byes for odd counts |
| `round_robin` | N(N-1): every ordered pair | argmax r_i = sum_k a_ki - sum_l a_il (LLaVA-Critic; `Selection.scores`) |
| `pointwise` | N | argmax score |
| `majority` | 0 | most common final answer (the usual baseline) |
| `first` | 0 | candidate 0 (plain sampling) |

Ties and unparseable verdicts keep the earlier candidate, so results are deterministic; identical answers are
never judged against each other. A judge prompt over the critic's context (a `TooLong` judgment, from a `Judge`
with `skip_too_long`) counts as a tie and is named in `Selection.too_long`: that question's pick means nothing,
the others' are unaffected.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rewards.accuracy import extract_answer, normalise_text
from rl_critic.critique.judge import Judge
from rl_critic.critique.problem import Problem
from rl_critic.critique.schedules import rank

STRATEGIES = ("knockout", "round_robin", "pointwise", "majority", "first")
JUDGED_STRATEGIES = ("knockout", "round_robin", "pointwise")  # the others need no critic


@dataclass
class Selection:
    pick: int
    judgments: list[dict[str, Any]] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)  # round_robin: the r_i of every candidate
    too_long: str | None = None  # why a judgment could not be made (the first such), see the module docstring

    @property
    def judge_tokens(self) -> int:
        return sum(j["tokens"] for j in self.judgments)


def majority_pick(candidates: list[str]) -> int:
    """Index of the first candidate whose normalised final answer is the most common one."""
    if not candidates:
        return 0
    answers = [normalise_text(extract_answer(c)) for c in candidates]
    counts = Counter(answers)
    best = max(counts.values())
    return next(i for i, answer in enumerate(answers) if counts[answer] == best)


def select(
    strategy: str,
    problems: list[Problem],
    judge: Judge | None = None,
    both_orders: bool = False,
    relative: str = "preference",
) -> list[Selection]:
    """Pick one candidate per problem with `strategy` (see the module docstring); `both_orders` applies to
    knockout, `relative` (`preference` | `score`: how a_ij is read) to round_robin."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose from {', '.join(STRATEGIES)}")
    if strategy == "first":
        return [Selection(pick=0) for _ in problems]
    if strategy == "majority":
        return [Selection(pick=majority_pick(p.candidates)) for p in problems]
    if judge is None:
        raise ValueError(f"strategy {strategy!r} needs a judge")
    # round_robin judges every ordered pair, as LLaVA-Critic's r_i sums over them; `both_orders` is knockout's choice
    rankings = rank(problems, judge, strategy, both_orders or strategy == "round_robin", relative)
    return [
        Selection(
            pick=ranking.pick,
            judgments=ranking.judgments,
            scores=ranking.values if strategy == "round_robin" else [],
            too_long=ranking.too_long_reason,
        )
        for ranking in rankings
    ]


def selection_accuracies(records: list[dict[str, Any]], strategy: str) -> dict[str, float]:
    """Accuracy (0-1) of the pick, `first`, `majority` and the oracle (any candidate right), over records
    (`candidates`, `pick`, `answer`) that have a reference answer; {} when none has."""
    from rewards.accuracy import answer_accuracy

    scored = [r for r in records if r.get("answer") not in (None, "")]
    if not scored:
        return {}
    picks = {strategy: lambda r: r["pick"], "first": lambda r: 0, "majority": lambda r: majority_pick(r["candidates"])}
    correct = dict.fromkeys([*picks, "oracle (any correct)"], 0)  # one counter a name: `majority` may be the strategy
    for r in scored:
        right = [answer_accuracy(c, r["answer"]) == 1.0 for c in r["candidates"]]
        for name, pick in picks.items():
            correct[name] += right[pick(r)]
        correct["oracle (any correct)"] += any(right)
    return {"questions": len(scored), **{name: count / len(scored) for name, count in correct.items()}}
