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

from data_converters.parsing import ParseError
from data_converters.videos import (
    DEFAULT_VIDEO_FPS,
    DEFAULT_VIDEO_MAX_FRAMES,
    DEFAULT_VIDEO_MAX_PIXELS,
    VideoSampling,
)
from rl_critic.ground.errors import UserError


@dataclass(frozen=True)
class MediaBudget:
    """How large what a prompt shows may be, one setting for every reader (questions, eval rows, `generate`):
    pixels per picture (None: the processor's own), and per video the rate its frames are sampled at, the most
    frames, and pixels per frame."""

    min_pixels: int | None = None
    max_pixels: int | None = None
    video_fps: float = DEFAULT_VIDEO_FPS
    video_max_frames: int = DEFAULT_VIDEO_MAX_FRAMES
    video_max_pixels: int = DEFAULT_VIDEO_MAX_PIXELS

    def __post_init__(self) -> None:
        try:
            self.sampling  # noqa: B018 - checks the video budget
        except ParseError as err:
            raise UserError(str(err)) from err

    @property
    def sampling(self) -> VideoSampling:
        """The video part of the budget, as `data_converters.videos` samples by it."""
        return VideoSampling(self.video_fps, self.video_max_frames, self.video_max_pixels)

    @classmethod
    def of(cls, model_args) -> MediaBudget:
        """The budget the model arguments set (`min_pixels`, `max_pixels`, `video_fps`, ...)."""
        return cls(
            min_pixels=getattr(model_args, "min_pixels", None),
            max_pixels=getattr(model_args, "max_pixels", None),
            video_fps=getattr(model_args, "video_fps", DEFAULT_VIDEO_FPS),
            video_max_frames=getattr(model_args, "video_max_frames", DEFAULT_VIDEO_MAX_FRAMES),
            video_max_pixels=getattr(model_args, "video_max_pixels", DEFAULT_VIDEO_MAX_PIXELS),
        )


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


def cell_videos(video, fps) -> list[Video]:
    """A training row's videos from its `video` / `video_fps` cells: a `Video` as the dataset transform made it
    (`vision.bound_dataset_images`), or frames already within the budget (a question file's rows) at `fps`; none
    for an empty cell."""
    if isinstance(video, Video):
        return [video]
    return [Video(list(video), fps)] if video else []


def video_metadata(videos: Sequence[Video]) -> dict:
    """What a processor needs beside a batch's videos (in order) to read them as sampled: each one's rate and frame
    count, and no sampling of its own. Without the rate Qwen2.5-VL's processor takes 24 fps and spaces the frames'
    temporal positions 12 times too close; the same keys serve `processor(...)` and `apply_chat_template`."""
    if not videos:
        return {}
    return {
        "video_metadata": [{"fps": video.fps, "total_num_frames": len(video.frames)} for video in videos],
        "do_sample_frames": False,
    }


def media_lists(conversations: Sequence[list[dict]], media: Sequence | None) -> list[Media]:
    """One `Media` per conversation (none given: nothing shown), as every engine takes them; each may also be
    given as a plain list of pictures."""
    if media is None:
        return [Media() for _ in conversations]
    if len(media) != len(conversations):
        raise ValueError(f"{len(conversations)} conversations but {len(media)} media")
    return [Media.of(value) for value in media]
