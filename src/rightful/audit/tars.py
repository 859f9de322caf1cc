"""WebDataset tar shards: samples are consecutive members sharing a key (``dir/0001.jpg``, ``dir/0001.json``).

A sample's media member is read (capped) for embedded metadata; its ``.json`` sidecar, when present, gives the
URL (``--url-column``, default ``url``) and the carried fields. Keep/exclude outputs are tars holding the kept
and excluded samples whole, every member copied byte for byte from the input.
"""

from __future__ import annotations

import contextlib
import json
import os
import tarfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from rightful.audit.shards import AuditPaths, Record, Shard, SourceOptions, output_error
from rightful.audit.sources import Draft, PartWriter
from rightful.errors import InvalidInput

__all__ = ["WebDatasetFormat", "iter_samples"]

MEDIA_EXTS = frozenset({
    "jpg", "jpeg", "png", "webp", "gif", "tif", "tiff", "avif", "heic", "pdf", "epub", "html", "htm", "mp4", "mov",
    "webm", "mp3", "wav", "flac", "ogg", "svg",
})  # fmt: skip
MAX_MEMBER = 64 * 1024 * 1024
_SIDECAR_MAX = 1024 * 1024

#: ``(name, size, offset of the data, mode, mtime)`` of one member, enough to copy it without holding it.
Member = tuple[str, int, int, int, int]


def _key(name: str) -> tuple[str, str]:
    """WebDataset's split: the key is everything before the first dot of the base name."""
    folder, _, base = name.rpartition("/")
    stem, _, ext = base.partition(".")
    return (f"{folder}/{stem}" if folder else stem), ext.lower()


def iter_samples(path: Path) -> Iterator[tuple[str, list[Member]]]:
    """``(key, members)`` for each sample, in tar order, from the headers alone."""
    try:
        tar = tarfile.open(path, "r:")  # noqa: SIM115 - entered just below, after the error mapping
    except (OSError, tarfile.TarError) as exc:
        raise InvalidInput(f"{path}: not a readable tar file ({exc})", source=str(path)) from exc
    with tar:
        key: str | None = None
        members: list[Member] = []
        try:
            for info in tar:
                if not info.isfile():
                    continue
                k, _ = _key(info.name)
                if k != key and members:
                    yield key or "", members
                    members = []
                key = k
                members.append((info.name, info.size, info.offset_data, info.mode, int(info.mtime)))
        except tarfile.TarError as exc:
            raise InvalidInput(f"{path}: truncated or corrupt tar ({exc})", source=str(path)) from exc
        if members:
            yield key or "", members


class WebDatasetFormat:
    """A ``.tar`` file or a folder of them; shards are ranges of samples within one tar."""

    kind = "webdataset"
    suffix = ".tar"

    def _tars(self, source: Path) -> list[Path]:
        if source.is_file():
            return [source]
        return sorted(p for p in source.glob("*.tar") if not p.name.startswith("."))

    def signature(self, source: Path) -> dict[str, Any]:
        return {str(f): [f.stat().st_size, f.stat().st_mtime_ns] for f in self._tars(source)}

    def plan(self, source: Path, options: SourceOptions, paths: AuditPaths) -> Draft:
        shards: list[Shard] = []
        warnings: list[str] = []
        row = 0
        for tar in self._tars(source):
            try:
                count = sum(1 for _ in iter_samples(tar))
            except InvalidInput as exc:
                if source.is_file():
                    raise
                warnings.append(f"malformed-tar: {exc}")
                continue
            for a in range(0, count, options.rows_per_shard):
                b = min(a + options.rows_per_shard, count)
                shards.append(Shard(index=len(shards), kind=self.kind, uri=str(tar.resolve()), start=a, stop=b,
                                    first_row=row + a, rows=b - a))  # fmt: skip
            row += count
        if not shards:
            raise InvalidInput(
                f"empty input: no samples in {source}" + (f" ({'; '.join(warnings)})" if warnings else "")
            )
        return Draft(shards=shards, warnings=warnings)

    def read(self, shard: Shard, options: SourceOptions) -> Iterator[Record]:
        path = Path(shard.uri)
        with path.open("rb") as fh:
            for index, (key, members) in enumerate(iter_samples(path)):
                if index < shard.start:
                    continue
                if index >= shard.stop:
                    return
                yield _record(shard.first_row + index - shard.start, f"{path.name}/{key}", members, fh, options)

    def part_writer(self, shard: Shard, paths: AuditPaths, meta: Mapping[str, Any]) -> PartWriter:
        return TarPartWriter(shard, paths, self.suffix)

    def merge(self, parts: Sequence[tuple[Shard, Path]], dest: Path, meta: Mapping[str, Any]) -> None:
        tmp = dest.with_name(f".{dest.name}.tmp")
        try:
            with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as out:
                for _, part in parts:
                    with tarfile.open(part, "r:") as tar:
                        for info in tar:
                            out.addfile(info, tar.extractfile(info) if info.isfile() else None)
            os.replace(tmp, dest)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise output_error(dest, exc) from exc


