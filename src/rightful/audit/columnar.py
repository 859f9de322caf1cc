"""Columnar sources: Parquet (a file or a folder), img2dataset output folders, Hugging Face ``save_to_disk``.

Shards are row ranges of one file; a worker reads only the row groups (Parquet) or record batches (Arrow
streams) that overlap its range. Outputs keep the input's schema: ``keep.parquet`` for Parquet and for
img2dataset (its metadata rows, so ``img2dataset --url_list keep.parquet --input_format parquet`` re-downloads
exactly what may be used), ``keep.hf/`` for a Hugging Face dataset (loadable with ``datasets.load_from_disk``).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import tarfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from rightful.audit.shards import AuditPaths, Record, Shard, SourceOptions, output_error
from rightful.audit.sources import Draft, PartWriter, column_error, make_record
from rightful.errors import InvalidInput

__all__ = ["HuggingFaceFormat", "Img2DatasetFormat", "ParquetFormat", "is_hf_dataset", "is_img2dataset"]

_BATCH = 1024
_IMAGE_EXTS = ("jpg", "jpeg", "png", "webp", "gif", "tif", "tiff", "avif", "heic")
_PART = re.compile(r"^(\d+)\.parquet$")
_FLUSH_ROWS = 1000


def _schema_b64(schema: pa.Schema) -> str:
    return base64.b64encode(schema.serialize().to_pybytes()).decode()


def _schema_from(b64: str) -> pa.Schema:
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(b64)))


def _row_ranges(shard_size: int, total: int) -> list[tuple[int, int]]:
    return [(a, min(a + shard_size, total)) for a in range(0, total, shard_size)]


def _bytes_columns(schema: pa.Schema) -> list[str]:
    return [f.name for f in schema if pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type)]


def _stat_signature(files: Sequence[Path]) -> dict[str, Any]:
    return {str(f): [f.stat().st_size, f.stat().st_mtime_ns] for f in files}


class ArrowPartWriter:
    """Parts as Parquet files (or Arrow IPC streams), rows buffered and flushed in batches."""

    def __init__(self, shard: Shard, paths: AuditPaths, schema: pa.Schema, *, suffix: str, stream: bool) -> None:
        self.schema, self.stream = schema, stream
        self._final = {d: paths.part(shard, d, suffix) for d in ("keep", "exclude")}
        self._tmp = {d: p.with_name(f".{p.name}.{os.getpid()}.tmp") for d, p in self._final.items()}
        self._rows: dict[str, list[Mapping[str, Any]]] = {"keep": [], "exclude": []}
        try:
            self._writers = {d: self._open(p) for d, p in self._tmp.items()}
        except OSError as exc:
            raise output_error(self._tmp["keep"], exc) from exc

    def _open(self, path: Path) -> Any:
        if self.stream:
            return pa.ipc.new_stream(str(path), self.schema)
        return pq.ParquetWriter(str(path), self.schema)

    def add(self, record: Record, *, keep: bool) -> None:
        if not isinstance(record.raw, Mapping):
            return
        rows = self._rows["keep" if keep else "exclude"]
        rows.append(record.raw)
        if len(rows) >= _FLUSH_ROWS:
            self._flush("keep" if keep else "exclude")

    def _flush(self, decision: str) -> None:
        rows = self._rows[decision]
        if rows:
            table = pa.Table.from_pylist(rows, schema=self.schema)
            try:
                self._writers[decision].write_table(table)
            except OSError as exc:
                raise output_error(self._tmp[decision], exc) from exc
            rows.clear()

    def commit(self) -> None:
        for decision in ("keep", "exclude"):
            try:
                self._flush(decision)
                self._writers[decision].close()
                os.replace(self._tmp[decision], self._final[decision])
            except OSError as exc:
                self.abort()
                raise output_error(self._final[decision], exc) from exc

    def abort(self) -> None:
        for decision, writer in self._writers.items():
            with contextlib.suppress(OSError, pa.ArrowException):
                writer.close()
            self._tmp[decision].unlink(missing_ok=True)


def _merge_parquet(parts: Sequence[Path], dest: Path) -> None:
    tmp = dest.with_name(f".{dest.name}.tmp")
    schemas = [pq.read_schema(p) for p in parts]
    schema = pa.unify_schemas(schemas) if schemas else pa.schema([])
    try:
        with pq.ParquetWriter(str(tmp), schema) as writer:
            for part in parts:
                for batch in pq.ParquetFile(part).iter_batches(batch_size=8192):
                    writer.write_table(pa.Table.from_batches([batch]).cast(schema))
        os.replace(tmp, dest)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise output_error(dest, exc) from exc


def _parquet_rows(path: Path, start: int, stop: int, columns: list[str] | None = None) -> Iterator[dict[str, Any]]:
    """Rows ``start``..``stop`` of a Parquet file, reading only the row groups that hold them."""
    pf = pq.ParquetFile(path)
    groups, first = [], None
    offset = 0
    for i in range(pf.metadata.num_row_groups):
        n = pf.metadata.row_group(i).num_rows
        if offset + n > start and offset < stop:
            groups.append(i)
            first = offset if first is None else first
        offset += n
    row = first or 0
    for batch in pf.iter_batches(batch_size=_BATCH, row_groups=groups, columns=columns):
        for values in batch.to_pylist():
            if start <= row < stop:
                yield values
            row += 1
            if row >= stop:
                return


# --- Parquet ---------------------------------------------------------------------------------------------


class ParquetFormat:
    """A Parquet file or a folder of them (recursive, sorted); unreadable files are reported and skipped."""

    kind = "parquet"
    suffix = ".parquet"

    def _files(self, source: Path) -> list[Path]:
        if source.is_file():
            return [source]
        return sorted(p for p in source.rglob("*.parquet") if not any(x.startswith(".") for x in p.parts))

    def signature(self, source: Path) -> dict[str, Any]:
        return _stat_signature(self._files(source))

    def plan(self, source: Path, options: SourceOptions, paths: AuditPaths) -> Draft:
        shards: list[Shard] = []
        warnings: list[str] = []
        row = 0
        for path in self._files(source):
            try:
                meta = pq.ParquetFile(path).metadata
                schema = pq.read_schema(path)
            except (OSError, pa.ArrowException) as exc:
                if source.is_file():
                    raise InvalidInput(f"{path}: not a readable Parquet file ({exc})", source=str(path)) from exc
                warnings.append(f"malformed-parquet: {path}: {exc}")
                continue
            if options.url_column not in schema.names and options.path_column not in schema.names:
                raise column_error(str(path), options, schema.names)
            extra = {"base": str(path.resolve().parent), "schema": _schema_b64(schema)}
            for a, b in _row_ranges(options.rows_per_shard, meta.num_rows):
                shards.append(Shard(index=len(shards), kind=self.kind, uri=str(path.resolve()), start=a, stop=b,
                                    first_row=row + a, rows=b - a, extra=extra))  # fmt: skip
            row += meta.num_rows
        if not shards:
            raise InvalidInput(f"empty input: no rows in {source}" + (f" ({'; '.join(warnings)})" if warnings else ""))
        return Draft(shards=shards, warnings=warnings)

    def read(self, shard: Shard, options: SourceOptions) -> Iterator[Record]:
        base = Path(shard.extra["base"])
        for row, values in enumerate(_parquet_rows(Path(shard.uri), shard.start, shard.stop), start=shard.first_row):
            yield make_record(row, values, options, base=base, raw=values)

    def part_writer(self, shard: Shard, paths: AuditPaths, meta: Mapping[str, Any]) -> PartWriter:
        return ArrowPartWriter(shard, paths, _schema_from(shard.extra["schema"]), suffix=self.suffix, stream=False)

    def merge(self, parts: Sequence[tuple[Shard, Path]], dest: Path, meta: Mapping[str, Any]) -> None:
        _merge_parquet([p for _, p in parts], dest)


# --- img2dataset -----------------------------------------------------------------------------------------


def is_img2dataset(folder: Path) -> bool:
    """An img2dataset output folder: numbered Parquet parts beside numbered tars, folders or stats files."""
    try:
        names = set(os.listdir(folder))
    except OSError:
        return False
    for name in names:
        m = _PART.match(name)
        if m and ({f"{m[1]}.tar", f"{m[1]}_stats.json", m[1]} & names):
            return True
    return False


class Img2DatasetFormat:
    """img2dataset output (webdataset, files or parquet output formats): metadata rows + downloaded images.

    Each row's URL is checked online and the downloaded image (from ``NNNNN.tar``, ``NNNNN/`` or the Parquet
    image column) is read for embedded metadata; both sets of signals decide together.
    """

    kind = "img2dataset"
    suffix = ".parquet"

    def _parts(self, source: Path) -> list[Path]:
        return sorted(p for p in source.iterdir() if _PART.match(p.name))

    def signature(self, source: Path) -> dict[str, Any]:
        return _stat_signature(self._parts(source))

    def plan(self, source: Path, options: SourceOptions, paths: AuditPaths) -> Draft:
        shards: list[Shard] = []
        warnings: list[str] = []
        row = 0
        schema: pa.Schema | None = None
        for path in self._parts(source):
            try:
                n = pq.ParquetFile(path).metadata.num_rows
                file_schema = pq.read_schema(path)
            except (OSError, pa.ArrowException) as exc:
                warnings.append(f"malformed-parquet: {path}: {exc}")
                continue
            if options.url_column not in file_schema.names:
                raise column_error(str(path), options, file_schema.names)
            meta_schema = pa.schema([f for f in file_schema if f.name not in _bytes_columns(file_schema)])
            schema = schema or meta_schema
            stem = path.name.split(".")[0]
            tar, folder = path.with_name(f"{stem}.tar"), path.with_name(stem)
            extra = {"tar": str(tar) if tar.is_file() else None, "folder": str(folder) if folder.is_dir() else None,
                     "schema": _schema_b64(meta_schema), "base": str(source.resolve())}  # fmt: skip
            for a, b in _row_ranges(options.rows_per_shard, n):
                shards.append(Shard(index=len(shards), kind=self.kind, uri=str(path.resolve()), start=a, stop=b,
                                    first_row=row + a, rows=b - a, extra=extra))  # fmt: skip
            row += n
        if not shards:
            raise InvalidInput(f"empty input: no rows in the img2dataset folder {source}")
        return Draft(shards=shards, warnings=warnings)

    def read(self, shard: Shard, options: SourceOptions) -> Iterator[Record]:
        members = _tar_index(Path(shard.extra["tar"])) if shard.extra.get("tar") else {}
        folder = Path(shard.extra["folder"]) if shard.extra.get("folder") else None
        base = Path(shard.extra["base"])
        rows = _parquet_rows(Path(shard.uri), shard.start, shard.stop)
        with _open_tar(shard.extra.get("tar")) as tar_fh:
            for row, values in enumerate(rows, start=shard.first_row):
                images = {k: values.pop(k) for k in list(values) if isinstance(values[k], bytes | bytearray)}
                meta = {k: v for k, v in values.items() if k != options.path_column}
                record = make_record(row, meta, options, base=base, raw=dict(values))
                key = str(values.get("key") or "")
                record.label = key or None
                data = next((bytes(v) for v in images.values() if v), None)
                if data is None and key:
                    data = _member_bytes(tar_fh, members, key) if tar_fh else None
                    if data is None and folder is not None:
                        record.path = next((str(p) for e in _IMAGE_EXTS if (p := folder / f"{key}.{e}").is_file()),
                                           None)  # fmt: skip
                record.data = data
                if record.error and record.error.startswith("row has neither") and (data or record.path):
                    record.error = None
                yield record

    def part_writer(self, shard: Shard, paths: AuditPaths, meta: Mapping[str, Any]) -> PartWriter:
        return ArrowPartWriter(shard, paths, _schema_from(shard.extra["schema"]), suffix=self.suffix, stream=False)

    def merge(self, parts: Sequence[tuple[Shard, Path]], dest: Path, meta: Mapping[str, Any]) -> None:
        _merge_parquet([p for _, p in parts], dest)


class _NoTar:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _open_tar(path: str | None) -> Any:
    return open(path, "rb") if path else _NoTar()


def _tar_index(path: Path) -> dict[str, tuple[int, int]]:
    """``key`` → (offset, size) of each sample's image member, from the tar headers alone."""
    out: dict[str, tuple[int, int]] = {}
    with tarfile.open(path, "r:") as tar:
        for member in tar:
            if not member.isfile():
                continue
            key, _, ext = member.name.rpartition("/")[2].partition(".")
            if ext.lower() in _IMAGE_EXTS and key not in out:
                out[key] = (member.offset_data, member.size)
    return out


