"""Image references: the one rule for every image value a row can hold, checked, re-encoded only to stand up.

Converted datasets carry each image as its original bytes (`{"bytes": ..., "path": name}`, the storage of
a `datasets.Image` feature), except a photo whose EXIF orientation says it is stored turned or mirrored (phones
write them so): every reader that ignores the tag (`datasets`, PIL, the processors) would feed it to the model
sideways, so `upright` applies the tag once, here, and keeps the upright pixels as PNG (lossless, no tag left).
Every command that reads images from rows (convert, the question readers,
eval rows, training rows) goes through `image_ref`: the same accepted types, the same path rule (relative
to the input's folder, confined to an `ImageFolder` root, regular files only: a FIFO would block the
reader forever), the same URL policy (`image_urls`: none fetched unless the user allows it), and the same full
decode. A truncated JPEG or a PNG with a corrupt chunk has a valid
header, so a header check would pass it and the trainer would die on it later; decoding costs
milliseconds per image (JPEGs at 1/8 scale, which still reads every byte of the stream).
"""

from __future__ import annotations

import base64
import io
import os
import stat
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlparse

from PIL import Image, UnidentifiedImageError

from data_converters.image_urls import URL_POLICIES, fetch_image_url, is_url
from data_converters.parsing import ParseError

# Qwen-VL needs at least one 28x28 patch after resizing; LLaVA-Critic-R1's own evaluation skips smaller.
MIN_SIDE = 28
# Qwen's `smart_resize` refuses a longer side over 200x the shorter (a 28x6000 strip); refused here first.
MAX_ASPECT_RATIO = 200
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
    """Where a source's image paths start (`base`: the input's folder), the folder they must stay in
    (`root`, None for anywhere), which image URLs may be fetched (`urls`, see `data_converters.image_urls`) and how a
    row's video is sampled (`video`, `data_converters.videos`):
    `convert` embeds the bytes of whatever a row names, so a JSONL row from someone else must not be able to pull
    `~/.ssh/...`, another user's pictures or a private server's answer into a shared dataset."""

    base: str | None
    root: str | None
    urls: str = "off"
    video: Any = None  # a `videos.VideoSampling` (None: its defaults); videos.py reads it, this module does not

    @classmethod
    def of_input(
        cls, base: str | None, images_root: str | None, image_urls: str = "off", video: Any = None
    ) -> ImageFolder:
        """The rule of every command that reads rows from an input in folder `base`: paths may not leave
        `images_root` (default: `base`; `any`: no limit), URLs are fetched under `image_urls`."""
        if images_root not in (None, "any") and not os.path.isdir(images_root):
            raise ParseError(f"--images_root {images_root} is not a folder")
        if image_urls not in URL_POLICIES:
            raise ParseError(f"--image_urls {image_urls!r} is not one of {', '.join(URL_POLICIES)}")
        return cls(base, None if images_root == "any" else images_root or base, image_urls, video)

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


def images_root_field():
    """The `images_root` field of every command that reads question rows (see `ImageFolder.of_input`)."""
    return field(
        default=None,
        metadata={
            "help": "Folder that image file paths in the questions must stay in. Default: the questions' "
            "folder; `any`: no limit."
        },
    )


def image_ref(value: Any, base_dir: str | ImageFolder | None = None) -> dict[str, Any]:
    """Normalise one image value to `{"bytes", "path"}` (the bytes decoded once, fully, as a check); raise
    `ParseError` when it is unusable.

    Accepts what sources hold: a datasets image dict (bytes and/or path), raw bytes, a path (absolute or
    relative to `base_dir`, the folder of the input file, which an `ImageFolder` also confines paths to),
    a `file://` URI (a path, under the same rule), an http(s) URL (fetched under the folder's `urls` policy), a
    `data:image/...;base64,` URI, plain base64, or a PIL image.
    """
    folder = base_dir if isinstance(base_dir, ImageFolder) else ImageFolder(base_dir, None)
    path = None
    data: bytes | None = None
    if isinstance(value, dict):
        data, path = _dict_parts(value)
    elif isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
    elif is_url(value):
        path = value
    elif isinstance(value, str):
        if value.startswith("file://"):
            path = unquote(urlparse(value).path)
        # A data URI, or plain base64 (long, and no such file), is embedded bytes; anything else a path.
        elif value.startswith("data:image") or (len(value) > 256 and not _exists(folder, value)):
            data = _decode_base64(value)
        else:
            path = value
    elif isinstance(value, Image.Image):
        buffer = io.BytesIO()
        value.save(buffer, format="PNG")
        data = buffer.getvalue()
    elif value is None:
        raise ParseError("missing image")
    else:
        raise ParseError(f"unsupported image value of type {type(value).__name__}")
    if not data:
        if not path:
            raise ParseError("missing image (no bytes and no path)")
        if "\x00" in path:  # no file system takes one; os.path functions raise ValueError on it
            raise ParseError("image path holds a NUL character")
        if is_url(path):  # a bare URL, or datasets' `{"path": URL}`
            data = fetch_image_url(path, folder.urls, MAX_IMAGE_BYTES)
            path = urlparse(path).path
        else:
            data = read_image_file(folder.resolve(path), path)
    check_image_bytes(data)
    return {"bytes": upright(data), "path": os.path.basename(path) if path else None}


