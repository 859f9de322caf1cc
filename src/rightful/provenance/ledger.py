"""The transparency log: an append-only RFC 9162 Merkle tree stored as tlog-tiles, with signed checkpoints.

Appends are batched: :meth:`Ledger.add` buffers entries and updates the tree in memory; :meth:`Ledger.commit`
writes the new tiles (temporary file, fsync, rename), then the signed checkpoint. The checkpoint is the commit
point: a crash anywhere before its rename leaves the previous checkpoint in force, and tiles written past it
are ignored (and overwritten by the next batch). On open the tree's right edge is rebuilt from the tiles and
checked against the checkpoint's root; a missing or truncated hash tile is rebuilt from the entries below it, a
truncated entry bundle is a :class:`~rightful.errors.LedgerError` (data is gone, nothing is guessed).

A verifier needs only a checkpoint it trusts, the log's public key and the proofs: :class:`InclusionProof` and
:class:`ConsistencyProof` verify offline. A rewritten entry changes the root (:meth:`Ledger.audit` finds it);
a forked log fails the consistency proof from any checkpoint a client saw before.
"""

from __future__ import annotations

import base64
import fcntl
from collections.abc import Iterable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from rightful.errors import InvalidInput, LedgerError
from rightful.provenance import merkle
from rightful.provenance.note import Checkpoint, NoteSigner, NoteVerifier
from rightful.provenance.tiles import (
    WIDTH,
    decode_bundle,
    encode_bundle,
    entries_path,
    fsync_dir,
    split_hashes,
    tile_path,
    write_atomic,
)

__all__ = ["ConsistencyProof", "InclusionProof", "Ledger"]

_CHECKPOINT = "checkpoint"
_PUBKEY = "log.pub"
_CACHE_TILES = 256


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(items: Any, what: str) -> tuple[bytes, ...]:
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise InvalidInput(f"{what} must be a list of base64 strings")
    try:
        return tuple(base64.b64decode(i, validate=True) for i in items)
    except ValueError as exc:
        raise InvalidInput(f"{what} holds invalid base64") from exc


def _int(data: dict[str, Any], key: str) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidInput(f"proof field {key!r} must be a non-negative integer")
    return value


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """The audit path of entry ``index`` in the tree of ``size`` leaves."""

    index: int
    size: int
    hashes: tuple[bytes, ...]

    def verify(self, entry: bytes, checkpoint: Checkpoint) -> bool:
        """Whether ``entry`` sits at ``index`` in the tree the (already verified) checkpoint commits to."""
        if checkpoint.size != self.size:
            return False
        return merkle.verify_inclusion(merkle.hash_leaf(entry), self.index, self.size, self.hashes, checkpoint.root)

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "size": self.size, "hashes": [_b64(h) for h in self.hashes]}

    @classmethod
    def from_dict(cls, data: Any) -> InclusionProof:
        if not isinstance(data, dict):
            raise InvalidInput("an inclusion proof is a JSON object")
        return cls(_int(data, "index"), _int(data, "size"), _unb64(data.get("hashes"), "inclusion proof hashes"))


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    """Proof that the tree of ``new_size`` extends the tree of ``old_size`` without rewriting it."""

    old_size: int
    new_size: int
    hashes: tuple[bytes, ...]

    def verify(self, old: Checkpoint, new: Checkpoint) -> bool:
        if (old.size, new.size) != (self.old_size, self.new_size) or old.origin != new.origin:
            return False
        return merkle.verify_consistency(old.size, new.size, old.root, new.root, self.hashes)

    def to_dict(self) -> dict[str, Any]:
        return {"old_size": self.old_size, "new_size": self.new_size, "hashes": [_b64(h) for h in self.hashes]}

    @classmethod
    def from_dict(cls, data: Any) -> ConsistencyProof:
        if not isinstance(data, dict):
            raise InvalidInput("a consistency proof is a JSON object")
        hashes = _unb64(data.get("hashes"), "consistency proof hashes")
        return cls(_int(data, "old_size"), _int(data, "new_size"), hashes)


