"""End to end, per input kind: every row screened once, keep/exclude written back in the input's own format."""

from __future__ import annotations

import csv
import io
import json
import tarfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rightful.audit import LocalExecutor
from rightful.config import Settings
from rightful.testing.sites import jpeg_bytes, png_bytes, xmp_packet
from tests.audit.audit_helpers import DEMO_STATUS, image_files, results, run_audit, write_csv, write_jsonl


def test_csv_of_urls(tmp_path: Path, demo_urls: list[str], local_executor: LocalExecutor, settings: Settings) -> None:
    """A CSV of URLs: reserved rows go to exclude.csv, the rest to keep.csv, with every column carried."""
    src = write_csv(tmp_path / "in.csv", ["caption", "url", "n"], [[f"c,{i}", u, i] for i, u in enumerate(demo_urls)])
    out = tmp_path / "out"
    result = run_audit(src, out, local_executor, settings, shard_size=4)
    rows = results(out)
    assert [r["status"] for r in rows] == list(DEMO_STATUS)
    assert result.totals.rows == 9
    assert result.totals.exclude == DEMO_STATUS.count("reserved")
    keep = list(csv.reader((out / "keep.csv").read_text(encoding="utf-8").splitlines()))
    exclude = list(csv.reader((out / "exclude.csv").read_text(encoding="utf-8").splitlines()))
    assert keep[0] == exclude[0] == ["caption", "url", "n"]
    assert [r[1] for r in keep[1:]] == [u for u, s in zip(demo_urls, DEMO_STATUS, strict=True) if s != "reserved"]
    assert keep[1][0] == "c,3"
    assert json.loads(rows[3]["carried"]) == {"caption": "c,3", "n": "3"}
    assert all(r["reasons"] and r["exclusion_protocols"] for r in rows if r["decision"] == "exclude")


def test_tsv_keeps_its_dialect(
    tmp_path: Path, demo_urls: list[str], local_executor: LocalExecutor, settings: Settings
) -> None:
    """A TSV input gives keep.tsv / exclude.tsv, tab-separated."""
    src = write_csv(tmp_path / "in.tsv", ["url", "note"], [[u, "x"] for u in demo_urls[:4]], delimiter="\t")
    run_audit(src, tmp_path / "out", local_executor, settings)
    assert (tmp_path / "out" / "keep.tsv").read_text().splitlines() == ["url\tnote", f"{demo_urls[3]}\tx"]


def test_jsonl_lines_are_written_back_verbatim(
    tmp_path: Path, demo_urls: list[str], local_executor: LocalExecutor, settings: Settings
) -> None:
    """JSON Lines: the kept lines are the input's own bytes, in input order."""
    lines = [{"url": u, "meta": {"i": i}} for i, u in enumerate(demo_urls)]
    src = write_jsonl(tmp_path / "in.jsonl", lines)
    run_audit(src, tmp_path / "out", local_executor, settings, shard_size=2)
    kept = (tmp_path / "out" / "keep.jsonl").read_text().splitlines()
    assert kept == [json.dumps(x) for x, s in zip(lines, DEMO_STATUS, strict=True) if s != "reserved"]


def test_parquet_keeps_schema(
    tmp_path: Path, demo_urls: list[str], local_executor: LocalExecutor, settings: Settings
) -> None:
    """A Parquet input (several row groups) gives Parquet outputs with the same schema and rows."""
    table = pa.table({"url": demo_urls, "width": list(range(9)), "tags": [["a", str(i)] for i in range(9)]})
    pq.write_table(table, tmp_path / "in.parquet", row_group_size=2)
    run_audit(tmp_path / "in.parquet", tmp_path / "out", local_executor, settings, shard_size=3)
    keep = pq.read_table(tmp_path / "out" / "keep.parquet")
    assert keep.schema.equals(table.schema)
    assert keep.column("width").to_pylist() == [i for i, s in enumerate(DEMO_STATUS) if s != "reserved"]


