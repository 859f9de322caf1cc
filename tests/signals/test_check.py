"""End-to-end checks of URLs against a real loopback publisher: verdicts, evidence, requests, failures."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from rightful.config import Settings
from rightful.errors import InvalidInput
from rightful.models import CheckResult, Decision, Purpose
from rightful.signals.check import Checker, check_response, check_url, check_urls
from rightful.testing.publisher import Publisher, Resource, Site

MakePublisher = Callable[..., Publisher]
PAGE = Resource(body=b"<html><head><title>t</title></head><body>hello</body></html>", content_type="text/html")
BLOCK_GPTBOT = "User-agent: GPTBot\nDisallow: /\n\nUser-agent: *\nAllow: /\n"


def _settings(**changes: Any) -> Settings:
    return Settings.load(allow_private=True, **changes)


def _protocols(result: CheckResult, purpose: Purpose) -> set[str]:
    return {s.protocol for s in result.verdicts[purpose].deciding}


def test_robots_ai_token_block_reserves_training_with_evidence(publisher: MakePublisher) -> None:
    """GPTBot disallowed → ai-training reserved by robots.txt, naming the token; our own crawl still fetches."""
    pub = publisher(Site(robots_txt=BLOCK_GPTBOT, pages={"/a": PAGE}))
    result = check_url(pub.url(0, "/a"), settings=_settings())
    verdict = result.verdicts[Purpose.AI_TRAINING]
    assert verdict.decision is Decision.RESERVED
    assert _protocols(result, Purpose.AI_TRAINING) == {"robots.txt"}
    evidence = verdict.deciding[0]
    assert "GPTBot" in evidence.rule + str(evidence.details)
    assert evidence.location == pub.url(0, "/robots.txt")
    assert evidence.line == 2
    assert evidence.document_hash
    assert evidence.fetched_at
    assert result.crawl_allowed is True
    assert pub.requests[(pub.origins[0], "GET", "/a")] == 1


def test_open_site_is_allowed(publisher: MakePublisher) -> None:
    """A robots.txt that allows every token makes ai-training allowed, not unknown."""
    pub = publisher(Site(robots_txt="User-agent: *\nAllow: /\n", pages={"/": PAGE}))
    result = check_url(pub.url(0, "/"), settings=_settings())
    assert result.decision("ai-training") is Decision.ALLOWED
    assert not result.errors


@pytest.mark.parametrize(
    ("resource", "protocol"),
    [
        (Resource(body=PAGE.body, headers={"X-Robots-Tag": "NoAI"}, content_type="text/html"), "x-robots-tag"),
        (Resource(body=PAGE.body, headers={"tdm-reservation": "1"}, content_type="text/html"), "tdmrep"),
        (Resource(body=PAGE.body, headers={"Content-Usage": "train-ai=n"}, content_type="text/html"), "aipref"),
        (
            Resource(body=b'<html><head><meta name="robots" content="noai"></head><body>x</body></html>',
                     content_type="text/html"),
            "robots-meta",
        ),
        (
            Resource(body=b'<html><head><meta name="tdm-reservation" content="1"></head></html>',
                     content_type="text/html"),
            "tdmrep",
        ),
    ],
)  # fmt: skip
def test_page_level_signals_reserve_training(publisher: MakePublisher, resource: Resource, protocol: str) -> None:
    """Headers and HTML meta found in the one GET of the page reserve ai-training, with their protocol named."""
    pub = publisher(Site(robots_txt="User-agent: *\nAllow: /\n", pages={"/p": resource}))
    result = check_url(pub.url(0, "/p"), settings=_settings())
    assert result.decision("ai-training") is Decision.RESERVED
    assert protocol in _protocols(result, Purpose.AI_TRAINING)


def test_header_y_with_robots_content_usage_n_is_reserved(publisher: MakePublisher) -> None:
    """SPEC aipref vector: Content-Usage header y + robots.txt Content-Usage n → reserved."""
    robots = "User-agent: *\nAllow: /\nContent-Usage: train-ai=n\n"
    page = Resource(body=PAGE.body, headers={"Content-Usage": "train-ai=y"}, content_type="text/html")
    pub = publisher(Site(robots_txt=robots, pages={"/p": page}))
    result = check_url(pub.url(0, "/p"), settings=_settings(policy="own-token"))
    assert result.decision("ai-training") is Decision.RESERVED
    assert "aipref" in _protocols(result, Purpose.AI_TRAINING)


def test_tdmrep_precedence_file_one_header_zero_is_not_reserved(publisher: MakePublisher) -> None:
    """SPEC TDMRep vector across real HTTP: tdmrep.json says 1, the page header says 0 → data-mining allowed."""
    tdm = '[{"location": "/", "tdm-reservation": 1}]'
    page = Resource(body=PAGE.body, headers={"TDM-Reservation": "0"}, content_type="text/html")
    pub = publisher(Site(robots_txt="User-agent: *\nAllow: /\n", tdmrep_json=tdm, pages={"/p": page}))
    result = check_url(pub.url(0, "/p"), settings=_settings())
    assert result.decision("data-mining") is Decision.ALLOWED
    tdm_signals = [s for s in result.signals if s.protocol == "tdmrep"]
    assert len(tdm_signals) == 2


def test_tdm_policy_is_fetched_and_its_contact_surfaced(publisher: MakePublisher) -> None:
    """A reserving tdmrep.json with a policy URL leads to one fetch of the policy, whose assigner is reported."""
    policy = (
        '{"@context": ["http://www.w3.org/ns/odrl.jsonld", {"tdm": "http://www.w3.org/ns/tdmrep#"}],'
        ' "@type": "Offer", "profile": "http://www.w3.org/ns/tdmrep", "uid": "https://x/p/1",'
        ' "assigner": {"uid": "https://publisher.example", "vcard:fn": "Example Press",'
        ' "vcard:hasEmail": "licensing@example.org"},'
        ' "permission": [{"target": "https://x/", "action": "tdm:mine",'
        ' "duty": [{"action": "compensate"}]}]}'
    )
    holder: dict[str, Publisher] = {}
    site = Site(
        robots_txt="User-agent: *\nAllow: /\n",
        tdmrep_json=Resource(body=b"", status=404),
        pages={"/policy.json": Resource(body=policy.encode(), content_type="application/json")},
        default=lambda path: Resource(
            body=PAGE.body, content_type="text/html",
            headers={"tdm-reservation": "1", "tdm-policy": holder["pub"].url(0, "/policy.json")},
        ),
    )  # fmt: skip
    pub = holder["pub"] = publisher(site)
    results = list(check_urls([pub.url(0, f"/a{i}") for i in range(3)], settings=_settings()))
    for result in results:
        assert result.decision("data-mining") is Decision.RESERVED
        policies = [s for s in result.signals if s.protocol == "tdmrep-policy"]
        assert policies, result.errors
        assert "licensing@example.org" in str(policies[0].details)
    assert pub.requests[(pub.origins[0], "GET", "/policy.json")] == 1


def test_robots_unreachable_disallows_everything_without_fetching(publisher: MakePublisher) -> None:
    """robots.txt 503 → complete disallow per RFC 9309: reserved, crawl refused, the page never requested."""
    pub = publisher(Site(robots_txt=Resource(status=503, body=b"down"), pages={"/p": PAGE}))
    result = check_url(pub.url(0, "/p"), settings=_settings())
    assert result.decision("ai-training") is Decision.RESERVED
    assert result.crawl_allowed is False
    assert pub.requests[(pub.origins[0], "GET", "/p")] == 0


@pytest.mark.parametrize("status", [404, 403])
def test_robots_unavailable_allows_everything(publisher: MakePublisher, status: int) -> None:
    """robots.txt 404/403 → no restrictions: the page is fetched and robots.txt allows ai-training."""
    pub = publisher(Site(robots_txt=Resource(status=status, body=b"no"), pages={"/p": PAGE}))
    result = check_url(pub.url(0, "/p"), settings=_settings())
    assert result.crawl_allowed is True
    assert result.decision("ai-training") is Decision.ALLOWED


def test_robots_redirect_loop_counts_as_unavailable(publisher: MakePublisher) -> None:
    """More than five redirects for robots.txt → unavailable → allowed (RFC 9309 §2.3.1.2)."""
    loop = Resource(status=301, redirect="/robots.txt")
    pub = publisher(Site(robots_txt=loop, pages={"/p": PAGE}))
    result = check_url(pub.url(0, "/p"), settings=_settings())
    assert result.crawl_allowed is True
    assert pub.requests[(pub.origins[0], "GET", "/robots.txt")] == 6


def test_page_redirect_loop_is_an_error_not_a_hang(publisher: MakePublisher) -> None:
    """An item that redirects forever gives a result with a too-many-redirects error."""
    pub = publisher(Site(robots_txt="User-agent: *\nAllow: /\n", pages={"/p": Resource(status=302, redirect="/p")}))
    result = check_url(pub.url(0, "/p"), settings=_settings())
    assert [e.code for e in result.errors] == ["too-many-redirects"]


def test_hanging_robots_times_out_to_complete_disallow(publisher: MakePublisher) -> None:
    """A server that never answers robots.txt: timeout → unreachable → reserved, with the error recorded."""
    pub = publisher(Site(robots_txt=Resource(hang=True), pages={"/p": PAGE}))
    result = check_url(pub.url(0, "/p"), settings=_settings(read_timeout=0.5, connect_timeout=0.5))
    assert result.decision("ai-training") is Decision.RESERVED
    assert any(e.code == "timeout" for e in result.errors)


def test_hanging_page_times_out_with_a_result(publisher: MakePublisher) -> None:
    """A page that never answers yields a result with a timeout error; origin signals are still reported."""
    pub = publisher(Site(robots_txt=BLOCK_GPTBOT, pages={"/p": Resource(hang=True)}))
    result = check_url(pub.url(0, "/p"), settings=_settings(read_timeout=0.5, connect_timeout=0.5))
    assert any(e.code == "timeout" for e in result.errors)
    assert result.decision("ai-training") is Decision.RESERVED


def test_connection_refused_is_unreachable() -> None:
    """Nothing listening: robots.txt unreachable → reserved, with a connect error."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = check_url(f"http://127.0.0.1:{port}/x", settings=_settings(connect_timeout=1))
    assert result.decision("ai-training") is Decision.RESERVED
    assert any(e.code == "connect" for e in result.errors)


