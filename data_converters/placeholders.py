"""The models' own special tokens written into a row's text: refused as that row's error, everywhere.

A processor counts the image placeholders of the whole prompt (`<|image_pad|>` for Qwen2.5-VL, `<image>` for
LLaVA-OneVision) against the images it was given: one written into a question or a response makes them differ,
and the run dies on the processor's "number of tokens != number of images" for one row among thousands. Chat
markers (`<|im_start|>`, `<|im_end|>`) in a text would open or close a turn the row never had. The leading
`<image>` of a LLaVA-style human turn is the source's placeholder, removed by `parsing.strip_image_tokens` first.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

SPECIAL_TOKENS = (
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
    "<image>",
    "<video>",
    "<|im_start|>",
    "<|im_end|>",
)


def special_token_problem(*texts: str | None) -> str | None:
    """Why texts cannot go to a model as they are (the first special token one holds), or None."""
    for text in texts:
        if not isinstance(text, str):
            continue
        for token in SPECIAL_TOKENS:
            if token in text:
                return (
                    f"its text holds `{token}`, one of the models' own special tokens: it would not match the "
                    "row's images (or would open a chat turn); take it out of the text"
                )
    return None


def strings_in(value: Any) -> Iterable[str]:
    """Every string inside a cell (messages, content parts, lists), for `special_token_problem`."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from strings_in(item)
