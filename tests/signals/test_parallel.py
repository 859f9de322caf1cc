"""Bulk checks spread over worker processes: same answers, same politeness, clean failure and early stop."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from rightful.config import Settings
from rightful.errors import RightfulError
from rightful.models import Decision
from rightful.signals.check import check_urls
from rightful.testing.publisher import Publisher, Resource, Site

MakePublisher = Callable[..., Publisher]
PAGE = Resource(body=b"<html><head></head><body>x</body></html>", content_type="text/html")


def _sites() -> list[Site]:
    return [
        Site(robots_txt="User-agent: GPTBot\nDisallow: /\n", default=PAGE),
        Site(robots_txt="User-agent: *\nAllow: /\n", default=PAGE),
        Site(
            robots_txt="User-agent: *\nAllow: /\n", default=Resource(body=PAGE.body, headers={"X-Robots-Tag": "noai"})
        ),
    ]


def test_workers_give_the_same_verdicts_with_origin_files_fetched_once(publisher: MakePublisher) -> None:
    """Two processes answer exactly as one does, and each origin's files are still fetched once."""
    pub = publisher(*_sites())
    urls = [pub.url(i, f"/p/{n}") for n in range(30) for i in range(3)] + ["not a url"]
    settings = Settings.load(allow_private=True, cache=False)
    single = {r.item: {p: v.decision for p, v in r.verdicts.items()} for r in check_urls(urls, settings=settings)}
    pub.reset_counts()
    parallel = {
        r.item: {p: v.decision for p, v in r.verdicts.items()} for r in check_urls(urls, settings=settings, workers=2)
    }
    assert parallel == single
    assert len(parallel) == len(urls)
    assert pub.total_requests() == 90 + 3 * 3
    assert parallel[pub.url(0, "/p/1")]["ai-training"] is Decision.RESERVED


def test_a_failing_input_is_reported_after_the_results_so_far(publisher: MakePublisher) -> None:
    """An input that raises mid-stream surfaces its error in the consumer; the workers stop."""
    pub = publisher(*_sites())

    def urls() -> Iterator[str]:
        yield pub.url(1, "/a")
        raise OSError("the URL list went away")

    seen: list[str] = []

    def consume() -> None:
        seen.extend(r.item for r in check_urls(urls(), settings=Settings.load(allow_private=True), workers=2))

    with pytest.raises(OSError, match="went away"):
        consume()
    assert seen == [pub.url(1, "/a")]


def test_stopping_early_stops_the_workers(publisher: MakePublisher) -> None:
    """Breaking out of a parallel run returns promptly and leaves no worker running."""
    pub = publisher(Site(robots_txt="User-agent: *\nAllow: /\n", default=Resource(body=PAGE.body, delay=0.3)))
    urls = (pub.url(0, f"/slow/{n}") for n in range(50_000))
    started = time.monotonic()
    for _ in check_urls(urls, settings=Settings.load(allow_private=True, concurrency=8), workers=2):
        break
    assert time.monotonic() - started < 30
    assert pub.total_requests() < 2000


def test_worker_count_is_validated() -> None:
    """workers must be at least 1."""
    with pytest.raises(RightfulError, match="workers"):
        Settings.load(workers=0)
