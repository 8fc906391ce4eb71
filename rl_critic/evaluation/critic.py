"""Critic evaluation (`rl-critic eval critic`): a critic's verdicts on converted benchmark rows against the
human labels. Metrics live in `rl_critic.evaluation.metrics`."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from PIL import Image

from data_converters.columns import VIDEO_COLUMN, VIDEO_FPS_COLUMN
from data_converters.images import ImageFolder
from data_converters.placeholders import special_token_problem, strings_in
from rewards.pointwise import scale_range
from rl_critic.critique.judge import Judge
from rl_critic.critique.judgments import PairRequest, ScoreRequest
from rl_critic.evaluation import metrics
from rl_critic.generation.prompts import TooLong
from rl_critic.ground.errors import UserError
from rl_critic.models.media import Media, MediaBudget, Video
from rl_critic.models.video import load_video
from rl_critic.models.vision import frames_video, load_image

_VERDICT_LABELS = ("1", "2", "tie")


@dataclass(frozen=True)
class RowMedia:
    """How a row's `image` / `images` cells and its `video` are read (`load_image`, `load_video`): the budget
    (pictures without pixel bounds: each at its own size), the folder relative paths start from, and whether
    every picture and frame is replaced by a blank one (the ablation)."""

    budget: MediaBudget = MediaBudget()
    folder: ImageFolder | None = None
    blank: bool = False

    def load(self, row: dict[str, Any]) -> Media:
        cells = row.get("images", row.get("image"))
        cells = cells if isinstance(cells, list) else [cells] if cells is not None else []
        low, high = self.budget.min_pixels, self.budget.max_pixels
        resize = low is not None or high is not None
        images = [load_image(cell, low, high, self.folder, resize=resize).convert("RGB") for cell in cells]
        video, fps = row.get(VIDEO_COLUMN), row.get(VIDEO_FPS_COLUMN)
        if video is None or (isinstance(video, list) and not video):  # [] : a row without one in a video dataset
            videos = []
        elif fps is not None:  # converted rows: the frames `convert` sampled, at their rate
            videos = [frames_video(video, fps, self.budget, self.folder)]
        else:
            videos = [load_video(video, self.budget, self.folder)]
        if self.blank:
            images = [_blank(image) for image in images]
            videos = [Video([_blank(frame) for frame in video.frames], video.fps) for video in videos]
        return Media(images, videos)


def _blank(picture: Image.Image) -> Image.Image:
    return Image.new("RGB", picture.size, "white")


def row_problem(row: dict[str, Any]) -> str | None:
    """Why an eval row cannot be judged (None when it can): it is reported as that row's error and left out
    of every metric, never a failed run nor a row dropped uncounted."""
    responses, label = row.get("responses"), row.get("solution")
    if not isinstance(row.get("question"), str):
        return "its question is not a text"
    if not isinstance(responses, list) or not all(isinstance(r, str) for r in responses):
        return "its responses are not a list of texts"
    if problem := special_token_problem(row["question"], *responses, *strings_in(row.get("prompt"))):
        return problem
    if row.get("task") == "pairwise":
        if len(responses) != 2:
            return f"a pair needs 2 responses, it has {len(responses)}"
        if label not in _VERDICT_LABELS:
            return f"its label {str(label)[:40]!r} is not 1, 2 or tie"
        return None
    if row.get("task") == "pointwise":
        if len(responses) != 1:
            return f"a pointwise row needs 1 response, it has {len(responses)}"
        try:
            if float(label) != float(label):
                raise ValueError
        except (TypeError, ValueError):
            return f"its label {str(label)[:40]!r} is not a score"
        return None
    return f"its task {str(row.get('task'))[:40]!r} is not pairwise or pointwise"


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


def _pair_requests(row: dict[str, Any], media: Media, own_prompt: bool) -> tuple[PairRequest, PairRequest]:
    """(original order, swapped order) requests. With `own_prompt`, the row's converted judge prompt is
    used as is (the critic is asked exactly what it was trained on), its responses exchanged in place for the
    swapped order; rows whose prompt cannot be swapped that way fall back to the default layout for both."""
    first, second = row["responses"]
    text = _prompt_text(row.get("prompt")) if own_prompt else None
    swapped = swap_responses(text, first, second) if text else None
    if swapped is None:
        text = None
    return (
        PairRequest(row["question"], first, second, media, prompt=text),
        PairRequest(row["question"], second, first, media, prompt=swapped),
    )


def _prompt_text(prompt: Any) -> str | None:
    """The text of a converted row's judge prompt (its last message's last part), None when it has no such
    shape (a row written by hand): then the default layout is used."""
    try:
        text = prompt[-1]["content"][-1]["text"]
    except (TypeError, KeyError, IndexError):
        return None
    return text if isinstance(text, str) and text else None


def _pairwise_report(rows: list[dict], verdicts: list[str | None], swapped: list[str | None] | None) -> dict[str, Any]:
    """Accuracies (with / without ties, strict / lenient), per group, and with `swapped` (the verdicts with
    the responses exchanged) order consistency."""
    labels = [r["solution"] for r in rows]
    report: dict[str, Any] = {"n": len(rows), "parse_failure_rate": metrics.parse_failure_rate(verdicts)}
    for ties in (True, False):
        for strict in (True, False):
            name = f"accuracy_{'with' if ties else 'without'}_ties_{'strict' if strict else 'lenient'}"
            report[name] = metrics.pairwise_accuracy(labels, verdicts, strict=strict, with_ties=ties)
    groups: dict[str, list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        if row.get("group"):
            groups[str(row["group"])].append(index)
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
        back = [metrics.FLIP[verdict] for verdict in swapped]
        report["swap"] = {
            "order_consistency": metrics.order_consistency(verdicts, swapped),
            "accuracy_original_order_strict": report["accuracy_with_ties_strict"],
            "accuracy_swapped_order_strict": metrics.pairwise_accuracy(labels, back, strict=True),
        }
    return report


def _pointwise_report(rows: list[dict], scores: list[float | None]) -> dict[str, Any]:
    by_group: dict[str, tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    predicted, labels = [], []
    for row, score in zip(rows, scores):
        if score is None:
            continue
        predicted.append(score)
        labels.append(float(row["solution"]))
        group = str(row.get("group") or row.get("source") or "all")  # rows written by hand may name neither
        by_group[group][0].append(score)
        by_group[group][1].append(float(row["solution"]))
    pearsons = {group: metrics.pearson(p, y) for group, (p, y) in sorted(by_group.items())}
    return {
        "n": len(rows),
        "parse_failure_rate": metrics.parse_failure_rate(scores),
        "pearson": metrics.pearson(predicted, labels),
        "pearson_by_group": pearsons,
        "average_pearson": metrics.macro_average(pearsons),
    }


def eval_critic(dataset, judge: Judge, *, swap: bool = False, blank_image: bool = False, own_prompt: bool = True):
    """Judge every row of a converted `eval` dataset in one pass; returns (report, judgment records).

    own_prompt: ask with each row's converted judge prompt (default) rather than the default layout."""
    rows = list(dataset)
    entries = judge_rows(rows, judge, swap=swap, media=RowMedia(blank=blank_image), own_prompt=own_prompt)
    return critic_report(rows, entries, swap=swap, blank_image=blank_image, own_prompt=own_prompt)


