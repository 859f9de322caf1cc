"""Putting an XMP packet into a file's own container without touching its image data.

Each writer walks the container's structure (checking it as it goes: a truncated or corrupt file is refused
before anything is written), replaces the existing XMP packet in place or inserts a new one where the format
says it belongs, and copies every other byte as it was:

* JPEG: an APP1 ``http://ns.adobe.com/xap/1.0/`` segment, after the JFIF/Exif segments; the entropy-coded scan
  is copied byte for byte. A packet over 64 KiB is split into a standard and an extended part (XMP Part 3):
  the extended part follows in ``http://ns.adobe.com/xmp/extension/`` segments, each naming its GUID, the
  full length and its offset. An existing extended part is read back and merged, so nothing is lost.
* PNG: an uncompressed ``iTXt`` chunk keyed ``XML:com.adobe.xmp`` right after ``IHDR`` (CRCs are checked on
  the way in and computed for the new chunk).
* WebP: an ``XMP `` chunk; a simple (``VP8 ``/``VP8L``) file gets the ``VP8X`` header the extended format needs,
  with the canvas size and alpha flag read from the bitstream header.
* TIFF (:mod:`rightful.protect.tiff`) and PDF (:mod:`rightful.protect.pdfxmp`) have their own modules.

:func:`read_xmp` returns the packet a writer would replace, so the caller can merge into it.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

from rightful.errors import InvalidInput
from rightful.media import sniff
from rightful.protect import pdfxmp, tiff
from rightful.protect.xmpwrite import combine_packets, split_packet

__all__ = ["C2PA_MARK", "FORMATS", "has_c2pa", "media_kind", "read_xmp", "write_xmp"]

#: Media types the tagger writes, by the kind name used in messages.
FORMATS: Final = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WebP", "image/tiff": "TIFF",
                  "application/pdf": "PDF"}  # fmt: skip
#: Every C2PA manifest store is a JUMBF box whose description box (``jumd``) starts with the c2pa UUID.
C2PA_MARK: Final = b"jumdc2pa"
_JPEG_XMP: Final = b"http://ns.adobe.com/xap/1.0/\x00"
_JPEG_MAX_PAYLOAD: Final = 65533
_JPEG_EXT: Final = b"http://ns.adobe.com/xmp/extension/\x00"
_EXT_CHUNK: Final = _JPEG_MAX_PAYLOAD - len(_JPEG_EXT) - 32 - 8  # GUID, full length, offset
_GUID_RE: Final = re.compile(rb'HasExtendedXMP(?:="|>)([0-9A-Fa-f]{32})')
_PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
_PNG_XMP_KEY: Final = b"XML:com.adobe.xmp\x00"


def media_kind(data: bytes) -> str:
    """The media type, sniffed from the bytes; InvalidInput for a format the tagger cannot write."""
    media_type = sniff(data[:512])
    if media_type not in FORMATS:
        found = f"a {media_type} file" if media_type else "not a recognised format"
        raise InvalidInput(f"unsupported format: {found} (tag writes {', '.join(FORMATS.values())})")
    return media_type


def has_c2pa(data: bytes) -> bool:
    """Whether the file carries a C2PA manifest store (any container: the JUMBF marker is the same)."""
    return C2PA_MARK in data


def read_xmp(media_type: str, data: bytes) -> bytes | None:
    """The XMP packet the writer for ``media_type`` would replace (None when there is none)."""
    return _READERS[media_type](data)


def write_xmp(media_type: str, data: bytes, packet: bytes) -> bytes:
    """``data`` with ``packet`` as its XMP; every other byte of the container is kept."""
    return _WRITERS[media_type](data, packet)


# --- JPEG ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Segment:
    marker: int
    start: int
    end: int
    payload: bytes


def _jpeg_segments(data: bytes) -> list[_Segment]:
    """The marker segments before the first scan; InvalidInput when the structure is broken."""
    if data[:2] != b"\xff\xd8":
        raise InvalidInput("corrupt JPEG: no start-of-image marker")
    segments: list[_Segment] = []
    pos = 2
    while True:
        while data[pos : pos + 1] == b"\xff" and data[pos + 1 : pos + 2] == b"\xff":
            pos += 1  # fill bytes
        if pos + 4 > len(data) or data[pos] != 0xFF:
            raise InvalidInput(f"corrupt or truncated JPEG: no marker at byte {pos} before the image data")
        marker = data[pos + 1]
        if marker == 0xDA:
            return segments
        if marker in (0xD8, 0xD9) or 0xD0 <= marker <= 0xD7 or marker == 0x01:
            raise InvalidInput(f"corrupt JPEG: unexpected marker 0xFF{marker:02X} before the image data")
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        end = pos + 2 + length
        if length < 2 or end > len(data):
            raise InvalidInput(f"corrupt or truncated JPEG: segment 0xFF{marker:02X} at byte {pos} runs past the end")
        segments.append(_Segment(marker, pos, end, data[pos + 4 : end]))
        pos = end


def _jpeg_extended(segments: list[_Segment], guid: bytes) -> bytes:
    """The extended XMP part named by ``guid``, reassembled from its segments and checked against its MD5."""
    parts: dict[int, bytes] = {}
    total = -1
    head = len(_JPEG_EXT)
    for seg in segments:
        if seg.marker == 0xE1 and seg.payload.startswith(_JPEG_EXT) and seg.payload[head : head + 32] == guid:
            total = int.from_bytes(seg.payload[head + 32 : head + 36], "big")
            parts[int.from_bytes(seg.payload[head + 36 : head + 40], "big")] = seg.payload[head + 40 :]
    joined = b"".join(parts[k] for k in sorted(parts))
    if total < 0 or len(joined) != total or hashlib.md5(joined, usedforsecurity=False).hexdigest().upper() != \
            guid.decode("ascii").upper():  # fmt: skip
        raise InvalidInput("corrupt JPEG: the Extended XMP part is missing, incomplete or does not match its GUID; "
                           "not rewritten, nothing lost")  # fmt: skip
    return joined


def _jpeg_read(data: bytes) -> bytes | None:
    segments = _jpeg_segments(data)
    for seg in segments:
        if seg.marker == 0xE1 and seg.payload.startswith(_JPEG_XMP):
            packet = seg.payload[len(_JPEG_XMP) :]
            found = _GUID_RE.search(packet)
            if found is None:
                return packet
            return combine_packets(packet, _jpeg_extended(segments, found.group(1)))
    return None


def _app1(payload: bytes) -> bytes:
    return b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload


def _jpeg_xmp_segments(packet: bytes) -> bytes:
    """One APP1 segment, or the standard part plus its Extended XMP segments when the packet is too big."""
    if len(_JPEG_XMP) + len(packet) <= _JPEG_MAX_PAYLOAD:
        return _app1(_JPEG_XMP + packet)
    standard, extended, guid = split_packet(packet, limit=_JPEG_MAX_PAYLOAD - len(_JPEG_XMP))
    out = [_app1(_JPEG_XMP + standard)]
    for offset in range(0, len(extended), _EXT_CHUNK):
        out.append(_app1(_JPEG_EXT + guid.encode("ascii") + len(extended).to_bytes(4, "big")
                         + offset.to_bytes(4, "big") + extended[offset : offset + _EXT_CHUNK]))  # fmt: skip
    return b"".join(out)


def _jpeg_write(data: bytes, packet: bytes) -> bytes:
    """The packet written where the old one was (or after JFIF/Exif); old Extended XMP segments are dropped."""
    segment = _jpeg_xmp_segments(packet)  # the packet is the whole logical XMP (read_xmp joined both parts)
    segments = _jpeg_segments(data)
    xmp = [s for s in segments if s.marker == 0xE1 and s.payload.startswith((_JPEG_XMP, _JPEG_EXT))]
    if xmp:
        out, pos = [], 0
        for number, seg in enumerate(xmp):
            out.append(data[pos : seg.start] + (segment if number == 0 else b""))
            pos = seg.end
        return b"".join(out) + data[pos:]
    at = 2
    for seg in segments:  # after JFIF (APP0) and Exif (APP1): the order readers expect
        if seg.marker == 0xE0 or (seg.marker == 0xE1 and seg.payload.startswith(b"Exif\x00")):
            at = seg.end
        else:
            break
    return data[:at] + segment + data[at:]


# --- PNG ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Chunk:
    kind: bytes
    start: int
    end: int
    body: bytes


def _png_chunks(data: bytes) -> list[_Chunk]:
    if not data.startswith(_PNG_SIGNATURE):
        raise InvalidInput("corrupt PNG: bad signature")
    chunks: list[_Chunk] = []
    pos = len(_PNG_SIGNATURE)
    while pos < len(data):
        if pos + 12 > len(data):
            raise InvalidInput(f"corrupt or truncated PNG: incomplete chunk at byte {pos}")
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if length > 0x7FFFFFFF or end > len(data):
            raise InvalidInput(f"corrupt or truncated PNG: chunk {kind!r} at byte {pos} runs past the end")
        body = data[pos + 8 : pos + 8 + length]
        if zlib.crc32(kind + body) != int.from_bytes(data[end - 4 : end], "big"):
            raise InvalidInput(f"corrupt PNG: chunk {kind.decode('latin-1')!r} at byte {pos} has a bad CRC")
        chunks.append(_Chunk(kind, pos, end, body))
        pos = end
        if kind == b"IEND":
            break
    if not chunks or chunks[0].kind != b"IHDR" or chunks[-1].kind != b"IEND":
        raise InvalidInput("corrupt or truncated PNG: IHDR must come first and IEND last")
    return chunks


def _png_xmp_chunks(chunks: list[_Chunk]) -> Iterator[_Chunk]:
    return (c for c in chunks if c.kind == b"iTXt" and c.body.startswith(_PNG_XMP_KEY))


def _png_read(data: bytes) -> bytes | None:
    chunk = next(_png_xmp_chunks(_png_chunks(data)), None)
    if chunk is None:
        return None
    rest = chunk.body[len(_PNG_XMP_KEY) :]
    if len(rest) < 2:
        raise InvalidInput("corrupt PNG: the XMP iTXt chunk is truncated")
    parts = rest[2:].split(b"\x00", 2)
    if len(parts) < 3:
        raise InvalidInput("corrupt PNG: the XMP iTXt chunk is truncated")
    if rest[0] == 1:
        try:
            return zlib.decompress(parts[2])
        except zlib.error as exc:
            raise InvalidInput("corrupt PNG: the compressed XMP iTXt chunk does not inflate") from exc
    return parts[2]


def _png_write(data: bytes, packet: bytes) -> bytes:
    chunks = _png_chunks(data)
    body = _PNG_XMP_KEY + b"\x00\x00\x00\x00" + packet  # uncompressed, no language, no translated keyword
    chunk = len(body).to_bytes(4, "big") + b"iTXt" + body + zlib.crc32(b"iTXt" + body).to_bytes(4, "big")
    existing = next(_png_xmp_chunks(chunks), None)
    if existing is not None:
        return data[: existing.start] + chunk + data[existing.end :]
    at = chunks[0].end
    return data[:at] + chunk + data[at:]


# --- WebP ---------------------------------------------------------------------------------------------------

_VP8X_XMP: Final = 0x04
_VP8X_ALPHA: Final = 0x10


def _riff_chunks(data: bytes) -> tuple[list[_Chunk], int]:
    """The chunks of a WebP RIFF and the end of the RIFF (bytes after it are kept as they are)."""
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise InvalidInput("corrupt WebP: bad RIFF header")
    riff_end = 8 + int.from_bytes(data[4:8], "little")
    if riff_end > len(data):
        raise InvalidInput(f"truncated WebP: the RIFF header says {riff_end} bytes, the file has {len(data)}")
    chunks: list[_Chunk] = []
    pos = 12
    while pos < riff_end:
        if pos + 8 > riff_end:
            raise InvalidInput(f"corrupt WebP: incomplete chunk header at byte {pos}")
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        end = pos + 8 + size + (size & 1)
        if pos + 8 + size > riff_end:
            raise InvalidInput(f"corrupt or truncated WebP: chunk {data[pos : pos + 4]!r} runs past the end")
        chunks.append(_Chunk(data[pos : pos + 4], pos, min(end, riff_end), data[pos + 8 : pos + 8 + size]))
        pos = end
    if not chunks or chunks[0].kind not in (b"VP8 ", b"VP8L", b"VP8X"):
        raise InvalidInput("corrupt WebP: the first chunk is not VP8, VP8L or VP8X")
    return chunks, riff_end


def _riff_chunk(kind: bytes, body: bytes) -> bytes:
    return kind + len(body).to_bytes(4, "little") + body + (b"\x00" if len(body) & 1 else b"")


def _webp_read(data: bytes) -> bytes | None:
    chunks, _ = _riff_chunks(data)
    return next((c.body for c in chunks if c.kind == b"XMP "), None)


def _vp8x_for_simple(first: _Chunk) -> bytes:
    """The VP8X header a simple-format file needs once it carries metadata: canvas size and alpha flag."""
    body = first.body
    if first.kind == b"VP8 ":
        if len(body) < 10 or body[3:6] != b"\x9d\x01\x2a":
            raise InvalidInput("corrupt WebP: VP8 frame header missing its start code")
        width = int.from_bytes(body[6:8], "little") & 0x3FFF
        height = int.from_bytes(body[8:10], "little") & 0x3FFF
        flags = 0
    else:
        if len(body) < 5 or body[0] != 0x2F:
            raise InvalidInput("corrupt WebP: VP8L header missing its signature")
        bits = int.from_bytes(body[1:5], "little")
        width, height = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        flags = _VP8X_ALPHA if (bits >> 28) & 1 else 0
    if not width or not height:
        raise InvalidInput("corrupt WebP: the bitstream header gives a zero width or height")
    return bytes([flags | _VP8X_XMP, 0, 0, 0]) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")


def _webp_write(data: bytes, packet: bytes) -> bytes:
    chunks, riff_end = _riff_chunks(data)
    first = chunks[0]
    if first.kind == b"VP8X":
        if len(first.body) < 10:
            raise InvalidInput("corrupt WebP: VP8X chunk is too short")
        head = _riff_chunk(b"VP8X", bytes([first.body[0] | _VP8X_XMP]) + first.body[1:])
        rest = chunks[1:]
    else:
        head = _riff_chunk(b"VP8X", _vp8x_for_simple(first))
        rest = chunks
    parts = [head]
    parts += [data[c.start : c.end] for c in rest if c.kind != b"XMP "]
    parts.append(_riff_chunk(b"XMP ", packet))  # XMP comes last in the extended format
    body = b"WEBP" + b"".join(parts)
    return b"RIFF" + len(body).to_bytes(4, "little") + body + data[riff_end:]


_READERS: Final[dict[str, Callable[[bytes], bytes | None]]] = {
    "image/jpeg": _jpeg_read, "image/png": _png_read, "image/webp": _webp_read,
    "image/tiff": tiff.read_xmp, "application/pdf": pdfxmp.read_xmp,
}  # fmt: skip
_WRITERS: Final[dict[str, Callable[[bytes, bytes], bytes]]] = {
    "image/jpeg": _jpeg_write, "image/png": _png_write, "image/webp": _webp_write,
    "image/tiff": tiff.write_xmp, "application/pdf": pdfxmp.write_xmp,
}  # fmt: skip
