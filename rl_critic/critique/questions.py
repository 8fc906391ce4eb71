"""Questions to answer (image(s) + question + optional reference answer), read from JSONL or a dataset.

Every user of a critic on a policy's answers (best-of-N, policy evaluation, critic-DPO) starts here. Rows
are read first (`read_rows`: a JSONL file's image paths are not opened yet) and turned into `Question`s
chunk by chunk (`load_question`, which loads and bounds the images), so a large question file never holds
all its loaded images at once. A row that cannot be
used becomes a `Question` with an `error` (why), never a silent skip.
"""

from __future__ import annotations

import json
import math
import reprlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from data_converters.images import ImageFolder
from data_converters.placeholders import special_token_problem, strings_in
from rl_critic.critique.problem import Problem
from rl_critic.ground.errors import UserError
from rl_critic.models.media import Media, MediaBudget

# A reference answer is a text, a number, or a list of acceptable ones (`["red", "crimson"]`).
Reference = str | list[str] | None
# What a question row's fields mean; any other field is reported (`field_error`, `unused_fields`), never dropped
# in silence: a misspelt `imge` would otherwise be a question asked without its picture.
QUESTION_FIELDS = ("id", "question", "answer", "image", "images", "video")
MEDIA_WORDS = ("image", "img", "picture", "photo", "pic", "video", "frame", "audio")


@dataclass
class Question:
    """One input row: its `problem` (question + images, candidates filled later) and reference `answer`
    (`Reference`), or the `error` that makes it unusable (then `problem` is None)."""

    id: str
    problem: Problem | None = None
    answer: Reference = None
    error: str | None = None


@dataclass
class Row:
    """One input row as read, with the folder its relative image paths start from and must stay in."""

    data: dict[str, Any]
    images: ImageFolder
    error: str | None = None  # set when the line could not even be parsed


def has_reference(row: Row) -> bool:
    """Whether a read row holds a usable reference answer (see `reference_answer`)."""
    try:
        return not row.error and reference_answer(row.data.get("answer")) is not None
    except UserError:
        return False


def image_folder(source: str, images_root: str | None = None, image_urls: str = "off") -> ImageFolder:
    """The one image-path rule of question files (as `convert`'s): relative paths start from the input's
    folder, no path may leave `images_root` (default: that folder; `any`: no limit) and URLs are fetched under
    `image_urls`. Commands write what the images show (make-pairs copies their bytes), so a row must not be able
    to pull in `~/.ssh/...` or what a private server answers."""
    path = Path(source).expanduser()
    try:
        return ImageFolder.of_input(str(path if path.is_dir() else path.parent), images_root, image_urls)
    except ValueError as err:
        raise UserError(str(err)) from err


def read_rows(
    source: str, limit: int | None = None, images_root: str | None = None, image_urls: str = "off"
) -> list[Row]:
    """Every input row (up to `limit`); JSONL lines that do not parse become rows with an `error`.
    `images_root`, `image_urls`: see `image_folder`."""
    path = Path(source)
    folder = image_folder(source, images_root, image_urls)
    if path.suffix in (".jsonl", ".json") and path.is_file():
        rows = list(_jsonl_rows(path, limit, folder))
        parsed = [row.data for row in rows if not row.error]
        if parsed and not any("question" in data for data in parsed):
            _not_questions(source, set().union(*parsed))
        _warn_unused(source, rows)
        return rows
    from data_converters.io import load_input

    dataset, _ = load_input(source)  # images undecoded: each is read under the path rule, by `load_question`
    if "question" not in dataset.column_names:
        _not_questions(source, dataset.column_names)
    if limit is not None:
        dataset = dataset.select(range(min(limit, len(dataset))))
    rows = [Row({"id": row.get("id", str(index)), **row}, folder) for index, row in enumerate(dataset)]
    _warn_unused(source, rows)
    return rows


def field_error(data: dict[str, Any]) -> str | None:
    """Why a row cannot be used as written, or None: audio (not read yet), a field that is a known one misspelt
    (`imge`, `Question`, `answers` where there is no `answer`), or a picture under another name (`image_path`,
    `img`) in a row without `image` / `images`. Other fields are only unused (`unused_fields`)."""
    import difflib

    has_picture = any(data.get(name) is not None for name in ("image", "images", "video"))
    for key in (key for key, value in data.items() if key not in QUESTION_FIELDS and value is not None):
        lowered = str(key).lower()
        if lowered.startswith("audio"):
            return f"`{key}`: audio is not read yet; a question row takes pictures (`image` / `images`) and a `video`"
        guess = next(iter(difflib.get_close_matches(lowered, QUESTION_FIELDS[1:], n=1, cutoff=0.75)), None)
        about_it = guess is not None and (lowered.startswith(guess + "_") or lowered.endswith("_" + guess))
        if guess is not None and guess not in data and not about_it:  # `question_id` is about the question
            return f"`{key}` is not a field of a question row: did you mean `{guess}`?"
        if not has_picture and any(word in lowered for word in MEDIA_WORDS):
            return (
                f"`{key}` is not read: a row's picture goes in `image` (a path, URL or data URI) or `images` "
                "(a list of them)"
            )
    return None


