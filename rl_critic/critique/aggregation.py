"""LLaVA-Critic's aggregation of pairwise judgments into one score per candidate (section 4.3).

a_ij is the critic's relative score of y_j against y_i; r_i = sum_{k!=i} a_ki - sum_{l!=i} a_il. The
round-robin best-of-N pick and critic-DPO's (chosen, rejected) pairs both come from these r_i.
"""

from __future__ import annotations

from rl_critic.critique.judgments import PairJudgment, PairScores


def preference_scores(num: int, a: dict[tuple[int, int], float]) -> list[float]:
    """r_i = sum_{k != i} a_ki - sum_{l != i} a_il.

    `a[(i, j)]` is the critic's relative score of y_j against y_i (from judging the ordered pair with y_i
    shown first): +1 when y_j is better, -1 when y_i is better, 0 for a tie. Missing pairs count as 0.
    """
    wins = [sum(a.get((other, i), 0.0) for other in range(num) if other != i) for i in range(num)]
    losses = [sum(a.get((i, other), 0.0) for other in range(num) if other != i) for i in range(num)]
    return [won - lost for won, lost in zip(wins, losses)]


def relative_score(judgment: PairJudgment) -> float:
    """a_ij from the judgment of (y_i first, y_j second): how much better y_j is than y_i."""
    return -float(judgment.value)


def relative_from_scores(judgment: PairScores) -> float:
    """a_ij from two scores of (y_i, y_j): (s_j - s_i) / 9, in [-1, 1]; 0 when unparseable."""
    if judgment.scores is None:
        return 0.0
    first, second = judgment.scores
    return (second - first) / 9.0


def best_and_worst(scores: list[float]) -> tuple[int, int] | None:
    """(chosen, rejected) indices: the first maximum and the first minimum; None when all are equal."""
    if not scores or max(scores) == min(scores):
        return None
    return scores.index(max(scores)), scores.index(min(scores))
