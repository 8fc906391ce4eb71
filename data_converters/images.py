"""Image references, checked but never decoded or re-encoded.

Converted datasets carry each image as its original bytes (`{"bytes": ..., "path": name}`, the storage of
a `datasets.Image` feature). Reading only the header (PIL opens lazily) is enough to reject a missing,
corrupt or degenerate image, and costs microseconds instead of a full decode.
"""

from __future__ import annotations

import base64
import io
import os
from dataclasses import dataclass
from typing import Any

from PIL import Image, UnidentifiedImageError

from data_converters.parsing import ParseError

# Qwen-VL needs at least one 28x28 patch after resizing; LLaVA-Critic-R1's own evaluation skips smaller.
MIN_SIDE = 28
# Larger is refused before reading: a photo is a few MB, and one 1 GB file would cost more than that in memory.
MAX_IMAGE_BYTES = 64 * 1024 * 1024
# PIL's own decompression-bomb threshold (~89 MP); a 20000x20000 PNG header is 48 kB on disk.
MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485


def _decode_base64(text: str) -> bytes:
    payload = text.split("base64,", 1)[1] if text.startswith("data:") else text
    try:
        return base64.b64decode(payload, validate=True)
    except ValueError as err:
        raise ParseError("image is neither a readable path nor valid base64") from err


@dataclass(frozen=True)
class ImageFolder:
    """Where a source's image paths start (`base`: the input's folder) and the folder they must stay in
    (`root`, None for anywhere): `convert` embeds the bytes of whatever a path names, so a JSONL row from
    someone else must not be able to pull `~/.ssh/...` or another user's pictures into a shared dataset."""

    base: str | None
    root: str | None

    def resolve(self, path: str) -> str:
        full = path if os.path.isabs(path) or self.base is None else os.path.join(self.base, path)
        if self.root is not None:
            real, root = os.path.realpath(full), os.path.realpath(self.root)
            if os.path.commonpath([real, root]) != root:
                raise ParseError(
                    f"image path {path} leads outside --images_root {self.root} (pass --images_root "
                    "with a folder that holds it, or `any`)"
                )
        return full


def image_ref(value: Any, base_dir: str | ImageFolder | None = None) -> dict[str, Any]:
    """Normalise one image value to `{"bytes", "path"}`; raise `ParseError` when it is unusable.

    Accepts what sources hold: a datasets image dict (bytes and/or path), raw bytes, a path (absolute or
    relative to `base_dir`, the folder of the input file, which an `ImageFolder` also confines paths to),
    a `data:image/...;base64,` URI, or plain base64.
    """
    if value is None:
        raise ParseError("missing image")
    path = None
    data: bytes | None = None
    if isinstance(value, dict):
        data, path = value.get("bytes"), value.get("path")
        if isinstance(data, str):
            data = _decode_base64(data)
    elif isinstance(value, (bytes, bytearray)):
        data = bytes(value)
    elif isinstance(value, str):
        # A data URI, or plain base64 (long, and no such file), is embedded bytes; anything else a path.
        if value.startswith("data:image") or (len(value) > 256 and not os.path.exists(value)):
            data = _decode_base64(value)
        else:
            path = value
    elif isinstance(value, Image.Image):
        buffer = io.BytesIO()
        value.save(buffer, format="PNG")
        data = buffer.getvalue()
    else:
        raise ParseError(f"unsupported image value of type {type(value).__name__}")
    if not data:
        if not path:
            raise ParseError("missing image")
        folder = base_dir if isinstance(base_dir, ImageFolder) else ImageFolder(base_dir, None)
        full = folder.resolve(path)
        if not os.path.isfile(full):
            raise ParseError(f"image file not found: {path}")
        if os.path.getsize(full) > MAX_IMAGE_BYTES:
            raise ParseError(f"image file over {MAX_IMAGE_BYTES // 2**20} MB: {path}")
        with open(full, "rb") as handle:
            data = handle.read()
    check_image_bytes(data)
    return {"bytes": data, "path": os.path.basename(path) if path else None}


def check_image_bytes(data: bytes) -> tuple[int, int]:
    """(width, height) from the header; `ParseError` for corrupt, too-small or too-large images."""
    if len(data) > MAX_IMAGE_BYTES:
        raise ParseError(f"image over {MAX_IMAGE_BYTES // 2**20} MB")
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except Image.DecompressionBombError as err:
        raise ParseError(f"image too large to decode safely ({str(err).split(' exceeds')[0]})") from err
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise ParseError("corrupt image") from err
    if width * height > MAX_IMAGE_PIXELS:
        raise ParseError(f"image too large ({width}x{height} = {width * height:,} pixels; limit {MAX_IMAGE_PIXELS:,})")
    if min(width, height) < MIN_SIDE:
        raise ParseError(f"image too small ({width}x{height}, need {MIN_SIDE} px per side)")
    return width, height
