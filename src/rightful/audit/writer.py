"""Per-shard result files: one Parquet row per input row, written to a temporary name and renamed when whole.

Columns: ``row`` (input-wide number), ``item``, ``kind``, ``url``, ``path``, ``domain``, ``decision``
(keep/exclude), ``status`` (reserved/allowed/unknown for the policy's purposes), ``reasons``,
``exclusion_protocols``, ``protocols`` (all present), one column per purpose, ``licences``, ``errors`` (codes),
``duplicate``, ``policy``, ``evidence`` (the full :meth:`~rightful.models.CheckResult.to_json`) and ``carried``
(the input's other columns, as JSON).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from rightful.audit.policy import Screening
from rightful.audit.shards import Record, output_error
from rightful.audit.stats import domain_of
from rightful.models import CheckResult, Purpose

__all__ = ["RESULT_SCHEMA", "ResultWriter", "result_row"]

_LIST = pa.list_(pa.string())
_FIELDS: list[pa.Field[Any]] = [
        pa.field("row", pa.int64()), pa.field("item", pa.string()), pa.field("kind", pa.string()),
        pa.field("url", pa.string()), pa.field("path", pa.string()), pa.field("domain", pa.string()),
        pa.field("decision", pa.string()), pa.field("status", pa.string()), pa.field("reasons", _LIST),
        pa.field("exclusion_protocols", _LIST), pa.field("protocols", _LIST),
        *[pa.field(p.value.replace("-", "_"), pa.string()) for p in Purpose],
        pa.field("licences", _LIST), pa.field("errors", _LIST), pa.field("duplicate", pa.bool_()),
        pa.field("shard", pa.int32()), pa.field("policy", pa.string()), pa.field("evidence", pa.string()),
        pa.field("carried", pa.string()),
]  # fmt: skip
RESULT_SCHEMA = pa.schema(_FIELDS)
_FLUSH = 2000


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(value)} bytes>"
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def result_row(
    record: Record, result: CheckResult, screening: Screening, *, shard: int, duplicate: bool, policy: str
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "row": record.row, "item": record.item, "kind": result.kind, "url": record.url,
        "path": record.label if record.path is None else record.path, "domain": domain_of(record.url),
        "decision": screening.decision, "status": screening.status.value, "reasons": list(screening.reasons),
        "exclusion_protocols": list(screening.protocols),
        "protocols": sorted({s.protocol for s in result.signals}),
        "licences": sorted({c.licence for c in result.licence if c.licence}),
        "errors": sorted({e.code for e in result.errors}), "duplicate": duplicate, "shard": shard,
        "policy": policy, "evidence": result.to_json(),
        "carried": json.dumps(_jsonable(record.carried), ensure_ascii=False) if record.carried else None,
    }  # fmt: skip
    for purpose in Purpose:
        verdict = result.verdicts.get(purpose)
        row[purpose.value.replace("-", "_")] = verdict.decision.value if verdict else None
    return row


class ResultWriter:
    """Streams rows into ``path`` through a hidden temporary file; ``commit`` renames it into place."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tmp = path.with_name(f".{path.name}.tmp")
        self._rows: list[dict[str, Any]] = []
        try:
            self._writer = pq.ParquetWriter(str(self._tmp), RESULT_SCHEMA, compression="zstd")
        except OSError as exc:
            raise output_error(self._tmp, exc) from exc

    def add(self, row: dict[str, Any]) -> None:
        self._rows.append(row)
        if len(self._rows) >= _FLUSH:
            self._flush()

    def _flush(self) -> None:
        if self._rows:
            try:
                self._writer.write_table(pa.Table.from_pylist(self._rows, schema=RESULT_SCHEMA))
            except OSError as exc:
                raise output_error(self._tmp, exc) from exc
            self._rows.clear()

    def commit(self) -> None:
        try:
            self._flush()
            self._writer.close()
            with self._tmp.open("rb") as fh:
                os.fsync(fh.fileno())
            os.replace(self._tmp, self.path)
        except OSError as exc:
            self.abort()
            raise output_error(self.path, exc) from exc

    def abort(self) -> None:
        with contextlib.suppress(OSError, pa.ArrowException):
            self._writer.close()
        self._tmp.unlink(missing_ok=True)
