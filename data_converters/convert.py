"""The conversion pipeline: read a source, shape each judgment for a task, write it with its rejects.

One `datasets.map` does the work (batched, `num_proc`-parallel, streamed through Arrow files, so memory
stays flat however many rows). Every input row ends as output row(s) or as a line of `rejected.jsonl`
with its reason: nothing is dropped silently. Output goes to a staging folder renamed into place at the
end, so a failed or `--strict`-refused run leaves nothing half-written.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

from data_converters.columns import VIDEO_COLUMN, VIDEO_FPS_COLUMN, task_features, video_features
from data_converters.hard_negatives import hard_negative
from data_converters.images import ImageFolder
from data_converters.io import dataset_card, load_input, write_dataset
from data_converters.parsing import ParseError
from data_converters.schema import TASKS, task_row
from data_converters.sources import all_sources
from data_converters.videos import VideoSampling
from rl_critic.ground.errors import UserError
from rl_critic.ground.files import check_replaceable, owner_marker, staged_folder

_INTERNAL = ("_reason", "_label", "_index", "_hard")
# Tasks that train a critic on pairs: `--hard_negatives` adds pairs to these (an eval set stays its source's, and
# `sft-policy` answers questions).
HARD_NEGATIVE_TASKS = ("grpo", "sft", "sft-r1", "dpo")
# What marks a folder as an earlier output of `convert` (`--overwrite` replaces only such a folder).
CONVERT_MARKER = owner_marker("convert")


@functools.cache
def _sources():
    return all_sources()


def output_features(task: str, image_column: str, video: bool = False):
    """The `datasets.Features` of a task's rows (`columns.task_features`, with the video columns when the input
    has videos) plus the internal bookkeeping columns."""
    from datasets import Value

    text = Value("string")
    extra = video_features() if video else {}
    return task_features(task, image_column, **extra, _reason=text, _label=text, _index=Value("int64"), _hard=text)


def _empty_row(features) -> dict[str, Any]:
    from datasets import List, Value

    def empty(feature):
        if isinstance(feature, List):
            return []
        if isinstance(feature, Value):
            return {"string": "", "bool": False, "int64": 0}.get(feature.dtype)
        return None

    return {name: empty(feature) for name, feature in features.items()}


def _convert_batch(
    batch, indices, *, source, task, seed, keep_ties, base_dir, image_column, features, parent, hard_negatives=0.0
):
    """`datasets.map` function: input rows -> output rows, rejected rows marked with `_reason`; with
    `hard_negatives`, a decided pair may add its hard-negative twin (`hard_negatives.py`), marked with `_hard`."""
    if os.getpid() != parent:  # a `num_proc` worker: Ctrl-C ends it quietly, the parent says "interrupted"
        signal.signal(signal.SIGINT, _end_worker)
    read = _sources()[source].read
    out: dict[str, list] = {name: [] for name in features}
    columns = list(batch)
    for values, index in zip(zip(*(batch[c] for c in columns)), indices):
        row = dict(zip(columns, values))
        try:
            records = []
            for judgment in read(row, index, base_dir):
                twin = hard_negative(judgment, hard_negatives, seed)
                for each in (judgment, twin) if twin is not None else (judgment,):
                    record = task_row(each, task, seed, keep_ties)
                    if image_column == "images":
                        record["images"] = each.images
                    elif len(each.images) <= 1:
                        record["image"] = each.images[0] if each.images else None
                    else:
                        raise ParseError("several images, but the output has a single image column")
                    if VIDEO_COLUMN in features:
                        record[VIDEO_COLUMN] = each.video.frames if each.video else []
                        record[VIDEO_FPS_COLUMN] = each.video.fps if each.video else None
                    elif each.video is not None:
                        raise ParseError("a video, but the input has no `video` column")
                    label = each.label if each.task == "pairwise" else f"score:{each.label}"
                    hard = each.id.rsplit("#hard-", 1)[1] if each is twin else ""
                    record.update(_reason="", _label=label, _index=index, _hard=hard)
                    records.append(record)
        except ParseError as err:
            records = [_rejected(row, index, str(err), features)]
        except (TypeError, ValueError, KeyError, AttributeError) as err:  # malformed values in a row
            records = [_rejected(row, index, f"unreadable row ({type(err).__name__}: {err})"[:300], features)]
        for record in records:
            for name in features:
                out[name].append(record[name])
    return out


def _end_worker(signum, frame) -> None:
    os._exit(128 + signum)


def _rejected(row: dict[str, Any], index: int, reason: str, features) -> dict[str, Any]:
    record = _empty_row(features)
    record.update(id=str(row.get("id") or row.get("ID") or ""), _reason=reason, _index=index)
    return record


def convert(
    source: str,
    input_path: str,
    task: str,
    out_dir: str,
    *,
    seed: int | None = 0,
    keep_ties: bool = False,
    limit: int | None = None,
    num_proc: int | None = None,
    strict: bool = False,
    out_format: str = "parquet",
    hub_config: str | None = None,
    split: str | None = None,
    overwrite: bool = False,
    images_root: str | None = None,
    hard_negatives: float = 0.0,
    image_urls: str = "off",
    video: VideoSampling | None = None,
) -> dict[str, Any]:
    """Convert `input_path` read as `source` into a `task` dataset in `out_dir`; returns the summary.

    `images_root`: the folder image file paths must stay in (default: the input's folder; `any`: no limit);
    `image_urls`: which image URLs may be fetched (`data_converters.image_urls`); `video`: how a row's `video` is
    sampled (`data_converters.videos`: the frames are stored, with their rate in `video_fps`).
    `hard_negatives`: the share of decided pairs that add a hard-negative twin (`hard_negatives.py`)."""
    if source not in _sources():
        raise UserError(f"unknown source {source!r}; choose from: {', '.join(_sources())}")
    if task not in TASKS:
        raise UserError(f"unknown task {task!r}; choose from: {', '.join(TASKS)}")
    if out_format not in ("parquet", "disk"):
        raise UserError(f"unknown output format {out_format!r}; choose from: parquet, disk")
    if not 0.0 <= hard_negatives <= 1.0:
        raise UserError(f"--hard_negatives is a share of the pairs, from 0 to 1, not {hard_negatives}")
    if hard_negatives and task not in HARD_NEGATIVE_TASKS:
        raise UserError(f"--hard_negatives adds training pairs to {', '.join(HARD_NEGATIVE_TASKS)}, not to {task}")
    local_input = [input_path] if Path(input_path).expanduser().exists() else []
    out = check_replaceable(out_dir, CONVERT_MARKER, local_input)  # before reading anything
    if out.exists() and not overwrite:
        raise UserError(f"output folder exists: {out_dir} (pass --overwrite to replace it)")
    try:  # before reading anything
        ImageFolder.of_input(None, images_root, image_urls)
    except ParseError as err:
        raise UserError(str(err)) from err
    start = time.perf_counter()
    spec = _sources()[source]
    dataset, base_dir = load_input(input_path, hub_config or spec.hub_config, split)
    base_dir = ImageFolder.of_input(base_dir, images_root, image_urls, video)
    rows_read = len(dataset) if limit is None else min(limit, len(dataset))
    if limit is not None:
        dataset = dataset.select(range(rows_read))
    image_column = "images" if spec.multi_image and "images" in dataset.column_names else "image"
    features = output_features(task, image_column, VIDEO_COLUMN in dataset.column_names)
    keep_ties = keep_ties or task == "eval"

    with staged_folder(out, replace=overwrite, marker=CONVERT_MARKER, protect=local_input) as staging:
        (staging / ".cache").mkdir()
        converted = dataset.map(
            _convert_batch,
            batched=True,
            batch_size=256,
            with_indices=True,
            remove_columns=dataset.column_names,
            features=features,
            fn_kwargs=dict(
                source=source,
                task=task,
                seed=seed,
                keep_ties=keep_ties,
                base_dir=base_dir,
                image_column=image_column,
                features=features,
                parent=os.getpid(),
                hard_negatives=hard_negatives,
            ),
            num_proc=num_proc if num_proc and num_proc > 1 else None,
            cache_file_name=str(staging / ".cache" / "converted.arrow"),
            load_from_cache_file=False,
            desc=f"convert {source} -> {task}",
        )
        summary = _write_outputs(converted, staging, strict=strict, out_format=out_format)
        summary = {
            "source": source,
            "input": input_path,
            "task": task,
            "seed": seed,
            "keep_ties": keep_ties,
            "format": out_format,
            "rows_read": rows_read,
            **summary,
        }
        if hard_negatives:
            summary["hard_negatives"] = {"rate": hard_negatives, **summary.pop("hard_negative_rows")}
        else:
            summary.pop("hard_negative_rows")
        # summary.json and the card hold no timings: the same input and seed give byte-identical folders.
        (staging / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
        if out_format == "parquet":
            (staging / "README.md").write_text(dataset_card(summary))
        del converted
        shutil.rmtree(staging / ".cache")
    summary["seconds"] = round(time.perf_counter() - start, 3)
    return summary


def _write_outputs(converted, staging: Path, *, strict: bool, out_format: str) -> dict[str, Any]:
    """Split kept from rejected rows, write both; returns the counts for the summary."""
    reasons = converted["_reason"]
    kept = [i for i, reason in enumerate(reasons) if not reason]
    rejected = [i for i, reason in enumerate(reasons) if reason]
    if rejected and not kept:  # an empty dataset "succeeding" only moves the failure to the next command
        counts = Counter(reasons[i] for i in rejected).most_common(3)
        raise UserError(
            f"every row ({len(rejected)}) was rejected, nothing written; most common: "
            + "; ".join(f"{reason} ({count})" for reason, count in counts)
        )
    if strict and rejected:
        first = converted[rejected[0]]
        raise UserError(
            f"{len(rejected)} row(s) rejected and --strict is set; first: row {first['_index']} "
            f"(id {first['id'] or '?'}): {first['_reason']}"
        )
    labels = Counter(converted.select(kept)["_label"]) if kept else Counter()
    hard = Counter(kind for kind in converted.select(kept)["_hard"] if kind) if kept else Counter()
    scores = [float(label[6:]) for label in labels.elements() if label.startswith("score:")]
    write_dataset(converted.select(kept).remove_columns(list(_INTERNAL)), staging, out_format)
    with open(staging / "rejected.jsonl", "w", encoding="utf-8") as handle:
        if rejected:
            for row in converted.select(rejected).select_columns(["id", "_index", "_reason"]):
                line = {"id": row["id"], "row": row["_index"], "reason": row["_reason"]}
                handle.write(json.dumps(line, ensure_ascii=False) + "\n")
    return {
        "rows_written": len(kept),
        "labels": {k: labels[k] for k in ("1", "2", "tie") if labels[k]},
        "scores": _score_stats(scores),
        "rejected": dict(Counter(reasons[i] for i in rejected).most_common()),
        "hard_negative_rows": {"rows": sum(hard.values()), "kinds": dict(sorted(hard.items()))},
    }


def _score_stats(scores: list[float]) -> dict[str, float]:
    """Count and range of the pointwise scores written (empty when there are none)."""
    if not scores:
        return {}
    return {"count": len(scores), "min": min(scores), "max": max(scores), "mean": round(sum(scores) / len(scores), 2)}
