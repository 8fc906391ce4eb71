"""The judging schedules: how a critic's judgments of one question's candidates rank them, for best-of-N
(`strategies.select`, and so critic-DPO) and for the `critic_judge` GRPO reward alike.

A problem is a question with its N candidates (a best-of-N question's samples, a GRPO group's completions).
Every schedule ranks a list of problems at once: all judgments of one round go through the judge together (one
batched `generate` per knockout round, one for the other schedules).

| schedule | judgments per problem of N distinct texts (both orders: x2) | value of candidate i | score in [0, 1] |
|---|---|---|---|
| `round_robin` | N(N-1)/2 pairs | LLaVA-Critic's r_i = sum_k a_ki - sum_l a_il | (1 + r_i / (orders x (N-1))) / 2 |
| `knockout` | N-1 matches | rounds survived | rounds survived / rounds |
| `pointwise` | N scores | the score (unread: -inf) | (score - low) / (high - low) (unread: 0.5) |

The rules, the same for every caller:
- A pair is judged with the earlier candidate shown first, or in both orders with `both_orders` (which cancels a
  critic's position bias). a_ij, how much better y_j is than y_i from the judgment of (y_i, y_j), comes from the
  verdict (`relative="preference"`: +1, -1, or 0 for a tie) or from two 1-10 scores in one judgment
  (`relative="score"`: (s_j - s_i) / 9). With one order, round robin's score is the win rate, ties half.
- Identical texts are never judged against each other (a tie, free), pointwise scores each distinct text once, and
  copies get the value of the best copy (a tie between copies lets the earlier one through a knockout round).
- A knockout match goes to the candidate its judgments favour, over both orders; a tie to the earlier one; an odd
  one out has a bye (it survives the round). The pick is the bracket's winner; for the other schedules, the first
  candidate with the highest value.
- An unreadable verdict is a tie and an unreadable score no value; both are counted (`unparsed`).
- A judgment that could not be made (`TooLong`: the prompt is over the critic's context) is a tie, counted
  (`too_long`), recorded as `{"kind": "too_long"}`, and the first reason kept (`too_long_reason`): that problem's
  ranking means nothing, so its scores are all 0.5 (a reward that would otherwise pay completions too long to judge
  over judged bad ones learns nothing from it) and best-of-N reports the question instead of its pick.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from rl_critic.critique.aggregation import preference_scores, relative_from_scores, relative_score
from rl_critic.critique.judgments import PairRequest, ScoreRequest
from rl_critic.critique.problem import Problem
from rl_critic.generation.prompts import TooLong

SCHEDULES = ("round_robin", "knockout", "pointwise")
RELATIVE = ("preference", "score")
DEFAULT_SCALE = (1, 10)


@dataclass
class Ranking:
    """One problem's candidates as its judgments rank them (see the module docstring)."""

    values: list[float] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    pick: int = 0
    judgments: list[dict[str, Any]] = field(default_factory=list)  # JSON records, with `pair` / `candidate`
    unparsed: int = 0  # judgments whose verdict or score could not be read
    too_long: int = 0  # judgments not made: the prompt was over the critic's context
    too_long_reason: str | None = None


