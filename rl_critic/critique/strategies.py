"""Best-of-N selection strategies over candidate answers, judged in batches across many questions.

LLaVA-Critic-R1's test-time self-critique: sample N answers, let the model (or another critic) judge
them, keep the best. Every strategy runs over a *list* of problems at once, so each round's judgments
for all questions go through the judge engine together (one batched `generate` per round, not one call
per pair).

| strategy | judgments per question | pick |
|---|---|---|
| `knockout` | N-1 (2(N-1) with `both_orders`) | winner of a single-elimination bracket, byes for odd counts |
| `round_robin` | N(N-1) | argmax r_i = sum_k a_ki - sum_l a_il (LLaVA-Critic; `Selection.scores` holds the r_i) |
| `pointwise` | N | argmax score |
| `majority` | 0 | most common final answer (the usual baseline) |
| `first` | 0 | candidate 0 (plain sampling) |

Ties and unparseable verdicts keep the earlier candidate, so results are deterministic. A judge prompt over
the critic's context (a `TooLong` judgment, from a `Judge` with `skip_too_long`) counts as a tie and is
named in `Selection.too_long`: that question's pick means nothing, the others' are unaffected.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from rewards.accuracy import extract_answer, normalise_text
from rl_critic.critique.aggregation import preference_scores, relative_from_scores, relative_score
from rl_critic.critique.judge import Judge
from rl_critic.critique.judgments import PairRequest, ScoreRequest
from rl_critic.critique.problem import Problem
from rl_critic.generation.prompts import TooLong

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


def _knockout(problems: list[Problem], judge: Judge, both_orders: bool) -> list[Selection]:
    alive = [list(range(len(p.candidates))) for p in problems]
    selections = [Selection(pick=0) for _ in problems]
    while any(len(a) > 1 for a in alive):
        requests, owners = [], []
        for index, (problem, bracket) in enumerate(zip(problems, alive)):
            for k in range(0, len(bracket) - 1, 2):
                x, y = bracket[k], bracket[k + 1]
                orders = ((x, y, 1), (y, x, -1)) if both_orders else ((x, y, 1),)
                for first, second, sign in orders:
                    requests.append(
                        PairRequest(
                            problem.question, problem.candidates[first], problem.candidates[second], problem.images
                        )
                    )
                    owners.append((index, x, y, first, second, sign))
        margin: dict[tuple[int, int, int], int] = defaultdict(int)  # > 0: x beat y
        for (index, x, y, first, second, sign), judgment in zip(owners, judge.compare(requests)):
            if _unjudged(selections[index], judgment):
                continue
            margin[(index, x, y)] += sign * judgment.value
            selections[index].judgments.append(judgment.record((first, second)))
        for index, bracket in enumerate(alive):
            winners = [
                bracket[k] if margin[(index, bracket[k], bracket[k + 1])] >= 0 else bracket[k + 1]
                for k in range(0, len(bracket) - 1, 2)
            ]
            alive[index] = winners + ([bracket[-1]] if len(bracket) % 2 else [])  # odd one out: a bye
    for selection, bracket in zip(selections, alive):
        selection.pick = bracket[0] if bracket else 0
    return selections


def _round_robin(problems: list[Problem], judge: Judge, relative: str) -> list[Selection]:
    """Every ordered pair judged; a_ij from a verdict (`preference`) or two 1-10 scores (`score`)."""
    requests, owners = [], []
    for index, problem in enumerate(problems):
        n = len(problem.candidates)
        for i in range(n):
            for j in range(n):
                if i != j:
                    requests.append(
                        PairRequest(problem.question, problem.candidates[i], problem.candidates[j], problem.images)
                    )
                    owners.append((index, i, j))
    if relative == "score":
        judgments, to_relative = judge.score_pairs(requests), relative_from_scores
    else:
        judgments, to_relative = judge.compare(requests), relative_score
    a: list[dict[tuple[int, int], float]] = [{} for _ in problems]
    selections = [Selection(pick=0) for _ in problems]
    for (index, i, j), judgment in zip(owners, judgments):
        if _unjudged(selections[index], judgment):
            continue
        a[index][(i, j)] = to_relative(judgment)
        selections[index].judgments.append({**judgment.record((i, j)), "a_ij": a[index][(i, j)]})
    for selection, problem, relative_scores in zip(selections, problems, a):
        selection.scores = preference_scores(len(problem.candidates), relative_scores)
        selection.pick = selection.scores.index(max(selection.scores)) if selection.scores else 0
    return selections


def _pointwise(problems: list[Problem], judge: Judge) -> list[Selection]:
    requests = [ScoreRequest(p.question, c, p.images) for p in problems for c in p.candidates]
    judgments = iter(judge.score(requests))
    selections = []
    for problem in problems:
        selection = Selection(pick=0)
        scored = [
            (i, s) for i, s in enumerate(next(judgments) for _ in problem.candidates) if not _unjudged(selection, s)
        ]
        values = [s.score if s.score is not None else float("-inf") for _, s in scored]
        selection.judgments = [s.record(i) for i, s in scored]
        selection.pick = scored[values.index(max(values))][0] if values else 0
        selections.append(selection)
    return selections


def _unjudged(selection: Selection, judgment) -> bool:
    """True (and the reason kept on `selection`) for a judgment that could not be made."""
    if isinstance(judgment, TooLong):
        selection.too_long = selection.too_long or str(judgment)
        return True
    return False


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
    if strategy == "knockout":
        return _knockout(problems, judge, both_orders)
    if strategy == "round_robin":
        return _round_robin(problems, judge, relative)
    return _pointwise(problems, judge)


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
