"""Audit fixtures: one warm local executor and one loopback publisher per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rightful.audit import LocalExecutor
from rightful.config import Settings
from rightful.testing.publisher import Publisher
from rightful.testing.sites import DEMO_PAGES, demo_sites

#: genai-training status of each demo page, in DEMO_PAGES order (rightful.testing.demo tells the stories).
DEMO_STATUS = ("reserved", "reserved", "reserved", "allowed", "allowed", "allowed", "reserved", "reserved", "reserved")


@pytest.fixture(scope="module")
def local_executor() -> Iterator[LocalExecutor]:
    """A two-process pool shared by a module's audits (spawning workers per audit would dominate the run time)."""
    with LocalExecutor(workers=2) as executor:
        yield executor


@pytest.fixture(scope="module")
def demo_publisher() -> Iterator[Publisher]:
    with Publisher(demo_sites()) as pub:
        yield pub


@pytest.fixture
def demo_urls(demo_publisher: Publisher) -> list[str]:
    return [demo_publisher.url(site, path) for site, path in DEMO_PAGES]


@pytest.fixture
def settings(tmp_home: Path) -> Settings:
    return Settings.load(allow_private=True, home=tmp_home)
