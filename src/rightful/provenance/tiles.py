"""The tlog-tiles layout on disk (C2SP tlog-tiles): paths, entry bundles, atomic durable writes.

Hash tiles live at ``tile/<L>/<N>`` (full: 256 hashes of height ``8·L``) or ``tile/<L>/<N>.p/<W>`` (partial:
``W`` < 256 hashes); entry bundles at ``tile/entries/<N>[.p/<W>]``, each entry a big-endian uint16 length then
its bytes. ``N`` is written in groups of three digits, all but the last prefixed with ``x``
(``1234067`` → ``x001/x234/067``). A static web server can serve the directory as it is.

Every file is written to a temporary name, fsync'ed, renamed into place, and its directory fsync'ed: a crash
leaves either the old file or the new one, never a torn one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from rightful.errors import LedgerError

__all__ = [
    "HEIGHT",
    "WIDTH",
    "decode_bundle",
    "encode_bundle",
    "entries_path",
    "fsync_dir",
    "index_path",
    "split_hashes",
    "tile_path",
    "write_atomic",
]

HEIGHT = 8
WIDTH = 1 << HEIGHT
MAX_ENTRY = 0xFFFF


def index_path(n: int) -> str:
    """``N`` as tlog-tiles path elements: ``x001/x234/067``."""
    if n < 0:
        raise ValueError("tile index must be non-negative")
    groups = [f"{n % 1000:03d}"]
    n //= 1000
    while n:
        groups.append(f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(reversed(groups))


def _suffix(width: int) -> str:
    if not 0 < width <= WIDTH:
        raise ValueError(f"tile width {width} is outside 1..{WIDTH}")
    return "" if width == WIDTH else f".p/{width}"


def tile_path(level: int, n: int, width: int = WIDTH) -> str:
    return f"tile/{level}/{index_path(n)}{_suffix(width)}"


def entries_path(n: int, width: int = WIDTH) -> str:
    return f"tile/entries/{index_path(n)}{_suffix(width)}"


def encode_bundle(entries: Iterable[bytes]) -> bytes:
    out = bytearray()
    for entry in entries:
        if len(entry) > MAX_ENTRY:
            raise LedgerError(f"an entry is {len(entry)} bytes; the tlog-tiles format allows at most {MAX_ENTRY}")
        out += len(entry).to_bytes(2, "big") + entry
    return bytes(out)


def decode_bundle(data: bytes, *, where: str = "entry bundle") -> list[bytes]:
    entries: list[bytes] = []
    pos = 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise LedgerError(f"{where} is truncated (a length prefix is cut off)", path=where)
        size = int.from_bytes(data[pos : pos + 2], "big")
        if pos + 2 + size > len(data):
            raise LedgerError(f"{where} is truncated (an entry is cut off)", path=where)
        entries.append(data[pos + 2 : pos + 2 + size])
        pos += 2 + size
    return entries


def split_hashes(data: bytes, width: int, *, where: str) -> Sequence[bytes]:
    if len(data) != 32 * width:
        raise LedgerError(f"{where} holds {len(data)} bytes, not {32 * width} ({width} hashes): truncated?", path=where)
    return [data[i : i + 32] for i in range(0, len(data), 32)]


def write_atomic(path: Path, data: bytes, *, mode: int = 0o644, sync: bool = True) -> None:
    """Write via a temporary file and rename; with ``sync``, the data is on disk before the name appears."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if sync:
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
