"""Shared fixtures: a private RIGHTFUL_HOME per test and the external real-world files."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from rightful.testing.publisher import Publisher, Site

# CI runs the suite on two busy cores: a per-example deadline measures the machine, not the code under test.
# Property tests keep their example counts; only the wall-clock deadline and the too-slow health check go.
settings.register_profile("rightful", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("rightful")

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
SHARED = Path(os.environ.get("RIGHTFUL_SHARED", REPO.parent / "shared"))
EXTERNAL = SHARED / "fixtures" / "external"


@pytest.fixture(autouse=True)
def tmp_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own empty RIGHTFUL_HOME so caches never leak between tests."""
    home = tmp_path / "rightful-home"
    monkeypatch.setenv("RIGHTFUL_HOME", str(home))
    for name in list(os.environ):
        if name.startswith("RIGHTFUL_") and name not in {"RIGHTFUL_HOME", "RIGHTFUL_SHARED"}:
            monkeypatch.delenv(name)
    return home


@pytest.fixture(scope="session")
def external() -> Path:
    """The real files in ../shared/fixtures/external (skips where a user's clone has no ../shared)."""
    if not EXTERNAL.is_dir():
        pytest.skip(f"../shared/fixtures/external is absent ({EXTERNAL}): real-world fixtures not available")
    return EXTERNAL


@pytest.fixture
def publisher() -> Iterator[Callable[..., Publisher]]:
    """A factory for loopback publishers: ``publisher(Site(...), Site(...), latency=0.0)``; all stop at teardown."""
    started: list[Publisher] = []

    def make(*sites: Site, latency: float = 0.0) -> Publisher:
        pub = Publisher(list(sites), latency=latency)
        pub.start()
        started.append(pub)
        return pub

    yield make
    for pub in started:
        pub.stop()
