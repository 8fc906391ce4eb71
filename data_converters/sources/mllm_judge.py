"""MLLM-as-a-Judge (Chen et al., 2024): its pair-comparison and scoring splits.

Pair rows: `answer1`, `answer2`, `human_answer` (`A`: the first is better, `B`: the second, `C`: tie).
Score rows: `answer`, `human` (1-5). Both: the question in `instruction` (aliases `question`,
`prompt`, `text`), the image in `image_path` (or `image`), the benchmark subset in `dataset` (`group`).
"""

from __future__ import annotations

from typing import Any

from data_converters.images import image_ref
from data_converters.parsing import ParseError
from data_converters.schema import Judgment
from data_converters.sources.source import Source, column, row_id

_PAIR_LABELS = {"a": "1", "b": "2", "c": "tie", "tie": "tie"}


def _common(row: dict[str, Any], name: str, index: int, base_dir: str | None) -> dict[str, Any]:
    return dict(
        id=row_id(row, name, index),
        source=name,
        question=str(column(row, "instruction", "question", "prompt", "text")),
        images=[image_ref(column(row, "image_path", "image", "img_path"), base_dir)],
        group=str(column(row, "dataset", "category", required=False) or ""),
    )


def read_pair(row: dict[str, Any], index: int, base_dir: str | None) -> list[Judgment]:
    verdict = str(column(row, "human_answer", "human")).strip().lower()
    if verdict not in _PAIR_LABELS:
        raise ParseError(f"unknown human_answer {verdict!r} (expected A, B or C)")
    responses = [str(column(row, "answer1")), str(column(row, "answer2"))]
    return [
        Judgment(
            task="pairwise",
            responses=responses,
            label=_PAIR_LABELS[verdict],
            **_common(row, "mllm-judge-pair", index, base_dir),
        )
    ]


def read_score(row: dict[str, Any], index: int, base_dir: str | None) -> list[Judgment]:
    try:
        score = float(column(row, "human", "score"))
    except (TypeError, ValueError) as err:
        raise ParseError("human score is not a number") from err
    if not score.is_integer() or not 1 <= score <= 5:
        raise ParseError(f"human score {score} outside 1-5")
    return [
        Judgment(
            task="pointwise",
            responses=[str(column(row, "answer", "response"))],
            label=str(int(score)),
            scale="1-5",
            **_common(row, "mllm-judge-score", index, base_dir),
        )
    ]


SOURCES = {
    "mllm-judge-pair": Source("mllm-judge-pair", read_pair),  # answer1, answer2, human_answer A/B/C
    "mllm-judge-score": Source("mllm-judge-score", read_score),  # answer, human 1-5
}