class Ledger:
    """One log directory. Read-only without a signer; with one, the single writer (an exclusive file lock)."""

    def __init__(self, path: str | Path, *, verifier: NoteVerifier, signer: NoteSigner | None = None) -> None:
        self.path = Path(path)
        self.verifier = verifier
        self.signer = signer
        self.repaired: list[str] = []
        self._lock: IO[bytes] | None = None
        self._cache: dict[str, Sequence[bytes]] = {}
        if signer is not None and signer.verifier != verifier:
            raise InvalidInput("the log signer key does not match the log verifier key")
        if signer is None and not (self.path / _CHECKPOINT).is_file():
            raise LedgerError(f"{self.path} is not a log (no checkpoint file)", path=str(self.path))
        try:
            if signer is not None:  # create under the lock: a writer that raced us may have committed already
                self._acquire()
                if not (self.path / _CHECKPOINT).is_file():
                    self._create()
            self._load()
        except BaseException:
            self.close()
            raise

    # -- opening -------------------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path, *, signer: NoteSigner) -> Ledger:
        """Open (or create) a log for writing."""
        return cls(path, verifier=signer.verifier, signer=signer)

    def close(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _create(self) -> None:
        assert self.signer is not None
        self.path.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path / _PUBKEY, (self.verifier.encode() + "\n").encode())
        empty = Checkpoint(self.verifier.name, 0, merkle.EMPTY_ROOT)
        write_atomic(self.path / _CHECKPOINT, empty.sign(self.signer).encode())
        fsync_dir(self.path)

    def _acquire(self) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self._lock = (self.path / ".lock").open("ab")
        except OSError as exc:
            raise LedgerError(
                f"cannot open the log at {self.path}: {exc.strerror or exc}", path=str(self.path)
            ) from exc
        fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX)

    def _load(self) -> None:
        """Read the checkpoint, rebuild the right edge and the partial tiles, check the root."""
        self._cache.clear()
        self.checkpoint = self.read_checkpoint()
        size = self.checkpoint.size
        self._size = size
        self._pending: list[bytes] = []
        self._dirty: dict[str, bytes] = {}
        self._entry_tail = list(self._bundle(size // WIDTH, size)[: size % WIDTH]) if size % WIDTH else []
        self._tails: dict[int, list[bytes]] = {}
        level = 0
        while size >> (8 * level):
            count = size >> (8 * level)
            self._tails[level] = list(self._hashes(level, count // WIDTH, count % WIDTH)) if count % WIDTH else []
            level += 1
        self._frontier: list[tuple[int, bytes]] = []
        start = 0
        for height in range(size.bit_length() - 1, -1, -1):
            if size >> height & 1:
                self._frontier.append((height, self._node(height, start >> height, size)))
                start += 1 << height
        if self._root() != self.checkpoint.root:
            raise LedgerError(f"{self.path}: the tiles do not hash to the checkpoint's root (tampered or corrupt)",
                              path=str(self.path))  # fmt: skip

    def checkpoint_note(self) -> str:
        """The latest checkpoint as its signed note (what a static server serves at ``/checkpoint``)."""
        try:
            return (self.path / _CHECKPOINT).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise LedgerError(f"cannot read {self.path / _CHECKPOINT}: {exc}", path=str(self.path)) from exc

    def read_checkpoint(self) -> Checkpoint:
        return Checkpoint.open(self.checkpoint_note(), self.verifier)

    @property
    def size(self) -> int:
        """The committed tree size (the latest checkpoint's)."""
        return self._size

    @property
    def next_index(self) -> int:
        """The index the next :meth:`add` will get (committed plus pending entries)."""
        return self._size + len(self._pending)

    # -- reading tiles -------------------------------------------------------------------------------------

    def _read(self, rel: str) -> bytes | None:
        try:
            return (self.path / rel).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise LedgerError(f"cannot read {rel}: {exc}", path=str(self.path / rel)) from exc

    def _read_tile(self, rel: str, width: int) -> bytes | None:
        """The tile of ``width``, or the prefix of a wider one (narrow partial tiles are pruned after growth)."""
        data = self._read(rel)
        if data is not None or width == WIDTH:
            return data
        base = rel.split(".p/")[0]
        wider = [base]
        folder = self.path / (base + ".p")
        if folder.is_dir():
            widths = sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit() and int(p.name) > width)
            wider += [f"{base}.p/{w}" for w in widths]
        for candidate in wider:
            data = self._read(candidate)
            if data is not None:
                return data
        return None

    def _width(self, level: int, n: int, size: int) -> int:
        count = size >> (8 * level)
        return min(WIDTH, count - n * WIDTH)

    def _bundle(self, n: int, size: int) -> Sequence[bytes]:
        width = self._width(0, n, size)
        rel = entries_path(n, width)
        if rel in self._cache:
            return self._cache[rel]
        data = self._read_tile(rel, width)
        if data is None:
            raise LedgerError(f"entry bundle {rel} is missing: the log has lost data", path=rel)
        entries = decode_bundle(data, where=rel)[:width]
        if len(entries) != width:
            raise LedgerError(f"entry bundle {rel} holds {len(entries)} entries, not {width}: truncated", path=rel)
        return self._remember(rel, entries)

    def _remember(self, rel: str, items: Sequence[bytes]) -> Sequence[bytes]:
        if len(self._cache) >= _CACHE_TILES:
            self._cache.pop(next(iter(self._cache)))
        self._cache[rel] = items
        return items

    def _hashes(self, level: int, n: int, width: int) -> Sequence[bytes]:
        """The hashes of one tile; a missing or truncated tile is rebuilt from the level below and rewritten."""
        rel = tile_path(level, n, width)
        if rel in self._cache:
            return self._cache[rel]
        data = self._read_tile(rel, width)
        if data is not None and len(data) >= 32 * width and len(data) % 32 == 0:
            return self._remember(rel, split_hashes(data[: 32 * width], width, where=rel))
        base = n * WIDTH
        if level == 0:
            size = base + width
            hashes = [merkle.hash_leaf(e) for e in self._bundle(n, size)]
        else:
            hashes = [merkle.root_of(self._hashes(level - 1, (base + j), WIDTH)) for j in range(width)]
        write_atomic(self.path / rel, b"".join(hashes))
        self.repaired.append(rel)
        return self._remember(rel, hashes)

    def _node(self, height: int, index: int, size: int) -> bytes:
        """The hash of the perfect subtree of ``height`` at ``index``, from the tiles of a tree of ``size``."""
        level, rest = divmod(height, 8)
        first = index << rest
        n = first // WIDTH
        tile = self._hashes(level, n, self._width(level, n, size))
        return merkle.root_of(tile[first % WIDTH : first % WIDTH + (1 << rest)])

    def _range_hash(self, size: int) -> merkle.RangeHash:
        def range_hash(lo: int, hi: int) -> bytes:
            span = hi - lo
            if span & (span - 1) == 0 and lo % span == 0:
                height = span.bit_length() - 1
                return self._node(height, lo >> height, size)
            k = merkle.split_point(span)
            return merkle.hash_node(range_hash(lo, lo + k), range_hash(lo + k, hi))

        return range_hash

    def entry(self, index: int) -> bytes:
        """The committed entry at ``index``."""
        if not 0 <= index < self._size:
            raise InvalidInput(f"entry {index} is not in the log (size {self._size})")
        return self._bundle(index // WIDTH, self._size)[index % WIDTH]

    def entries(self, start: int = 0) -> Iterator[tuple[int, bytes]]:
        for index in range(start, self._size):
            yield index, self.entry(index)

    # -- proofs --------------------------------------------------------------------------------------------

    def prove_inclusion(self, index: int, *, size: int | None = None) -> InclusionProof:
        tree = self._size if size is None else size
        if not 0 < tree <= self._size:
            raise InvalidInput(f"tree size {tree} is not between 1 and the log's size {self._size}")
        if not 0 <= index < tree:
            raise InvalidInput(f"entry {index} is not in a tree of size {tree}")
        return InclusionProof(index, tree, tuple(merkle.inclusion_proof(index, tree, self._range_hash(tree))))

    def prove_consistency(self, old_size: int, *, new_size: int | None = None) -> ConsistencyProof:
        new = self._size if new_size is None else new_size
        if not 0 <= old_size <= new <= self._size:
            raise InvalidInput(f"cannot prove sizes {old_size} → {new} in a log of size {self._size}")
        hashes = merkle.consistency_proof(old_size, new, self._range_hash(new))
        return ConsistencyProof(old_size, new, tuple(hashes))

    def root_at(self, size: int) -> bytes:
        if not 0 <= size <= self._size:
            raise InvalidInput(f"tree size {size} is beyond the log's size {self._size}")
        return self._range_hash(size)(0, size) if size else merkle.EMPTY_ROOT

    def audit(self) -> int:
        """Re-hash every entry and every tile and compare with the checkpoint; returns the size checked."""
        level_hashes = [merkle.hash_leaf(e) for _, e in self.entries()]
        level = 0
        while level_hashes:
            for n in range(0, len(level_hashes), WIDTH):
                chunk = level_hashes[n : n + WIDTH]
                rel = tile_path(level, n // WIDTH, len(chunk))
                stored = self._read(rel)
                if stored is not None and stored != b"".join(chunk):
                    raise LedgerError(f"{rel} does not match the entries below it: the log was rewritten", path=rel)
            level_hashes = [merkle.root_of(level_hashes[i : i + WIDTH])
                            for i in range(0, len(level_hashes) - WIDTH + 1, WIDTH)]  # fmt: skip
            level += 1
        if self.root_at(self._size) != self.checkpoint.root:
            raise LedgerError("the entries do not hash to the checkpoint's root: the log was rewritten")
        return self._size

    # -- appending -----------------------------------------------------------------------------------------

    def add(self, entry: bytes) -> int:
        """Buffer one entry; it is durable (and provable) after :meth:`commit`."""
        if self.signer is None:
            raise LedgerError("the log was opened read-only (no signing key)")
        if not isinstance(entry, bytes) or len(entry) > 0xFFFF:
            raise InvalidInput("a log entry is bytes of at most 65535")
        index = self.next_index
        self._pending.append(entry)
        self._entry_tail.append(entry)
        if len(self._entry_tail) == WIDTH:
            self._dirty[entries_path(index // WIDTH)] = encode_bundle(self._entry_tail)
            self._entry_tail = []
        height, node = 0, merkle.hash_leaf(entry)
        self._push(0, node, index)
        while self._frontier and self._frontier[-1][0] == height:
            node = merkle.hash_node(self._frontier.pop()[1], node)
            height += 1
            if height % 8 == 0:
                self._push(height // 8, node, index >> height)
        self._frontier.append((height, node))
        return index

    def _push(self, level: int, node: bytes, position: int) -> None:
        tail = self._tails.setdefault(level, [])
        tail.append(node)
        if len(tail) == WIDTH:
            self._dirty[tile_path(level, position // WIDTH)] = b"".join(tail)
            tail.clear()

    def append(self, entries: Iterable[bytes]) -> list[int]:
        """Add and commit a batch; returns the indices."""
        indices = [self.add(e) for e in entries]
        self.commit()
        return indices

    def commit(self) -> Checkpoint:
        """Write the pending batch durably, then sign and publish the new checkpoint (the commit point)."""
        if self.signer is None:
            raise LedgerError("the log was opened read-only (no signing key)")
        if not self._pending:
            return self.checkpoint
        size = self.next_index
        try:
            files = dict(self._dirty)
            if self._entry_tail:
                files[entries_path(size // WIDTH, len(self._entry_tail))] = encode_bundle(self._entry_tail)
            for level, tail in self._tails.items():
                if tail:
                    files[tile_path(level, (size >> (8 * level)) // WIDTH, len(tail))] = b"".join(tail)
            for rel, data in files.items():
                write_atomic(self.path / rel, data)
            for directory in {(self.path / rel).parent for rel in files}:
                fsync_dir(directory)
            checkpoint = Checkpoint(self.verifier.name, size, self._root())
            write_atomic(self.path / _CHECKPOINT, checkpoint.sign(self.signer).encode())
            fsync_dir(self.path)
        except OSError as exc:
            self._load()  # back to the last committed state
            raise LedgerError(f"could not write the log: {exc}", path=str(self.path)) from exc
        self._prune(files)
        self.checkpoint, self._size = checkpoint, size
        self._pending, self._dirty = [], {}
        return checkpoint

    def rollback(self) -> None:
        """Drop the pending batch."""
        self._load()

    def _root(self) -> bytes:
        if not self._frontier:
            return merkle.EMPTY_ROOT
        node = self._frontier[-1][1]
        for _, left in reversed(self._frontier[:-1]):
            node = merkle.hash_node(left, node)
        return node

    def _prune(self, written: Iterable[str]) -> None:
        """Remove partial tiles made obsolete by a wider one written in this batch (best effort)."""
        for rel in written:
            base = rel.split(".p/")[0]
            folder = self.path / (base + ".p")
            keep = rel.rpartition("/")[2] if ".p/" in rel else None
            if folder.is_dir():
                for old in folder.iterdir():
                    if old.name != keep and not old.name.startswith(".tmp-"):
                        old.unlink(missing_ok=True)
                if keep is None:
                    with suppress(OSError):
                        folder.rmdir()
