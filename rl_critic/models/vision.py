"""Image loading: paths, URLs, base64 data URIs and PIL images, resized the way Qwen users expect.

All image inputs go through qwen-vl-utils' `fetch_image`, which converts to RGB and resizes to a multiple
of 28 px within `[min_pixels, max_pixels]` (Qwen's `smart_resize`). Using the same bounds for every
family means one `min_pixels`/`max_pixels` pair controls the image-token budget everywhere: Qwen
processors get the bounds directly (see `loader.apply_pixel_bounds`), LLaVA-OneVision picks its anyres
grid (1 to 10 tiles of 729 tokens) from the already-bounded image. Questions, `generate` and `eval critic`
rows load images through `load_image`, training datasets through `bound_dataset_images`; both read a row's
value under `data_converters.images.image_ref`'s rule (types, paths, the URL policy, full decode).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import Any

from PIL import Image

from data_converters.columns import VIDEO_COLUMN, VIDEO_FPS_COLUMN
from data_converters.images import ImageFolder, image_ref
from data_converters.parsing import ParseError
from data_converters.videos import spread_evenly, spread_rate
from rl_critic.ground.errors import UserError
from rl_critic.models.media import MediaBudget, Video

# qwen-vl-utils' own defaults (4 and 16384 tokens of 28x28 px).
DEFAULT_MIN_PIXELS = 4 * 28 * 28
DEFAULT_MAX_PIXELS = 16384 * 28 * 28


def load_image(
    source: str | os.PathLike | Image.Image | bytes | dict[str, Any],
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    folder: ImageFolder | None = None,
    resize: bool = True,
) -> Image.Image:
    """Load one image and bound its pixel count; `source` may be a path or `file://` URI (relative paths start
    from `folder`, which may also confine them), an http(s) URL (fetched only as `folder.urls` allows; without a
    folder, none is), a data URI, bytes, a PIL image or a `{"path": ...}` / `{"bytes": ...}` dict as `datasets`
    stores images. Anything unusable (a wrong type, a
    missing or non-regular file, an image that does not decode to the end, a silent server) is a `UserError`.
    `resize=False`: checked and decoded only, at its own size (each processor's own defaults then apply)."""
    from qwen_vl_utils import fetch_image

    min_pixels = DEFAULT_MIN_PIXELS if min_pixels is None else min_pixels
    max_pixels = DEFAULT_MAX_PIXELS if max_pixels is None else max_pixels
    if min_pixels > max_pixels:
        raise UserError(f"min_pixels ({min_pixels}) is larger than max_pixels ({max_pixels})")
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    if isinstance(source, Image.Image):
        from PIL import ImageOps

        image = ImageOps.exif_transpose(source)  # stands a turned photo up, as `upright` does for bytes
    else:
        try:
            data = image_ref(source, folder)["bytes"]
        except ParseError as err:
            where = f" {source[:200]!r}" if isinstance(source, str) and source[:200] not in str(err) else ""
            raise UserError(f"cannot read image{where}: {err}") from err
        image = Image.open(io.BytesIO(data))
    try:
        if not resize:
            image.load()
            return image
        return fetch_image({"image": image, "min_pixels": min_pixels, "max_pixels": max_pixels})
    except Image.DecompressionBombError as err:  # a small file whose header claims 20000x20000 pixels
        raise UserError(f"image too large to decode safely: {str(err).split(' exceeds')[0]}") from err
    except (OSError, ValueError, SyntaxError) as err:  # PIL's UnidentifiedImageError is an OSError
        raise UserError(f"cannot read image: {err}") from err


def bound_dataset_images(dataset, budget: MediaBudget, image_urls: str = "off"):
    """`dataset` with every `image` / `images` cell read through `load_image` as it is read: bounded to
    `[min_pixels, max_pixels]` (without bounds: checked and decoded at its own size, so each processor's
    own defaults apply), and every `video` (its frames, at the row's `video_fps`) as a `Video` within the video
    budget (`frames_video`). Image URLs are fetched under `image_urls` (see `data_converters.image_urls`).

    A lazy `with_transform`, so a 100k-row training set is not re-encoded up front; TRL's trainers read
    vision rows one batch at a time, so each image is resized right before the processor sees it. The image
    columns are read undecoded first, so `datasets` never opens a path itself (a FIFO would block it), and an
    image that cannot be used fails with its row's id.
    """
    from data_converters.io import undecoded_images

    if not {"image", "images", VIDEO_COLUMN} & set(dataset.column_names):
        return dataset
    return undecoded_images(dataset).with_transform(BoundMedia(budget, image_urls))


@dataclass(frozen=True)
class BoundMedia:
    """The transform of `bound_dataset_images`: a picklable object, so `datasets` can fingerprint it."""

    budget: MediaBudget
    image_urls: str = "off"

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        ids = batch.get("id")
        for column in ("image", "images", VIDEO_COLUMN):
            if column in batch:
                cells = []
                for index, cell in enumerate(batch[column]):
                    try:
                        if column == VIDEO_COLUMN:
                            cells.append(self.video(cell, (batch.get(VIDEO_FPS_COLUMN) or [None] * (index + 1))[index]))
                        else:
                            cells.append(self.bound(cell))
                    except UserError as err:
                        row = f"row id {ids[index]!r}" if ids else "a row"
                        raise UserError(f"{row}: {err}") from err
                batch[column] = cells
        if VIDEO_COLUMN in batch and not {"image", "images"} & set(batch):  # TRL tells vision data by its pictures
            batch["images"] = [[] for _ in batch[VIDEO_COLUMN]]
        return batch

    def bound(self, cell):
        if cell is None:
            return None
        if isinstance(cell, list):
            return [self.bound(item) for item in cell]
        resize = self.budget.min_pixels is not None or self.budget.max_pixels is not None
        folder = ImageFolder(None, None, self.image_urls)
        return load_image(cell, self.budget.min_pixels, self.budget.max_pixels, folder, resize=resize)

    def video(self, frames, fps) -> Video | None:
        if not frames:  # a row without a video in a dataset where others have one
            return None
        if not fps or not fps > 0:
            raise UserError(f"a video needs its frame rate in `{VIDEO_FPS_COLUMN}` (frames per second), not {fps!r}")
        return frames_video(frames, float(fps), self.budget, ImageFolder(None, None, self.image_urls))


def frames_video(frames: list, fps: float, budget: MediaBudget, folder: ImageFolder | None = None) -> Video:
    """A video given as its frames (pictures, or anything `load_image` reads) taken at `fps`: at most
    `video_max_frames` of them, spread evenly from the first to the last (only those are read; the rate then
    follows the wider spacing), each bounded to `video_max_pixels`, every frame at the first one's size
    (processors stack a video's frames)."""
    if not frames:
        raise UserError("the video is an empty list of frames")
    kept = spread_evenly(list(frames), budget.video_max_frames)
    loaded = [load_image(frame, DEFAULT_MIN_PIXELS, budget.video_max_pixels, folder) for frame in kept]
    size = loaded[0].size
    frames_kept = [frame if frame.size == size else frame.resize(size) for frame in loaded]
    return Video(frames_kept, spread_rate(fps, len(frames), len(kept)))