def test_folder_of_images(tmp_path: Path, local_executor: LocalExecutor, settings: Settings) -> None:
    """A folder: embedded IPTC reservations exclude; keep.txt lists the rest by relative path."""
    expected = image_files(tmp_path / "data")
    (tmp_path / "data" / ".hidden.jpg").write_bytes(jpeg_bytes())
    run_audit(tmp_path / "data", tmp_path / "out", local_executor, settings, shard_size=2)
    rows = results(tmp_path / "out")
    assert {r["item"]: r["status"] for r in rows} == expected
    kept = (tmp_path / "out" / "keep.txt").read_text().splitlines()
    assert sorted(kept) == sorted(n for n, s in expected.items() if s != "reserved")


def test_folder_reads_xmp_sidecars(tmp_path: Path, local_executor: LocalExecutor, settings: Settings) -> None:
    """An XMP sidecar is read with its image and not listed as an item of its own."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "photo.jpg").write_bytes(jpeg_bytes())
    (data / "photo.xmp").write_bytes(xmp_packet(data_mining="PROHIBITED-AIMLTRAINING"))
    run_audit(data, tmp_path / "out", local_executor, settings)
    assert [(r["item"], r["status"]) for r in results(tmp_path / "out")] == [("photo.jpg", "reserved")]


def _webdataset(path: Path, samples: list[tuple[str, bytes, dict[str, object] | None]]) -> Path:
    with tarfile.open(path, "w") as tar:
        for key, image, meta in samples:
            for name, data in ((f"{key}.jpg", image), (f"{key}.json", json.dumps(meta).encode() if meta else None)):
                if data is None:
                    continue
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path


def test_webdataset_tar(tmp_path: Path, local_executor: LocalExecutor, settings: Settings) -> None:
    """WebDataset samples: the media member's metadata decides; whole samples are copied to keep/exclude tars."""
    reserved = jpeg_bytes(xmp=xmp_packet(data_mining="PROHIBITED-GENAIMLTRAINING"))
    samples = [("s/000", reserved, {"caption": "no"}), ("s/001", jpeg_bytes(), {"caption": "yes"})]
    src = _webdataset(tmp_path / "shard-0.tar", [*samples, ("s/002", jpeg_bytes(), None)])
    run_audit(src, tmp_path / "out", local_executor, settings, shard_size=2)
    with tarfile.open(tmp_path / "out" / "keep.tar") as tar:
        assert tar.getnames() == ["s/001.jpg", "s/001.json", "s/002.jpg"]
        assert tar.extractfile("s/001.jpg").read() == jpeg_bytes()  # type: ignore[union-attr]
    with tarfile.open(tmp_path / "out" / "exclude.tar") as tar:
        assert tar.getnames() == ["s/000.jpg", "s/000.json"]
        assert tar.extractfile("s/000.jpg").read() == reserved  # type: ignore[union-attr]


def test_img2dataset_folder(
    tmp_path: Path, demo_urls: list[str], local_executor: LocalExecutor, settings: Settings
) -> None:
    """img2dataset output: the URL and the downloaded image decide together; keep.parquet re-feeds img2dataset."""
    folder = tmp_path / "i2d"
    folder.mkdir()
    open_url = demo_urls[4]  # allowed online
    keys = ["000000000", "000000001", "000000002"]
    images = [jpeg_bytes(xmp=xmp_packet(data_mining="PROHIBITED-AIMLTRAINING")), jpeg_bytes(), None]
    pq.write_table(
        pa.table(
            {
                "url": [open_url, open_url, demo_urls[0]],
                "caption": ["a", "b", "c"],
                "key": keys,
                "status": ["success", "success", "failed_to_download"],
            }
        ),
        folder / "00000.parquet",
    )
    _webdataset(
        folder / "00000.tar",
        [(k, img, {"url": open_url, "key": k}) for k, img in zip(keys, images, strict=False) if img],
    )
    (folder / "00000_stats.json").write_text("{}")
    run_audit(folder, tmp_path / "out", local_executor, settings)
    rows = results(tmp_path / "out")
    assert [(r["kind"], r["status"]) for r in rows] == [("url+file", "reserved"), ("url+file", "allowed"),
                                                        ("url", "reserved")]  # fmt: skip
    assert "iptc" in rows[0]["exclusion_protocols"]
    keep = pq.read_table(tmp_path / "out" / "keep.parquet")
    assert keep.column("key").to_pylist() == ["000000001"]
    assert "url" in keep.column_names


