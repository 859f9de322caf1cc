"""registry_findings: the registry as a signal source for check_file / check_url / audit."""

from __future__ import annotations

from pathlib import Path

import pytest

from rightful.config import Settings
from rightful.models import Decision, Purpose, Terms, TermStatus
from rightful.registry import Registry, registry_findings
from rightful.registry.findings import close_cached

from .registry_helpers import RESERVED, encode, scene, words


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    close_cached()


def test_no_registry_is_free_and_creates_nothing(settings: Settings, tmp_home: Path) -> None:
    """Without a registry the findings are empty and no database or index appears."""
    findings = registry_findings(encode(scene(1)), location="a.png", media_type="image/png", settings=settings)
    assert findings.signals == []
    assert findings.errors == []
    assert not (tmp_home / "rightful.db").exists()
    assert not (tmp_home / "index").exists()


def test_database_without_registry_tables_is_no_registry(settings: Settings, tmp_home: Path) -> None:
    """A rightful.db that only holds other components' tables is not a registry."""
    import sqlite3

    tmp_home.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(tmp_home / "rightful.db") as conn:
        conn.execute("CREATE TABLE origin_cache (k TEXT)")
    findings = registry_findings(encode(scene(1)), location="a.png", media_type=None, settings=settings)
    assert findings.signals == []
    assert findings.errors == []


def test_match_to_reserved_work_is_a_registry_signal(registry: Registry, settings: Settings) -> None:
    """A near-duplicate of a reserved work yields a registry signal reserving those purposes, with evidence."""
    item = registry.register_bytes(encode(scene(2)), owner="ann", terms=RESERVED, title="Sunset")
    assert item.work is not None
    findings = registry_findings(encode(scene(2), "JPEG", quality=60), location="https://x.test/a.jpg",
                                 media_type="image/jpeg", settings=settings)  # fmt: skip
    (signal,) = findings.signals
    assert signal.protocol == "registry"
    assert signal.location == "https://x.test/a.jpg"
    assert signal.values[Purpose.AI_TRAINING] is Decision.RESERVED
    assert signal.values[Purpose.GENAI_TRAINING] is Decision.RESERVED  # carried down from ai-training
    assert signal.details["work_id"] == item.work.id
    assert signal.details["band"] == "near-duplicate"
    assert signal.details["owner"] == "ann"
    assert signal.details["licence"] == "https://example.org/licence"
    assert isinstance(signal.details["distance"], int)
    assert "registered work" in signal.rule
    assert "Sunset" in signal.raw
    assert findings.licence[0].licence == "https://example.org/licence"


def test_allowed_only_work_gives_no_signal(registry: Registry, settings: Settings) -> None:
    """A work whose terms only allow purposes reserves nothing, so no signal is emitted."""
    registry.register_bytes(encode(scene(3)), owner="ann", terms=Terms({Purpose.AI_TRAINING: TermStatus.ALLOWED}))
    findings = registry_findings(encode(scene(3)), location="a.png", media_type=None, settings=settings)
    assert findings.signals == []


def test_licensed_terms_count_as_reserved(registry: Registry, settings: Settings) -> None:
    """Licensed terms reserve the purpose (a licence is needed), and the licence is attached."""
    terms = Terms({Purpose.AI_TRAINING: TermStatus.LICENSED}, licence="https://l.test/buy")
    registry.register_bytes(encode(scene(4)), owner="ann", terms=terms)
    findings = registry_findings(encode(scene(4)), location="a.png", media_type=None, settings=settings)
    assert findings.signals[0].values[Purpose.AI_TRAINING] is Decision.RESERVED
    assert "licensed" in findings.signals[0].rule


def test_text_match_is_a_signal_with_spans(registry: Registry, settings: Settings) -> None:
    """A text containing a registered passage yields a signal whose evidence lists the span."""
    source = words(1, 1000)
    registry.register_text(source, owner="poet", terms=RESERVED)
    query = f"{words(2, 80)} {' '.join(source.split()[200:270])} {words(3, 80)}"
    findings = registry_findings(query.encode(), location="out.txt", media_type="text/plain", settings=settings)
    (signal,) = findings.signals
    assert signal.details["band"] == "partial"
    assert signal.details["evidence"]["spans"][0]["tokens"] == 70


def test_unfingerprintable_content_is_silently_skipped(registry: Registry, settings: Settings) -> None:
    """A PDF has no fingerprint: no signal and no error (the registry has nothing to say about it)."""
    findings = registry_findings(b"%PDF-1.7\n...", location="a.pdf", media_type="application/pdf", settings=settings)
    assert findings.signals == []
    assert findings.errors == []


def test_corrupt_image_is_recorded_as_item_error(registry: Registry, settings: Settings) -> None:
    """A corrupt image becomes an ItemError from the registry protocol, never an exception."""
    findings = registry_findings(b"\xff\xd8\xff\xe0broken", location="a.jpg", media_type="image/jpeg",
                                 settings=settings)  # fmt: skip
    assert findings.signals == []
    assert findings.errors[0].protocol == "registry"


def test_new_registrations_are_seen_by_the_cached_registry(registry: Registry, settings: Settings) -> None:
    """The cached registry used for findings catches up with works registered afterwards."""
    registry.register_bytes(encode(scene(5)), owner="ann", terms=RESERVED)
    assert registry_findings(encode(scene(6)), location="b", media_type=None, settings=settings).signals == []
    registry.register_bytes(encode(scene(6)), owner="ann", terms=RESERVED)
    assert registry_findings(encode(scene(6)), location="b", media_type=None, settings=settings).signals


def test_checking_without_a_registry_never_imports_the_registry_stack(tmp_path: Path) -> None:
    """check_file with no registry stays clear of FAISS and SQLAlchemy (an audit worker would pay ≈ 0.7 s)."""
    import subprocess
    import sys

    picture = tmp_path / "a.png"
    picture.write_bytes(encode(scene(5)))
    probe = (
        "import sys, rightful\n"
        f"result = rightful.check_file({str(picture)!r})\n"
        "assert result.item, result\n"
        "print(sorted(m for m in ('faiss', 'sqlalchemy', 'rightful.registry') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]"


def test_a_registry_created_after_a_miss_is_seen(settings: Settings, tmp_home: Path) -> None:
    """The remembered 'no registry here' is dropped as soon as the database file changes."""
    data = encode(scene(6))
    assert registry_findings(data, location="a.png", media_type="image/png", settings=settings).signals == []
    with Registry.open(settings) as registry:
        registry.register_bytes(data, owner="ann", terms=RESERVED)
    findings = registry_findings(data, location="a.png", media_type="image/png", settings=settings)
    assert [s.protocol for s in findings.signals] == ["registry"]
