"""`make demo`: the demo corpus is audited by the real CLI and every verdict the demo knows matches."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rightful.audit import demo


def test_demo_runs_and_points_at_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The demo exits 0, says all known verdicts match, and prints a report path that exists."""
    assert demo.main(tmp_path) == 0
    out = capsys.readouterr().out
    assert re.search(r"(\d+) of \1 known verdicts match", out)
    report = re.search(r"Report:\s+file://(\S+)", out)
    assert report is not None
    assert Path(report.group(1)).is_file()
