"""Shards: references to a slice of the input (a file plus a byte or row range), never the data itself.

The driver plans shards once and stores the plan in ``DIR/plan.json``; workers open the slice they are given
and write their own results. A shard is finished when its done marker exists: the marker is written last, by
atomic rename, after the shard's result file and its keep/exclude parts, so "marker present" means "every
output of this shard is complete" and a rerun can skip it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from rightful.errors import AuditError

__all__ = [
    "DEFAULT_SHARD_SIZE",
    "FILE_SHARD_SIZE",
    "PLAN_VERSION",
    "AuditPaths",
    "Plan",
    "Record",
    "Shard",
    "SourceOptions",
    "write_atomic",
]

PLAN_VERSION = 1
DEFAULT_SHARD_SIZE = 10_000
#: Files are read in ~150 µs each, rows cost a network check: smaller shards keep every worker busy on a folder.
FILE_SHARD_SIZE = 1_000
_FILE_KINDS = frozenset({"folder", "webdataset"})


@dataclass(frozen=True, slots=True)
class SourceOptions:
    """How to read the input: which columns hold the URL and the local path, the text encoding, shard size.

    ``shard_size`` ``None`` means the input kind's default (:meth:`resolved`): :data:`FILE_SHARD_SIZE` files
    for a folder or WebDataset tars, :data:`DEFAULT_SHARD_SIZE` rows otherwise.
    """

    url_column: str = "url"
    path_column: str = "path"
    encoding: str = "utf-8"
    shard_size: int | None = None

    def __post_init__(self) -> None:
        if self.shard_size is not None and self.shard_size < 1:
            raise AuditError("shard size must be at least 1")
        if not self.url_column or not self.path_column:
            raise AuditError("column names must not be empty")

    @property
    def rows_per_shard(self) -> int:
        return self.shard_size or DEFAULT_SHARD_SIZE

    def resolved(self, kind: str) -> SourceOptions:
        """These options with the shard size filled in for ``kind`` (what the plan records)."""
        if self.shard_size is not None:
            return self
        return replace(self, shard_size=FILE_SHARD_SIZE if kind in _FILE_KINDS else DEFAULT_SHARD_SIZE)


@dataclass(frozen=True, slots=True)
class Shard:
    """One slice of the input: ``uri`` read from ``start`` to ``stop`` (bytes or rows, as the format says).

    ``first_row`` is the input-wide number of the slice's first record, so rows keep one global numbering
    whichever worker reads them; ``extra`` holds format details (CSV header, split name, companion tar).
    """

    index: int
    kind: str
    uri: str
    start: int
    stop: int
    first_row: int
    rows: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.index:06d}"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["extra"] = dict(self.extra)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Shard:
        return cls(
            index=int(data["index"]), kind=str(data["kind"]), uri=str(data["uri"]), start=int(data["start"]),
            stop=int(data["stop"]), first_row=int(data["first_row"]),
            rows=None if data.get("rows") is None else int(data["rows"]), extra=dict(data.get("extra") or {}),
        )  # fmt: skip


@dataclass(slots=True)
class Record:
    """One input item on its way through a shard task.

    ``url`` is checked online, ``path`` (a local file) or ``data`` (bytes from an archive) for embedded
    metadata; ``raw`` is the format's own representation, written back unchanged to keep/exclude outputs;
    ``error`` marks a malformed record (reported and counted, never fatal).
    """

    row: int
    url: str | None = None
    path: str | None = None
    data: bytes | None = None
    label: str | None = None
    carried: Mapping[str, Any] = field(default_factory=dict)
    raw: Any = None
    error: str | None = None
    truncated: bool = False

    @property
    def item(self) -> str:
        return self.url or self.label or self.path or f"row {self.row}"


@dataclass(frozen=True, slots=True)
class Plan:
    """The shards of one input, and what they were planned from (to refuse resuming over a changed input)."""

    source: str
    kind: str
    options: SourceOptions
    shards: tuple[Shard, ...]
    signature: Mapping[str, Any]
    meta: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def fingerprint(self) -> str:
        blob = json.dumps(
            {"source": self.source, "kind": self.kind, "options": asdict(self.options), "signature": self.signature},
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    @property
    def total_rows(self) -> int | None:
        counts = [s.rows for s in self.shards]
        return None if any(c is None for c in counts) else sum(c for c in counts if c is not None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": PLAN_VERSION, "source": self.source, "kind": self.kind, "options": asdict(self.options),
            "signature": dict(self.signature), "fingerprint": self.fingerprint, "meta": dict(self.meta),
            "warnings": list(self.warnings), "shards": [s.to_dict() for s in self.shards],
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        if data.get("version") != PLAN_VERSION:
            raise AuditError(f"plan version {data.get('version')!r} is not supported (expected {PLAN_VERSION})")
        return cls(
            source=str(data["source"]), kind=str(data["kind"]), options=SourceOptions(**data["options"]),
            shards=tuple(Shard.from_dict(s) for s in data["shards"]), signature=dict(data["signature"]),
            meta=dict(data.get("meta") or {}), warnings=tuple(data.get("warnings") or ()),
        )  # fmt: skip


def write_atomic(path: Path, data: bytes) -> None:
    """Write a file so that it either exists whole or not at all (tmp + fsync + rename)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise output_error(path, exc) from exc