def judge_chunks(dataset, judge: Judge, chunk: int, seed: int, done: int = 0, **options) -> Iterator[dict]:
    """`judge_rows` over `dataset[done:]`, `chunk` rows at a time (their media read per chunk), with a progress
    bar. Sampling restarts from `seed + chunk index` at every chunk, so a run resumed after `done` rows (a
    multiple of `chunk`) judges exactly as the uninterrupted run would have."""
    from tqdm import tqdm
    from transformers import set_seed

    per_row = 2 if options.get("swap") else 1  # judgments a row asks for (pairs in both orders with swap)
    with tqdm(total=len(dataset), initial=done, desc=f"judging {len(dataset)} rows") as bar:
        for offset in range(done, len(dataset), chunk):
            set_seed(seed + offset // chunk)
            end = min(offset + chunk, len(dataset))
            if hasattr(judge, "on_batch"):  # a `Judge` moves the bar a batch at a time, not a chunk at a time
                judged = [0]

                def moved(judgments: int, start: int = offset, end: int = end, judged: list[int] = judged) -> None:
                    judged[0] += judgments
                    bar.update(min(start + judged[0] // per_row, end) - bar.n)

                judge.on_batch = moved
            rows = list(dataset.select(range(offset, end)))
            yield from judge_rows(rows, judge, **options)
            bar.update(end - bar.n)  # the rows no judgment was asked for (media that could not be read)


def judge_rows(
    rows: list[dict], judge: Judge, *, swap: bool = False, media: RowMedia | None = None, own_prompt: bool = True
) -> list[dict]:
    """One entry per row, `{"judgments": [records]}`: its verdict(s) (both orders with `swap`), its score, one
    `skipped` record when its prompt does not fit the critic's context, or one `error` record when the row
    cannot be judged (`row_problem`, or an image or video that cannot be used); skipped and error rows are
    reported and left out of every metric. Batched across the rows."""
    media = media or RowMedia()
    entries: list[dict] = [{"judgments": []} for _ in rows]
    loaded: dict[int, Media] = {}
    for index, row in enumerate(rows):
        try:
            problem = row_problem(row)
            if problem:
                raise UserError(problem)
            loaded[index] = media.load(row)
        except UserError as err:
            entries[index]["judgments"].append(
                {"id": row.get("id"), "order": "error", "label": _jsonable(row.get("solution")), "error": str(err)}
            )
    pairs = [i for i in loaded if rows[i]["task"] == "pairwise"]
    points = [i for i in loaded if rows[i]["task"] == "pointwise"]
    if points and not hasattr(judge, "score"):  # a judge class that only compares (`eval critic --critic_class`)
        for i in points:
            reason = f"{type(judge).__name__} has no score(): it cannot judge a pointwise row"
            entries[i]["judgments"].append(
                {
                    "id": rows[i].get("id"),
                    "order": "error",
                    "label": _jsonable(rows[i].get("solution")),
                    "error": reason,
                }
            )
        points = []
    requests = [_pair_requests(rows[i], loaded[i], own_prompt) for i in pairs]
    forward = judge.compare([original for original, _ in requests]) if requests else []
    swapped = judge.compare([other for _, other in requests]) if swap and requests else [None] * len(pairs)
    score_requests = [
        ScoreRequest(rows[i]["question"], rows[i]["responses"][0], loaded[i], scale_range(rows[i].get("scale")))
        for i in points
    ]
    scores = judge.score(score_requests) if score_requests else []
    for i, there, back in zip(pairs, forward, swapped):
        row, records = rows[i], entries[i]["judgments"]
        too_long = next((j for j in (there, back) if isinstance(j, TooLong)), None)
        if too_long is not None:
            records.append({"id": row["id"], "order": "skipped", "label": row["solution"], "skipped": str(too_long)})
            continue
        records.append(
            {"id": row["id"], "order": "original", "label": row["solution"], "verdict": there.verdict, "raw": there.raw}
        )
        if back is not None:
            records.append(
                {
                    "id": row["id"],
                    "order": "swapped",
                    "label": metrics.FLIP[row["solution"]],
                    "verdict": back.verdict,
                    "raw": back.raw,
                }
            )
    for i, judgment in zip(points, scores):
        row = rows[i]
        record = {"id": row["id"], "label": row["solution"]}
        if isinstance(judgment, TooLong):
            record |= {"order": "skipped", "skipped": str(judgment)}
        else:
            record |= {"order": "pointwise", "score": judgment.score, "raw": judgment.raw}
        entries[i]["judgments"].append(record)
    return entries


def critic_report(
    rows: list[dict], entries: list[dict], *, swap: bool, blank_image: bool, own_prompt: bool
) -> tuple[dict[str, Any], list[dict]]:
    """(report, every judgment record) from the rows (their labels, groups, models; images not needed) and
    `judge_rows`' entries for them, in the same order."""
    judged = [(row, entry["judgments"]) for row, entry in zip(rows, entries) if entry["judgments"]]
    skipped = [
        f"{records[0]['id']}: {records[0]['skipped']}" for _, records in judged if records[0]["order"] == "skipped"
    ]
    errors = [f"{records[0]['id']}: {records[0]['error']}" for _, records in judged if records[0]["order"] == "error"]
    judged = [(row, records) for row, records in judged if records[0]["order"] not in ("skipped", "error")]
    pair_rows = [(row, records) for row, records in judged if records[0]["order"] == "original"]
    point_rows = [(row, records[0]["score"]) for row, records in judged if records[0]["order"] == "pointwise"]
    report: dict[str, Any] = {
        "rows": len(rows),
        "swap": swap,
        "blank_image": blank_image,
        "prompts": "row" if own_prompt else "default",
    }
    if skipped:
        report["skipped_too_long"] = {"rows": len(skipped), "first": skipped[0]}
    if errors:
        report["errors"] = {"rows": len(errors), "first": errors[0]}
    verdicts = [records[0]["verdict"] for _, records in pair_rows]
    if pair_rows:
        back = [records[1]["verdict"] for _, records in pair_rows] if swap else None
        report["pairwise"] = _pairwise_report([row for row, _ in pair_rows], verdicts, back)
    if point_rows:
        report["pointwise"] = _pointwise_report(*map(list, zip(*point_rows)))
    models = [row.get("models") for row, _ in pair_rows]
    named = all(isinstance(m, list) and len(m) == 2 and all(isinstance(n, str) and n for n in m) for m in models)
    report["model_level"] = (
        model_level([row for row, _ in pair_rows], verdicts)
        if models and named
        else "not available: the data does not name the two responses' models on every row"
    )
    return report, [record for entry in entries for record in entry["judgments"]]


def model_level(rows: list[dict], verdicts: list[str | None]) -> dict[str, Any]:
    """Elo-scale Bradley-Terry ratings from the critic's verdicts vs from the human labels, and Kendall's tau
    between them (the same ranking code as `eval policy --judge_mode pairwise`)."""
    outcome = {"1": 1.0, "2": 0.0, "tie": 0.5}
    human = metrics.bradley_terry([(*r["models"], outcome[r["solution"]]) for r in rows])
    critic = metrics.bradley_terry([(*r["models"], outcome.get(verdict, 0.5)) for r, verdict in zip(rows, verdicts)])
    names = sorted(human)
    return {
        "elo_human": human,
        "elo_critic": critic,
        "kendall_tau": metrics.kendall_tau([human[m] for m in names], [critic[m] for m in names]),
    }


def _jsonable(value: Any) -> Any:
    """A row's label as a report can hold it: NaN and infinities (not JSON) become None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if isinstance(value, (str, int, float, type(None))) else str(value)[:200]
