"""Questions to answer (image(s) + question + optional reference answer), read from JSONL or a dataset.

Every user of a critic on a policy's answers (best-of-N, policy evaluation, critic-DPO) starts here. Rows
are read first (`read_rows`: a JSONL file's image paths are not opened yet) and turned into `Question`s
chunk by chunk (`load_question`, which loads and bounds the images), so a large question file never holds
all its loaded images at once. A row that cannot be
used becomes a `Question` with an `error` (why), never a silent skip.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from data_converters.errors import UserError
from rl_critic.critique.strategies import Problem


@dataclass
class Question:
    """One input row: its `problem` (question + images, candidates filled later) and reference `answer`,
    or the `error` that makes it unusable (then `problem` is None)."""

    id: str
    problem: Problem | None = None
    answer: Any = None
    error: str | None = None


@dataclass
class Row:
    """One input row as read, with the folder its relative image paths start from."""

    data: dict[str, Any]
    base: str | None
    error: str | None = None  # set when the line could not even be parsed


def read_rows(source: str, limit: int | None = None) -> list[Row]:
    """Every input row (up to `limit`); JSONL lines that do not parse become rows with an `error`."""
    path = Path(source)
    if path.suffix in (".jsonl", ".json") and path.is_file():
        rows = list(_jsonl_rows(path, limit))
        parsed = [row.data for row in rows if not row.error]
        if parsed and not any("question" in data for data in parsed):
            _not_questions(source, set().union(*parsed))
        return rows
    from data_converters.io import load_any

    dataset = load_any(source)
    if "question" not in dataset.column_names:
        _not_questions(source, dataset.column_names)
    if limit is not None:
        dataset = dataset.select(range(min(limit, len(dataset))))
    base = str(path if path.is_dir() else path.parent)
    return [Row({"id": row.get("id", str(index)), **row}, base) for index, row in enumerate(dataset)]


def _not_questions(source: str, columns) -> None:
    from data_converters.columns import data_kind

    raise UserError(
        f"{source} looks like {data_kind(columns)}, not questions: rows need a `question` (and "
        "`image` / `images`, optional `answer`), as in examples/questions.jsonl"
    )


def _jsonl_rows(path: Path, limit: int | None) -> Iterator[Row]:
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if limit is not None and number > limit:
                return
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                if not isinstance(data, dict):
                    raise ValueError("not a JSON object")
            except ValueError as err:
                yield Row({"id": f"line-{number}"}, None, f"unreadable JSONL line {number}: {err}")
                continue
            yield Row(data, str(path.parent))


def load_question(row: Row, min_pixels: int | None, max_pixels: int | None) -> Question:
    """The row's question with its images loaded (bounded to the pixel budget), or its error."""
    from rl_critic.models.vision import load_image

    question_id = str(row.data.get("id", ""))
    try:
        if row.error:
            raise UserError(row.error)
        question = str(row.data.get("question") or "").strip()
        if not question:
            raise UserError("empty question")
        raw = row.data.get("images", row.data.get("image"))
        raw = raw if isinstance(raw, list) else [raw] if raw is not None else []
        images = [load_image(_relative_to(image, row.base), min_pixels, max_pixels) for image in raw]
    except UserError as err:
        return Question(question_id, error=str(err))
    return Question(question_id, Problem(question=question, candidates=[], images=images), row.data.get("answer"))


def _relative_to(image: Any, base: str | None) -> Any:
    """Relative image paths in a question file start from the file's folder."""
    if isinstance(image, str) and base and not os.path.isabs(image) and not image.startswith(("http", "data:")):
        return os.path.join(base, image)
    return image


def load_usable_questions(
    source: str, limit: int | None, min_pixels: int | None, max_pixels: int | None, who: str
) -> list[Question]:
    """Every usable question of `source` (images loaded); the unusable ones are counted on stdout with the
    first reason, and none usable is a `UserError`. For commands that need all questions at once."""
    questions = [load_question(row, min_pixels, max_pixels) for row in read_rows(source, limit)]
    unusable = [q for q in questions if q.problem is None]
    if unusable:
        print(f"{who}: {len(unusable)} question(s) unusable, e.g. {unusable[0].id}: {unusable[0].error}")
    usable = [q for q in questions if q.problem is not None]
    if not usable:
        raise UserError(f"no usable question in {source}")
    return usable
