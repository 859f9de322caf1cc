"""report.html: self-contained, and its charts and table render in real headless Chromium."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from rightful.audit import AuditResult, LocalExecutor
from rightful.config import Settings
from tests.audit.audit_helpers import image_files, run_audit, write_csv

CHARTS = ("chart-verdicts", "chart-protocols", "chart-domains", "chart-domain-share", "chart-coverage", "chart-errors")


@pytest.fixture
def audit(tmp_path: Path, demo_urls: list[str], local_executor: LocalExecutor, settings: Settings) -> AuditResult:
    images = image_files(tmp_path / "imgs")
    rows = [[u, ""] for u in demo_urls] + [["", str(tmp_path / "imgs" / name)] for name in images]
    src = write_csv(tmp_path / "in.csv", ["url", "path"], rows)
    return run_audit(src, tmp_path / "out", local_executor, settings, shard_size=5)


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("Chromium is not installed (Debian: apt-get install chromium): the report is not rendered")


def _dump_dom(url: str, profile: Path) -> str:
    command = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
               "--virtual-time-budget=3000", "--dump-dom", url]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_report_is_self_contained(audit: AuditResult) -> None:
    """No external resource: no http(s) src/href, no CDN, scripts and styles inline."""
    page = (audit.out / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "<script src" not in page
    assert "<link" not in page


@pytest.mark.browser
def test_report_renders_in_chromium(audit: AuditResult, tmp_path: Path) -> None:
    """Chromium runs the page: every chart has drawn bars or segments, the table lists each excluded item,
    the inline script ran, and a #q= search filters the rows."""
    url = (audit.out / "report.html").as_uri()
    dom = _dump_dom(url, tmp_path / "profile-1")
    assert 'data-ready="1"' in dom
    for chart in CHARTS:
        figure = re.search(rf'<figure class="chart" id="{chart}">(.*?)</figure>', dom, re.S)
        assert figure is not None, chart
        if chart != "chart-errors" or audit.totals.errors:
            assert re.search(r"<(rect|g class=\"bar\")", figure.group(1)), chart
    reserved_purposes = sum(1 for counts in audit.totals.verdicts.values() if counts.get("reserved"))
    assert dom.count('class="seg seg-reserved"') == reserved_purposes
    body = re.search(r'<table id="excluded">.*?<tbody>(.*?)</tbody>', dom, re.S)
    assert body is not None
    assert body.group(1).count("<tr>") == audit.totals.exclude
    assert re.search(rf'id="shown">{audit.totals.exclude}<', dom)
    filtered = _dump_dom(url + "#q=robots-meta", tmp_path / "profile-2")
    assert re.search(r'id="shown">1<', filtered)
    assert filtered.count("<tr hidden") == audit.totals.exclude - 1


def test_report_evidence_is_each_items_json(audit: AuditResult) -> None:
    """Each excluded row carries its item's full evidence as JSON (indented by the page when opened)."""
    page = (audit.out / "report.html").read_text(encoding="utf-8")
    blocks = [json.loads(html.unescape(b)) for b in re.findall(r"<pre>(.*?)</pre>", page, re.S)]
    assert len(blocks) == audit.totals.exclude
    assert all(b["verdicts"] and "signals" in b for b in blocks)
    assert "JSON.stringify(JSON.parse(" in page


def test_excluded_rows_in_order_up_to_the_limit(tmp_path: Path) -> None:
    """The report's table takes the excluded rows in shard and row order, runs of them included, and stops at
    its limit, which may fall inside a run or a later shard."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from rightful.audit.report import excluded_rows

    decisions = [["keep", "exclude", "exclude", "keep", "exclude"], ["exclude", "keep", "exclude", "exclude"]]
    row = 0
    for shard, column in enumerate(decisions):
        n = len(column)
        table = pa.table({
            "row": list(range(row, row + n)), "item": [f"item-{row + i}" for i in range(n)], "status": ["x"] * n,
            "reasons": [["r"]] * n, "exclusion_protocols": [["p"]] * n, "domain": [None] * n,
            "evidence": ["{}"] * n, "decision": column, "other": [0] * n,
        })  # fmt: skip
        pq.write_table(table, tmp_path / f"shard-{shard:06d}.parquet")
        row += n
    expected = [1, 2, 4, 5, 7, 8]
    assert [r["row"] for r in excluded_rows(tmp_path)] == expected
    for limit in range(len(expected) + 1):
        assert [r["row"] for r in excluded_rows(tmp_path, limit=limit)] == expected[:limit]
    first = next(excluded_rows(tmp_path))
    assert (first["item"], first["decision"]) == ("item-1", "exclude")
    assert "other" not in first
