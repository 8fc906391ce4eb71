"""Video loading: a row's `video` (a video file, or a list of frame pictures) as the frames a model sees.

A file is decoded with PyAV (qwen-vl-utils' own dependency: its torchvision reader needs `torchvision.io.read_video`,
which torchvision 0.29 no longer has) and sampled at `video_fps` (at most the file's own rate), frames spread
evenly when there would be more than `video_max_frames`. A list of frames is taken to be sampled at `video_fps`
already; each frame is read under the picture rule (`image_ref`: paths confined to the input's folder, URLs only
as `--image_urls` allows, decoded to the end), and frames of another size than the first are resized to it. Every
frame is bounded to `video_max_pixels` the way pictures are
(Qwen's `smart_resize`). A file that cannot be decoded is that row's error, like a broken picture.
"""

from __future__ import annotations

import os
from typing import Any

from PIL import Image

from data_converters.images import ImageFolder
from rl_critic.ground.errors import UserError
from rl_critic.models.media import MediaBudget, Video
from rl_critic.models.vision import DEFAULT_MIN_PIXELS, frames_video, load_image

# Larger video files are refused before they are read (a clip for a critic is a few MB).
MAX_VIDEO_BYTES = 512 * 1024 * 1024


def load_video(source: Any, budget: MediaBudget, folder: ImageFolder | None = None) -> Video:
    """The `Video` a row's `video` value names (see the module docstring); `UserError` when it is unusable."""
    folder = folder or ImageFolder(None, None)
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    if isinstance(source, (list, tuple)):
        return frames_video(source, budget.video_fps, budget, folder)
    if not isinstance(source, str):
        raise UserError(f"a video is a file path or a list of frames, not {type(source).__name__}")
    if not source.strip() or "\x00" in source:
        raise UserError(f"the video path {source[:200]!r} names no file")
    if source.lower().startswith(("http://", "https://")):
        raise UserError(f"video URLs are not fetched (a local file or a list of frames): {source[:200]}")
    path = source.removeprefix("file://")
    try:
        full = folder.resolve(path)
    except ValueError as err:  # data_converters' ParseError: outside --images_root
        raise UserError(str(err)) from err
    if not os.path.isfile(full):
        raise UserError(f"video file not found (or not a regular file): {path}")
    if os.path.getsize(full) > MAX_VIDEO_BYTES:
        raise UserError(f"video file over {MAX_VIDEO_BYTES // 2**20} MB: {path}")
    frames, fps = _decode(full, budget)
    return Video(frames, fps)


def _decode(path: str, budget: MediaBudget) -> tuple[list[Image.Image], float]:
    """The file's frames at `budget.video_fps` (or its own rate, when lower), spread evenly over it when there would
    be more than `video_max_frames`, each bounded as it is decoded (an hour of video never sits in memory), and
    the rate they are at. Without a known duration, the first `video_max_frames` at that rate."""
    import av

    try:
        with av.open(path) as container:
            stream = container.streams.video[0]
            native = float(stream.average_rate or 0) or budget.video_fps
            rate = min(budget.video_fps, native)
            duration = _duration(container, stream)
            at_rate = max(1, round(duration * rate)) if duration else budget.video_max_frames
            spread = duration is not None and at_rate > budget.video_max_frames
            count = min(at_rate, budget.video_max_frames)
            step = duration / count if spread else 1 / rate  # seconds between the frames kept
            times = [k * step for k in range(count)]
            frames, half_frame = [], 0.5 / native
            for frame in container.decode(stream):
                seconds = float(frame.time or 0.0)
                while len(frames) < len(times) and seconds + half_frame >= times[len(frames)]:
                    frames.append(_bounded(frame.to_image(), budget))
                if len(frames) == len(times):
                    break
    except (av.FFmpegError, IndexError, ValueError, OSError) as err:
        raise UserError(f"cannot read video {os.path.basename(path)}: {err}") from err
    if not frames:
        raise UserError(f"cannot read video {os.path.basename(path)}: no frame")
    return frames, 1 / step


def _duration(container, stream) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        import av

        return container.duration / av.time_base
    return None


def _bounded(frame: Image.Image, budget: MediaBudget) -> Image.Image:
    return load_image(frame.convert("RGB"), DEFAULT_MIN_PIXELS, budget.video_max_pixels)
