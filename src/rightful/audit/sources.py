"""Dataset sources: what the input is, how it splits into shards, how a shard reads back, how outputs are written.

One :class:`Format` per kind of input. Line formats live here (a folder of files, CSV/TSV, JSON Lines); columnar
ones (Parquet, img2dataset output, Hugging Face ``save_to_disk``) in :mod:`rightful.audit.columnar`; WebDataset
tars in :mod:`rightful.audit.tars`. :func:`open_source` picks the format from the path, and anything it cannot
read is an :class:`~rightful.errors.InvalidInput` that names what is supported.

Keep/exclude outputs are written in the input's own format: each shard writes its parts
(``parts/keep-000003.csv``) and :meth:`Format.merge` concatenates them, in shard order, into ``keep.csv``.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from rightful.audit.shards import AuditPaths, Record, Shard, SourceOptions, byte_range_shards, output_error
from rightful.errors import InvalidInput

__all__ = [
    "SUPPORTED",
    "Draft",
    "Format",
    "PartWriter",
    "column_error",
    "make_record",
    "open_source",
]

SUPPORTED = (
    "a folder of files (images, PDF, EPUB, HTML, text; recursive), a .csv/.tsv/.jsonl/.parquet file with a url "
    "and/or path column, a folder of .parquet files, an img2dataset output folder, WebDataset .tar shards (a file "
    "or a folder of them), or a Hugging Face dataset saved with save_to_disk"
)
MAX_LINE = 8 * 1024 * 1024
_SAMPLE_RECORDS = 1000


@dataclass(frozen=True, slots=True)
class Draft:
    """What planning found: the shards plus the format's metadata (schema, header) for the writers."""

    shards: list[Shard]
    meta: Mapping[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


class PartWriter(Protocol):
    """Writes one shard's keep and exclude parts; nothing is visible under the final names before ``commit``."""

    def add(self, record: Record, *, keep: bool) -> None: ...

    def commit(self) -> None: ...

    def abort(self) -> None: ...


class Format(Protocol):
    """One kind of input."""

    kind: str
    suffix: str

    def signature(self, source: Path) -> dict[str, Any]:
        """A cheap fingerprint of the input, compared on resume (size and mtime of the files read)."""

    def plan(self, source: Path, options: SourceOptions, paths: AuditPaths) -> Draft: ...

    def read(self, shard: Shard, options: SourceOptions) -> Iterator[Record]: ...

    def part_writer(self, shard: Shard, paths: AuditPaths, meta: Mapping[str, Any]) -> PartWriter: ...

    def merge(self, parts: Sequence[tuple[Shard, Path]], dest: Path, meta: Mapping[str, Any]) -> None:
        """Concatenate the shards' parts, in shard order, into ``dest`` (atomically)."""


def column_error(where: str, options: SourceOptions, columns: Iterable[str]) -> InvalidInput:
    """The error for an input with neither the URL nor the path column, with a guess at what was meant."""
    names = sorted({str(c) for c in columns})
    lowered = {n.lower(): n for n in names}
    guesses = [
        lowered[g]
        for wanted in (options.url_column, options.path_column)
        for g in difflib.get_close_matches(wanted.lower(), list(lowered), n=2, cutoff=0.6)
    ]
    hint = f" Did you mean {' or '.join(repr(g) for g in dict.fromkeys(guesses))}?" if guesses else ""
    shown = ", ".join(names[:20]) + (" …" if len(names) > 20 else "")
    return InvalidInput(
        f"{where}: no {options.url_column!r} or {options.path_column!r} column (columns: {shown or 'none'}).{hint} "
        "Name yours with --url-column / --path-column.",
        source=where,
    )


def make_record(row: int, values: Mapping[str, Any], options: SourceOptions, *, base: Path, raw: Any) -> Record:
    """A record from one row's values: the URL and path columns pulled out, the rest carried through."""
    url, path = values.get(options.url_column), values.get(options.path_column)
    carried = {k: v for k, v in values.items() if k not in (options.url_column, options.path_column)}
    record = Record(row=row, carried=carried, raw=raw)
    data: Any = None
    if isinstance(path, Mapping):  # Hugging Face Image feature: {"bytes": ..., "path": ...}
        data, path = path.get("bytes"), path.get("path")
    problems = []
    if url is not None and not isinstance(url, str):
        problems.append(f"{options.url_column} is {type(url).__name__}, not text")
    if path is not None and not isinstance(path, str):
        problems.append(f"{options.path_column} is {type(path).__name__}, not text")
    if problems:
        record.error = "; ".join(problems)
        return record
    record.url = url.strip() if isinstance(url, str) and url.strip() else None
    if isinstance(data, bytes | bytearray) and data:
        record.data, record.label = bytes(data), path or f"row {row}"
    elif isinstance(path, str) and path.strip():
        resolved = Path(path.strip())
        record.path = str(resolved if resolved.is_absolute() else base / resolved)
        record.label = path.strip()
    if record.url is None and record.path is None and record.data is None:
        record.error = f"row has neither {options.url_column!r} nor {options.path_column!r}"
    return record


def _stat_signature(files: Iterable[Path]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in files:
        st = f.stat()
        out[str(f)] = [st.st_size, st.st_mtime_ns]
    return out


# --- line-based parts ------------------------------------------------------------------------------------


class LinePartWriter:
    """Parts as byte lines, written to hidden temporary files and renamed on commit."""

    def __init__(self, shard: Shard, paths: AuditPaths, suffix: str, encode: Callable[[Record], bytes | None]):
        self._encode = encode
        self._final = {d: paths.part(shard, d, suffix) for d in ("keep", "exclude")}
        self._tmp = {d: p.with_name(f".{p.name}.{os.getpid()}.tmp") for d, p in self._final.items()}
        try:
            self._files: dict[str, IO[bytes]] = {d: p.open("wb") for d, p in self._tmp.items()}
        except OSError as exc:
            raise output_error(self._tmp["keep"], exc) from exc

    def add(self, record: Record, *, keep: bool) -> None:
        data = self._encode(record)
        if data is not None:
            try:
                self._files["keep" if keep else "exclude"].write(data)
            except OSError as exc:
                raise output_error(self._tmp["keep"], exc) from exc

    def commit(self) -> None:
        for decision, fh in self._files.items():
            try:
                fh.flush()
                os.fsync(fh.fileno())
                fh.close()
                os.replace(self._tmp[decision], self._final[decision])
            except OSError as exc:
                self.abort()
                raise output_error(self._final[decision], exc) from exc

    def abort(self) -> None:
        for decision, fh in self._files.items():
            fh.close()
            self._tmp[decision].unlink(missing_ok=True)


def concat_parts(parts: Sequence[Path], dest: Path, *, header: bytes = b"") -> None:
    """Concatenate byte parts into ``dest`` (atomically), after an optional header."""
    tmp = dest.with_name(f".{dest.name}.tmp")
    try:
        with tmp.open("wb") as out:
            out.write(header)
            for part in parts:
                with part.open("rb") as fh:
                    while chunk := fh.read(1 << 20):
                        out.write(chunk)
        os.replace(tmp, dest)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise output_error(dest, exc) from exc


def _read_line(fh: IO[bytes]) -> tuple[bytes, bool]:
    """One line, capped: returns the line (without the rest of an over-long one) and whether it was cut."""
    line = fh.readline(MAX_LINE + 1)
    if len(line) <= MAX_LINE or line.endswith(b"\n"):
        return line, False
    while True:  # skip the rest of an over-long line
        rest = fh.readline(1 << 20)
        if not rest or rest.endswith(b"\n"):
            return line, True


def line_offsets(path: Path, shard_size: int, *, start: int = 0) -> tuple[list[int], int, int]:
    """Start offsets of every ``shard_size``-th non-blank line, the number of such lines, and the end offset."""
    offsets: list[int] = []
    count = 0
    with path.open("rb") as fh:
        fh.seek(start)
        pos = start
        while True:
            line, _ = _read_line(fh)
            if not line:
                break
            if line.strip():
                if count % shard_size == 0:
                    offsets.append(pos)
                count += 1
            pos = fh.tell()
    return offsets, count, pos


# --- CSV / TSV -------------------------------------------------------------------------------------------


class CsvFormat:
    """CSV or TSV with a header row; quoted fields may span lines. Outputs keep the header and the dialect."""

    suffix: str

    def __init__(self, *, delimiter: str, suffix: str) -> None:
        self.kind = "tsv" if delimiter == "\t" else "csv"
        self.delimiter = delimiter
        self.suffix = suffix

    def signature(self, source: Path) -> dict[str, Any]:
        return _stat_signature([source])

    def plan(self, source: Path, options: SourceOptions, paths: AuditPaths) -> Draft:
        with source.open("rb") as fh:
            rows = _csv_rows(fh, 0, None, options.encoding, self.delimiter, source=source)
            first = next(rows, None)
            if first is None or isinstance(first[1], str):
                raise InvalidInput(f"empty input: {source} has no header row", source=str(source))
            header = [h.lstrip("\ufeff").strip() for h in first[1]]
            if options.url_column not in header and options.path_column not in header:
                raise column_error(str(source), options, header)
            offsets: list[int] = []
            count = 0
            for start, _ in rows:
                if count % options.rows_per_shard == 0:
                    offsets.append(start)
                count += 1
            end = fh.seek(0, io.SEEK_END)
        if count == 0:
            raise InvalidInput(f"empty input: {source} has a header but no rows", source=str(source))
        extra = {"header": header, "base": str(source.resolve().parent)}
        size = options.rows_per_shard
        shards = byte_range_shards(self.kind, str(source.resolve()), offsets, end, count=count, size=size, extra=extra)
        return Draft(shards=shards, meta={"header": header})

    def read(self, shard: Shard, options: SourceOptions) -> Iterator[Record]:
        header: list[str] = list(shard.extra["header"])
        base = Path(shard.extra["base"])
        with Path(shard.uri).open("rb") as fh:
            for row, (_, fields) in enumerate(
                _csv_rows(fh, shard.start, shard.stop, options.encoding, self.delimiter, source=Path(shard.uri)),
                start=shard.first_row,
            ):
                if isinstance(fields, str):
                    yield Record(row=row, error=fields)
                elif len(fields) != len(header):
                    yield Record(row=row, raw=fields, error=f"row has {len(fields)} fields, header has {len(header)}")
                else:
                    yield make_record(row, dict(zip(header, fields, strict=True)), options, base=base, raw=fields)

    def part_writer(self, shard: Shard, paths: AuditPaths, meta: Mapping[str, Any]) -> PartWriter:
        return LinePartWriter(shard, paths, self.suffix, self._encode)

    def _encode(self, record: Record) -> bytes | None:
        if not isinstance(record.raw, list):
            return None
        out = io.StringIO()
        csv.writer(out, delimiter=self.delimiter, lineterminator="\n").writerow(record.raw)
        return out.getvalue().encode("utf-8")

    def merge(self, parts: Sequence[tuple[Shard, Path]], dest: Path, meta: Mapping[str, Any]) -> None:
        out = io.StringIO()
        csv.writer(out, delimiter=self.delimiter, lineterminator="\n").writerow(meta["header"])
        concat_parts([p for _, p in parts], dest, header=out.getvalue().encode("utf-8"))


def _csv_rows(
    fh: IO[bytes], start: int, stop: int | None, encoding: str, delimiter: str, *, source: Path
) -> Iterator[tuple[int, list[str] | str]]:
    """``(start offset, fields)`` per record from ``start`` to ``stop``; a malformed record gives a message.

    Bytes are decoded line by line so record boundaries stay known as byte offsets; a decoding error is an
    input error naming the byte, since a file in the wrong encoding would otherwise be misread silently.
    """
    fh.seek(start)
    state = {"pos": start, "line": 0}

    def lines() -> Iterator[str]:
        while stop is None or state["pos"] < stop:
            raw, cut = _read_line(fh)
            if not raw:
                return
            at = state["pos"]
            state["pos"] = fh.tell()
            state["line"] += 1
            if cut:
                raise _LineTooLong(at)
            try:
                yield raw.decode(encoding)
            except UnicodeDecodeError as exc:
                raise InvalidInput(
                    f"{source} is not valid {encoding}: byte 0x{raw[exc.start]:02x} at offset {at + exc.start}. "
                    f"Re-encode it (iconv -t utf-8) or pass --encoding (e.g. latin-1)",
                    source=str(source),
                ) from exc

    reader = csv.reader(lines(), delimiter=delimiter, strict=False)
    while True:
        begin = state["pos"]
        try:
            fields = next(reader)
        except StopIteration:
            return
        except _LineTooLong as exc:
            reader = csv.reader(lines(), delimiter=delimiter, strict=False)
            yield exc.offset, f"line longer than {MAX_LINE} bytes"
            continue
        except csv.Error as exc:
            yield begin, f"malformed CSV: {exc}"
            continue
        if fields:
            yield begin, fields


class _LineTooLong(Exception):
    def __init__(self, offset: int) -> None:
        self.offset = offset


# --- JSON Lines ------------------------------------------------------------------------------------------


class JsonLinesFormat:
    """One JSON object per line; a bad line is a malformed record (counted, written to the exclude output)."""

    kind = "jsonl"
    suffix = ".jsonl"

    def signature(self, source: Path) -> dict[str, Any]:
        return _stat_signature([source])

    def plan(self, source: Path, options: SourceOptions, paths: AuditPaths) -> Draft:
        offsets, count, end = line_offsets(source, options.rows_per_shard)
        if count == 0:
            raise InvalidInput(f"empty input: {source} has no lines", source=str(source))
        self._check_columns(source, options)
        extra = {"base": str(source.resolve().parent)}
        size = options.rows_per_shard
        shards = byte_range_shards(self.kind, str(source.resolve()), offsets, end, count=count, size=size, extra=extra)
        return Draft(shards=shards)

    def _check_columns(self, source: Path, options: SourceOptions) -> None:
        """Refuse a file none of whose first records has the URL or path key (a mistyped column name)."""
        keys: set[str] = set()
        with source.open("rb") as fh:
            for _ in range(_SAMPLE_RECORDS):
                line, cut = _read_line(fh)
                if not line:
                    break
                obj = _parse_line(line, cut)
                if isinstance(obj, dict):
                    if options.url_column in obj or options.path_column in obj:
                        return
                    keys.update(obj)
        if keys:
            raise column_error(str(source), options, keys)

    def read(self, shard: Shard, options: SourceOptions) -> Iterator[Record]:
        base = Path(shard.extra["base"])
        with Path(shard.uri).open("rb") as fh:
            fh.seek(shard.start)
            row = shard.first_row
            while fh.tell() < shard.stop:
                line, cut = _read_line(fh)
                if not line:
                    break
                if not line.strip():
                    continue
                raw = line if line.endswith(b"\n") else line + b"\n"
                obj = _parse_line(line, cut)
                if isinstance(obj, str):
                    yield Record(row=row, raw=None if cut else raw, error=obj)
                else:
                    yield make_record(row, obj, options, base=base, raw=raw)
                row += 1

    def part_writer(self, shard: Shard, paths: AuditPaths, meta: Mapping[str, Any]) -> PartWriter:
        return LinePartWriter(shard, paths, self.suffix, lambda r: r.raw if isinstance(r.raw, bytes) else None)

    def merge(self, parts: Sequence[tuple[Shard, Path]], dest: Path, meta: Mapping[str, Any]) -> None:
        concat_parts([p for _, p in parts], dest)


def _parse_line(line: bytes, cut: bool) -> dict[str, Any] | str:
    """The object on a line, or a message saying why the line is not one."""
    if cut:
        return f"line longer than {MAX_LINE} bytes"
    try:
        obj = json.loads(line)
    except UnicodeDecodeError:
        return "line is not valid UTF-8"
    except ValueError as exc:
        return f"malformed JSON: {exc}"
    if not isinstance(obj, dict):
        return f"line is a JSON {type(obj).__name__}, not an object"
    return obj


# --- detection -------------------------------------------------------------------------------------------


def _formats() -> dict[str, Format]:
    from rightful.audit.columnar import HuggingFaceFormat, Img2DatasetFormat, ParquetFormat
    from rightful.audit.folder import FolderFormat
    from rightful.audit.tars import WebDatasetFormat

    return {
        "folder": FolderFormat(),
        "csv": CsvFormat(delimiter=",", suffix=".csv"),
        "tsv": CsvFormat(delimiter="\t", suffix=".tsv"),
        "jsonl": JsonLinesFormat(),
        "parquet": ParquetFormat(),
        "img2dataset": Img2DatasetFormat(),
        "webdataset": WebDatasetFormat(),
        "hf": HuggingFaceFormat(),
    }


_FILE_KINDS = {
    ".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet",
    ".tar": "webdataset",
}  # fmt: skip


def format_for(kind: str) -> Format:
    try:
        return _formats()[kind]
    except KeyError:
        raise InvalidInput(f"unknown input kind {kind!r}; known: {', '.join(sorted(_formats()))}") from None


def detect(source: Path) -> str:
    """The kind of input at ``source`` (see :data:`SUPPORTED`)."""
    if not source.exists():
        raise InvalidInput(f"{source}: no such file or folder", source=str(source))
    if source.is_file():
        kind = _FILE_KINDS.get(source.suffix.lower())
        if kind is None:
            hint = " (JSON Lines files end in .jsonl)" if source.suffix.lower() == ".json" else ""
            raise InvalidInput(f"{source}: cannot audit a {source.suffix or 'extensionless'} file{hint}. "
                               f"Supported: {SUPPORTED}", source=str(source))  # fmt: skip
        return kind
    if not source.is_dir():
        raise InvalidInput(f"{source} is neither a file nor a folder. Supported: {SUPPORTED}", source=str(source))
    from rightful.audit.columnar import is_hf_dataset, is_img2dataset

    if is_hf_dataset(source):
        return "hf"
    if is_img2dataset(source):
        return "img2dataset"
    try:
        names = [e.name for e in os.scandir(source) if not e.name.startswith(".") and e.is_file()]
    except OSError as exc:
        raise InvalidInput(f"cannot list {source}: {exc.strerror or exc}", source=str(source)) from exc
    suffixes = {os.path.splitext(n)[1].lower() for n in names}
    if names and suffixes == {".tar"}:
        return "webdataset"
    if names and suffixes == {".parquet"}:
        return "parquet"
    return "folder"


def open_source(source: Path, *, kind: str | None = None) -> tuple[str, Format]:
    """The kind and :class:`Format` of an input (``kind`` forces one)."""
    found = kind or detect(source)
    if kind is not None and not source.exists():
        raise InvalidInput(f"{source}: no such file or folder", source=str(source))
    return found, format_for(found)
