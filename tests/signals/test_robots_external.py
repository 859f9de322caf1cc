"""robots.txt against real files from ../shared/fixtures/external (robots/ and misc/robots-served-wrong/).

The can-fetch("/") table below is SOURCES.md's, observed with protego 0.7.0. Protego differs from RFC 9309 in
two ways that matter in general: it selects a group by *substring* (a group ``Spider`` applies to
``Bytespider``; it then keeps the single longest such group instead of merging), and it does not strip a BOM.
Reading every file, the only substring overlaps with the eight tokens below are ``Spider`` ⊂ ``Bytespider``
(ai-robots-txt.robots.txt, where ``Bytespider`` is also named in the same group, so both readings disallow it)
and the ``Googlebot-News`` / ``Googlebot-Image`` groups (lemonde.fr, stackoverflow.com, theverge.com), which
neither reading applies to ``Googlebot``. The whole-token (RFC) answer therefore equals protego's for every
cell; where they do differ — the BOM file in misc/ — the RFC answer is asserted and explained there.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rightful.models import Decision, Purpose
from rightful.signals.agents import load_agents
from rightful.signals.base import OWN_TOKEN
from rightful.signals.robots import RobotsEvaluation, RobotsTxt

pytestmark = pytest.mark.external

AGENTS = load_agents()
TOKENS = ("GPTBot", "CCBot", "Google-Extended", "ClaudeBot", "anthropic-ai", "PerplexityBot", "Bytespider", "Googlebot")
# file → can_fetch("/") for TOKENS, Y = allowed (SOURCES.md, verified against each file by reading it).
CAN_FETCH_ROOT = {
    "ai-robots-txt.robots.txt": "NNNNNNNY",
    "amazon.com.txt": "NNYYYYYY",
    "apnews.com.txt": "NNYNNNYY",
    "baxin.pages.dev.txt": "NNNNNNNY",
    "bbc.co.uk.txt": "NNNYNNNY",
    "cnn.com.txt": "NNNNNNNY",
    "davidguetta.com.2026-01.lowercased.txt": "NNNNYYNY",
    "en.wikipedia.org.txt": "YYYYYYYY",
    "github.com.txt": "YYYYYYYY",
    "lemonde.fr.txt": "YNNNNNNY",
    "lobste.rs.2026-01.lowercased.txt": "NNNNNNNY",
    "medium.com.txt": "NYYYYYYY",
    "newyorker.com.txt": "NNNYNNNY",
    "nineplus.sh.txt": "NNNNNNNY",
    "nytimes.com.txt": "NNNNNNNY",
    "pubs.acs.org.txt": "NYYYYYYY",
    "quora.com.txt": "NYNYYYYY",
    "reddit.com.txt": "YYYYYYYY",
    "reuters.com.txt": "YNNYNYYY",
    "stackoverflow.com.2026-01.lowercased.txt": "NNNNNNNN",
    "stackoverflow.com.txt": "YYYYYNNY",
    "theguardian.com.txt": "NNNNNNNY",
    "theverge.com.txt": "NNNNNNNY",
    "tumblr.com.txt": "YNNNNYYY",
    "unsplash.com.txt": "YYYNYYYY",
    "washingtonpost.com.txt": "NNNNNNNY",
}
# Files whose robots.txt reserves nothing for any AI-training token at "/" (the rest all name at least one).
NO_AI_RESERVATION = {"en.wikipedia.org.txt", "github.com.txt", "reddit.com.txt"}


def _load(external: Path, name: str) -> RobotsTxt:
    return RobotsTxt.parse((external / "robots" / name).read_bytes())


def _evaluate(robots: RobotsTxt, path: str, location: str = "https://example.org/robots.txt") -> RobotsEvaluation:
    return robots.evaluate(path, own_token=OWN_TOKEN, policy="any-ai-token", agents=AGENTS, location=location)


def test_the_table_covers_every_real_robots_file(external: Path) -> None:
    """Every robots.txt in external/robots/ is in the table (25+ files)."""
    files = {p.name for p in (external / "robots").glob("*.txt")}
    assert files == set(CAN_FETCH_ROOT)
    assert len(files) >= 25


@pytest.mark.parametrize("name", sorted(CAN_FETCH_ROOT))
def test_can_fetch_root_matches_the_observed_table(external: Path, name: str) -> None:
    """can-fetch("/") per token equals SOURCES.md's table (whole-token matching agrees with protego here)."""
    robots = _load(external, name)
    got = "".join("Y" if robots.match(token, "/").allowed else "N" for token in TOKENS)
    assert got == CAN_FETCH_ROOT[name]


@pytest.mark.parametrize("name", sorted(CAN_FETCH_ROOT))
def test_ai_training_verdict_at_root(external: Path, name: str) -> None:
    """Under any-ai-token, "/" is reserved for ai-training unless no AI-training token is disallowed."""
    ev = _evaluate(_load(external, name), "/")
    training = next(s for s in ev.findings.signals if s.protocol == "robots.txt" and Purpose.AI_TRAINING in s.values)
    expected = Decision.ALLOWED if name in NO_AI_RESERVATION else Decision.RESERVED
    assert training.values[Purpose.AI_TRAINING] is expected
    assert not ev.findings.errors


def test_lemonde_reserves_training_although_gptbot_is_allowed(external: Path) -> None:
    """Le Monde lets GPTBot in (licence deal) but blocks CCBot and others: reserved, GPTBot not named."""
    ev = _evaluate(_load(external, "lemonde.fr.txt"), "/article")
    training = ev.findings.signals[0]
    assert training.values[Purpose.AI_TRAINING] is Decision.RESERVED
    assert "GPTBot" not in training.details["disallowed"]
    assert "CCBot" in training.details["disallowed"]
    assert ev.crawl_allowed


