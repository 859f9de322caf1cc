"""The loopback publisher and its site mixes, over real HTTP."""

from __future__ import annotations

import asyncio
import http.client
import importlib.util
import io
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest
from PIL import Image

from rightful.testing.publisher import Publisher, Resource, Site, kind_of, summarize
from rightful.testing.sites import (
    DEMO_PAGES,
    bench_sites,
    bench_urls,
    demo_sites,
    demo_urls,
    jpeg_bytes,
    png_bytes,
    xmp_packet,
)


def _request(url: str, *, method: str = "GET", timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    """One request without following redirects: status, lower-cased headers, body."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
    try:
        conn.request(method, parts.path + (f"?{parts.query}" if parts.query else ""))
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


@pytest.fixture
def site() -> Site:
    return Site(
        robots_txt="User-agent: *\nDisallow: /private\n",
        pages={
            "/page.html": Resource(body=b"<html>hi</html>", headers={"X-Robots-Tag": "noai"}),
            "/search?q=1": Resource(body=b"query one"),
            "/search": Resource(body=b"any query"),
            "/loop": Resource(redirect="/loop"),
            "/moved": Resource(status=301, redirect="{{origin}}/page.html"),
            "/hang": Resource(hang=True),
            "/slow": Resource(body=b"slow", delay=0.3),
            "/cross": Resource(body=b"see {{origin:1}}/page.html"),
        },
    )


@pytest.fixture
def publisher(site: Site) -> Iterator[Publisher]:
    with Publisher([site, Site()]) as pub:
        yield pub


def test_origins_are_loopback_ports(publisher: Publisher) -> None:
    """Each site is served on its own 127.0.0.1 port, and url() joins origin and path."""
    assert len(set(publisher.origins)) == 2
    assert all(o.startswith("http://127.0.0.1:") for o in publisher.origins)
    assert publisher.url(0, "page.html") == publisher.origins[0] + "/page.html"


def test_missing_origin_documents_are_404(publisher: Publisher) -> None:
    """A site without robots.txt, tdmrep.json or ai.txt answers 404 for each."""
    for path in ("/robots.txt", "/.well-known/tdmrep.json", "/ai.txt", "/nothing-here"):
        assert _request(publisher.url(1, path))[0] == 404


def test_robots_text_is_served_as_plain_text(publisher: Publisher) -> None:
    """A robots.txt given as a string is served with status 200 and a text/plain type."""
    status, headers, body = _request(publisher.url(0, "/robots.txt"))
    assert (status, body) == (200, b"User-agent: *\nDisallow: /private\n")
    assert headers["content-type"].startswith("text/plain")


def test_page_headers_and_guessed_content_type(publisher: Publisher) -> None:
    """A page carries its own headers, a Content-Length, and a content type guessed from its path."""
    status, headers, body = _request(publisher.url(0, "/page.html"))
    assert status == 200
    assert headers["x-robots-tag"] == "noai"
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["content-length"] == str(len(body))


def test_head_has_get_headers_without_body_and_is_counted_apart(publisher: Publisher) -> None:
    """HEAD answers the status and headers of GET with an empty body, and is counted under its own method."""
    get = _request(publisher.url(0, "/page.html"))
    head = _request(publisher.url(0, "/page.html"), method="HEAD")
    assert head[0] == get[0]
    assert head[1] == get[1]
    assert head[2] == b""
    counts = publisher.requests
    assert counts[publisher.origins[0], "GET", "/page.html"] == 1
    assert counts[publisher.origins[0], "HEAD", "/page.html"] == 1


def test_query_string_keys_match_exactly(publisher: Publisher) -> None:
    """A page key with a query matches only that query; a key without one matches the path with any query."""
    assert _request(publisher.url(0, "/search?q=1"))[2] == b"query one"
    assert _request(publisher.url(0, "/search?q=2"))[2] == b"any query"
    assert publisher.requests[publisher.origins[0], "GET", "/search?q=2"] == 1


def test_redirect_loop_is_served_without_end(publisher: Publisher) -> None:
    """A resource redirecting to itself answers 302 to itself every time; a following client gives up."""
    status, headers, _ = _request(publisher.url(0, "/loop"))
    assert (status, headers["location"]) == (302, "/loop")
    with pytest.raises(urllib.error.HTTPError, match="redirect"):
        urllib.request.urlopen(publisher.url(0, "/loop"), timeout=5)
    assert publisher.requests[publisher.origins[0], "GET", "/loop"] > 5


def test_origin_placeholders_are_filled(publisher: Publisher) -> None:
    """{{origin}} and {{origin:N}} in redirects and bodies become the live origins."""
    status, headers, _ = _request(publisher.url(0, "/moved"))
    assert (status, headers["location"]) == (301, publisher.url(0, "/page.html"))
    assert _request(publisher.url(0, "/cross"))[2] == f"see {publisher.origins[1]}/page.html".encode()


def test_hang_times_out_the_client_and_not_the_server(publisher: Publisher) -> None:
    """A hanging resource never answers, so the client times out while other requests are still served."""
    with pytest.raises(TimeoutError):
        _request(publisher.url(0, "/hang"), timeout=0.3)
    assert _request(publisher.url(0, "/page.html"))[0] == 200


def test_stop_is_prompt_with_a_request_hanging(site: Site) -> None:
    """Stopping the server releases a request that is still hanging instead of waiting for it."""
    pub = Publisher([site]).__enter__()
    parts = urlsplit(pub.url(0, "/hang"))
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    conn.request("GET", "/hang")
    time.sleep(0.1)
    started = time.monotonic()
    pub.stop()
    assert time.monotonic() - started < 3
    conn.close()


def test_latency_is_added_to_every_response(publisher: Publisher) -> None:
    """The publisher's latency delays each response, and a resource's own delay adds to it."""
    publisher.latency = 0.2
    started = time.monotonic()
    _request(publisher.url(1, "/robots.txt"))
    assert time.monotonic() - started >= 0.2
    started = time.monotonic()
    _request(publisher.url(0, "/slow"))
    assert time.monotonic() - started >= 0.5


def test_latency_does_not_serialise_requests() -> None:
    """Injected latency is a non-blocking sleep: 50 concurrent requests take about one latency, not fifty."""

    async def fetch_all(urls: list[str]) -> list[int]:
        async with aiohttp.ClientSession() as session:

            async def one(url: str) -> int:
                async with session.get(url) as response:
                    await response.read()
                    return response.status

            return await asyncio.gather(*(one(u) for u in urls))

    with Publisher([Site(default=Resource(body=b"ok"))], latency=0.2) as pub:
        started = time.monotonic()
        statuses = asyncio.run(fetch_all([pub.url(0, f"/{i}") for i in range(50)]))
        assert time.monotonic() - started < 2
    assert statuses == [200] * 50


def test_many_origins_each_serve_their_own_site() -> None:
    """Two hundred origins on one server each answer with their own robots.txt, and counts are per origin."""

    async def fetch_all(urls: list[str]) -> list[bytes]:
        async with aiohttp.ClientSession() as session:

            async def one(url: str) -> bytes:
                async with session.get(url) as response:
                    return await response.read()

            return await asyncio.gather(*(one(u) for u in urls))

    sites = [Site(robots_txt=f"# site {i}\n") for i in range(200)]
    with Publisher(sites) as pub:
        bodies = asyncio.run(fetch_all([pub.url(i, "/robots.txt") for i in range(200)] * 3))
        assert bodies[:200] == [f"# site {i}\n".encode() for i in range(200)]
        assert pub.total_requests() == 600
        assert set(pub.requests.values()) == {3}


def test_default_answers_any_path() -> None:
    """A default resource or function answers every path the pages do not name."""
    with Publisher([Site(default=Resource(body=b"any")), Site(default=lambda p: Resource(body=p.encode()))]) as pub:
        assert _request(pub.url(0, "/a/b/c"))[2] == b"any"
        assert _request(pub.url(1, "/x.png"))[2] == b"/x.png"
        assert _request(pub.url(1, "/x.png"))[1]["content-type"] == "image/png"


def test_stats_path_serves_counts_without_counting_itself(publisher: Publisher) -> None:
    """/__stats__ answers JSON totals by method and kind on every origin; it is not counted; reset=1 clears."""
    _request(publisher.url(0, "/robots.txt"))
    _request(publisher.url(0, "/page.html"), method="HEAD")
    _request(publisher.url(0, "/page.html"))
    stats = json.loads(_request(publisher.url(1, "/__stats__?full=1"))[2])
    assert stats["total"] == 3
    assert stats["by_method"] == {"GET": 2, "HEAD": 1}
    assert stats["by_kind"] == {"robots.txt": 1, "page": 2}
    assert stats["per_origin_max"]["robots.txt"] == 1
    assert len(stats["requests"]) == 3
    json.loads(_request(publisher.url(0, "/__stats__?reset=1"))[2])
    assert publisher.total_requests() == 0


def test_reset_counts_starts_again(publisher: Publisher) -> None:
    """reset_counts() empties the request counter."""
    _request(publisher.url(0, "/page.html"))
    publisher.reset_counts()
    assert publisher.requests == {}


def test_summarize_counts_repeats_and_kinds() -> None:
    """summarize() reports keys asked more than once and classifies origin documents by path."""
    counts = {("o", "GET", "/robots.txt"): 1, ("o", "GET", "/a"): 3, ("o", "HEAD", "/a"): 1}
    stats = summarize(counts)
    assert stats["repeated"] == 1
    assert stats["page_by_method"] == {"GET": 3, "HEAD": 1}
    assert kind_of("/.well-known/tdmrep.json") == "tdmrep.json"
    assert kind_of("/ai.txt?x=1") == "ai.txt"


def test_cli_serves_a_mix_and_prints_its_origins() -> None:
    """python -m rightful.testing.publisher prints one JSON line of origins and serves them until terminated."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "rightful.testing.publisher", "--mix", "demo"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert len(info["origins"]) == len(demo_sites())
        assert _request(info["origins"][4] + "/robots.txt")[0] == 503
        assert json.loads(_request(info["origins"][0] + "/__stats__")[2])["total"] == 1
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_xmp_is_embedded_in_decodable_images() -> None:
    """The hand-built JPEG and PNG carry the XMP packet and still decode."""
    packet = xmp_packet(data_mining="PROHIBITED-AIMLTRAINING")
    assert b"<plus:DataMining>http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-AIMLTRAINING<" in packet
    assert b'plus:DataMining="' in xmp_packet(data_mining="ALLOWED", attributes=True)
    for data in (jpeg_bytes(xmp=packet), png_bytes(xmp=packet)):
        assert packet in data
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            assert image.size == (8, 8)
    with Image.open(io.BytesIO(jpeg_bytes(xmp=packet))) as image:
        assert b"DataMining" in image.info.get("xmp", b"")


def test_bench_mix_is_deterministic_and_served() -> None:
    """The bench mix serves every bench URL (mostly 200, a few redirects and 404s) and is the same every time."""
    sites = bench_sites(20, 50)
    assert [s.robots_txt for s in sites] == [s.robots_txt for s in bench_sites(20, 50)]
    with Publisher(sites) as pub:
        urls = bench_urls(pub.origins, 50)
        assert len(urls) == 1000
        assert urls[:20] == [o + "/p/0.html" for o in pub.origins]
        statuses = [_request(u)[0] for u in urls]
        assert statuses.count(200) > 950
        assert set(statuses) <= {200, 301, 404}
        assert _request(pub.url(0, "/p/50.html"))[0] == 404  # past urls_per_origin
        assert _request(pub.url(0, "/img/0.jpg"))[0] == 404  # index 0 is an HTML page
    kinds = {type(s.robots_txt).__name__ for s in bench_sites(200, 1)}
    assert kinds == {"str", "Resource", "NoneType"}


def test_demo_mix_serves_every_demo_page() -> None:
    """Every page the demo checks answers 200 with the type its name promises."""
    with Publisher(demo_sites()) as pub:
        urls = demo_urls(pub.origins)
        assert len(urls) == len(DEMO_PAGES)
        for url in urls:
            status, headers, _ = _request(url)
            assert status == 200
            if url.endswith(".jpg"):
                assert headers["content-type"] == "image/jpeg"
        policy = json.loads(_request(pub.url(1, "/tdm-policy.json"))[2])
        assert policy["uid"] == pub.url(1, "/tdm-policy.json")


@pytest.mark.slow
def test_demo_tells_a_story_that_matches_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    """The demo runs the real CLI over its five sites and every ai-training verdict matches the story."""
    from rightful.testing import demo

    assert demo.main() == 0
    out = capsys.readouterr().out
    assert "Every verdict matches the story." in out
    assert out.count(" ok  ") == len(DEMO_PAGES)


@pytest.mark.slow
def test_bench_quick_run_writes_results(tmp_path: Path) -> None:
    """bench/signals/run.py --quick runs both checkers against a publisher subprocess and writes its JSON."""
    if importlib.util.find_spec("datadiligence") is None:  # importing it prints a notice: only look
        pytest.skip("datadiligence (the benchmark baseline) is installed by `make bench`")
    output = tmp_path / "signals.json"
    script = Path(__file__).resolve().parents[2] / "bench" / "signals" / "run.py"
    done = subprocess.run(
        [sys.executable, str(script), "--quick", "--dd-threads", "0", "--skip-200k", "--output", str(output)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(output.read_text())
    assert set(report["results"]) == {"datadiligence", "rightful"}
    assert report["results"]["rightful"]["urls"] == 200
    assert report["results"]["rightful"]["requests"]["origin_docs_max_per_origin"] <= 3
