"""A folder of files as a dataset: listed once, recursively, into ``work/files.txt``; shards are byte ranges of it.

Keep/exclude outputs are ``keep.txt`` / ``exclude.txt`` with the files' paths relative to the folder (ready for
``rsync --files-from`` or ``tar -T``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from rightful.audit.shards import AuditPaths, Record, Shard, SourceOptions, byte_range_shards, output_error
from rightful.audit.sources import Draft, LinePartWriter, PartWriter, concat_parts, line_offsets
from rightful.errors import InvalidInput

__all__ = ["FolderFormat"]


class FolderFormat:
    """A folder of files, listed recursively (hidden files and XMP sidecars of listed files skipped).

    The listing is written once to ``work/files.txt`` (relative paths, one per line); shards are byte ranges
    of that listing. Keep/exclude outputs are ``keep.txt`` / ``exclude.txt`` with the same relative paths
    (ready for ``rsync --files-from`` or ``tar -T``).
    """

    kind = "folder"
    suffix = ".txt"

    def signature(self, source: Path) -> dict[str, Any]:
        return {"root": str(source.resolve())}

    def plan(self, source: Path, options: SourceOptions, paths: AuditPaths) -> Draft:
        listing = paths.work / "files.txt"
        warnings: list[str] = []
        tmp = listing.with_name(".files.txt.tmp")
        try:
            with tmp.open("wb") as out:
                for rel in _walk(source, warnings):
                    out.write(os.fsencode(rel) + b"\n")
            os.replace(tmp, listing)
        except OSError as exc:
            raise output_error(listing, exc) from exc
        size = options.rows_per_shard
        offsets, count, end = line_offsets(listing, size)
        if count == 0:
            raise InvalidInput(f"empty input: {source} holds no files", source=str(source))
        shards = byte_range_shards(self.kind, str(listing), offsets, end, count=count, size=size,
                                   extra={"root": str(source.resolve())})  # fmt: skip
        return Draft(shards=shards, meta={"root": str(source.resolve())}, warnings=warnings)

    def read(self, shard: Shard, options: SourceOptions) -> Iterator[Record]:
        root = Path(shard.extra["root"])
        with Path(shard.uri).open("rb") as fh:
            fh.seek(shard.start)
            row = shard.first_row
            while fh.tell() < shard.stop:
                line = fh.readline().rstrip(b"\n")
                if not line:
                    continue
                rel = os.fsdecode(line)
                yield Record(row=row, path=str(root / rel), label=rel, raw=line + b"\n")
                row += 1

    def part_writer(self, shard: Shard, paths: AuditPaths, meta: Mapping[str, Any]) -> PartWriter:
        return LinePartWriter(shard, paths, self.suffix, lambda r: r.raw if isinstance(r.raw, bytes) else None)

    def merge(self, parts: Sequence[tuple[Shard, Path]], dest: Path, meta: Mapping[str, Any]) -> None:
        concat_parts([p for _, p in parts], dest)


def _walk(root: Path, warnings: list[str]) -> Iterator[str]:
    """Relative paths of the files under ``root``, sorted, depth first; directory symlinks are not followed."""
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            warnings.append(f"cannot list {folder}: {exc.strerror or exc}")
            continue
        names = {e.name for e in entries}
        prefix = "" if folder == root else os.path.relpath(folder, root) + os.sep  # once per folder, not per file
        subdirs = []
        for entry in entries:
            if entry.name.startswith(".") or "\n" in entry.name:
                continue
            if entry.is_dir(follow_symlinks=False):
                subdirs.append(Path(entry.path))
            elif entry.name.lower().endswith(".xmp") and _is_sidecar(entry.name, names):
                continue  # read together with the file it describes
            elif entry.is_file():
                yield prefix + entry.name
        stack.extend(reversed(subdirs))


def _is_sidecar(name: str, names: set[str]) -> bool:
    stem = name[:-4]
    return stem in names or any(n.rsplit(".", 1)[0] == stem for n in names if n != name)
