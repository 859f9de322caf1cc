"""Sources: detection, planning into shards and reading them back, and every bad input the issue names."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rightful.audit.shards import AuditPaths, SourceOptions
from rightful.audit.sources import SUPPORTED, detect, open_source
from rightful.errors import InvalidInput
from tests.audit.audit_helpers import write_csv, write_jsonl

_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"), max_size=12)


def _read_all(source: Path, tmp: Path, shard_size: int, **opts: str) -> list[tuple[int, str | None, str | None]]:
    _, fmt = open_source(source)
    paths = AuditPaths(tmp / "audit")
    paths.make()
    options = SourceOptions(shard_size=shard_size, **opts)
    draft = fmt.plan(source, options, paths)
    return [(r.row, r.url, r.error) for shard in draft.shards for r in fmt.read(shard, options)]


@pytest.mark.parametrize(
    ("name", "kind"),
    [("a.csv", "csv"), ("a.tsv", "tsv"), ("a.jsonl", "jsonl"), ("a.ndjson", "jsonl"), ("a.parquet", "parquet"),
     ("a.tar", "webdataset")],
)  # fmt: skip
def test_detects_file_kinds(tmp_path: Path, name: str, kind: str) -> None:
    """A file's kind comes from its extension."""
    (tmp_path / name).write_bytes(b"")
    assert detect(tmp_path / name) == kind


def test_detects_folder_kinds(tmp_path: Path) -> None:
    """Folders of tars, of Parquet, img2dataset output, HF datasets and plain files are told apart."""
    for sub, names in {"tars": ["0.tar", "1.tar"], "pq": ["a.parquet"], "i2d": ["00000.parquet", "00000.tar"],
                       "hf": ["state.json", "dataset_info.json"], "files": ["x.jpg", "y.tar"]}.items():  # fmt: skip
        (tmp_path / sub).mkdir()
        for n in names:
            (tmp_path / sub / n).write_bytes(b"")
    kinds = {sub: detect(tmp_path / sub) for sub in ("tars", "pq", "i2d", "hf", "files")}
    assert kinds == {"tars": "webdataset", "pq": "parquet", "i2d": "img2dataset", "hf": "hf", "files": "folder"}


@pytest.mark.parametrize("name", ["data.json", "data.xlsx", "README"])
def test_unsupported_file_names_what_is_supported(tmp_path: Path, name: str) -> None:
    """Anything else is a clear error that lists the supported inputs."""
    (tmp_path / name).write_text("{}")
    with pytest.raises(InvalidInput, match="Supported: a folder of files") as info:
        detect(tmp_path / name)
    assert SUPPORTED in str(info.value)


def test_missing_input(tmp_path: Path) -> None:
    """A path that does not exist says so."""
    with pytest.raises(InvalidInput, match="no such file or folder"):
        detect(tmp_path / "nope.csv")


def test_missing_column_suggests_the_close_one(tmp_path: Path) -> None:
    """A mistyped column is refused with the columns found and a guess (and the option to fix it)."""
    src = write_csv(tmp_path / "in.csv", ["URL", "caption"], [["http://a.example/", "x"]])
    with pytest.raises(InvalidInput, match=r"no 'url' or 'path' column .*Did you mean 'URL'.*--url-column"):
        _read_all(src, tmp_path, 10)
    assert _read_all(src, tmp_path, 10, url_column="URL") == [(0, "http://a.example/", None)]


def test_jsonl_without_the_column_is_refused(tmp_path: Path) -> None:
    """JSON Lines none of whose first records has the column is a usage error, not a run of malformed rows."""
    src = write_jsonl(tmp_path / "in.jsonl", [{"link": "http://a.example/"}] * 3)
    with pytest.raises(InvalidInput, match=r"columns: link"):
        _read_all(src, tmp_path, 10)


def test_parquet_missing_column(tmp_path: Path) -> None:
    """A Parquet file without the URL or path column names its columns."""
    pq.write_table(pa.table({"uri": ["x"]}), tmp_path / "a.parquet")
    with pytest.raises(InvalidInput, match="columns: uri"):
        _read_all(tmp_path / "a.parquet", tmp_path, 10)


@pytest.mark.parametrize(
    ("name", "content"), [("a.csv", b""), ("b.csv", b"url,caption\n"), ("c.jsonl", b"\n\n"), ("d", None)]
)
def test_empty_inputs(tmp_path: Path, name: str, content: bytes | None) -> None:
    """An empty CSV, a header-only CSV, a blank JSONL and an empty folder are each a clear 'empty input' error."""
    target = tmp_path / name
    if content is None:
        target.mkdir()
    else:
        target.write_bytes(content)
    with pytest.raises(InvalidInput, match="empty input"):
        _read_all(target, tmp_path, 10)


def test_non_utf8_csv_names_the_byte_and_the_fix(tmp_path: Path) -> None:
    """A Latin-1 CSV read as UTF-8 fails at planning with the offset and the --encoding hint; latin-1 reads it."""
    src = tmp_path / "in.csv"
    src.write_bytes("url,caption\nhttp://a.example/,café\n".encode("latin-1"))
    with pytest.raises(InvalidInput, match=r"not valid utf-8: byte 0xe9 at offset 33.*--encoding"):
        _read_all(src, tmp_path, 10)
    assert _read_all(src, tmp_path, 10, encoding="latin-1") == [(0, "http://a.example/", None)]


