"""Image loading: paths, URLs, base64 data URIs and PIL images, resized the way Qwen users expect.

All image inputs go through qwen-vl-utils' `fetch_image`, which converts to RGB and resizes to a multiple
of 28 px within `[min_pixels, max_pixels]` (Qwen's `smart_resize`). Using the same bounds for every
family means one `min_pixels`/`max_pixels` pair controls the image-token budget everywhere: Qwen
processors get the bounds directly (see `loader.apply_pixel_bounds`), LLaVA-OneVision picks its anyres
grid (1 to 10 tiles of 729 tokens) from the already-bounded image. Questions and `generate` load images
through `load_image`; training datasets and `eval critic` rows through `bound_dataset_images`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from PIL import Image

from data_converters.errors import UserError
from data_converters.images import MAX_IMAGE_BYTES

# qwen-vl-utils' own defaults (4 and 16384 tokens of 28x28 px).
DEFAULT_MIN_PIXELS = 4 * 28 * 28
DEFAULT_MAX_PIXELS = 16384 * 28 * 28


def load_image(
    source: str | os.PathLike | Image.Image | dict[str, Any],
    min_pixels: int | None = None,
    max_pixels: int | None = None,
) -> Image.Image:
    """Load one image and bound its pixel count; `source` may be a path, URL, data URI, PIL image or a
    `{"path": ...}` / `{"bytes": ...}` dict as `datasets` stores images."""
    from qwen_vl_utils import fetch_image

    if isinstance(source, dict) and ("bytes" in source or "path" in source):
        source = _from_datasets_dict(source)
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    if isinstance(source, str) and not source.startswith(("http://", "https://", "data:image", "file://")):
        if not os.path.isfile(source):
            raise UserError(f"image not found: {source}")
        if os.path.getsize(source) > MAX_IMAGE_BYTES:  # refused before it is read into memory
            raise UserError(f"image file over {MAX_IMAGE_BYTES // 2**20} MB: {source}")
    element: dict[str, Any] = {"image": source}
    element["min_pixels"] = DEFAULT_MIN_PIXELS if min_pixels is None else min_pixels
    element["max_pixels"] = DEFAULT_MAX_PIXELS if max_pixels is None else max_pixels
    if element["min_pixels"] > element["max_pixels"]:
        raise UserError(f"min_pixels ({element['min_pixels']}) is larger than max_pixels ({element['max_pixels']})")
    try:
        return fetch_image(element)
    except Image.DecompressionBombError as err:  # a small file whose header claims 20000x20000 pixels
        raise UserError(
            f"image too large to decode safely {str(source)[:200]!r}: {str(err).split(' exceeds')[0]}"
        ) from err
    except (OSError, ValueError) as err:  # PIL's UnidentifiedImageError is an OSError
        raise UserError(f"cannot read image {str(source)[:200]!r}: {err}") from err


def _from_datasets_dict(value: dict[str, Any]) -> Image.Image | str:
    import io

    if value.get("bytes"):
        return Image.open(io.BytesIO(value["bytes"]))
    return value["path"]


def bound_dataset_images(dataset, min_pixels: int | None, max_pixels: int | None):
    """`dataset` with every `image` / `images` cell bounded to `[min_pixels, max_pixels]` as it is read.

    A lazy `with_transform`, so a 100k-row training set is not re-encoded up front; TRL's trainers read
    vision rows one batch at a time, so each image is resized right before the processor sees it. Without
    bounds the dataset is returned as it is (each processor's own defaults apply).
    """
    if min_pixels is None and max_pixels is None:
        return dataset
    return dataset.with_transform(BoundImages(min_pixels, max_pixels))


@dataclass(frozen=True)
class BoundImages:
    """The transform of `bound_dataset_images`: a picklable object, so `datasets` can fingerprint it."""

    min_pixels: int | None
    max_pixels: int | None

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        for column in ("image", "images"):
            if column in batch:
                batch[column] = [self.bound(cell) for cell in batch[column]]
        return batch

    def bound(self, cell):
        if cell is None:
            return None
        if isinstance(cell, list):
            return [self.bound(item) for item in cell]
        return load_image(cell, self.min_pixels, self.max_pixels)
