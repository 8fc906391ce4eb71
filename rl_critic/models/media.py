"""What a prompt shows: its pictures and videos, one value from the row to the engine.

A conversation names its media by parts (`{"type": "image"}`, `{"type": "video"}`); a `Media` holds them in that
order, already within their budgets (pictures bounded by `min_pixels` / `max_pixels` when loaded, a video as the
frames it was sampled to). Every path that takes pictures takes a `Media`: questions, judge requests, the three
engines; each engine hands the pictures and videos to its model the way that model takes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from PIL import Image

# The frame rate a video's frames are taken to be sampled at when the row does not say (qwen-vl-utils' default).
DEFAULT_VIDEO_FPS = 2.0


@dataclass
class Video:
    """A video as the model sees it: frames sampled at `fps` frames per second."""

    frames: list[Image.Image]
    fps: float = DEFAULT_VIDEO_FPS


@dataclass
class Media:
    images: list[Image.Image] = field(default_factory=list)
    videos: list[Video] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.images or self.videos)

    @classmethod
    def of(cls, value: Media | Sequence[Image.Image] | None) -> Media:
        """`value` as a `Media`: a `Media` as it is, a list of pictures as those pictures, None as nothing."""
        if isinstance(value, Media):
            return value
        return cls(images=list(value or []))


def media_lists(conversations: Sequence[list[dict]], media: Sequence | None) -> list[Media]:
    """One `Media` per conversation (none given: nothing shown), as every engine takes them; each may also be
    given as a plain list of pictures."""
    if media is None:
        return [Media() for _ in conversations]
    if len(media) != len(conversations):
        raise ValueError(f"{len(conversations)} conversations but {len(media)} media")
    return [Media.of(value) for value in media]
