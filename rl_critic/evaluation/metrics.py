"""Critic-evaluation metrics, as the papers report them, in plain Python (no scipy).

Pairwise accuracy with and without ties (LLaVA-Critic Tables 3-4), strict (an unparseable verdict is
wrong) and lenient (unparseable verdicts left out, as VL-RewardBench's official script does); macro
averages over groups; Pearson r for pointwise scores (LLaVA-Critic Table 2); Kendall's tau-b for
model-level rankings; Elo ratings from battles.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

FLIP = {"1": "2", "2": "1", "tie": "tie", None: None}


def pairwise_accuracy(
    labels: Sequence[str], verdicts: Sequence[str | None], *, strict: bool = True, with_ties: bool = True
) -> float | None:
    """Share of rows whose verdict equals the label.

    with_ties=False leaves out rows labelled "tie"; strict=False leaves out unparseable (None) verdicts
    instead of counting them wrong. None when no row is left.
    """
    pairs = [(label, verdict) for label, verdict in zip(labels, verdicts) if with_ties or label != "tie"]
    if not strict:
        pairs = [(label, verdict) for label, verdict in pairs if verdict is not None]
    if not pairs:
        return None
    return sum(label == verdict for label, verdict in pairs) / len(pairs)


def parse_failure_rate(verdicts: Sequence[str | None]) -> float | None:
    return sum(v is None for v in verdicts) / len(verdicts) if verdicts else None


def order_consistency(forward: Sequence[str | None], swapped: Sequence[str | None]) -> float | None:
    """Share of pairs where judging the swapped order prefers the same response (ties included)."""
    pairs = list(zip(forward, swapped))
    if not pairs:
        return None
    return sum(f is not None and f == FLIP[s] for f, s in pairs) / len(pairs)


def macro_average(values: dict[str, float | None]) -> float | None:
    """Unweighted mean over groups (each benchmark part counts once, whatever its size)."""
    present = [v for v in values.values() if v is not None]
    return sum(present) / len(present) if present else None


def pearson(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Pearson correlation; None with fewer than 2 points or a constant series."""
    n = len(x)
    if n < 2 or n != len(y):
        return None
    mean_x, mean_y = sum(x) / n, sum(y) / n
    cov = sum((a - mean_x) * (b - mean_y) for a, b in zip(x, y))
    var_x = sum((a - mean_x) ** 2 for a in x)
    var_y = sum((b - mean_y) ** 2 for b in y)
    if var_x == 0 or var_y == 0:
        return None
    return cov / math.sqrt(var_x * var_y)


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Kendall's tau-b (ties in either ranking handled); None when undefined."""
    n = len(x)
    if n < 2 or n != len(y):
        return None
    concordant = discordant = ties_x = ties_y = 0
    for i in range(n):
        for j in range(i + 1, n):
            dx, dy = x[i] - x[j], y[i] - y[j]
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                ties_x += 1
            elif dy == 0:
                ties_y += 1
            elif (dx > 0) == (dy > 0):
                concordant += 1
            else:
                discordant += 1
    denominator = math.sqrt((concordant + discordant + ties_x) * (concordant + discordant + ties_y))
    return (concordant - discordant) / denominator if denominator else None


def bradley_terry(
    battles: Sequence[tuple[str, str, float]],
    anchor: float = 1000.0,
    scale: float = 400.0,
    prior: float = 0.1,
    iterations: int = 1000,
) -> dict[str, float]:
    """Bradley-Terry strengths on the Elo scale from (model_a, model_b, outcome) battles (outcome 1 = a wins,
    0 = b wins, 0.5 = a tie, half a win each), as Chatbot Arena and WildVision-Bench rank models: the maximum
    likelihood fit (Hunter's MM updates, independent of the battles' order), `anchor + scale * log10(strength)`
    with the strengths' geometric mean at `anchor`. A `prior` of a tenth of a tied game against every opponent a
    model met keeps one that never wins (or never loses) finite."""
    wins: dict[str, float] = {}
    games: dict[tuple[str, str], float] = {}
    for a, b, outcome in battles:
        if a == b:
            continue
        wins[a] = wins.get(a, 0.0) + outcome
        wins[b] = wins.get(b, 0.0) + 1.0 - outcome
        key = (a, b) if a < b else (b, a)
        games[key] = games.get(key, 0.0) + 1.0
    for a, b in list(games):
        games[(a, b)] += prior
        wins[a] += prior / 2
        wins[b] += prior / 2
    if not wins:
        return {}
    opponents: dict[str, list[tuple[str, float]]] = {model: [] for model in wins}
    for (a, b), count in games.items():
        opponents[a].append((b, count))
        opponents[b].append((a, count))
    strength = {model: 1.0 for model in wins}
    for _ in range(iterations):
        updated = {
            model: wins[model] / sum(count / (strength[model] + strength[other]) for other, count in opponents[model])
            for model in strength
        }
        mean_log = sum(math.log(value) for value in updated.values()) / len(updated)
        updated = {model: value / math.exp(mean_log) for model, value in updated.items()}
        done = max(abs(updated[m] - strength[m]) for m in strength) < 1e-10
        strength = updated
        if done:
            break
    return {model: anchor + scale * math.log10(value) for model, value in strength.items()}
