"""Multimodal RewardBench (facebookresearch/multimodal_rewardbench, ~5k rows, JSONL + image folder).

Columns: `ID`, `Text` (the question), `Image` (a path relative to the data file), `Output1`, `Output2`,
`Better` (`"Output1"` or `"Output2"`), `Category` (kept as `group`).
"""

from __future__ import annotations

from typing import Any

from data_converters.images import image_ref
from data_converters.parsing import ParseError
from data_converters.schema import Judgment
from data_converters.sources.source import Source, column, row_id

NAME = "multimodal-rewardbench"
_BETTER = {"output1": "1", "output2": "2", "1": "1", "2": "2", "tie": "tie"}


def read(row: dict[str, Any], index: int, base_dir: str | None) -> list[Judgment]:
    better = str(column(row, "Better", "better")).strip().lower()
    if better not in _BETTER:
        raise ParseError(f"unknown Better value {better!r}")
    return [
        Judgment(
            id=row_id(row, NAME, index),
            source=NAME,
            task="pairwise",
            question=str(column(row, "Text", "text", "question")),
            responses=[str(column(row, "Output1", "output1")), str(column(row, "Output2", "output2"))],
            label=_BETTER[better],
            images=[image_ref(column(row, "Image", "image"), base_dir)],
            group=str(column(row, "Category", "category", required=False) or ""),
        )
    ]


SOURCES = {NAME: Source(NAME, read)}
