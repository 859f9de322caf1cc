"""Small dataset factories and result readers shared by the audit tests."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from rightful.audit import AuditOptions, AuditPolicy, AuditResult, SourceOptions, audit_dataset
from rightful.audit.executors import Executor
from rightful.config import Settings
from rightful.testing.sites import jpeg_bytes, png_bytes, xmp_packet

#: genai-training status of each demo page, in DEMO_PAGES order (rightful.testing.demo tells the stories).
DEMO_STATUS = ("reserved", "reserved", "reserved", "allowed", "allowed", "allowed", "reserved", "reserved", "reserved")


def run_audit(
    source: Path, out: Path, executor: Executor, settings: Settings, *, shard_size: int = 4, **options: Any
) -> AuditResult:
    source_options = SourceOptions(
        shard_size=shard_size,
        **{k: options.pop(k) for k in list(options) if k in ("url_column", "path_column", "encoding")},
    )
    policy = options.pop("policy", AuditPolicy())
    return audit_dataset(
        source,
        out,
        options=AuditOptions(policy=policy, source=source_options, **options),
        settings=settings,
        executor=executor,
    )


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]], *, delimiter: str = ",") -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, rows: Sequence[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def results(out: Path) -> list[dict[str, Any]]:
    """Every result row of an audit, sorted by input row."""
    rows = [r for f in sorted((out / "results").glob("shard-*.parquet")) for r in pq.read_table(f).to_pylist()]
    return sorted(rows, key=lambda r: r["row"])


def image_files(folder: Path) -> dict[str, str]:
    """A small folder of images with embedded reservations; returns name → expected genai-training status."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "a/reserved-ai.jpg": (jpeg_bytes(xmp=xmp_packet(data_mining="PROHIBITED-AIMLTRAINING")), "reserved"),
        "a/reserved-genai.png": (
            png_bytes(xmp=xmp_packet(data_mining="PROHIBITED-GENAIMLTRAINING", attributes=True)),
            "reserved",
        ),
        "b/allowed.jpg": (jpeg_bytes(xmp=xmp_packet(data_mining="ALLOWED")), "allowed"),
        "b/plain.png": (png_bytes(), "unknown"),
        "c/notes.txt": (b"just some text\n", "unknown"),
    }
    for name, (data, _) in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return {name: status for name, (_, status) in files.items()}


_DRIVER = """
import json, sys, threading
from rightful.audit import AuditOptions, LocalExecutor, SourceOptions, audit_dataset
from rightful.config import Settings

if __name__ == "__main__":
    src, out, start_method, shard_size, *flags = sys.argv[1:]
    stop = threading.Event()
    if "thread" in flags:  # another thread running in the driver
        threading.Thread(target=stop.wait, daemon=True).start()
    with LocalExecutor(workers=2, start_method=start_method) as executor:
        audit_dataset(src, out, settings=Settings.load(allow_private=True), executor=executor,
                      options=AuditOptions(source=SourceOptions(shard_size=int(shard_size))))
        print(json.dumps({"method": executor.method}))
    stop.set()
"""


def driver_command(folder: Path, src: Path, out: Path, *, start_method: str, shard_size: int,
                   thread: bool = False) -> list[str]:  # fmt: skip
    """A command auditing ``src`` into ``out`` in a driver process of its own, with a two-worker local pool (and
    another thread running in the driver with ``thread``); it prints how the workers started, as JSON."""
    script = folder / "driver.py"
    script.write_text(_DRIVER)
    return [sys.executable, str(script), str(src), str(out), start_method, str(shard_size),
            *(["thread"] if thread else [])]  # fmt: skip