def _record(row: int, label: str, members: list[Member], fh: IO[bytes], options: SourceOptions) -> Record:
    record = Record(row=row, label=label, raw=members)
    media = next((m for m in members if _key(m[0])[1].rsplit(".", 1)[-1] in MEDIA_EXTS), None)
    sidecar = next((m for m in members if _key(m[0])[1].endswith("json")), None)
    if sidecar is not None and sidecar[1] <= _SIDECAR_MAX:
        fh.seek(sidecar[2])
        try:
            meta = json.loads(fh.read(sidecar[1]))
        except ValueError as exc:
            record.error = f"malformed JSON sidecar {sidecar[0]}: {exc}"
            return record
        if isinstance(meta, dict):
            url = meta.get(options.url_column)
            record.url = url.strip() if isinstance(url, str) and url.strip() else None
            record.carried = {k: v for k, v in meta.items() if k != options.url_column}
    if media is not None:
        fh.seek(media[2])
        record.data = fh.read(min(media[1], MAX_MEMBER))
        record.truncated = media[1] > MAX_MEMBER
    if record.url is None and record.data is None:
        record.error = "sample has neither a media file nor a url in its .json"
    return record


class TarPartWriter:
    """Kept and excluded samples copied member by member from the shard's input tar."""

    def __init__(self, shard: Shard, paths: AuditPaths, suffix: str) -> None:
        self._source = open(shard.uri, "rb")  # noqa: SIM115 - closed in commit/abort
        self._final = {d: paths.part(shard, d, suffix) for d in ("keep", "exclude")}
        self._tmp = {d: p.with_name(f".{p.name}.{os.getpid()}.tmp") for d, p in self._final.items()}
        try:
            self._tars = {d: tarfile.open(p, "w", format=tarfile.PAX_FORMAT) for d, p in self._tmp.items()}  # noqa: SIM115
        except OSError as exc:
            raise output_error(self._tmp["keep"], exc) from exc

    def add(self, record: Record, *, keep: bool) -> None:
        if not isinstance(record.raw, list):
            return
        out = self._tars["keep" if keep else "exclude"]
        for name, size, offset, mode, mtime in record.raw:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = size, mode, mtime
            self._source.seek(offset)
            try:
                out.addfile(info, _Slice(self._source, size))
            except OSError as exc:
                raise output_error(self._tmp["keep"], exc) from exc

    def commit(self) -> None:
        self._source.close()
        for decision, tar in self._tars.items():
            try:
                tar.close()
                os.replace(self._tmp[decision], self._final[decision])
            except OSError as exc:
                self.abort()
                raise output_error(self._final[decision], exc) from exc

    def abort(self) -> None:
        self._source.close()
        for decision, tar in self._tars.items():
            with contextlib.suppress(OSError):
                tar.close()
            self._tmp[decision].unlink(missing_ok=True)


class _Slice:
    """A file object that reads at most ``size`` bytes from the current position of ``fh``."""

    def __init__(self, fh: IO[bytes], size: int) -> None:
        self._fh, self._left = fh, size

    def read(self, n: int = -1) -> bytes:
        n = self._left if n < 0 else min(n, self._left)
        data = self._fh.read(n)
        self._left -= len(data)
        return data
