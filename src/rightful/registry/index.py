"""The persisted index under ``RIGHTFUL_HOME/index/``: derived from the SQL store, repaired on open.

Files: ``pdq.idx``, ``phash.idx`` and ``window.idx`` (FAISS binary indexes of PDQ, pHash and coarse
anchor-window hashes), ``text.idx`` (winnowed k-grams and MinHashes) and one
``emb-<model>.idx`` (FAISS float index) per embedding model. Each file is ``MAGIC``, a JSON header (format
version, the database's instance id, the change number it reflects, a CRC-32 of the payload) and an ``.npz``
payload. Files are written to a temporary name and renamed, under an exclusive lock, so a reader sees a whole
file or the previous one.

On open the index replays ``registry_changes`` past its change number. A missing, truncated or corrupt file, a
file from an older format or from another database, or a change log that no longer reaches back far enough,
rebuilds everything from the store instead; each repair is reported in :attr:`RegistryIndex.notes`.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from rightful.fingerprints.image import DIHEDRAL, FLAT_QUALITY, MIN_QUALITY
from rightful.fingerprints.text import unpack_winnow
from rightful.fingerprints.windows import WINDOW_MIN_QUALITY
from rightful.models import Fingerprint
from rightful.registry.hashindex import HashIndex, TextIndex, VectorIndex
from rightful.registry.store import SqlRegistryStore

__all__ = ["FORMAT_VERSION", "REGIONS", "IndexCorrupt", "RegistryIndex", "read_part", "write_part"]

MAGIC = b"RGHTIDX\x00"
FORMAT_VERSION = 2  # 2: window.idx, the c60 region
#: Region names by code, as stored in the index (anything else is "other").
REGIONS: tuple[str, ...] = ("full", "c80", "c64", "trimmed", *DIHEDRAL[1:], "mirror", "c60", "other")
_REGION_CODE = {name: code for code, name in enumerate(REGIONS)}
_BATCH = 1000


class IndexCorrupt(Exception):
    """An index file cannot be used (internal: always answered by a rebuild, never shown as an error)."""


def write_part(path: Path, arrays: dict[str, NDArray[Any]], *, instance: str, seq: int) -> None:
    buf = io.BytesIO()
    np.savez(buf, allow_pickle=False, **arrays)
    payload = buf.getvalue()
    header = json.dumps({"format": FORMAT_VERSION, "instance": instance, "seq": seq,
                         "crc32": zlib.crc32(payload), "size": len(payload)}).encode()  # fmt: skip
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as fh:
        fh.write(MAGIC + len(header).to_bytes(4, "little") + header + payload)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_part(path: Path, *, instance: str) -> tuple[int, dict[str, NDArray[Any]]]:
    """The change number and arrays of one index file; :class:`IndexCorrupt` says why it cannot be used."""
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise IndexCorrupt(f"{path.name} is missing") from exc
    except OSError as exc:
        raise IndexCorrupt(f"{path.name} is unreadable ({exc.strerror})") from exc
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 4:
        raise IndexCorrupt(f"{path.name} is not a Rightful index file")
    size = int.from_bytes(data[8:12], "little")
    try:
        header = json.loads(data[12 : 12 + size])
    except ValueError as exc:
        raise IndexCorrupt(f"{path.name} has a damaged header") from exc
    if not isinstance(header, dict):
        raise IndexCorrupt(f"{path.name} has a damaged header")
    if header.get("format") != FORMAT_VERSION:
        raise IndexCorrupt(f"{path.name} is from another index format ({header.get('format')!r})")
    if header.get("instance") != instance:
        raise IndexCorrupt(f"{path.name} belongs to another registry database")
    payload = data[12 + size :]
    if len(payload) != header.get("size") or zlib.crc32(payload) != header.get("crc32"):
        raise IndexCorrupt(f"{path.name} is truncated or corrupt")
    try:
        with np.load(io.BytesIO(payload), allow_pickle=False) as npz:
            return int(header["seq"]), {name: npz[name] for name in npz.files}
    except (ValueError, OSError, KeyError) as exc:
        raise IndexCorrupt(f"{path.name} payload is unreadable") from exc


class RegistryIndex:
    """All search structures of one registry, kept in step with its store."""

    def __init__(self, directory: Path, store: SqlRegistryStore) -> None:
        self.directory = directory
        self.store = store
        self.hashes = HashIndex()
        self.phashes = HashIndex(64)
        self.windows = HashIndex(64)
        self.text = TextIndex()
        self.vectors: dict[str, VectorIndex] = {}
        self.seq = 0
        self.notes: list[str] = []
        self._dirty = False
        self._instance = store.instance

    # -- opening and repair -------------------------------------------------------------------------------

    def open(self) -> RegistryIndex:
        """Load the files (rebuilding whatever is unusable) and catch up with the store."""
        try:
            self._load()
        except IndexCorrupt as exc:
            _, high = self.store.change_bounds()
            if high > 0 or self.directory.exists():
                self.notes.append(f"index rebuilt: {exc}")
            self.rebuild()
            return self
        self.sync()
        return self

    def _load(self) -> None:
        pdq_seq, pdq = read_part(self.directory / "pdq.idx", instance=self._instance)
        phash_seq, phash = read_part(self.directory / "phash.idx", instance=self._instance)
        text_seq, text = read_part(self.directory / "text.idx", instance=self._instance)
        window_seq, window = read_part(self.directory / "window.idx", instance=self._instance)
        seqs = {pdq_seq, phash_seq, text_seq, window_seq}
        vectors = {}
        for path in sorted(self.directory.glob("emb-*.idx")):
            seq, arrays = read_part(path, instance=self._instance)
            seqs.add(seq)
            vectors["embedding:" + path.stem[4:]] = VectorIndex.deserialize(arrays)
        if len(seqs) != 1:
            raise IndexCorrupt("index files are out of step with each other")
        try:
            self.hashes, self.text = HashIndex.deserialize(pdq), TextIndex.deserialize(text)
            self.phashes, self.windows = HashIndex.deserialize(phash), HashIndex.deserialize(window)
        except (ValueError, KeyError, RuntimeError) as exc:
            raise IndexCorrupt(f"index payload is inconsistent ({exc})") from exc
        self.vectors, self.seq = vectors, seqs.pop()

    def sync(self) -> int:
        """Replay the store's change log past :attr:`seq`; returns how many works changed."""
        low, high = self.store.change_bounds()
        if high == self.seq:
            return 0
        if high < self.seq or (low > self.seq + 1):
            self.notes.append("index rebuilt: the change log does not reach back to the index")
            self.rebuild()
            return -1
        changes = self.store.changes_since(self.seq)
        touched = sorted({work for _, work, op in changes if op != "terms"})
        if touched:
            ids = np.asarray(touched, dtype=np.int64)
            self._remove(ids)
            for start in range(0, len(touched), _BATCH):
                self._add(self.store.iter_fingerprints(work_ids=touched[start : start + _BATCH]))
            self.text.finish()
        self.seq = changes[-1][0] if changes else high
        self._dirty = True
        return len(touched)

    def rebuild(self) -> None:
        """Rebuild every structure from the store (``rightful registry reindex``)."""
        _, high = self.store.change_bounds()
        self.hashes, self.phashes, self.text, self.vectors = HashIndex(), HashIndex(64), TextIndex(), {}
        self.windows = HashIndex(64)
        self._add(self.store.iter_fingerprints())
        self.text.finish()
        self.seq = high
        self._dirty = True
        self.save()

    # -- updates ------------------------------------------------------------------------------------------

    def _remove(self, work_ids: NDArray[np.int64]) -> None:
        self.hashes.remove_works(work_ids)
        self.phashes.remove_works(work_ids)
        self.windows.remove_works(work_ids)
        self.text.remove_works(work_ids)
        for vectors in self.vectors.values():
            vectors.remove_works(work_ids)

    def _add(self, rows: Iterable[tuple[int, int, Fingerprint]]) -> None:
        pdq: list[tuple[int, int, int, bytes]] = []
        phash: list[tuple[int, int, int, bytes]] = []
        window: list[tuple[int, int, int, bytes]] = []
        texts: dict[int, dict[str, bytes]] = {}
        vectors: dict[str, list[tuple[int, int, NDArray[np.float32]]]] = {}
        for fp_id, work_id, fp in rows:
            if fp.kind == "pdq" and (fp.quality or 0) >= MIN_QUALITY and len(fp.value) == 32:
                pdq.append((fp_id, work_id, _REGION_CODE.get(fp.region, len(REGIONS) - 1), fp.value))
            elif fp.kind == "phash" and (fp.quality or 0) >= FLAT_QUALITY and len(fp.value) == 8:
                phash.append((fp_id, work_id, _REGION_CODE.get(fp.region, len(REGIONS) - 1), fp.value))
            elif fp.kind == "window" and (fp.quality or 0) >= WINDOW_MIN_QUALITY and len(fp.value) == 8:
                window.append((fp_id, work_id, _REGION_CODE.get(fp.region, len(REGIONS) - 1), fp.value))
            elif fp.kind in ("text-winnow", "text-minhash"):
                texts.setdefault(work_id, {})[fp.kind] = fp.value
            elif fp.kind.startswith("embedding:"):
                vectors.setdefault(fp.kind, []).append((fp_id, work_id, np.frombuffer(fp.value, dtype="<f4")))
            if len(pdq) >= 100_000 or len(phash) >= 100_000 or len(window) >= 100_000:
                self._add_codes(self.hashes, pdq)
                self._add_codes(self.phashes, phash)
                self._add_codes(self.windows, window)
        self._add_codes(self.hashes, pdq)
        self._add_codes(self.phashes, phash)
        self._add_codes(self.windows, window)
        entries = []
        for work_id, parts in texts.items():
            hashes, positions = unpack_winnow(parts.get("text-winnow", b""))
            sig = parts.get("text-minhash")
            entries.append((work_id, hashes, positions, np.frombuffer(sig, dtype="<u4").copy() if sig else None))
        self.text.add(entries)
        for kind, found in vectors.items():
            index = self.vectors.setdefault(kind, VectorIndex(len(found[0][2])))
            same = [r for r in found if len(r[2]) == index.dim]
            if same:
                index.add(np.asarray([r[0] for r in same]), np.asarray([r[1] for r in same]),
                          np.stack([r[2] for r in same]))  # fmt: skip

    @staticmethod
    def _add_codes(index: HashIndex, rows: list[tuple[int, int, int, bytes]]) -> None:
        if not rows:
            return
        fp_ids, work_ids, regions, values = zip(*rows, strict=True)
        codes = np.frombuffer(b"".join(values), dtype=np.uint8).reshape(-1, index.bits // 8)
        index.add(np.asarray(fp_ids), np.asarray(work_ids), np.asarray(regions), codes)
        rows.clear()

    # -- persistence --------------------------------------------------------------------------------------

    def save(self, *, wait: bool = True) -> bool:
        """Write every part if anything changed since the last save; False when another process held the lock."""
        if not self._dirty:
            return True
        self.directory.mkdir(parents=True, exist_ok=True)
        with _locked(self.directory / ".lock", wait=wait) as held:
            if not held:
                return False
            write_part(self.directory / "pdq.idx", self.hashes.serialize(), instance=self._instance, seq=self.seq)
            write_part(self.directory / "phash.idx", self.phashes.serialize(), instance=self._instance, seq=self.seq)
            write_part(self.directory / "text.idx", self.text.serialize(), instance=self._instance, seq=self.seq)
            write_part(self.directory / "window.idx", self.windows.serialize(), instance=self._instance,
                       seq=self.seq)  # fmt: skip
            for path in self.directory.glob("emb-*.idx"):
                if "embedding:" + path.stem[4:] not in self.vectors:
                    path.unlink(missing_ok=True)
            for kind, vectors in self.vectors.items():
                name = kind.split(":", 1)[1]
                write_part(self.directory / f"emb-{name}.idx", vectors.serialize(), instance=self._instance,
                           seq=self.seq)  # fmt: skip
        self._dirty = False
        return True

    def stats(self) -> dict[str, Any]:
        return {"seq": self.seq, "pdq_hashes": len(self.hashes), "phashes": len(self.phashes),
                "window_hashes": len(self.windows), "texts": len(self.text),
                "text_fingerprints": len(self.text.hashes), "directory": str(self.directory),
                "embeddings": {k: len(v) for k, v in self.vectors.items()}}  # fmt: skip


@contextmanager
def _locked(path: Path, *, wait: bool) -> Iterator[bool]:
    with path.open("a+b") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
