"""The `rightful check` command: output shapes, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rightful.cli import app
from rightful.config import Settings
from rightful.signals.check import check_url
from rightful.testing.publisher import Publisher, Resource, Site

MakePublisher = Callable[..., Publisher]
PAGE = Resource(body=b"<html><head></head><body>x</body></html>", content_type="text/html")
runner = CliRunner()


def _site_pair(publisher: MakePublisher) -> Publisher:
    blocked = Site(robots_txt="User-agent: GPTBot\nDisallow: /\n", default=PAGE)
    open_site = Site(robots_txt="User-agent: *\nAllow: /\n", default=PAGE)
    return publisher(blocked, open_site)


def test_json_lines_have_the_documented_shape(publisher: MakePublisher) -> None:
    """--json prints one object per item with item, verdicts for all five purposes, signals, licence, errors."""
    pub = _site_pair(publisher)
    result = runner.invoke(app, ["check", "--allow-private", "--json", pub.url(0, "/a"), pub.url(1, "/b")])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 2
    by_item = {line["item"]: line for line in lines}
    first = by_item[pub.url(0, "/a")]
    assert set(first["verdicts"]) == {"ai-training", "genai-training", "data-mining", "ai-inference", "search"}
    assert first["verdicts"]["ai-training"] == "reserved"
    assert by_item[pub.url(1, "/b")]["verdicts"]["ai-training"] == "allowed"
    for key in ("signals", "licence", "errors"):
        assert isinstance(first[key], list)
    assert first["signals"][0]["protocol"]


def test_cli_json_equals_library_result(publisher: MakePublisher) -> None:
    """The CLI adds no logic: its verdicts and signals equal check_url's for the same URL."""
    pub = _site_pair(publisher)
    url = pub.url(0, "/same")
    lib = check_url(url, settings=Settings.load(allow_private=True, cache=False)).to_dict()
    cli = json.loads(runner.invoke(app, ["check", "--allow-private", "--no-cache", "--json", url]).stdout)
    assert cli["verdicts"] == lib["verdicts"]
    strip = [{k: v for k, v in s.items() if k != "fetched_at"} for s in lib["signals"]]
    assert [{k: v for k, v in s.items() if k != "fetched_at"} for s in cli["signals"]] == strip


def test_fail_on_reserved_exits_one(publisher: MakePublisher) -> None:
    """A reserved item is a result (exit 0) unless --fail-on-reserved asks for exit 1."""
    pub = _site_pair(publisher)
    assert runner.invoke(app, ["check", "--allow-private", pub.url(0, "/a")]).exit_code == 0
    assert runner.invoke(app, ["check", "--allow-private", "--fail-on-reserved", pub.url(0, "/a")]).exit_code == 1
    assert runner.invoke(app, ["check", "--allow-private", "--fail-on-reserved", pub.url(1, "/a")]).exit_code == 0


def test_human_output_names_the_deciding_evidence(publisher: MakePublisher) -> None:
    """The table shows each purpose's verdict and the protocol and rule that decided it."""
    pub = _site_pair(publisher)
    result = runner.invoke(app, ["check", "--allow-private", "--purpose", "ai-training", pub.url(0, "/a")])
    assert result.exit_code == 0
    assert "ai-training" in result.stdout
    assert "reserved" in result.stdout
    assert "robots.txt" in result.stdout
    assert "search" not in result.stdout.split("deciding evidence")[1]


def test_urls_file_with_comments_and_bad_lines(publisher: MakePublisher, tmp_path: Path) -> None:
    """--urls-file skips blanks and comments; a bad line becomes an error result, not an abort."""
    pub = _site_pair(publisher)
    listing = tmp_path / "urls.txt"
    listing.write_text(f"# my list\n\n{pub.url(1, '/x')}\nnot-a-url\n", encoding="utf-8")
    result = runner.invoke(app, ["check", "--allow-private", "--json", "--urls-file", str(listing)])
    assert result.exit_code == 0
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 2
    assert any(r["errors"] and r["errors"][0]["code"] == "invalid-url" for r in rows)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check", "no-such-file.jpg"], "not a URL, and no such file"),
        (["check", "ftp://example.org/a"], "only http:// and https://"),
        (["check"], "no target given"),
        (["check", "--purpose", "training", "https://example.org/"], "unknown purpose"),
        (["check", "--policy", "all-tokens", "https://example.org/"], "policy must be one of"),
        (["check", "--urls-file", "missing.txt"], "no such file"),
    ],
)
def test_usage_errors_are_one_line_exit_two(args: list[str], message: str) -> None:
    """Bad input gives one line on stderr and exit code 2, never a traceback."""
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_local_file_target(tmp_path: Path) -> None:
    """A path is checked from its embedded metadata, without network."""
    page = tmp_path / "page.html"
    page.write_text('<html><head><meta name="robots" content="noai"></head></html>', encoding="utf-8")
    result = runner.invoke(app, ["check", "--json", str(page)])
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout)
    assert row["verdicts"]["ai-training"] == "reserved"
    assert row["kind"] == "file"


def test_python_dash_m_and_version() -> None:
    """`python -m rightful --version` works as an installed command would."""
    out = subprocess.run([sys.executable, "-m", "rightful", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("rightful ")
