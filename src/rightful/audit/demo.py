"""``make demo``: build a small mixed corpus, run the real ``rightful audit`` command on it, show the report.

The corpus (a few hundred items) is one CSV whose rows are either URLs or local files:

- URLs on loopback websites served by :class:`~rightful.testing.publisher.Publisher`: the five story sites of
  the check demo plus 40 sites of the benchmark mix, so every kind of web signal occurs (robots.txt groups and
  ``Content-Usage``, an unreachable robots.txt, TDMRep files, headers and meta, ai.txt, X-Robots-Tag, IPTC
  metadata in served images);
- local images with reservations embedded in their metadata: IPTC ``plus:DataMining`` in XMP, written here,
  and real C2PA-signed files (``c2pa.training-mining`` / ``cawg.training-mining``) from the shared fixtures
  folder when it is present.

The audit runs as a subprocess, exactly as a user would type it; afterwards the demo checks a few verdicts it
knows the answer to (exit 1 if one differs, so ``make demo`` is also a smoke test) and prints where the report is.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from rightful.testing.publisher import Publisher
from rightful.testing.sites import (
    DEMO_PAGES,
    bench_sites,
    demo_sites,
    iter_bench_urls,
    jpeg_bytes,
    png_bytes,
    xmp_packet,
)

__all__ = ["build_corpus", "main"]

_BENCH_ORIGINS = 40
_BENCH_PAGES = 6
_SHARED = Path(os.environ.get("RIGHTFUL_SHARED", Path(__file__).resolve().parents[3].parent / "shared"))
#: Real C2PA-signed fixtures and the genai-training status each should get.
C2PA_FIXTURES = {
    "datadiligence_sample_c2pa.png": "reserved",  # c2pa.training-mining: notAllowed
    "C_with_CAWG_data.jpg": "reserved",  # cawg.training-mining: notAllowed
    "no_manifest.jpg": "unknown",
}
#: The genai-training status of each story page (DEMO_PAGES order).
STORY_STATUS = ("reserved", "reserved", "reserved", "allowed", "allowed", "allowed", "reserved", "reserved", "reserved")


def _local_images(folder: Path) -> dict[str, str]:
    """Images with embedded XMP (and C2PA fixtures when available); returns file name → expected status."""
    folder.mkdir(parents=True, exist_ok=True)
    kinds = [
        ("PROHIBITED-AIMLTRAINING", "reserved"),
        ("PROHIBITED-GENAIMLTRAINING", "reserved"),
        ("PROHIBITED-EXCEPTSEARCHENGINEINDEXING", "reserved"),
        ("ALLOWED", "allowed"),
        (None, "unknown"),
    ]
    expected: dict[str, str] = {}
    for i in range(60):
        code, status = kinds[i % len(kinds)]
        xmp = xmp_packet(data_mining=code) if code else None
        name = f"photo-{i:03d}.{'jpg' if i % 2 else 'png'}"
        data = jpeg_bytes(xmp=xmp, color=(i * 4 % 256, 90, 160)) if i % 2 else png_bytes(xmp=xmp)
        (folder / name).write_bytes(data)
        expected[name] = status
    c2pa = _SHARED / "fixtures" / "external" / "c2pa"
    for name, status in C2PA_FIXTURES.items():
        if (c2pa / name).is_file():
            shutil.copyfile(c2pa / name, folder / name)
            expected[name] = status
    return expected


def build_corpus(root: Path, publisher: Publisher, story: Publisher) -> dict[str, str]:
    """Write ``root/corpus.csv`` (and ``root/images/``); returns item → expected status for the checked items."""
    expected: dict[str, str] = {}
    rows: list[list[str]] = []
    for (site, path), status in zip(DEMO_PAGES, STORY_STATUS, strict=True):
        url = story.url(site, path)
        rows.append([url, "", f"story: {story.sites[site].name}"])
        expected[url] = status
    rows += [[u, "", "web"] for u in iter_bench_urls(publisher.origins, _BENCH_PAGES)]
    for name, status in _local_images(root / "images").items():
        rows.append(["", f"images/{name}", "local file"])
        expected[f"images/{name}"] = status
    with (root / "corpus.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["url", "path", "source"])
        writer.writerows(rows)
    return expected


def _audit(args: Sequence[str], *, home: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, RIGHTFUL_HOME=home)
    env.pop("RIGHTFUL_CONFIG", None)
    command = [sys.executable, "-m", "rightful", "audit", *args]
    print("$ rightful audit " + " ".join(args), flush=True)
    return subprocess.run(command, env=env, text=True, check=False, timeout=600)


def _compare(out: Path, expected: dict[str, str]) -> int:
    import pyarrow.parquet as pq

    got: dict[str, str] = {}
    for part in sorted((out / "results").glob("shard-*.parquet")):
        for row in pq.read_table(part, columns=["item", "path", "status"]).to_pylist():
            key = row["item"] if row["item"] in expected else (row["path"] or "")
            got[key] = row["status"]
    mismatches = [(k, v, got.get(k)) for k, v in expected.items() if got.get(k) != v]
    for item, want, have in mismatches:
        print(f"  !! {item}: expected {want}, got {have}", file=sys.stderr)
    return len(mismatches)


def main(root: Path | None = None) -> int:
    """Run the demo in ``root`` (default: a new folder under the temporary directory, kept for the user)."""
    root = root or Path(tempfile.mkdtemp(prefix="rightful-demo-"))
    home = str(root / "home")
    sites = bench_sites(_BENCH_ORIGINS, _BENCH_PAGES, seed=7)
    with Publisher(sites) as publisher, Publisher(demo_sites()) as story:
        expected = build_corpus(root, publisher, story)
        n = len((root / "corpus.csv").read_text(encoding="utf-8").splitlines()) - 1
        print(f"Demo corpus: {n} items in {root / 'corpus.csv'} ({len(sites) + len(story.sites)} loopback "
              f"sites, {len(list((root / 'images').iterdir()))} local images)\n")  # fmt: skip
        done = _audit([str(root / "corpus.csv"), "--out", str(root / "audit"), "--allow-private", "--shard-size",
                       "50", "--name", "rightful demo corpus"], home=home)  # fmt: skip
    if done.returncode != 0:
        print(f"rightful audit exited {done.returncode}", file=sys.stderr)
        return done.returncode
    mismatches = _compare(root / "audit", expected)
    info = json.loads((root / "audit" / "audit.json").read_text(encoding="utf-8"))
    print(f"\n{len(expected) - mismatches} of {len(expected)} known verdicts match "
          f"({info['totals']['exclude']} of {info['totals']['rows']} items excluded).")  # fmt: skip
    print(f"\nReport:           {(root / 'audit' / 'report.html').as_uri()}")
    print(f"Training summary: {root / 'audit' / 'training-summary.md'}")
    print(f"Kept / excluded:  {root / 'audit' / 'keep.csv'}  {root / 'audit' / 'exclude.csv'}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
