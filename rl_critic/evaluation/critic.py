"""Critic evaluation (`rl-critic eval critic`): a critic's verdicts on converted benchmark rows against the
human labels. Metrics live in `rl_critic.evaluation.metrics`."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from PIL import Image

from rewards.pointwise import scale_range
from rl_critic.critique.generation import TooLong
from rl_critic.critique.judge import Judge
from rl_critic.critique.judgments import PairRequest, ScoreRequest
from rl_critic.evaluation import metrics

_VERDICT_LABELS = ("1", "2", "tie")


def _images(row: dict[str, Any], blank: bool) -> list[Image.Image]:
    images = row.get("images", row.get("image"))
    images = images if isinstance(images, list) else [images] if images is not None else []
    images = [image.convert("RGB") for image in images]
    return [Image.new("RGB", image.size, "white") for image in images] if blank else images


def swap_responses(text: str, first: str, second: str) -> str | None:
    """`text` with the two responses exchanged in place (bracketed `[...]` or one-per-line blocks, the layouts
    the converters write); None when they cannot be located unambiguously."""
    for left, right in (("[", "]"), ("\n", "\n")):
        a, b = f"{left}{first}{right}", f"{left}{second}{right}"
        i = text.find(a)
        j = text.find(b, i + len(a)) if i != -1 else -1
        if i != -1 and j != -1:
            return text[:i] + b + text[i + len(a) : j] + a + text[j + len(b) :]
    return None


def _pair_requests(row: dict[str, Any], images: list[Image.Image], own_prompt: bool) -> tuple[PairRequest, PairRequest]:
    """(original order, swapped order) requests. With `own_prompt`, the row's converted judge prompt is
    used as is (the critic is asked exactly what it was trained on), its responses exchanged in place for the
    swapped order; rows whose prompt cannot be swapped that way fall back to the default layout for both."""
    first, second = row["responses"]
    text = row["prompt"][-1]["content"][-1]["text"] if own_prompt and row.get("prompt") else None
    swapped = swap_responses(text, first, second) if text else None
    if swapped is None:
        text = None
    return (PairRequest(row["question"], first, second, images, prompt=text),
            PairRequest(row["question"], second, first, images, prompt=swapped))  # fmt: skip


def _pairwise_report(rows: list[dict], forward: list, swapped: list | None) -> dict[str, Any]:
    labels = [r["solution"] for r in rows]
    verdicts = [j.verdict for j in forward]
    report: dict[str, Any] = {"n": len(rows), "parse_failure_rate": metrics.parse_failure_rate(verdicts)}
    for ties in (True, False):
        for strict in (True, False):
            name = f"accuracy_{'with' if ties else 'without'}_ties_{'strict' if strict else 'lenient'}"
            report[name] = metrics.pairwise_accuracy(labels, verdicts, strict=strict, with_ties=ties)
    groups: dict[str, list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        if row.get("group"):
            groups[row["group"]].append(index)
    if groups:
        report["groups"] = {}
        for group, indices in sorted(groups.items()):
            g_labels, g_verdicts = [labels[i] for i in indices], [verdicts[i] for i in indices]
            report["groups"][group] = {
                "n": len(indices),
                "accuracy_strict": metrics.pairwise_accuracy(g_labels, g_verdicts, strict=True),
                "accuracy_lenient": metrics.pairwise_accuracy(g_labels, g_verdicts, strict=False),
            }
        for kind in ("strict", "lenient"):
            report[f"macro_accuracy_{kind}"] = metrics.macro_average(
                {g: v[f"accuracy_{kind}"] for g, v in report["groups"].items()}
            )
    if swapped is not None:  # judged with the responses exchanged: map verdicts back to the original order
        back = [metrics.FLIP[j.verdict] for j in swapped]
        report["swap"] = {
            "order_consistency": metrics.order_consistency(verdicts, [j.verdict for j in swapped]),
            "accuracy_original_order_strict": report["accuracy_with_ties_strict"],
            "accuracy_swapped_order_strict": metrics.pairwise_accuracy(labels, back, strict=True),
        }
    return report


def _pointwise_report(rows: list[dict], judgments: list) -> dict[str, Any]:
    by_group: dict[str, tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    predicted, labels = [], []
    for row, judgment in zip(rows, judgments):
        if judgment.score is None:
            continue
        predicted.append(judgment.score)
        labels.append(float(row["solution"]))
        by_group[row.get("group") or row["source"]][0].append(judgment.score)
        by_group[row.get("group") or row["source"]][1].append(float(row["solution"]))
    pearsons = {group: metrics.pearson(p, y) for group, (p, y) in sorted(by_group.items())}
    return {
        "n": len(rows),
        "parse_failure_rate": metrics.parse_failure_rate([j.score for j in judgments]),
        "pearson": metrics.pearson(predicted, labels),
        "pearson_by_group": pearsons,
        "average_pearson": metrics.macro_average(pearsons),
    }


def eval_critic(dataset, judge: Judge, *, swap: bool = False, blank_image: bool = False, own_prompt: bool = True):
    """Judge every row of a converted `eval` dataset; returns (report, judgment records).

    own_prompt: ask with each row's converted judge prompt (default) rather than the default layout."""
    rows = list(dataset)
    pair_rows = [r for r in rows if r["task"] == "pairwise" and r["solution"] in _VERDICT_LABELS]
    point_rows = [r for r in rows if r["task"] == "pointwise"]
    requests = [_pair_requests(r, _images(r, blank_image), own_prompt) for r in pair_rows]
    forward = judge.compare([original for original, _ in requests])
    swapped = judge.compare([other for _, other in requests]) if swap else None
    scores = judge.score([ScoreRequest(r["question"], r["responses"][0], _images(r, blank_image),
                                       scale_range(r.get("scale"))) for r in point_rows])  # fmt: skip
    # Rows whose prompt does not fit the critic's context: reported, left out of every metric.
    long_pairs, long_points = _too_long_rows(forward, swapped or []), _too_long_rows(scores)
    records = [{"id": rows_of[i]["id"], "order": "skipped", "label": rows_of[i]["solution"], "skipped": reason}
               for rows_of, skipped in ((pair_rows, long_pairs), (point_rows, long_points))
               for i, reason in skipped.items()]  # fmt: skip
    if long_pairs:
        pair_rows, forward = _without(pair_rows, long_pairs), _without(forward, long_pairs)
        swapped = _without(swapped, long_pairs) if swapped is not None else None
    if long_points:
        point_rows, scores = _without(point_rows, long_points), _without(scores, long_points)
    for index, (row, judgment) in enumerate(zip(pair_rows, forward)):
        records.append({"id": row["id"], "order": "original", "label": row["solution"], "verdict": judgment.verdict,
                        "raw": judgment.raw})  # fmt: skip
        if swapped is not None:
            records.append({"id": row["id"], "order": "swapped", "label": metrics.FLIP[row["solution"]],
                            "verdict": swapped[index].verdict, "raw": swapped[index].raw})  # fmt: skip
    for row, judgment in zip(point_rows, scores):
        records.append({"id": row["id"], "order": "pointwise", "label": row["solution"], "score": judgment.score,
                        "raw": judgment.raw})  # fmt: skip
    report: dict[str, Any] = {"rows": len(rows), "swap": swap, "blank_image": blank_image,
                              "prompts": "row" if own_prompt else "default"}  # fmt: skip
    if long_pairs or long_points:
        report["skipped_too_long"] = {"rows": len(long_pairs) + len(long_points), "first": records[0]["skipped"]}
    if pair_rows:
        report["pairwise"] = _pairwise_report(pair_rows, forward, swapped)
    if point_rows:
        report["pointwise"] = _pointwise_report(point_rows, scores)
    models = [r.get("models") for r in pair_rows]
    report["model_level"] = (
        model_level(pair_rows, forward)
        if models and all(models)
        else "not available: the data has no response model names"
    )
    return report, records


def _too_long_rows(*judgment_lists: list) -> dict[int, str]:
    """Index -> why, for the rows some of whose judgments (either order) were too long to ask."""
    found: dict[int, str] = {}
    for judgments in judgment_lists:
        for index, judgment in enumerate(judgments):
            if isinstance(judgment, TooLong):
                found.setdefault(index, str(judgment))
    return dict(sorted(found.items()))


def _without(items: list, indices) -> list:
    return [item for index, item in enumerate(items) if index not in indices]


def model_level(rows: list[dict], judgments: list) -> dict[str, Any]:
    """Elo from the critic's verdicts vs Elo from the human labels, and Kendall's tau between them."""
    outcome = {"1": 1.0, "2": 0.0, "tie": 0.5}
    human = metrics.elo_ratings([(*r["models"], outcome[r["solution"]]) for r in rows])
    critic = metrics.elo_ratings([(*r["models"], outcome.get(j.verdict, 0.5)) for r, j in zip(rows, judgments)])
    names = sorted(human)
    return {"elo_human": human, "elo_critic": critic,
            "kendall_tau": metrics.kendall_tau([human[m] for m in names], [critic[m] for m in names])}  # fmt: skip