EXIF_ORIENTATION = 0x0112  # 1: stored upright; 2-8: mirrored and/or turned by 90, 180 or 270 degrees


def upright(data: bytes) -> bytes:
    """`data` as it is, or, for an image whose EXIF orientation is not 1, the upright pixels as PNG (reading the
    tag parses the header only: no other image is decoded again)."""
    from PIL import ImageOps

    with Image.open(io.BytesIO(data)) as image:
        if image.getexif().get(EXIF_ORIENTATION, 1) in (1, None):
            return data
        turned = ImageOps.exif_transpose(image)
    buffer = io.BytesIO()
    turned.save(buffer, format="PNG")
    return buffer.getvalue()


def _dict_parts(value: dict) -> tuple[bytes | None, str | None]:
    """(bytes, path) of a `{"bytes", "path"}` image dict (datasets' storage, or pandas' plain struct)."""
    data, path = value.get("bytes"), value.get("path")
    if isinstance(data, str):
        data = _decode_base64(data)
    elif isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    elif data is not None and not isinstance(data, bytes):
        raise ParseError(f"image bytes of type {type(data).__name__}")
    if path is not None and not isinstance(path, str):
        raise ParseError(f"image path of type {type(path).__name__}")
    return data, path


def _exists(folder: ImageFolder, value: str) -> bool:
    """Whether `value`, read as a path relative to `folder`, names something (a long path is still a path)."""
    full = value if os.path.isabs(value) or folder.base is None else os.path.join(folder.base, value)
    return "\x00" not in full and os.path.lexists(full)


def read_image_file(full: str, named: str) -> bytes:
    """The bytes of a regular image file; a missing one, a FIFO or device (whose read would block forever) or
    one over `MAX_IMAGE_BYTES` (refused before it is read) is a `ParseError` naming it as the row did."""
    try:
        mode = os.stat(full).st_mode
    except (OSError, ValueError):
        raise ParseError(f"image file not found: {named}") from None
    if not stat.S_ISREG(mode):
        raise ParseError(f"image path is not a regular file: {named}")
    if os.path.getsize(full) > MAX_IMAGE_BYTES:
        raise ParseError(f"image file over {MAX_IMAGE_BYTES // 2**20} MB: {named}")
    with open(full, "rb") as handle:
        return handle.read()


def check_image_bytes(data: bytes) -> tuple[int, int]:
    """(width, height) of an image that decodes to the end; `ParseError` for corrupt, truncated, too-small,
    too-large or too-narrow images (see the module docstring)."""
    if len(data) > MAX_IMAGE_BYTES:
        raise ParseError(f"image over {MAX_IMAGE_BYTES // 2**20} MB")
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise ParseError(
                    f"image too large ({width}x{height} = {width * height:,} pixels; limit {MAX_IMAGE_PIXELS:,})"
                )
            if image.format == "JPEG":
                image.draft(image.mode, (max(width // 8, 1), max(height // 8, 1)))
            image.load()
    except ParseError:
        raise
    except Image.DecompressionBombError as err:
        raise ParseError(f"image too large to decode safely ({str(err).split(' exceeds')[0]})") from err
    except UnidentifiedImageError as err:
        raise ParseError("corrupt image") from err
    except (OSError, ValueError, SyntaxError, EOFError) as err:  # one reason for all: rejections are counted by it
        raise ParseError("corrupt image (it does not decode to the end)") from err
    if min(width, height) < MIN_SIDE:
        raise ParseError(f"image too small ({width}x{height}, need {MIN_SIDE} px per side)")
    if max(width, height) > MAX_ASPECT_RATIO * min(width, height):
        raise ParseError(f"image too narrow ({width}x{height}: one side over {MAX_ASPECT_RATIO}x the other)")
    return width, height