def test_nineplus_stacked_user_agents_share_one_disallow(external: Path) -> None:
    """nineplus.sh: many stacked User-agent lines, one Disallow: / — one clause names them all."""
    ev = _evaluate(_load(external, "nineplus.sh.txt"), "/")
    training = ev.findings.signals[0]
    assert training.raw == "Disallow: /"
    assert training.rule.count("Disallow: /") == 1
    assert {"GPTBot", "CCBot", "ClaudeBot", "anthropic-ai"} <= set(training.details["disallowed"])


def test_wikipedia_starts_with_a_bom_and_still_parses(external: Path) -> None:
    """Wikipedia's file begins with a BOM and a comment; its many groups are read."""
    data = (external / "robots" / "en.wikipedia.org.txt").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    robots = RobotsTxt.parse(data)
    assert len(robots.groups) > 20
    assert not robots.match("MJ12bot", "/").allowed


def test_stackoverflow_2026_license_and_content_signal_are_found(external: Path) -> None:
    """SO 2026-01: `license:` (RSL, before any group) and `content-signal:` in the `*` group are read."""
    robots = _load(external, "stackoverflow.com.2026-01.lowercased.txt")
    assert [(lic.value, lic.line) for lic in robots.licences] == [("https://stackoverflow.com/license.xml", 1)]
    group = robots.group_for(OWN_TOKEN)
    assert group is not None
    assert [(e.directive, e.value, e.line) for e in group.extensions] == [
        ("Content-Signal", "search=no, ai-train=no", 4)
    ]
    ev = _evaluate(robots, "/questions/1")
    assert not ev.crawl_allowed
    assert [c.licence for c in ev.findings.licence] == ["https://stackoverflow.com/license.xml"]
    # `disallow: /` covers every path, so the Content-Signal never applies; the evidence says so.
    mining = next(s for s in ev.findings.signals if Purpose.DATA_MINING in s.values)
    assert mining.details["extensions_not_applied"] == ["Content-Signal (line 4)"]


def test_lobsters_content_signal_belongs_to_the_search_engine_group(external: Path) -> None:
    """lobste.rs: the content-signal line sits in the applebot/bingbot/... group, not in `*`."""
    robots = _load(external, "lobste.rs.2026-01.lowercased.txt")
    group = robots.group_for("Bingbot")
    assert group is not None
    assert [(e.directive, e.value) for e in group.extensions] == [
        ("Content-Signal", "ai-input=no, ai-train=no, search=yes")
    ]
    own = robots.group_for(OWN_TOKEN)
    assert own is not None
    assert own.extensions == ()
    assert not robots.match(OWN_TOKEN, "/").allowed
    assert robots.match("Bingbot", "/").allowed
    assert not robots.match("Bingbot", "/search").allowed


def test_davidguetta_content_signal_applies_to_us(external: Path) -> None:
    """davidguetta.com (Cloudflare managed): `*` has content-signal search=yes,ai-train=no and allows /."""
    ev = _evaluate(_load(external, "davidguetta.com.2026-01.lowercased.txt"), "/music")
    signal = next(s for s in ev.findings.signals if s.protocol == "content-signal")
    assert signal.values[Purpose.AI_TRAINING] is Decision.RESERVED
    assert signal.values[Purpose.SEARCH] is Decision.ALLOWED
    assert Purpose.AI_INFERENCE not in signal.values
    assert signal.line == 29
    # The two `*` groups are merged: /wp-admin/ is disallowed there, so the extension does not apply.
    blocked = _evaluate(_load(external, "davidguetta.com.2026-01.lowercased.txt"), "/wp-admin/x")
    assert not blocked.crawl_allowed
    assert not [s for s in blocked.findings.signals if s.protocol == "content-signal"]


@pytest.mark.parametrize("name", ["2glux.com.html-404.txt", "about.att.com.access-denied.txt"])
def test_html_served_as_robots_txt_yields_no_rules(external: Path, name: str) -> None:
    """An HTML error page served with 200 for /robots.txt parses to no groups: allowed, with an error noted."""
    robots = RobotsTxt.parse((external / "misc" / "robots-served-wrong" / name).read_bytes())
    assert robots.groups == ()
    assert robots.is_html
    ev = _evaluate(robots, "/")
    assert ev.crawl_allowed
    assert [e.code for e in ev.findings.errors] == ["robots-html-body"]


def test_bom_and_crlf_file(external: Path) -> None:
    """huodongxing.com: BOM right before `User-Agent: *`, CRLF line ends, last line without a newline.

    protego keeps the BOM, reads the first field as "\\ufeffuser-agent" and so loses the group: it would allow
    everything. RFC 9309 strips the BOM, so the group applies: /account/ is disallowed, `/` itself is allowed
    (`Allow: /$`), and the unterminated last line `Disallow: /create` is read.
    """
    data = (external / "misc" / "robots-served-wrong" / "huodongxing.com.bom-crlf.txt").read_bytes()
    assert data.startswith(b"\xef\xbb\xbfUser-Agent: *\r\n")
    robots = RobotsTxt.parse(data)
    assert robots.groups[0].agents == ("*",)
    assert robots.match(OWN_TOKEN, "/").allowed
    assert robots.match(OWN_TOKEN, "/events/123").allowed
    account = robots.match(OWN_TOKEN, "/account/settings")
    assert not account.allowed
    assert account.rule is not None
    assert account.rule.raw == "Disallow: /account/"
    assert account.rule.line == 12
    assert not robots.match(OWN_TOKEN, "/create").allowed
    assert _evaluate(robots, "/account/x").findings.signals[0].values[Purpose.AI_TRAINING] is Decision.RESERVED
