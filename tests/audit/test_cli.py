"""`rightful audit`: the thin CLI over audit_dataset — outcomes, progress, exit codes, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rightful.cli import app
from tests.audit.audit_helpers import DEMO_STATUS, write_csv

runner = CliRunner()


def test_audit_prints_summary_and_outputs(tmp_path: Path, demo_urls: list[str]) -> None:
    """The human output is a summary table, the exclusions by protocol and where each output is."""
    src = write_csv(tmp_path / "in.csv", ["url"], [[u] for u in demo_urls])
    done = runner.invoke(app, ["audit", str(src), "-o", str(tmp_path / "out"), "--allow-private", "--workers", "1",
                               "--shard-size", "3", "--progress"])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "excluded" in done.output
    assert "excluded by: " in done.output
    assert str(tmp_path / "out" / "report.html") in done.output
    assert "3 shards (3 run)" in done.output


def test_audit_json_and_resume(tmp_path: Path, demo_urls: list[str]) -> None:
    """--json prints one object; a rerun reports every shard as resumed."""
    src = write_csv(tmp_path / "in.csv", ["url"], [[u] for u in demo_urls])
    args = ["audit", str(src), "-o", str(tmp_path / "out"), "--allow-private", "--workers", "1", "--json",
            "--on-unknown", "exclude", "-p", "ai-training"]  # fmt: skip
    first = json.loads(runner.invoke(app, args).stdout)
    assert first["totals"]["exclude"] == DEMO_STATUS.count("reserved")
    assert first["outputs"]["keep"].endswith("keep.csv")
    second = json.loads(runner.invoke(app, args).stdout)
    assert (second["shards_run"], second["shards_skipped"]) == (0, 1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope.csv"], "no such file or folder"),
        (["in.csv", "--url-column", "link"], "no 'link' or 'path' column"),
        (["in.csv", "--executor", "spark"], "--executor must be local or ray"),
        (["in.csv", "--address", "ray://x:1"], "--address needs --executor ray"),
        (["in.csv", "--on-unknown", "drop"], "--on-unknown must be 'keep' or 'exclude'"),
        (["in.csv", "--purpose", "training"], "unknown purpose"),
        (["in.csv", "--kind", "xlsx"], "unknown input kind"),
    ],
)
def test_usage_errors_are_one_line_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    """Bad arguments and bad inputs exit 2 with one line on stderr, never a traceback."""
    write_csv(tmp_path / "in.csv", ["url"], [["http://a.example/"]])
    argv = [args[0] if args[0].startswith("/") else str(tmp_path / args[0]), *args[1:]]
    done = runner.invoke(app, ["audit", *argv, "-o", str(tmp_path / "out")])
    assert done.exit_code == 2, done.output
    assert message in done.output
    assert "Traceback" not in done.output
