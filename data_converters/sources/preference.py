"""Generic preference pairs (RLAIF-V, VLFeedback, or your own): `prompt`/`question`, `chosen`, `rejected`,
and `image` (or `images`, a list, for multi-image rows). The chosen response is the better one.

Messages are accepted too: a `prompt` that is a list of chat turns gives the last user text as the
question, and `chosen`/`rejected` given as one assistant turn give its text.
"""

from __future__ import annotations

from typing import Any

from data_converters.images import image_ref
from data_converters.parsing import ParseError
from data_converters.schema import Judgment
from data_converters.sources.source import Source, column, row_id

NAME = "preference"


def _text(value: Any) -> str:
    """Plain text of a string, a message list, or a message's content parts."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return _text(value.get("content", value.get("text", "")))
    if isinstance(value, list):
        if value and isinstance(value[0], dict) and "role" in value[0]:
            users = [m for m in value if m.get("role") in ("user", "assistant")]
            return _text(users[-1]) if users else ""
        return "".join(_text(part) for part in value if not (isinstance(part, dict) and part.get("type") == "image"))
    raise ParseError(f"unreadable text of type {type(value).__name__}")


def read(row: dict[str, Any], index: int, base_dir: str | None) -> list[Judgment]:
    raw_images = column(row, "images", "image")
    raw_images = raw_images if isinstance(raw_images, list) else [raw_images]
    return [
        Judgment(
            id=row_id(row, NAME, index),
            source=NAME,
            task="pairwise",
            question=_text(column(row, "prompt", "question", "query")),
            responses=[_text(column(row, "chosen")), _text(column(row, "rejected"))],
            label="1",
            images=[image_ref(image, base_dir) for image in raw_images],
            group=str(column(row, "source", "category", required=False) or ""),
        )
    ]


SOURCES = {NAME: Source(NAME, read, multi_image=True)}
