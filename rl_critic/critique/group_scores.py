"""Scores of each completion within its GRPO group, from a critic's judgments: the reward schedules.

A group is the G completions of one prompt. Every schedule turns judgments into a score in [0, 1] per
completion, and sends *all* judgments of all groups of one call through the judge engine together (one
batched `generate` per knockout round, one for the other schedules):

| schedule | judgments per group of G (both orders: x2) | score |
|---|---|---|
| `round_robin` | G(G-1)/2 unordered pairs | win rate, ties half: LLaVA-Critic's r_i rescaled to [0, 1] |
| `knockout` | G-1 | rounds survived / rounds (the winner 1.0; byes count as survived; copies share the best) |
| `pointwise` | G | the 1-10 score rescaled, (s - 1) / 9 |

Identical completions are never judged against each other (a tie, free; pointwise scores each distinct
text once). An unparseable verdict counts as a tie (an unparseable score as 0.5) and is counted. A judge
prompt over the critic's context (a `TooLong` judgment, when the critic's context is shorter than the policy's)
must not end the run, nor pay: a partial score would reward completions too long to judge over judged bad
ones. Its whole group gets 0.5 each (no advantage, nothing learnt from it), and it is counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from rl_critic.critique.judgments import PairRequest, ScoreRequest
from rl_critic.critique.problem import Problem
from rl_critic.generation.prompts import TooLong

SCHEDULES = ("round_robin", "knockout", "pointwise")


@dataclass
class GroupScores:
    scores: list[float]
    judgments: list[dict[str, Any]] = field(default_factory=list)  # JSON records, with `pair` / `candidate`
    unparsed: int = 0  # judgments whose verdict or score could not be read
    too_long: int = 0  # judgments not made: the prompt was over the critic's context


def judgments_per_group(size: int, schedule: str, both_orders: bool) -> int:
    """Judgments a group of `size` distinct completions costs (the number to budget a step with)."""
    orders = 2 if both_orders and schedule != "pointwise" else 1
    return {"round_robin": size * (size - 1) // 2, "knockout": max(size - 1, 0), "pointwise": size}[schedule] * orders


def score_groups(
    problems: list[Problem], judge, schedule: str = "round_robin", both_orders: bool = True
) -> list[GroupScores]:
    """One `GroupScores` per problem (its `candidates` are the group's completions)."""
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown critic schedule {schedule!r}; choose from {', '.join(SCHEDULES)}")
    if schedule == "pointwise":
        results = _pointwise(problems, judge)
    elif schedule == "knockout":
        results = _knockout(problems, judge, both_orders)
    else:
        results = _round_robin(problems, judge, both_orders)
    for result in results:
        if result.too_long:  # see the module docstring
            result.scores = [0.5] * len(result.scores)
    return results


def _pairs(problems: list[Problem], matches: list[list[tuple[int, int]]], judge, both_orders: bool):
    """Judge every (i, j) match of every problem, in one batch; returns per problem {(i, j): outcome for i}
    (1 win, 0.5 tie, 0 loss, averaged over the orders) and the records. Identical texts are a free tie."""
    requests, owners = [], []
    outcomes: list[dict[tuple[int, int], float]] = [{} for _ in problems]
    results = [GroupScores(scores=[]) for _ in problems]
    for index, (problem, pairs) in enumerate(zip(problems, matches)):
        for i, j in pairs:
            first, second = problem.candidates[i], problem.candidates[j]
            if first == second:
                outcomes[index][(i, j)] = 0.5
                continue
            orders = ((i, j), (j, i)) if both_orders else ((i, j),)
            for a, b in orders:
                requests.append(
                    PairRequest(problem.question, problem.candidates[a], problem.candidates[b], problem.images)
                )
                owners.append((index, (i, j), (a, b), len(orders)))
    for (index, pair, shown, count), judgment in zip(owners, judge.compare(requests)):
        if _not_made(results[index], judgment, pair=list(shown)):
            first_won = 0.5
        else:
            first_won = {1: 1.0, -1: 0.0}.get(judgment.value, 0.5)  # 0: a tie, or no verdict
            results[index].judgments.append(judgment.record(shown))
            results[index].unparsed += judgment.verdict is None
        won = first_won if shown == pair else 1.0 - first_won
        outcomes[index][pair] = outcomes[index].get(pair, 0.0) + won / count
    return outcomes, results


def _not_made(result: GroupScores, judgment, **where: Any) -> bool:
    """True for a `TooLong` judgment, counted and recorded on `result` (where: its `pair` or `candidate`)."""
    if not isinstance(judgment, TooLong):
        return False
    result.too_long += 1
    result.judgments.append({"kind": "too_long", "raw": str(judgment), "tokens": 0, **where})
    return True


def _round_robin(problems: list[Problem], judge, both_orders: bool) -> list[GroupScores]:
    matches = [[(i, j) for i in range(len(p.candidates)) for j in range(i + 1, len(p.candidates))] for p in problems]
    outcomes, results = _pairs(problems, matches, judge, both_orders)
    for problem, outcome, result in zip(problems, outcomes, results):
        n = len(problem.candidates)
        points = [0.0] * n
        for (i, j), won in outcome.items():
            points[i] += won
            points[j] += 1.0 - won
        result.scores = [p / (n - 1) if n > 1 else 0.5 for p in points]
    return results


def _knockout(problems: list[Problem], judge, both_orders: bool) -> list[GroupScores]:
    alive = [list(range(len(p.candidates))) for p in problems]
    rounds = [math.ceil(math.log2(len(p.candidates))) if len(p.candidates) > 1 else 0 for p in problems]
    survived = [[0] * len(p.candidates) for p in problems]
    results = [GroupScores(scores=[]) for _ in problems]
    while any(len(bracket) > 1 for bracket in alive):
        matches = [[(b[k], b[k + 1]) for k in range(0, len(b) - 1, 2)] for b in alive]
        outcomes, round_results = _pairs(problems, matches, judge, both_orders)
        for index, bracket in enumerate(alive):
            results[index].judgments += round_results[index].judgments
            results[index].unparsed += round_results[index].unparsed
            results[index].too_long += round_results[index].too_long
            winners = [i if outcomes[index][(i, j)] >= 0.5 else j for i, j in matches[index]]  # ties: the earlier
            alive[index] = winners + ([bracket[-1]] if len(bracket) % 2 else [])  # odd one out: a bye
            for candidate in alive[index] if len(bracket) > 1 else []:
                survived[index][candidate] += 1
    for problem, result, wins, total in zip(problems, results, survived, rounds):
        scores = [w / total if total else 0.5 for w in wins]
        # A tie between copies lets the earlier one advance; the same text must still earn the same reward.
        best = {text: max(s for t, s in zip(problem.candidates, scores) if t == text) for text in problem.candidates}
        result.scores = [best[text] for text in problem.candidates]
    return results


def _pointwise(problems: list[Problem], judge) -> list[GroupScores]:
    requests, owners = [], []
    for index, problem in enumerate(problems):
        for text in dict.fromkeys(problem.candidates):  # each distinct completion once
            requests.append(ScoreRequest(problem.question, text, problem.images, scale=(1, 10)))
            owners.append((index, text))
    scored: list[dict[str, float]] = [{} for _ in problems]
    results = [GroupScores(scores=[]) for _ in problems]
    for (index, text), judgment in zip(owners, judge.score(requests)):
        candidate = problems[index].candidates.index(text)
        if _not_made(results[index], judgment, candidate=candidate):
            scored[index][text] = 0.5
            continue
        scored[index][text] = 0.5 if judgment.score is None else (judgment.score - 1) / 9
        results[index].judgments.append(judgment.record(candidate))
        results[index].unparsed += judgment.score is None
    for problem, values, result in zip(problems, scored, results):
        result.scores = [values[text] for text in problem.candidates]
    return results
