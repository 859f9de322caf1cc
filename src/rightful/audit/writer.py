"""Per-shard result files: one Parquet row per input row, written to a temporary name and renamed when whole.

Columns: ``row`` (input-wide number), ``item``, ``kind``, ``url``, ``path``, ``domain``, ``decision``
(keep/exclude), ``status`` (reserved/allowed/unknown for the policy's purposes), ``reasons``,
``exclusion_protocols``, ``protocols`` (all present), one column per purpose, ``licences``, ``errors`` (codes),
``duplicate``, ``policy``, ``evidence`` (the full :meth:`~rightful.models.CheckResult.to_json`) and ``carried``
(the input's other columns, as JSON).
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
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
from rightful.models import CheckResult, Decision, Purpose, Signal, compact_json

__all__ = ["RESULT_SCHEMA", "ResultWriter", "evidence_json", "result_row"]

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
_PURPOSE_COLUMNS = tuple((p, p.value.replace("-", "_")) for p in Purpose)
_VALUES: dict[Decision, str] = {d: d.value for d in Decision}  # enum .value is a slow descriptor
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


_SIGNALS_CACHED = 4096
_signal_json: collections.OrderedDict[int, tuple[Signal, str]] = collections.OrderedDict()


def _signal_fragment(signal: Signal) -> str:
    """A signal's JSON, cached by identity: the items of one origin share its robots.txt/TDMRep/ai.txt
    signals, so most of a URL's evidence is serialised once per origin, not once per item. The cache holds
    the signal itself, so an id is never reused while its entry lives."""
    key = id(signal)
    hit = _signal_json.get(key)
    if hit is not None and hit[0] is signal:
        _signal_json.move_to_end(key)
        return hit[1]
    text = _dumps(signal.to_dict())
    _signal_json[key] = (signal, text)
    if len(_signal_json) > _SIGNALS_CACHED:
        _signal_json.popitem(last=False)
    return text


def evidence_json(result: CheckResult) -> str:
    """Exactly :meth:`CheckResult.to_json`, with each signal's JSON taken from :func:`_signal_fragment`."""
    if not result.signals:
        return result.to_json()
    index = {id(s): i for i, s in enumerate(result.signals)}
    data = dataclasses.replace(result, signals=()).to_dict()
    data["deciding"] = {
        str(p): [index[id(s)] for s in v.deciding if id(s) in index] for p, v in result.verdicts.items()
    }
    keys = list(data)
    at = keys.index("signals")
    head = _dumps({k: data[k] for k in keys[:at]})[:-1] + ("," if at else "")
    tail = _dumps({k: data[k] for k in keys[at + 1 :]})[1:] if at + 1 < len(keys) else "}"
    signals = ",".join(_signal_fragment(s) for s in result.signals)
    return f'{head}"signals":[{signals}]' + ("," + tail if tail != "}" else tail)


def _dumps(value: Any) -> str:
    return compact_json(value)


def result_row(
    record: Record, result: CheckResult, screening: Screening, *, shard: int, duplicate: bool, policy: str
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "row": record.row, "item": record.item, "kind": result.kind, "url": record.url,
        "path": record.label if record.path is None else record.path, "domain": domain_of(record.url),
        "decision": screening.decision, "status": _VALUES[screening.status], "reasons": list(screening.reasons),
        "exclusion_protocols": list(screening.protocols),
        "protocols": sorted({s.protocol for s in result.signals}),
        "licences": sorted({c.licence for c in result.licence if c.licence}),
        "errors": sorted({e.code for e in result.errors}), "duplicate": duplicate, "shard": shard,
        "policy": policy, "evidence": evidence_json(result),
        "carried": json.dumps(_jsonable(record.carried), ensure_ascii=False) if record.carried else None,
    }  # fmt: skip
    for purpose, column in _PURPOSE_COLUMNS:
        verdict = result.verdicts.get(purpose)
        row[column] = _VALUES[verdict.decision] if verdict else None
    return row


class ResultWriter:
    """Streams rows into ``path`` through a hidden temporary file; ``commit`` renames it into place."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # one per attempt
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