def output_error(path: Path, exc: OSError) -> AuditError:
    """A clear, resumable error for a failed write (full disk, read-only folder, quota)."""
    reason = exc.strerror or str(exc)
    return AuditError(
        f"cannot write {path}: {reason}. Finished shards are kept; free space (or fix the folder) and rerun "
        "the same command to resume",
        path=str(path),
    )


@dataclass(frozen=True, slots=True)
class AuditPaths:
    """Where an audit keeps its state and outputs under ``DIR``."""

    root: Path

    @property
    def plan(self) -> Path:
        return self.root / "plan.json"

    @property
    def results(self) -> Path:
        return self.root / "results"

    @property
    def parts(self) -> Path:
        return self.root / "parts"

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def report(self) -> Path:
        return self.root / "report.html"

    @property
    def audit_json(self) -> Path:
        return self.root / "audit.json"

    def result_file(self, shard: Shard) -> Path:
        return self.results / f"shard-{shard.id}.parquet"

    def done_marker(self, shard: Shard) -> Path:
        return self.results / f"shard-{shard.id}.done.json"

    def part(self, shard: Shard, decision: str, suffix: str) -> Path:
        return self.parts / f"{decision}-{shard.id}{suffix}"

    def make(self) -> None:
        for folder in (self.root, self.results, self.parts, self.work):
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise output_error(folder, exc) from exc

    def done(self, shards: Iterable[Shard]) -> dict[int, dict[str, Any]]:
        """The stats of every finished shard, by index (a marker that cannot be read counts as unfinished)."""
        out: dict[int, dict[str, Any]] = {}
        for shard in shards:
            marker = self.done_marker(shard)
            try:
                stats = json.loads(marker.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(stats, dict) and stats.get("shard") == shard.index:
                out[shard.index] = stats
        return out


def shard_ranges(offsets: Sequence[int], end: int) -> list[tuple[int, int]]:
    """Consecutive ``(start, stop)`` pairs from the start offsets of each shard and the end of the input."""
    bounds = [*offsets, end]
    return [(bounds[i], bounds[i + 1]) for i in range(len(offsets)) if bounds[i] < bounds[i + 1]]


def byte_range_shards(
    kind: str, uri: str, offsets: Sequence[int], end: int, *, count: int, size: int, extra: dict[str, Any]
) -> list[Shard]:
    """The shards of a line-oriented input (``count`` rows, ``size`` per shard) from :func:`line_offsets`'s
    start offsets: shard ``i`` holds bytes ``offsets[i]`` up to the next shard's start and rows from ``i * size``."""
    return [
        Shard(index=i, kind=kind, uri=uri, start=a, stop=b, first_row=i * size, rows=min(size, count - i * size),
              extra=extra)
        for i, (a, b) in enumerate(shard_ranges(offsets, end))
    ]  # fmt: skip
