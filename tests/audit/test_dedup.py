"""Duplicates across shards: found in input order, whatever order shards finish in, and resumable."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pyarrow.parquet as pq
from hypothesis import given
from hypothesis import strategies as st

from rightful.audit import LocalExecutor
from rightful.audit.dedup import item_key, normalise_url
from rightful.config import Settings
from rightful.testing.publisher import Publisher
from tests.audit.audit_helpers import image_files, results, run_audit, write_csv


def _rows(origin: str) -> list[list[str]]:
    """Six rows in three shards of two: rows 3 and 4 repeat rows 0 and 1 (the latter spelt differently)."""
    a, b = f"{origin}/p/a.html", f"{origin}/p/b.html"
    loud_b = b.replace("http://127.0.0.1", "HTTP://127.0.0.1") + "#top"
    return [[a], [b], [f"{origin}/p/c.html"], [a], [loud_b], [f"{origin}/p/d.html"]]


def test_repeats_in_other_shards_are_flagged_in_input_order(
    tmp_path: Path, demo_publisher: Publisher, local_executor: LocalExecutor, settings: Settings
) -> None:
    """A URL repeated two shards later (or spelt with another case, a fragment) is flagged as a duplicate; the
    first occurrence never is, and the totals count each repeat once."""
    src = write_csv(tmp_path / "in.csv", ["url"], _rows(demo_publisher.origins[0]))
    result = run_audit(src, tmp_path / "out", local_executor, settings, shard_size=2)
    assert [r["duplicate"] for r in results(tmp_path / "out")] == [False, False, False, True, True, False]
    assert result.totals.duplicates == 2
    marker = json.loads((tmp_path / "out" / "results" / "shard-000001.done.json").read_text())
    assert marker["duplicates"] == 1


def test_merge_is_redone_after_an_interruption_without_double_counting(
    tmp_path: Path, demo_publisher: Publisher, local_executor: LocalExecutor, settings: Settings
) -> None:
    """A merge cut off after flagging a result file but before fixing its marker (kill -9) is redone by the
    next run: the seen-set is rebuilt, the marker fixed, nothing counted twice."""
    src = write_csv(tmp_path / "in.csv", ["url"], _rows(demo_publisher.origins[0]))
    out = tmp_path / "out"
    run_audit(src, out, local_executor, settings, shard_size=2)
    marker_path = out / "results" / "shard-000001.done.json"
    marker = json.loads(marker_path.read_text())
    marker_path.write_text(json.dumps({**marker, "duplicates": 0}))  # the marker the kill left behind
    with sqlite3.connect(out / "work" / "seen.sqlite") as db:
        db.execute("DELETE FROM merged WHERE shard >= 1")
    again = run_audit(src, out, local_executor, settings, shard_size=2)
    assert (again.shards_run, again.totals.duplicates) == (0, 2)
    assert json.loads(marker_path.read_text())["duplicates"] == 1
    assert [r["duplicate"] for r in results(out)] == [False, False, False, True, True, False]


def test_lost_seen_set_is_rebuilt_from_the_results(
    tmp_path: Path, demo_publisher: Publisher, local_executor: LocalExecutor, settings: Settings
) -> None:
    """Deleting work/seen.sqlite loses nothing: the next run rebuilds it from the finished shards' results."""
    src = write_csv(tmp_path / "in.csv", ["url"], _rows(demo_publisher.origins[0]))
    out = tmp_path / "out"
    run_audit(src, out, local_executor, settings, shard_size=2)
    (out / "work" / "seen.sqlite").unlink()
    again = run_audit(src, out, local_executor, settings, shard_size=2)
    assert again.totals.duplicates == 2
    flags = [r for f in sorted((out / "results").glob("*.parquet")) for r in pq.read_table(f)["duplicate"].to_pylist()]
    assert flags == [False, False, False, True, True, False]


def test_same_file_listed_twice_is_a_duplicate(
    tmp_path: Path, local_executor: LocalExecutor, settings: Settings
) -> None:
    """Paths repeat across shards too (a manifest listing one file twice); malformed rows never count."""
    (tmp_path / "x.txt").write_text("hello")
    src = write_csv(tmp_path / "in.csv", ["path", "url"], [["x.txt", ""], ["", ""], ["x.txt", ""], ["", ""]])
    result = run_audit(src, tmp_path / "out", local_executor, settings, shard_size=1)
    assert [r["duplicate"] for r in results(tmp_path / "out")] == [False, False, True, False]
    assert (result.totals.duplicates, result.totals.malformed) == (1, 2)


def test_a_folder_audit_keeps_no_seen_set(tmp_path: Path, local_executor: LocalExecutor, settings: Settings) -> None:
    """A folder listing names each file once, so a folder audit skips the cross-shard merge (and its database)."""
    image_files(tmp_path / "in")
    result = run_audit(tmp_path / "in", tmp_path / "out", local_executor, settings, shard_size=2)
    assert result.shards_total > 1
    assert result.totals.duplicates == 0
    assert not any(r["duplicate"] for r in results(tmp_path / "out"))
    assert not (tmp_path / "out" / "work" / "seen.sqlite").exists()


def test_normalise_url_examples() -> None:
    """Scheme and host case, default ports, fragments and an empty path do not make another item."""
    assert normalise_url("HTTP://Example.COM:80#x") == "http://example.com/"
    assert normalise_url("https://a.example:443/P?q=1") == "https://a.example/P?q=1"
    assert normalise_url("https://a.example:8443/p") == "https://a.example:8443/p"
    assert normalise_url("http://u:p@[::1]:80/x") == "http://u:p@[::1]/x"
    assert normalise_url("not a url") == "not a url"
    assert normalise_url("http://bad:port/") == "http://bad:port/"
    assert item_key(None, None) is None
    assert item_key("http://A/x", "f") == item_key("http://a/x#y", "f")


_HOSTS = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,10}(\.[A-Za-z]{2,5}){0,2}", fullmatch=True)


@given(
    scheme=st.sampled_from(["http", "HTTP", "https", "Https"]),
    host=_HOSTS,
    port=st.one_of(st.none(), st.integers(1, 65535)),
    path=st.text(st.characters(codec="ascii", categories=["L", "N"], include_characters="/-._~%"), max_size=20),
    fragment=st.text(max_size=8),
)
def test_normalise_url_is_idempotent_and_ignores_case_and_fragment(
    scheme: str, host: str, port: int | None, path: str, fragment: str
) -> None:
    """Normalising twice changes nothing, and the host's case or a fragment never changes the key."""
    url = f"{scheme}://{host}{'' if port is None else f':{port}'}/{path}"
    once = normalise_url(url)
    assert normalise_url(once) == once
    assert normalise_url(url.replace(host, host.swapcase(), 1)) == once
    assert normalise_url(f"{url}#{fragment}") == once
