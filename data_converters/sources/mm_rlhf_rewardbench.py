"""MM-RLHF-RewardBench (`yifanzhang114/MM-RLHF-RewardBench`).

Columns: `prompt` (the question), `chosen`, `rejected`, `image`; the chosen response is the better one.
"""

from __future__ import annotations

from typing import Any

from data_converters.images import image_ref
from data_converters.schema import Judgment
from data_converters.sources.source import Source, column, row_id

NAME = "mm-rlhf-rewardbench"


def read(row: dict[str, Any], index: int, base_dir: str | None) -> list[Judgment]:
    return [
        Judgment(
            id=row_id(row, NAME, index),
            source=NAME,
            task="pairwise",
            question=str(column(row, "prompt", "question", "query")),
            responses=[str(column(row, "chosen")), str(column(row, "rejected"))],
            label="1",
            images=[image_ref(column(row, "image", "images"), base_dir)],
            group=str(column(row, "category", "type", required=False) or ""),
        )
    ]


SOURCES = {NAME: Source(NAME, read)}
