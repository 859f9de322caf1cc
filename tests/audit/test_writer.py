"""Result rows: the evidence JSON (with its per-signal cache) is exactly the check result's own JSON."""

from __future__ import annotations

import dataclasses
import gc
from pathlib import Path

from rightful.audit.writer import evidence_json
from rightful.config import Settings
from rightful.models import CheckResult
from rightful.signals.check import check_bytes, check_urls
from tests.audit.audit_helpers import image_files


def _results(demo_urls: list[str], tmp_path: Path, settings: Settings) -> list[CheckResult]:
    online = list(check_urls(demo_urls, settings=settings))
    names = image_files(tmp_path / "imgs")
    local = [check_bytes((tmp_path / "imgs" / n).read_bytes(), name=n, settings=settings) for n in names]
    return [*online, *local]


def test_evidence_is_to_json_byte_for_byte(demo_urls: list[str], tmp_path: Path, settings: Settings) -> None:
    """For URLs (signals shared by an origin's items) and files alike, cached or not, the text is to_json's."""
    results = _results(demo_urls, tmp_path, settings)
    assert any(r.signals for r in results)
    assert any(not r.signals for r in results)
    for _ in range(2):  # the second round is served from the signal cache
        for result in results:
            assert evidence_json(result) == result.to_json()


def test_signal_cache_is_by_identity_not_by_address(demo_urls: list[str], tmp_path: Path, settings: Settings) -> None:
    """An equal-looking but different signal (same address reused after the first died) is serialised anew."""
    result = next(r for r in _results(demo_urls, tmp_path, settings) if r.signals)
    first = result.to_json()
    assert evidence_json(result) == first
    changed = dataclasses.replace(result.signals[0], line=(result.signals[0].line or 0) + 1000)
    other = dataclasses.replace(result, signals=(changed, *result.signals[1:]))
    del changed
    gc.collect()
    assert evidence_json(other) == other.to_json() != first