def test_malformed_jsonl_lines_are_counted_not_fatal(tmp_path: Path) -> None:
    """Bad JSON, non-objects, wrong types and rows without url/path become malformed records; the rest reads."""
    src = tmp_path / "in.jsonl"
    src.write_bytes(b'{"url": "http://a.example/1"}\n{broken\n[1, 2]\n{"url": 5}\n{"other": 1}\n\xff\xfe\n'
                    b'{"url": "http://a.example/2"}')  # fmt: skip
    rows = _read_all(src, tmp_path, 3)
    assert [r[0] for r in rows] == list(range(7))
    assert [r[1] for r in rows if r[2] is None] == ["http://a.example/1", "http://a.example/2"]
    errors = [r[2] for r in rows if r[2]]
    assert [e.split(":")[0] for e in errors] == ["malformed JSON", "line is a JSON list, not an object",
                                                 "url is int, not text", "row has neither 'url' nor 'path'",
                                                 "line is not valid UTF-8"]  # fmt: skip


def test_csv_rows_with_wrong_field_counts(tmp_path: Path) -> None:
    """A CSV row with too many or too few fields is a malformed record; its neighbours are read."""
    src = tmp_path / "in.csv"
    src.write_text(
        "url,n\nhttp://a.example/1,1\nhttp://a.example/2\nhttp://a.example/3,3,extra\nhttp://a.example/4,4\n"
    )
    rows = _read_all(src, tmp_path, 2)
    assert [(r[1], r[2]) for r in rows] == [
        ("http://a.example/1", None),
        (None, "row has 1 fields, header has 2"),
        (None, "row has 3 fields, header has 2"),
        ("http://a.example/4", None),
    ]


def test_malformed_parquet_in_a_folder_is_reported_and_skipped(tmp_path: Path) -> None:
    """One corrupt Parquet file among good ones becomes a warning; a lone corrupt file is an error."""
    folder = tmp_path / "pq"
    folder.mkdir()
    pq.write_table(pa.table({"url": ["http://a.example/"]}), folder / "a.parquet")
    (folder / "b.parquet").write_bytes(b"PAR1 not really")
    _, fmt = open_source(folder)
    draft = fmt.plan(folder, SourceOptions(), AuditPaths(tmp_path / "o"))
    assert len(draft.shards) == 1
    assert draft.warnings[0].startswith("malformed-parquet:")
    with pytest.raises(InvalidInput, match="not a readable Parquet file"):
        _read_all(folder / "b.parquet", tmp_path, 10)


def test_overlong_jsonl_line_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A line longer than the cap is one malformed record, never loaded whole; reading resumes after it."""
    from rightful.audit import sources

    monkeypatch.setattr(sources, "MAX_LINE", 64)
    src = tmp_path / "in.jsonl"
    src.write_text(
        json.dumps({"url": "http://a.example/" + "x" * 500}) + "\n" + json.dumps({"url": "http://b/"}) + "\n"
    )
    rows = _read_all(src, tmp_path, 10)
    assert rows == [(0, None, "line longer than 64 bytes"), (1, "http://b/", None)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cells=st.lists(st.tuples(_TEXT, _TEXT), min_size=1, max_size=25), shard_size=st.integers(1, 7))
def test_csv_shards_cover_every_row_once(tmp_path_factory: pytest.TempPathFactory, cells: list[tuple[str, str]],
                                         shard_size: int) -> None:  # fmt: skip
    """Whatever the field contents (quotes, commas, newlines), the shards read back every row once, in order."""
    tmp = tmp_path_factory.mktemp("csv")
    rows = [[f"http://h.example/{i}", a, b] for i, (a, b) in enumerate(cells)]
    src = write_csv(tmp / "in.csv", ["url", "a", "b"], rows)
    got = _read_all(src, tmp, shard_size)
    assert [(r[0], r[1]) for r in got] == [(i, row[0]) for i, row in enumerate(rows)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.one_of(_TEXT, st.just("")), min_size=1, max_size=25), shard_size=st.integers(1, 7))
def test_jsonl_shards_cover_every_line_once(tmp_path_factory: pytest.TempPathFactory, lines: list[str],
                                            shard_size: int) -> None:  # fmt: skip
    """Arbitrary lines (valid or not, blank ones skipped) are each read once, numbered in order."""
    tmp = tmp_path_factory.mktemp("jsonl")
    body = "".join((json.dumps({"url": f"http://h/{i}", "t": t}) if i % 3 else t.replace("\n", " ")) + "\n"
                   for i, t in enumerate(lines))  # fmt: skip
    (tmp / "in.jsonl").write_text('{"url": "http://h/first"}\n' + body, encoding="utf-8")
    expected = 1 + sum(1 for line in body.split("\n") if line.strip(" \t\n\r\x0b\x0c"))
    got = _read_all(tmp / "in.jsonl", tmp, shard_size)
    assert [r[0] for r in got] == list(range(expected))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(1, 40), group=st.integers(1, 9), shard_size=st.integers(1, 11))
def test_parquet_row_ranges_cover_every_row_once(
    tmp_path_factory: pytest.TempPathFactory, n: int, group: int, shard_size: int
) -> None:
    """Shards over a Parquet file read every row once, whatever the row-group and shard sizes."""
    tmp = tmp_path_factory.mktemp("pq")
    pq.write_table(pa.table({"url": [f"http://h/{i}" for i in range(n)]}), tmp / "a.parquet", row_group_size=group)
    got = _read_all(tmp / "a.parquet", tmp, shard_size)
    assert [(r[0], r[1]) for r in got] == [(i, f"http://h/{i}") for i in range(n)]
