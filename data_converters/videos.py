"""A row's `video` as the frames a model sees: a video file decoded and sampled, or a list of frame pictures.

One sampling rule for every reader: `convert` (which stores the frames it samples), question and eval rows, and
training rows. A file is decoded with PyAV (qwen-vl-utils' own dependency: its torchvision reader needs
`torchvision.io.read_video`, which torchvision 0.29 no longer has) at `fps` (at most the file's own rate), frames
picked by their time as they are decoded and spread evenly over the file when there would be more than
`max_frames`, so an hour of video never sits in memory. A list of frames is taken to be at `fps` already (a spread
list's rate follows the wider spacing); each frame is read under the picture rule (`images.image_ref`: paths
confined to the input's folder, URLs only as the folder's policy allows). A path is checked the way an image path
is (inside `--images_root`, a regular file, not too large); video URLs are not fetched. Anything unusable is a
`ParseError`, that row's error.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PIL import Image

from data_converters.images import ImageFolder, image_ref
from data_converters.parsing import ParseError

# How a video is sampled unless the user says otherwise: qwen-vl-utils' rate, and at most 32 frames of at most
# 128 x 28 x 28 pixels each (64 of Qwen2.5-VL's tokens per frame, after its 2-frame temporal patches: 2,048 for a
# whole video), so a critic prompt with a clip fits a small context.
DEFAULT_VIDEO_FPS = 2.0
DEFAULT_VIDEO_MAX_FRAMES = 32
DEFAULT_VIDEO_MAX_PIXELS = 128 * 28 * 28
# Larger video files are refused before they are read (a clip for a critic is a few MB).
MAX_VIDEO_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class VideoSampling:
    """How a row's video is sampled: frames per second, the most frames, and pixels per frame (the `video_fps`,
    `video_max_frames` and `video_max_pixels` every command takes)."""

    fps: float = DEFAULT_VIDEO_FPS
    max_frames: int = DEFAULT_VIDEO_MAX_FRAMES
    max_pixels: int = DEFAULT_VIDEO_MAX_PIXELS

    def __post_init__(self) -> None:
        if not self.fps > 0 or self.max_frames < 1 or self.max_pixels < 28 * 28:
            raise ParseError(
                f"video_fps must be > 0, video_max_frames >= 1 and video_max_pixels >= 784 (one 28 x 28 patch), "
                f"not {self.fps}, {self.max_frames}, {self.max_pixels}"
            )


def video_budget_field(name: str):
    """The dataclass field of one part of the video budget (`video_fps`, `video_max_frames`, `video_max_pixels`):
    the same default and help on every command that reads videos (`convert`, and the model arguments)."""
    from dataclasses import field

    default, help_text = {
        "video_fps": (
            DEFAULT_VIDEO_FPS,
            "Frames per second sampled from a video file (a list of frames is taken to be at it).",
        ),
        "video_max_frames": (
            DEFAULT_VIDEO_MAX_FRAMES,
            "Most frames of one video (spread evenly over it); caps video tokens with video_max_pixels.",
        ),
        "video_max_pixels": (DEFAULT_VIDEO_MAX_PIXELS, "Upper bound on pixels per video frame."),
    }[name]
    return field(default=default, metadata={"help": help_text})


@dataclass
class SampledFrames:
    """A video as `convert` stores it: its frames as image cells (`{"bytes", "path"}`) and their rate."""

    frames: list[dict[str, Any]]
    fps: float

    @classmethod
    def of_pictures(cls, frames: list[Image.Image], fps: float) -> SampledFrames:
        """Decoded frames, stored as PNG (lossless: the pixels a model saw)."""
        return cls([{"bytes": _png(frame), "path": None} for frame in frames], fps)


def video_file(source: Any, folder: ImageFolder) -> str:
    """The checked full path of a row's video file (`source`: a path or `file://` URI, relative to the folder)."""
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    if not isinstance(source, str):
        raise ParseError(f"a video is a file path or a list of frames, not {type(source).__name__}")
    if not source.strip() or "\x00" in source:
        raise ParseError(f"the video path {source[:200]!r} names no file")
    if source.lower().startswith(("http://", "https://")):
        raise ParseError(f"video URLs are not fetched (a local file or a list of frames): {source[:200]}")
    path = source.removeprefix("file://")
    full = folder.resolve(path)
    if not os.path.isfile(full):
        raise ParseError(f"video file not found (or not a regular file): {path}")
    if os.path.getsize(full) > MAX_VIDEO_BYTES:
        raise ParseError(f"video file over {MAX_VIDEO_BYTES // 2**20} MB: {path}")
    return full