def judgments_per_group(size: int, schedule: str, both_orders: bool) -> int:
    """Judgments a problem of `size` distinct texts costs (the number to budget a step with)."""
    orders = 2 if both_orders and schedule != "pointwise" else 1
    return {"round_robin": size * (size - 1) // 2, "knockout": max(size - 1, 0), "pointwise": size}[schedule] * orders


def rank(
    problems: list[Problem],
    judge,
    schedule: str = "round_robin",
    both_orders: bool = True,
    relative: str = "preference",
    scale: tuple[int, int] | None = None,
) -> list[Ranking]:
    """One `Ranking` per problem under `schedule`; `relative` applies to round_robin, `scale` (the score range
    asked for; default: the judge's `score_range`) to pointwise."""
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; choose from {', '.join(SCHEDULES)}")
    if relative not in RELATIVE:
        raise ValueError(f"unknown relative score {relative!r}; choose from {', '.join(RELATIVE)}")
    if schedule == "pointwise":
        rankings = _pointwise(problems, judge, scale)
    elif schedule == "knockout":
        rankings = _knockout(problems, judge, both_orders)
    else:
        rankings = _round_robin(problems, judge, both_orders, relative)
    for problem, ranking in zip(problems, rankings):
        _copies_share_the_best(problem, ranking)
        if ranking.too_long:
            ranking.scores = [0.5] * len(problem.candidates)
    return rankings


def _orders(first: int, second: int, both_orders: bool) -> tuple[tuple[int, int], ...]:
    return ((first, second), (second, first)) if both_orders else ((first, second),)


def _round_robin(problems: list[Problem], judge, both_orders: bool, relative: str) -> list[Ranking]:
    requests, owners = [], []
    for index, problem in enumerate(problems):
        texts = problem.candidates
        for i in range(len(texts)):
            for j in range(i + 1, len(texts)):
                if texts[i] == texts[j]:
                    continue
                for first, second in _orders(i, j, both_orders):
                    requests.append(PairRequest(problem.question, texts[first], texts[second], problem.media))
                    owners.append((index, first, second))
    if relative == "score":
        judgments, to_relative = judge.score_pairs(requests), relative_from_scores
    else:
        judgments, to_relative = judge.compare(requests), relative_score
    rankings = [Ranking() for _ in problems]
    a: list[dict[tuple[int, int], float]] = [{} for _ in problems]
    for (index, i, j), judgment in zip(owners, judgments):
        if _not_made(rankings[index], judgment, pair=[i, j]):
            continue
        a[index][(i, j)] = to_relative(judgment)
        rankings[index].judgments.append({**judgment.record((i, j)), "a_ij": a[index][(i, j)]})
        rankings[index].unparsed += (judgment.scores if relative == "score" else judgment.verdict) is None
    orders = 2 if both_orders else 1
    for problem, ranking, relative_scores in zip(problems, rankings, a):
        n = len(problem.candidates)
        ranking.values = preference_scores(n, relative_scores)
        most = orders * (n - 1)  # r_i of a candidate that wins every judgment
        ranking.scores = [(r + most) / (2 * most) if n > 1 else 0.5 for r in ranking.values]
        ranking.pick = _first_best(ranking.values)
    return rankings


def _knockout(problems: list[Problem], judge, both_orders: bool) -> list[Ranking]:
    alive = [list(range(len(problem.candidates))) for problem in problems]
    survived = [[0] * len(problem.candidates) for problem in problems]
    rankings = [Ranking() for _ in problems]
    while any(len(bracket) > 1 for bracket in alive):
        requests, owners = [], []
        margins: list[dict[tuple[int, int], int]] = [{} for _ in problems]  # > 0: the first of the match won
        for index, (problem, bracket) in enumerate(zip(problems, alive)):
            texts = problem.candidates
            for x, y in zip(bracket[::2], bracket[1::2]):
                margins[index][(x, y)] = 0
                if texts[x] == texts[y]:
                    continue
                for first, second in _orders(x, y, both_orders):
                    requests.append(PairRequest(problem.question, texts[first], texts[second], problem.media))
                    owners.append((index, (x, y), (first, second)))
        for (index, match, shown), judgment in zip(owners, judge.compare(requests)):
            if _not_made(rankings[index], judgment, pair=list(shown)):
                continue
            margins[index][match] += judgment.value if shown == match else -judgment.value
            rankings[index].judgments.append(judgment.record(shown))
            rankings[index].unparsed += judgment.verdict is None
        for index, bracket in enumerate(alive):
            if len(bracket) < 2:
                continue
            winners = [x if margin >= 0 else y for (x, y), margin in margins[index].items()]
            alive[index] = winners + ([bracket[-1]] if len(bracket) % 2 else [])  # odd one out: a bye
            for candidate in alive[index]:
                survived[index][candidate] += 1
    for problem, ranking, wins, bracket in zip(problems, rankings, survived, alive):
        n = len(problem.candidates)
        rounds = math.ceil(math.log2(n)) if n > 1 else 0
        ranking.values = [float(w) for w in wins]
        ranking.scores = [w / rounds if rounds else 0.5 for w in wins]
        ranking.pick = bracket[0] if bracket else 0
    return rankings


def _pointwise(problems: list[Problem], judge, scale: tuple[int, int] | None) -> list[Ranking]:
    requests, owners = [], []
    for index, problem in enumerate(problems):
        for text in dict.fromkeys(problem.candidates):  # each distinct text once
            requests.append(ScoreRequest(problem.question, text, problem.media, scale=scale))
            owners.append((index, text))
    low, high = scale or getattr(judge, "score_range", DEFAULT_SCALE)
    read: list[dict[str, float | None]] = [{} for _ in problems]
    rankings = [Ranking() for _ in problems]
    for (index, text), judgment in zip(owners, judge.score(requests)):
        candidate = problems[index].candidates.index(text)
        if _not_made(rankings[index], judgment, candidate=candidate):
            read[index][text] = None
            continue
        read[index][text] = judgment.score
        rankings[index].judgments.append(judgment.record(candidate))
        rankings[index].unparsed += judgment.score is None
    for problem, ranking, scores in zip(problems, rankings, read):
        values = [scores.get(text) for text in problem.candidates]
        ranking.values = [-math.inf if v is None else v for v in values]
        ranking.scores = [0.5 if v is None else (v - low) / (high - low) for v in values]
        ranking.pick = _first_best(ranking.values)
    return rankings


def _copies_share_the_best(problem: Problem, ranking: Ranking) -> None:
    """The same text earns the same value and score (a knockout tie between copies sent one of them out)."""
    if len(set(problem.candidates)) == len(problem.candidates):
        return
    for name in ("values", "scores"):
        numbers = getattr(ranking, name)
        best = {text: max(n for t, n in zip(problem.candidates, numbers) if t == text) for text in problem.candidates}
        setattr(ranking, name, [best[text] for text in problem.candidates])


def _first_best(values: list[float]) -> int:
    return values.index(max(values)) if values else 0


def _not_made(ranking: Ranking, judgment, **where: Any) -> bool:
    """True for a `TooLong` judgment, counted and recorded on `ranking` (where: its `pair` or `candidate`)."""
    if not isinstance(judgment, TooLong):
        return False
    ranking.too_long += 1
    ranking.too_long_reason = ranking.too_long_reason or str(judgment)
    ranking.judgments.append({"kind": "too_long", "raw": str(judgment), "tokens": 0, **where})
    return True