def _hf_dataset(folder: Path, table: pa.Table) -> Path:
    """A dataset folder in the layout datasets.Dataset.save_to_disk writes (Arrow stream + state + info)."""
    folder.mkdir(parents=True)
    with pa.ipc.new_stream(folder / "data-00000-of-00001.arrow", table.schema) as writer:
        for batch in table.to_batches(max_chunksize=2):
            writer.write_batch(batch)
    (folder / "state.json").write_text(
        json.dumps(
            {
                "_data_files": [{"filename": "data-00000-of-00001.arrow"}],
                "_fingerprint": "x",
                "_format_type": None,
                "_split": None,
            }
        )
    )
    (folder / "dataset_info.json").write_text(json.dumps({"features": {}, "description": ""}))
    return folder


def test_hf_dataset_with_image_bytes(tmp_path: Path, local_executor: LocalExecutor, settings: Settings) -> None:
    """A saved HF dataset whose image column holds bytes: keep.hf/ is again a save_to_disk folder."""
    image = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    blobs = [jpeg_bytes(xmp=xmp_packet(data_mining="PROHIBITED-AIMLTRAINING")), png_bytes(), png_bytes()]
    table = pa.table({"image": pa.array([{"bytes": b, "path": f"{i}.img"} for i, b in enumerate(blobs)], image),
                      "text": ["x", "y", "z"]})  # fmt: skip
    src = _hf_dataset(tmp_path / "ds", table)
    run_audit(src, tmp_path / "out", local_executor, settings, shard_size=2, path_column="image")
    keep = tmp_path / "out" / "keep.hf"
    assert json.loads((keep / "state.json").read_text())["_data_files"] == [{"filename": "data-00000-of-00001.arrow"}]
    with pa.memory_map(str(keep / "data-00000-of-00001.arrow")) as fh:
        kept = pa.ipc.open_stream(fh).read_all()
    assert kept.column("text").to_pylist() == ["y", "z"]
    assert kept.schema.equals(table.schema)


def test_hf_dataset_loads_with_datasets(tmp_path: Path, local_executor: LocalExecutor, settings: Settings) -> None:
    """A DatasetDict written by the real `datasets` library is read, and keep.hf loads back with load_from_disk."""
    datasets = pytest.importorskip("datasets")
    dd = datasets.DatasetDict({
        "train": datasets.Dataset.from_dict({"path": ["a.jpg", "b.jpg"], "n": [1, 2]}),
        "test": datasets.Dataset.from_dict({"path": ["c.jpg"], "n": [3]}),
    })  # fmt: skip
    dd.save_to_disk(str(tmp_path / "dd"))
    for name, data in (("a.jpg", jpeg_bytes(xmp=xmp_packet(data_mining="PROHIBITED"))), ("b.jpg", jpeg_bytes()),
                       ("c.jpg", jpeg_bytes())):  # fmt: skip
        (tmp_path / "dd" / "train" / name).write_bytes(data)
        (tmp_path / "dd" / "test" / name).write_bytes(data)
    run_audit(tmp_path / "dd", tmp_path / "out", local_executor, settings)
    kept = datasets.load_from_disk(str(tmp_path / "out" / "keep.hf"))
    assert kept["train"]["n"] == [2]
    assert kept["test"]["n"] == [3]
