"""XMP in TIFF: tag 700 of the first IFD, written without moving a single existing byte.

TIFF values live at absolute offsets, so anything that shifts bytes breaks the file. The writer therefore only
appends: the packet goes at the end of the file, and so does a copy of IFD0 with the XMP entry added when
there was none (the header then points to the copy; the old IFD0 stays in place, unreferenced). When IFD0
already has an XMP entry, the new packet is written over the old one if it fits (padded with whitespace),
else appended and the entry re-pointed, with the old bytes blanked so no stale packet remains for a byte
scanner to find. Strips, tiles, other IFDs and maker notes are untouched. Classic TIFF only (BigTIFF is not
sniffed as TIFF and is refused before it gets here).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from rightful.errors import InvalidInput, ProtectionError

__all__ = ["XMP_TAG", "read_xmp", "write_xmp"]

XMP_TAG: Final = 700
_Order = Literal["little", "big"]
_TYPE_SIZES: Final = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_BYTE: Final = 1
_MAX_OFFSET: Final = 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class _Entry:
    tag: int
    type: int
    count: int
    raw: bytes  # the 12 bytes as stored
    position: int

    def value_span(self, order: _Order) -> tuple[int, int] | None:
        """(offset, length) of an out-of-line value, None when the value sits in the entry itself."""
        size = _TYPE_SIZES.get(self.type, 1) * self.count
        if size <= 4:
            return None
        return int.from_bytes(self.raw[8:12], order), size


@dataclass(frozen=True, slots=True)
class _Ifd:
    order: _Order
    offset: int
    entries: tuple[_Entry, ...]
    next_offset: int


def _ifd0(data: bytes) -> _Ifd:
    order: _Order
    if data[:4] == b"II*\x00":
        order = "little"
    elif data[:4] == b"MM\x00*":
        order = "big"
    else:
        raise InvalidInput("corrupt TIFF: bad header")
    if len(data) < 8:
        raise InvalidInput("truncated TIFF: no IFD offset")
    offset = int.from_bytes(data[4:8], order)
    if offset < 8 or offset + 2 > len(data):
        raise InvalidInput(f"corrupt TIFF: the first IFD offset {offset} is outside the file")
    count = int.from_bytes(data[offset : offset + 2], order)
    end = offset + 2 + 12 * count
    if count == 0 or end + 4 > len(data):
        raise InvalidInput("corrupt or truncated TIFF: the first IFD runs past the end of the file")
    entries = []
    for i in range(count):
        at = offset + 2 + 12 * i
        raw = data[at : at + 12]
        entry = _Entry(
            tag=int.from_bytes(raw[0:2], order),
            type=int.from_bytes(raw[2:4], order),
            count=int.from_bytes(raw[4:8], order),
            raw=raw,
            position=at,
        )
        span = entry.value_span(order)
        if span is not None and span[0] + span[1] > len(data):
            raise InvalidInput(f"corrupt or truncated TIFF: the value of tag {entry.tag} runs past the end of the file")
        entries.append(entry)
    next_offset = int.from_bytes(data[end : end + 4], order)
    return _Ifd(order, offset, tuple(entries), next_offset)


def _xmp_entry(ifd: _Ifd) -> _Entry | None:
    return next((e for e in ifd.entries if e.tag == XMP_TAG), None)


def read_xmp(data: bytes) -> bytes | None:
    ifd = _ifd0(data)
    entry = _xmp_entry(ifd)
    if entry is None:
        return None
    span = entry.value_span(ifd.order)
    if span is None:
        return entry.raw[8 : 8 + entry.count]
    return data[span[0] : span[0] + span[1]]


def write_xmp(data: bytes, packet: bytes) -> bytes:
    ifd = _ifd0(data)
    order = ifd.order
    entry = _xmp_entry(ifd)
    out = bytearray(data)
    if entry is not None:
        span = entry.value_span(order)
        if span is not None and len(packet) <= span[1]:
            out[span[0] : span[0] + span[1]] = _pad(packet, span[1])
            _put_entry(out, entry.position, order, count=span[1], offset=span[0])
            return bytes(out)
        if span is not None:
            out[span[0] : span[0] + span[1]] = b" " * span[1]  # no stale packet for byte scanners
        offset = _append(out, packet)
        _put_entry(out, entry.position, order, count=len(packet), offset=offset)
        return _checked(out)
    offset = _append(out, packet)
    new = _entry_bytes(order, XMP_TAG, _BYTE, len(packet), offset)
    raws = sorted([*(e.raw for e in ifd.entries), new], key=lambda raw: int.from_bytes(raw[0:2], order))
    table = len(raws).to_bytes(2, order) + b"".join(raws) + ifd.next_offset.to_bytes(4, order)
    ifd_offset = _append(out, table)
    out[4:8] = ifd_offset.to_bytes(4, order)
    return _checked(out)


def _pad(packet: bytes, size: int) -> bytes:
    """``packet`` grown to ``size`` bytes with whitespace inside the packet (before its end marker)."""
    gap = size - len(packet)
    marker = packet.rfind(b"<?xpacket end")
    if marker < 0:
        return packet + b" " * gap
    return packet[:marker] + b" " * gap + packet[marker:]


def _append(out: bytearray, payload: bytes) -> int:
    """Append at an even offset (TIFF word alignment); return the offset."""
    if len(out) & 1:
        out.append(0)
    offset = len(out)
    out += payload
    return offset


def _entry_bytes(order: _Order, tag: int, kind: int, count: int, offset: int) -> bytes:
    o = order
    return tag.to_bytes(2, o) + kind.to_bytes(2, o) + count.to_bytes(4, o) + offset.to_bytes(4, o)


def _put_entry(out: bytearray, position: int, order: _Order, *, count: int, offset: int) -> None:
    out[position : position + 12] = _entry_bytes(order, XMP_TAG, _BYTE, count, offset)


def _checked(out: bytearray) -> bytes:
    if len(out) > _MAX_OFFSET:
        raise ProtectionError("the tagged TIFF would pass 4 GiB, the limit of classic TIFF offsets")
    return bytes(out)