def unused_fields(rows: list[Row]) -> list[str]:
    """The fields some row holds that no question reader uses (metadata such as `category`), in first-seen order."""
    seen: dict[str, None] = {}
    for row in rows:
        if not row.error and field_error(row.data) is None:
            seen.update(
                (key, None) for key, value in row.data.items() if key not in QUESTION_FIELDS and value is not None
            )
    return list(seen)


def _warn_unused(source: str, rows: list[Row]) -> None:
    unused = unused_fields(rows)
    if unused:
        names = ", ".join(f"`{name}`" for name in unused[:8]) + (
            f" and {len(unused) - 8} more" if len(unused) > 8 else ""
        )
        print(
            f"warning: {source}: field(s) {names} of the question rows are not used (a question row is read for "
            f"{', '.join(QUESTION_FIELDS)})",
            file=sys.stderr,
        )


def _not_questions(source: str, columns) -> None:
    from data_converters.columns import data_kind

    raise UserError(
        f"{source} looks like {data_kind(columns)}, not questions: rows need a `question` (and "
        "`image` / `images`, optional `answer`), as in examples/questions.jsonl"
    )


def _jsonl_rows(path: Path, limit: int | None, folder: ImageFolder) -> Iterator[Row]:
    # utf-8-sig: a byte-order mark (Windows editors write one) is not part of the first line's JSON
    with open(path, encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if limit is not None and number > limit:
                return
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                if not isinstance(data, dict):
                    raise ValueError("not a JSON object")
            except RecursionError:
                yield Row({"id": f"line-{number}"}, folder, f"JSONL line {number} nests too deeply to be read")
                continue
            except ValueError as err:
                yield Row({"id": f"line-{number}"}, folder, f"unreadable JSONL line {number}: {err}")
                continue
            yield Row(data, folder)


def load_question(row: Row, budget: MediaBudget) -> Question:
    """The row's question with its pictures and video loaded (within `budget`), or its error."""
    from rl_critic.models.video import load_video
    from rl_critic.models.vision import load_image

    identifier = row.data.get("id", "")
    question_id = identifier[:200] if isinstance(identifier, str) else reprlib.repr(identifier)
    try:
        if row.error:
            raise UserError(row.error)
        if problem := field_error(row.data):
            raise UserError(problem)
        question = row.data.get("question")
        if question is not None and not isinstance(question, str):
            raise UserError(f"the question is not a text (a {type(question).__name__})")
        if not question or not question.strip():
            raise UserError("empty question")
        if problem := special_token_problem(question, *strings_in(row.data.get("answer"))):
            raise UserError(problem)
        answer = reference_answer(row.data.get("answer"))
        raw = row.data.get("images", row.data.get("image"))
        raw = raw if isinstance(raw, list) else [raw] if raw is not None else []
        images = [load_image(image, budget.min_pixels, budget.max_pixels, row.images) for image in raw]
        video = row.data.get("video")
        videos = [load_video(video, budget, row.images)] if video is not None else []
    except UserError as err:
        return Question(question_id, error=str(err))
    media = Media(images, videos)
    return Question(question_id, Problem(question=question.strip(), candidates=[], media=media), answer)


def reference_answer(value: Any) -> Reference:
    """A row's `answer` as a `Reference`: None for none (missing, empty, NaN as pandas writes a gap), a number
    as its text, a list as its acceptable answers; anything else (an object, a nested list) is the row's
    error, never its `str()` graded as if it were the answer."""
    if value is None or isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return str(value)
    if isinstance(value, list):
        answers = [reference_answer(item) for item in value if not isinstance(item, list)]
        if len(answers) == len(value) and all(isinstance(answer, str) for answer in answers):
            return answers or None
    raise UserError(f"the reference answer {reprlib.repr(value)} is not a text, a number or a list of them")


def load_usable_questions(
    source: str,
    limit: int | None,
    budget: MediaBudget,
    who: str,
    images_root: str | None = None,
    image_urls: str = "off",
) -> list[Question]:
    """Every usable question of `source` (images loaded); the unusable ones are counted on stdout with the
    first reason, and none usable is a `UserError`. For commands that need all questions at once."""
    rows = read_rows(source, limit, images_root, image_urls)
    questions = [load_question(row, budget) for row in rows]
    unusable = [q for q in questions if q.problem is None]
    if unusable:
        print(f"{who}: {len(unusable)} question(s) unusable, e.g. {unusable[0].id}: {unusable[0].error}")
    usable = [q for q in questions if q.problem is not None]
    if not usable:
        raise UserError(f"no usable question in {source}")
    return usable