def decode_video_file(
    path: str, sampling: VideoSampling, transform: Callable[[Image.Image], Image.Image]
) -> tuple[list[Image.Image], float]:
    """The file's frames sampled by `sampling` (see the module docstring), each passed through `transform` as it
    is kept, and the rate they are at. Without a known duration, the first `max_frames` at that rate."""
    import av

    try:
        with av.open(path) as container:
            stream = container.streams.video[0]
            native = float(stream.average_rate or 0) or sampling.fps
            rate = min(sampling.fps, native)
            duration = _duration(container, stream)
            at_rate = max(1, round(duration * rate)) if duration else sampling.max_frames
            spread = duration is not None and at_rate > sampling.max_frames
            count = min(at_rate, sampling.max_frames)
            step = duration / count if spread else 1 / rate  # seconds between the frames kept
            times = [k * step for k in range(count)]
            frames, half_frame = [], 0.5 / native
            for frame in container.decode(stream):
                seconds = float(frame.time or 0.0)
                while len(frames) < len(times) and seconds + half_frame >= times[len(frames)]:
                    frames.append(transform(frame.to_image().convert("RGB")))
                if len(frames) == len(times):
                    break
    except (av.FFmpegError, IndexError, ValueError, OSError) as err:
        raise ParseError(f"cannot read video {os.path.basename(path)}: {err}") from err
    if not frames:
        raise ParseError(f"cannot read video {os.path.basename(path)}: no frame")
    return frames, 1 / step


def _duration(container, stream) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        import av

        return container.duration / av.time_base
    return None


def spread_evenly(items: list, most: int) -> list:
    """At most `most` of `items`, spread evenly from the first to the last."""
    if len(items) <= most:
        return items
    step = (len(items) - 1) / (most - 1) if most > 1 else 0
    return [items[round(k * step)] for k in range(most)]


def spread_rate(fps: float, total: int, kept: int) -> float:
    """The rate of `kept` frames spread evenly over `total` taken at `fps`."""
    return fps * (kept - 1) / (total - 1) if total > kept > 1 else fps


def bounded_frame(frame: Image.Image, max_pixels: int) -> Image.Image:
    """`frame` resized the way pictures are (qwen-vl-utils' `smart_resize`) to at most `max_pixels`."""
    from qwen_vl_utils import fetch_image

    return fetch_image({"image": frame, "min_pixels": 4 * 28 * 28, "max_pixels": max_pixels})


def sampled_frames(source: Any, folder: ImageFolder, fps: float | None = None) -> SampledFrames:
    """A row's `video` as `convert` stores it, sampled by `folder.video`: a list of frames (taken at `fps`, the
    row's own `video_fps`, or else at the sampling rate) keeps the bytes of the frames kept, as pictures keep
    theirs; a file's sampled frames are stored as PNG, bounded to `max_pixels`."""
    sampling = folder.video or VideoSampling()
    if isinstance(source, (list, tuple)):
        if not source:
            raise ParseError("the video is an empty list of frames")
        if fps is not None and not (isinstance(fps, (int, float)) and fps > 0):
            raise ParseError(f"video_fps is a rate in frames per second, not {fps!r}")
        kept = spread_evenly(list(source), sampling.max_frames)
        rate = spread_rate(fps or sampling.fps, len(source), len(kept))
        return SampledFrames([image_ref(frame, folder) for frame in kept], rate)
    frames, rate = decode_video_file(
        video_file(source, folder), sampling, lambda f: bounded_frame(f, sampling.max_pixels)
    )
    return SampledFrames.of_pictures(frames, rate)


def _png(image: Image.Image) -> bytes:
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