class _MapResolver(AbstractResolver):
    """Resolves names from a dict; unknown names fail like a DNS NXDOMAIN (keeps tests off the network)."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host not in self.names:
            raise OSError(-2, f"Name or service not known: {host}")
        return [ResolveResult(hostname=host, host=self.names[host], port=port, family=socket.AF_INET, proto=0, flags=0)]

    async def close(self) -> None:
        return None


def _check_with(resolver: AbstractResolver, url: str, **changes: Any) -> CheckResult:
    async def run() -> CheckResult:
        async with Checker(Settings.load(**changes), resolver=resolver) as checker:
            return await checker.check(url)

    return asyncio.run(run())


def test_dns_failure_is_recorded(publisher: MakePublisher) -> None:
    """A name that does not resolve → robots.txt unreachable → reserved, with a dns error, no crash."""
    result = _check_with(_MapResolver({}), "http://no-such-host.test/x")
    assert any(e.code == "dns" for e in result.errors)
    assert result.decision("ai-training") is Decision.RESERVED


def test_private_address_refused_without_allow_private(publisher: MakePublisher) -> None:
    """A name resolving to loopback is refused by the guard: all unknown, a blocked-address error, no request."""
    pub = publisher(Site(robots_txt="User-agent: *\nDisallow: /\n", pages={"/p": PAGE}))
    port = pub.origins[0].rsplit(":", 1)[1]
    result = _check_with(_MapResolver({"site.test": "127.0.0.1"}), f"http://site.test:{port}/p")
    assert [e.code for e in result.errors] == ["blocked-address"]
    assert all(v.decision is Decision.UNKNOWN for v in result.verdicts.values())
    assert pub.total_requests() == 0
    literal = check_url(pub.url(0, "/p"), settings=Settings.load())
    assert [e.code for e in literal.errors] == ["blocked-address"]
    assert pub.total_requests() == 0


def test_allowed_name_connects_to_the_checked_address(publisher: MakePublisher) -> None:
    """With allow_private, the name resolved by our resolver is where the request goes."""
    pub = publisher(Site(robots_txt=BLOCK_GPTBOT, pages={"/p": PAGE}))
    port = pub.origins[0].rsplit(":", 1)[1]
    result = _check_with(_MapResolver({"site.test": "127.0.0.1"}), f"http://site.test:{port}/p", allow_private=True)
    assert result.decision("ai-training") is Decision.RESERVED
    assert pub.requests[(pub.origins[0], "GET", "/p")] == 1


def test_bulk_requests_one_per_url_plus_three_per_origin(publisher: MakePublisher) -> None:
    """Origin files are fetched once per origin; each URL costs exactly one request."""
    sites = [Site(robots_txt=BLOCK_GPTBOT, default=PAGE) for _ in range(3)]
    pub = publisher(*sites)
    urls = [pub.url(i, f"/page/{n}") for i in range(3) for n in range(40)]
    results = list(check_urls(urls, settings=_settings()))
    assert sorted(r.item for r in results) == sorted(urls)
    assert pub.total_requests() == len(urls) + 3 * 3
    assert all(r.decision("ai-training") is Decision.RESERVED for r in results)


def test_second_run_reuses_the_persisted_origin_cache(publisher: MakePublisher) -> None:
    """A rerun within the TTL does not refetch robots.txt, tdmrep.json or ai.txt."""
    pub = publisher(Site(robots_txt=BLOCK_GPTBOT, default=PAGE))
    check_url(pub.url(0, "/one"), settings=_settings())
    pub.reset_counts()
    check_url(pub.url(0, "/two"), settings=_settings())
    assert pub.total_requests() == 1
    pub.reset_counts()
    check_url(pub.url(0, "/three"), settings=_settings(cache=False))
    assert pub.total_requests() == 4


def test_crawl_disallowed_items_are_not_fetched(publisher: MakePublisher) -> None:
    """Paths our own token may not crawl are judged from robots.txt alone, with no request."""
    pub = publisher(Site(robots_txt="User-agent: rightfulbot\nDisallow: /private\n", default=PAGE))
    result = check_url(pub.url(0, "/private/x"), settings=_settings())
    assert result.crawl_allowed is False
    assert result.decision("data-mining") is Decision.RESERVED
    assert pub.requests[(pub.origins[0], "GET", "/private/x")] == 0


def test_binary_items_are_checked_with_head_only(publisher: MakePublisher) -> None:
    """A .zip is judged from a HEAD: its headers count, its body is never downloaded."""
    archive = Resource(body=b"PK\x03\x04" + b"\0" * 5000, headers={"X-Robots-Tag": "noai"},
                       content_type="application/zip")  # fmt: skip
    pub = publisher(Site(robots_txt="User-agent: *\nAllow: /\n", pages={"/d.zip": archive}))
    result = check_url(pub.url(0, "/d.zip"), settings=_settings())
    assert result.decision("ai-training") is Decision.RESERVED
    assert pub.requests[(pub.origins[0], "HEAD", "/d.zip")] == 1
    assert pub.requests[(pub.origins[0], "GET", "/d.zip")] == 0


def test_bad_urls_in_a_stream_become_error_results(publisher: MakePublisher) -> None:
    """One bad line in a bulk run is a result with invalid-url, not the end of the run."""
    pub = publisher(Site(robots_txt="User-agent: *\nAllow: /\n", default=PAGE))
    results = {r.item: r for r in check_urls(["ftp://x/y", "not a url", pub.url(0, "/ok")], settings=_settings())}
    assert [e.code for e in results["ftp://x/y"].errors] == ["invalid-url"]
    assert [e.code for e in results["not a url"].errors] == ["invalid-url"]
    assert results[pub.url(0, "/ok")].decision("ai-training") is Decision.ALLOWED
    with pytest.raises(InvalidInput):
        check_url("ftp://example.org/file")


def test_check_response_matches_check_url(publisher: MakePublisher) -> None:
    """The same response gives the same verdicts through check_url and check_response."""
    headers = {"X-Robots-Tag": "noai", "Content-Type": "text/html"}
    page = Resource(body=PAGE.body, headers={"X-Robots-Tag": "noai"}, content_type="text/html")
    pub = publisher(Site(robots_txt=BLOCK_GPTBOT, pages={"/p": page}))
    via_url = check_url(pub.url(0, "/p"), settings=_settings())
    via_response = check_response(pub.url(0, "/p"), [(k, v) for k, v in headers.items()], PAGE.body,
                                  settings=_settings())  # fmt: skip
    assert {p: v.decision for p, v in via_url.verdicts.items()} == {
        p: v.decision for p, v in via_response.verdicts.items()
    }
    offline = check_response("https://example.org/p", {"x-robots-tag": "noai"}, fetch_origin=False)
    assert offline.decision("ai-training") is Decision.RESERVED
    assert offline.crawl_allowed is None


def test_stopping_early_cancels_the_rest_promptly(publisher: MakePublisher) -> None:
    """Breaking out of check_urls stops the run: in-flight checks are cancelled, nothing hangs."""
    pub = publisher(Site(robots_txt="User-agent: *\nAllow: /\n", default=Resource(body=PAGE.body, delay=0.5)))
    urls = (pub.url(0, f"/slow/{n}") for n in range(10_000))
    started = time.monotonic()
    for result in check_urls(urls, settings=_settings(concurrency=16)):
        assert result.decision("ai-training") is Decision.ALLOWED
        break
    assert time.monotonic() - started < 10
    assert pub.total_requests() < 200


def test_lines_of_a_file_are_accepted_as_they_are(publisher: MakePublisher, tmp_path: Path) -> None:
    """Newlines are stripped and blank lines skipped, so check_urls(open(path)) just works."""
    pub = publisher(Site(robots_txt="User-agent: *\nAllow: /\n", default=PAGE))
    listing = tmp_path / "urls.txt"
    listing.write_text(f"{pub.url(0, '/a')}\n\n  {pub.url(0, '/b')}  \n", encoding="utf-8")
    with listing.open(encoding="utf-8") as fh:
        items = sorted(r.item for r in check_urls(fh, settings=_settings()))
    assert items == [pub.url(0, "/a"), pub.url(0, "/b")]
