"""VL-RewardBench (`MMInstruction/VL-RewardBench`, 1,250 rows).

Columns: `id`, `query`, `response` (two strings), `image`, `human_ranking` (rank per response, lower is
better: `[0, 1]` means the first response is better), and `models` (who wrote each response) when present,
which model-level metrics (Elo, Kendall's tau) use. Groups follow the benchmark's three parts, derived
from the id prefix as its official script does: general (WildVision, VLFeedback), hallucination (POVID,
RLAIF-V, RLHF-V) and reasoning (MathVerse, MMMU-Pro).
"""

from __future__ import annotations

from typing import Any

from data_converters.images import image_ref
from data_converters.parsing import ParseError
from data_converters.schema import Judgment
from data_converters.sources.source import Source, column, row_id

NAME = "vl-rewardbench"
_GROUP_PREFIXES = {
    "general": ("wildvision", "vlfeedback"),
    "hallucination": ("povid", "rlaif", "rlhf"),
    "reasoning": ("mathverse", "mmmu"),
}


def group_of(row_id_: str) -> str:
    lowered = row_id_.lower()
    for group, prefixes in _GROUP_PREFIXES.items():
        if lowered.startswith(prefixes):
            return group
    return ""


def read(row: dict[str, Any], index: int, base_dir: str | None) -> list[Judgment]:
    responses = column(row, "response", "responses")
    ranking = column(row, "human_ranking")
    if len(responses) != 2 or len(ranking) != 2:
        raise ParseError("expected two responses and a two-entry human_ranking")
    first, second = (int(r) for r in ranking)
    label = "1" if first < second else "2" if second < first else "tie"
    id_ = row_id(row, NAME, index)
    return [
        Judgment(
            id=id_,
            source=NAME,
            task="pairwise",
            question=str(column(row, "query", "question")),
            responses=[str(r) for r in responses],
            label=label,
            images=[image_ref(column(row, "image"), base_dir)],
            group=group_of(id_),
            models=[str(m) for m in (row.get("models") or [])][:2] if len(row.get("models") or []) == 2 else [],
        )
    ]


SOURCES = {NAME: Source(NAME, read)}
