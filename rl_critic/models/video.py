"""Video loading for the models: a row's `video` (a video file, or a list of frame pictures) as the `Video` a model
sees, under `data_converters.videos`' sampling rule (the one `convert` applies), every frame bounded to
`video_max_pixels` the way pictures are (Qwen's `smart_resize`). A video that cannot be used is a `UserError`, that
row's error, like a broken picture.
"""

from __future__ import annotations

import os
from typing import Any

from data_converters.images import ImageFolder
from data_converters.parsing import ParseError
from data_converters.videos import bounded_frame, decode_video_file, video_file
from rl_critic.ground.errors import UserError
from rl_critic.models.media import MediaBudget, Video
from rl_critic.models.vision import frames_video


def load_video(source: Any, budget: MediaBudget, folder: ImageFolder | None = None) -> Video:
    """The `Video` a row's `video` value names (see the module docstring); `UserError` when it is unusable."""
    folder = folder or ImageFolder(None, None)
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    if isinstance(source, (list, tuple)):
        return frames_video(source, budget.video_fps, budget, folder)
    try:
        frames, fps = decode_video_file(
            video_file(source, folder), budget.sampling, lambda frame: bounded_frame(frame, budget.video_max_pixels)
        )
    except ParseError as err:
        raise UserError(str(err)) from err
    return Video(frames, fps)