def _member_bytes(fh: Any, members: Mapping[str, tuple[int, int]], key: str) -> bytes | None:
    found = members.get(key)
    if found is None:
        return None
    fh.seek(found[0])
    data: bytes = fh.read(found[1])
    return data


# --- Hugging Face datasets saved on disk -----------------------------------------------------------------


def is_hf_dataset(folder: Path) -> bool:
    return (folder / "dataset_dict.json").is_file() or (
        (folder / "state.json").is_file() and (folder / "dataset_info.json").is_file()
    )


def _hf_splits(source: Path) -> list[tuple[str | None, Path]]:
    if (source / "dataset_dict.json").is_file():
        try:
            splits = json.loads((source / "dataset_dict.json").read_text(encoding="utf-8"))["splits"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(f"{source}/dataset_dict.json is not a datasets DatasetDict file: {exc}") from exc
        return [(str(s), source / str(s)) for s in splits]
    return [(None, source)]


def _hf_files(folder: Path) -> list[Path]:
    try:
        state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
        return [folder / f["filename"] for f in state["_data_files"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(f"{folder}/state.json is not a datasets save_to_disk state file: {exc}") from exc


def _stream_rows(path: Path) -> int:
    with pa.memory_map(str(path)) as source:
        return sum(batch.num_rows for batch in pa.ipc.open_stream(source))


class HuggingFaceFormat:
    """A ``datasets`` Dataset or DatasetDict saved with ``save_to_disk`` (Arrow IPC streams), read with pyarrow.

    Image features (``{"bytes", "path"}``) in the path column are read from their bytes.
    """

    kind = "hf"
    suffix = ".arrow"

    def signature(self, source: Path) -> dict[str, Any]:
        return _stat_signature([f for _, folder in _hf_splits(source) for f in _hf_files(folder)])

    def plan(self, source: Path, options: SourceOptions, paths: AuditPaths) -> Draft:
        shards: list[Shard] = []
        row = 0
        splits = _hf_splits(source)
        for split, folder in splits:
            for path in _hf_files(folder):
                try:
                    with pa.memory_map(str(path)) as fh:
                        schema = pa.ipc.open_stream(fh).schema
                    n = _stream_rows(path)
                except (OSError, pa.ArrowException) as exc:
                    raise InvalidInput(f"{path}: not a readable Arrow stream ({exc})", source=str(path)) from exc
                if options.url_column not in schema.names and options.path_column not in schema.names:
                    raise column_error(str(path), options, schema.names)
                extra = {"split": split, "folder": str(folder.resolve()), "schema": _schema_b64(schema)}
                for a, b in _row_ranges(options.rows_per_shard, n):
                    shards.append(Shard(index=len(shards), kind=self.kind, uri=str(path.resolve()), start=a, stop=b,
                                        first_row=row + a, rows=b - a, extra=extra))  # fmt: skip
                row += n
        if not shards:
            raise InvalidInput(f"empty input: the dataset at {source} has no rows")
        return Draft(shards=shards, meta={"splits": [s for s, _ in splits]})

    def read(self, shard: Shard, options: SourceOptions) -> Iterator[Record]:
        base = Path(shard.extra["folder"])
        row = 0
        with pa.memory_map(shard.uri) as source:
            for batch in pa.ipc.open_stream(source):
                if row + batch.num_rows <= shard.start:
                    row += batch.num_rows
                    continue
                for values in batch.to_pylist():
                    if shard.start <= row < shard.stop:
                        yield make_record(shard.first_row + row - shard.start, values, options, base=base, raw=values)
                    row += 1
                if row >= shard.stop:
                    return

    def part_writer(self, shard: Shard, paths: AuditPaths, meta: Mapping[str, Any]) -> PartWriter:
        return ArrowPartWriter(shard, paths, _schema_from(shard.extra["schema"]), suffix=self.suffix, stream=True)

    def merge(self, parts: Sequence[tuple[Shard, Path]], dest: Path, meta: Mapping[str, Any]) -> None:
        """``dest`` becomes a save_to_disk folder (a DatasetDict when the input was one)."""
        tmp = dest.with_name(f".{dest.name}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            by_split: dict[str | None, list[tuple[Shard, Path]]] = {}
            for shard, part in parts:
                by_split.setdefault(shard.extra.get("split"), []).append((shard, part))
            splits: list[str | None] = list(meta.get("splits") or [None])
            for split in splits:
                folder = tmp / split if split else tmp
                _write_hf_split(by_split.get(split, []), folder)
            if splits != [None]:
                (tmp / "dataset_dict.json").write_text(json.dumps({"splits": splits}), encoding="utf-8")
            shutil.rmtree(dest, ignore_errors=True)
            os.replace(tmp, dest)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise output_error(dest, exc) from exc


def _write_hf_split(parts: Sequence[tuple[Shard, Path]], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    data_file = "data-00000-of-00001.arrow"
    schema = _schema_from(parts[0][0].extra["schema"]) if parts else pa.schema([])
    with pa.ipc.new_stream(str(folder / data_file), schema) as writer:
        for _, part in parts:
            with pa.memory_map(str(part)) as source:
                for batch in pa.ipc.open_stream(source):
                    writer.write_batch(batch)
    if parts:
        original = Path(parts[0][0].extra["folder"])
        info = json.loads((original / "dataset_info.json").read_text(encoding="utf-8"))
        for key in ("splits", "download_checksums", "download_size", "dataset_size", "size_in_bytes"):
            info.pop(key, None)
        state = json.loads((original / "state.json").read_text(encoding="utf-8"))
    else:
        info, state = {}, {}
    state.update({"_data_files": [{"filename": data_file}], "_fingerprint": os.urandom(8).hex(), "_indices_data_files":
                  None})  # fmt: skip
    state = {k: v for k, v in state.items() if v is not None or k != "_indices_data_files"}
    (folder / "dataset_info.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
    (folder / "state.json").write_text(json.dumps(state, indent=2), encoding="utf-8")
