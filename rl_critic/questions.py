"""Questions to answer (image(s) + question + optional reference answer), read from JSONL or a dataset.

Shared by self-critique best-of-N and critic-reward DPO: both sample answers to questions about images.
A row that cannot be used is reported (with why), never silently skipped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rl_critic.errors import UserError


def read_rows(source: str, limit: int | None) -> Iterator[tuple[dict[str, Any], str | None, str | None]]:
    """(row, error, base folder) per input row; JSONL lines that do not parse become error rows."""
    path = Path(source)
    if path.suffix in (".jsonl", ".json") and path.is_file():
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if limit is not None and number > limit:
                    return
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                    if not isinstance(row, dict):
                        raise ValueError("not a JSON object")
                except ValueError as err:
                    yield {"id": f"line-{number}"}, f"unreadable JSONL line {number}: {err}", None
                    continue
                yield row, None, str(path.parent)
        return
    from data_converters.io import load_any

    dataset = load_any(source)
    for index, row in enumerate(dataset):
        if limit is not None and index >= limit:
            return
        yield {"id": row.get("id", str(index)), **row}, None, str(path if path.is_dir() else path.parent)


def to_problem(row: dict[str, Any], base: str | None, min_pixels, max_pixels):
    """(Problem, answer) from one input row; raises UserError with what is wrong."""
    from rl_critic.best_of_n import Problem
    from rl_critic.vision import load_image

    question = str(row.get("question") or "").strip()
    if not question:
        raise UserError("empty question")
    raw = row.get("images", row.get("image"))
    raw = raw if isinstance(raw, list) else [raw] if raw is not None else []
    images = []
    for image in raw:
        if isinstance(image, str) and base and not os.path.isabs(image) and not image.startswith(("http", "data:")):
            image = os.path.join(base, image)
        images.append(load_image(image, min_pixels, max_pixels))
    return Problem(question=question, candidates=[], images=images), row.get("answer")
