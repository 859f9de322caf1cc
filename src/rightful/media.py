"""Safe handling of untrusted media: format sniffing, byte caps, pixel limits.

Nothing here trusts a file name or a Content-Type: formats are sniffed from the first bytes. Decoding an image
goes through :func:`open_image`, which applies a pixel limit (decompression bombs become
:class:`~rightful.errors.InvalidInput`, not a ``MemoryError``).
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from rightful.errors import InvalidInput

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_PIXELS",
    "iter_files",
    "media_type_for",
    "open_image",
    "read_capped",
    "sniff",
]

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_PIXELS = 64_000_000

_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"%PDF-", 0, "application/pdf"),
    (b"II*\x00", 0, "image/tiff"),
    (b"MM\x00*", 0, "image/tiff"),
    (b"\x00\x00\x00\x0cjP  ", 0, "image/jp2"),
    (b"ID3", 0, "audio/mpeg"),
    (b"fLaC", 0, "audio/flac"),
    (b"OggS", 0, "audio/ogg"),
)

_EXTENSIONS = {
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".gif": "image/gif",
    ".webp": "image/webp", ".avif": "image/avif", ".heic": "image/heic", ".tif": "image/tiff",
    ".tiff": "image/tiff", ".pdf": "application/pdf", ".epub": "application/epub+zip",
    ".html": "text/html", ".htm": "text/html", ".xmp": "application/rdf+xml", ".svg": "image/svg+xml",
    ".mp4": "video/mp4", ".mov": "video/quicktime", ".mp3": "audio/mpeg", ".wav": "audio/wav",
    ".txt": "text/plain", ".json": "application/json",
}  # fmt: skip


def sniff(head: bytes) -> str | None:
    """The media type the first bytes announce, or None when they match no known format."""
    for magic, offset, media_type in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return media_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in {b"avif", b"avis"}:
            return "image/avif"
        if brand in {b"heic", b"heix", b"mif1", b"msf1"}:
            return "image/heic"
        if brand == b"qt  ":
            return "video/quicktime"
        return "video/mp4"
    if head[:4] == b"PK\x03\x04" and head[30:58] == b"mimetypeapplication/epub+zip":
        return "application/epub+zip"
    if head[:4] == b"PK\x03\x04":
        return "application/zip"
    text = head[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head")):
        return "text/html"
    if text.startswith(b"<?xpacket") or b"<x:xmpmeta" in text:
        return "application/rdf+xml"
    if text.startswith((b"<?xml", b"<rdf:rdf")) and b"<rdf:rdf" in text and b"<svg" not in text:
        return "application/rdf+xml"  # an XMP sidecar written without the x:xmpmeta wrapper
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in text):
        return "image/svg+xml"
    return None


def iter_files(paths: Iterable[str | Path], *, accept: Callable[[str], bool] = lambda _name: True) -> Iterator[Path]:
    """Files named as they are, and the files in named folders: recursively, sorted, hidden entries skipped,
    kept when ``accept(file name)`` says so. The one walk behind every batch command."""
    for raw in paths:
        path = Path(raw)
        if not path.is_dir():
            yield path
            continue
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                if not name.startswith(".") and accept(name):
                    yield Path(root) / name


def media_type_for(name: str) -> str | None:
    """The media type a file name's extension suggests (a hint only; :func:`sniff` decides)."""
    return _EXTENSIONS.get(Path(name).suffix.lower())


def read_capped(path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[bytes, bool]:
    """Read at most ``max_bytes`` of a file. Returns the bytes and whether the file was longer."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except IsADirectoryError as exc:
        raise InvalidInput(f"{p} is a directory, not a file", path=str(p)) from exc
    except FileNotFoundError as exc:
        raise InvalidInput(f"{p}: no such file", path=str(p)) from exc
    except OSError as exc:
        raise InvalidInput(f"cannot read {p}: {exc.strerror or exc}", path=str(p)) from exc
    return data[:max_bytes], len(data) > max_bytes


def open_image(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS, load: bool = True) -> Image.Image:
    """Decode an image from bytes with a pixel limit; every decoding failure becomes ``InvalidInput``."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "Corrupt EXIF data" and kin: metadata, not pixels
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            width, height = _gif_canvas(data) or img.size
            if width * height > max_pixels:
                img.close()
                raise InvalidInput(f"image is {width}x{height} pixels, over the limit of {max_pixels}")
            if load:
                img.load()
            return img
    except InvalidInput:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidInput(f"image refused as a decompression bomb: {exc}") from exc
    except UnidentifiedImageError as exc:
        raise InvalidInput("not an image Pillow can identify") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidInput(f"corrupt or truncated image: {exc}") from exc


def _gif_canvas(data: bytes) -> tuple[int, int] | None:
    """The canvas a GIF grows to over all its frames (None for other formats).

    Pillow enlarges the canvas when a later frame's extents pass the screen size, so a 100x100 GIF can become
    a multi-gigapixel image on ``seek()``. Walking the block structure (no decoding) finds that up front.
    """
    if data[:6] not in (b"GIF87a", b"GIF89a") or len(data) < 13:
        return None
    width, height = _u16(data, 6), _u16(data, 8)
    pos = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
    while pos < len(data):
        block = data[pos]
        if block == 0x21:  # extension: label, then sub-blocks
            pos = _skip_sub_blocks(data, pos + 2)
        elif block == 0x2C and pos + 10 <= len(data):  # image descriptor: left, top, width, height, flags
            width = max(width, _u16(data, pos + 1) + _u16(data, pos + 5))
            height = max(height, _u16(data, pos + 3) + _u16(data, pos + 7))
            packed = data[pos + 9]
            pos += 10 + (3 << ((packed & 7) + 1) if packed & 0x80 else 0)
            pos = _skip_sub_blocks(data, pos + 1)  # after the LZW minimum code size
        else:  # trailer, or anything unexpected: stop
            break
    return width, height


def _skip_sub_blocks(data: bytes, pos: int) -> int:
    while pos < len(data):
        size = data[pos]
        pos += 1 + size
        if size == 0:
            break
    return pos


def _u16(data: bytes, at: int) -> int:
    return int.from_bytes(data[at : at + 2], "little")
