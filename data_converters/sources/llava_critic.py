"""LLaVA-Critic-113k (`lmms-lab/llava-critic-113k`), configs `pairwise` and `pointwise`.

Columns: `id`, `source` (the sub-dataset, kept as `group`), `conversations` (`[{"from": "human"|"gpt",
"value": str}]`), `image`. The human turn is the judge prompt, the gpt turn GPT-4o's rationale + verdict.

Both configs go through one reader, because the `pointwise` config also holds comparisons: a prompt
with two responses becomes a pairwise judgment (label from `The better response: [..]`, `[[A>B]]`-style
verdicts, or the LLaVA-Bench two-score first line), a prompt with one response a pointwise judgment
(label = `Final Score: N`, 0-100).
"""

from __future__ import annotations

from typing import Any

from data_converters.images import image_ref
from data_converters.parsing import (
    ParseError,
    label_from_scores,
    parse_arena_verdict,
    parse_final_score,
    parse_pair_verdict,
    parse_two_scores,
    split_pair_prompt,
    split_point_prompt,
    strip_image_tokens,
)
from data_converters.schema import Judgment
from data_converters.sources.source import Source, column, row_id
from data_converters.videos import sampled_frames


def _turns(conversations: Any) -> tuple[str, str]:
    """The judge prompt (first human turn) and the answer to it (the gpt turn that follows)."""
    if not isinstance(conversations, list):
        raise ParseError("conversations is not a list of turns")
    for i, turn in enumerate(conversations[:-1]):
        nxt = conversations[i + 1]
        if turn.get("from") == "human" and nxt.get("from") == "gpt":
            human, gpt = turn.get("value") or "", nxt.get("value") or ""
            if not gpt.strip():
                raise ParseError("empty gpt turn")
            return human, gpt
    raise ParseError("no human turn followed by a gpt turn")


def _pair_label(gpt: str) -> str:
    label = parse_pair_verdict(gpt) or parse_arena_verdict(gpt)
    if label is None:
        scores = parse_two_scores(gpt)
        label = label_from_scores(*scores) if scores else None
    if label is None:
        raise ParseError("no verdict in the gpt turn")
    return label


def read(row: dict[str, Any], index: int, base_dir: str | None, name: str) -> list[Judgment]:
    human, gpt = _turns(column(row, "conversations"))
    picture, video = column(row, "image", "images", required=False), row.get("video")
    images = [image_ref(picture, base_dir)] if picture is not None or video is None else []
    video = sampled_frames(video, base_dir, row.get("video_fps")) if video is not None else None
    common = dict(id=row_id(row, name, index), source=name, images=images, rationale=gpt, video=video)
    common["group"] = str(row.get("source") or "")
    try:
        pair = split_pair_prompt(human)
    except ParseError:
        pair = None
    if pair is not None:
        return [
            Judgment(
                task="pairwise",
                question=pair.question,
                responses=pair.responses,
                label=_pair_label(gpt),
                judge_prompt=pair,
                **common,
            )
        ]
    score = parse_final_score(gpt)
    if score is None:
        raise ParseError("no two responses and no 'Final Score: N' (0-100)")
    _, question, response = split_point_prompt(human)
    return [
        Judgment(
            task="pointwise",
            question=question,
            responses=[response],
            label=str(score),
            scale="0-100",
            judge_prompt=strip_image_tokens(human),
            **common,
        )
    ]


SOURCES = {
    name: Source(
        name=name,
        read=lambda row, index, base_dir, _name=name: read(row, index, base_dir, _name),
        hub_config=config,
    )
    for name, config in (("llava-critic-pairwise", "pairwise"), ("llava-critic-pointwise", "pointwise"))
}
