"""robots.txt: RFC 9309 parsing and matching, the AI-token policy, fetch outcomes and the extensions."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rightful.config import TokenPolicy
from rightful.models import Decision, Purpose, Signal
from rightful.signals.agents import load_agents
from rightful.signals.base import OWN_TOKEN, DocumentState, OriginDocument
from rightful.signals.robots import RobotsEvaluation, RobotsTxt

AGENTS = load_agents()
LOCATION = "https://example.org/robots.txt"


def evaluate(
    source: str | bytes | RobotsTxt,
    path: str,
    *,
    policy: TokenPolicy = "any-ai-token",
    fetched_at: datetime | None = None,
    document_hash: str | None = None,
) -> RobotsEvaluation:
    robots = source if isinstance(source, RobotsTxt) else RobotsTxt.parse(source)
    return robots.evaluate(
        path,
        own_token=OWN_TOKEN,
        policy=policy,
        agents=AGENTS,
        location=LOCATION,
        fetched_at=fetched_at,
        document_hash=document_hash,
    )


def decision(ev: RobotsEvaluation, purpose: Purpose, protocol: str | None = None) -> Decision:
    """Most restrictive value over the signals (of one protocol), as the combiner would give."""
    found = {s.values.get(purpose) for s in ev.findings.signals if protocol is None or s.protocol == protocol}
    if Decision.RESERVED in found:
        return Decision.RESERVED
    return Decision.ALLOWED if Decision.ALLOWED in found else Decision.UNKNOWN


def signal(ev: RobotsEvaluation, protocol: str, purpose: Purpose) -> Signal:
    return next(s for s in ev.findings.signals if s.protocol == protocol and purpose in s.values)


def allowed(text: str | bytes, path: str, token: str = OWN_TOKEN) -> bool:
    return RobotsTxt.parse(text).match(token, path).allowed


# --- SPEC vectors: crawl permission (match / crawl_allowed); ai-training under own-token follows it ---------


def test_spec_longest_disallow_beats_shorter_allow() -> None:
    """`User-agent: *` / `Allow: /` / `Disallow: /apply` → /apply disallowed (and ai-training reserved)."""
    text = "User-agent: *\nAllow: /\nDisallow: /apply\n"
    assert not allowed(text, "/apply")
    ev = evaluate(text, "/apply", policy="own-token")
    assert not ev.crawl_allowed
    assert decision(ev, Purpose.AI_TRAINING) is Decision.RESERVED


def test_spec_allow_wins_a_tie() -> None:
    """`Disallow: /page` + `Allow: /page` → allowed: on equal length, Allow wins."""
    text = "User-agent: *\nDisallow: /page\nAllow: /page\n"
    match = RobotsTxt.parse(text).match(OWN_TOKEN, "/page")
    assert match.allowed
    assert match.rule is not None
    assert match.rule.allow
    assert decision(evaluate(text, "/page", policy="own-token"), Purpose.AI_TRAINING) is Decision.ALLOWED


def test_spec_own_group_replaces_star_but_ai_tokens_fall_to_star() -> None:
    """`*` disallows /, our group disallows /private → /public crawlable; AI tokens fall to `*` → reserved."""
    text = "User-agent: *\nDisallow: /\n\nUser-agent: rightfulbot\nDisallow: /private\n"
    assert allowed(text, "/public")
    assert not allowed(text, "/private")
    assert decision(evaluate(text, "/public", policy="own-token"), Purpose.AI_TRAINING) is Decision.ALLOWED
    ev = evaluate(text, "/public")
    assert ev.crawl_allowed
    assert decision(ev, Purpose.AI_TRAINING) is Decision.RESERVED
    assert decision(ev, Purpose.DATA_MINING) is Decision.ALLOWED


def test_spec_groups_naming_the_token_are_merged() -> None:
    """Two rightfulbot groups disallowing /a and /b → /b disallowed too."""
    text = (
        "User-agent: rightfulbot\nDisallow: /a\n\n"
        "User-agent: other\nDisallow: /\n\n"
        "User-agent: RightfulBot\nDisallow: /b\n"
    )
    robots = RobotsTxt.parse(text)
    assert not robots.match(OWN_TOKEN, "/a").allowed
    match = robots.match(OWN_TOKEN, "/b")
    assert not match.allowed
    assert match.rule is not None
    assert match.rule.line == 8
    assert match.group == ("rightfulbot", "RightfulBot")


def test_spec_group_matching_is_whole_token() -> None:
    """A group `rightful` does not bind `rightfulbot` (protego would match it by substring)."""
    text = "User-agent: rightful\nDisallow: /\n"
    match = RobotsTxt.parse(text).match(OWN_TOKEN, "/")
    assert match.allowed
    assert match.group == ()
    assert not allowed(text, "/", token="Rightful")


def test_spec_dollar_anchors_the_end() -> None:
    """`Disallow: /*.pdf$` → /a.pdf disallowed, /a.pdf?x=1 allowed."""
    text = "User-agent: *\nDisallow: /*.pdf$\n"
    assert not allowed(text, "/a.pdf")
    assert allowed(text, "/a.pdf?x=1")
    assert not allowed(text, "/dir/b.pdf")


def test_spec_bom_is_stripped() -> None:
    """A UTF-8 BOM before `User-agent: *` / `Disallow: /` does not hide the group → disallowed."""
    assert not allowed(b"\xef\xbb\xbfUser-agent: *\nDisallow: /\n", "/x")
    assert not allowed("\ufeffUser-agent: *\nDisallow: /\n", "/x")


def test_spec_blank_line_inside_a_group_does_not_matter() -> None:
    """A blank line between `User-agent: rightfulbot` and `Disallow: /` → still disallowed."""
    assert not allowed("User-agent: rightfulbot\n\nDisallow: /\n", "/x")


@pytest.mark.parametrize("status", [404, 403, 410])
def test_spec_unavailable_allows_everything(status: int) -> None:
    """4xx → robots.txt unavailable → no restrictions, for crawling and for every purpose."""
    doc = OriginDocument(url=LOCATION, state=DocumentState.UNAVAILABLE, status=status)
    robots = RobotsTxt.from_document(doc)
    assert robots.match(OWN_TOKEN, "/x").allowed
    ev = evaluate(robots, "/x")
    assert ev.crawl_allowed
    for purpose in (Purpose.AI_TRAINING, Purpose.DATA_MINING, Purpose.SEARCH):
        assert decision(ev, purpose) is Decision.ALLOWED
    assert f"robots.txt unavailable (HTTP {status}): no restrictions" in ev.findings.signals[0].rule
    assert not ev.findings.errors


@pytest.mark.parametrize(("status", "error", "words"), [(503, None, "HTTP 503"), (None, "timeout", "timeout")])
def test_spec_unreachable_disallows_everything(status: int | None, error: str | None, words: str) -> None:
    """5xx / timeout → unreachable → complete disallow: crawl refused, every purpose reserved, error kept."""
    doc = OriginDocument(url=LOCATION, state=DocumentState.UNREACHABLE, status=status, error=error)
    robots = RobotsTxt.from_document(doc)
    assert not robots.match(OWN_TOKEN, "/x").allowed
    ev = evaluate(robots, "/x")
    assert not ev.crawl_allowed
    for purpose in (Purpose.AI_TRAINING, Purpose.DATA_MINING, Purpose.SEARCH, Purpose.GENAI_TRAINING):
        assert decision(ev, purpose) is Decision.RESERVED
    assert f"robots.txt unreachable ({words}): complete disallow" in ev.findings.signals[0].rule
    assert [e.code for e in ev.findings.errors] == ["robots-unreachable"]


def test_spec_too_many_redirects_is_unavailable() -> None:
    """Six redirects: the fetcher reports unavailable, which allows everything."""
    doc = OriginDocument(url=LOCATION, state=DocumentState.UNAVAILABLE, error="more than 5 redirects")
    ev = evaluate(RobotsTxt.from_document(doc), "/x")
    assert ev.crawl_allowed
    assert decision(ev, Purpose.AI_TRAINING) is Decision.ALLOWED
    assert "more than 5 redirects" in ev.findings.signals[0].rule


def test_spec_ai_token_disallow_reserves_training_but_not_our_crawl() -> None:
    """`User-agent: Google-Extended` / `Disallow: /` → our crawl allowed, ai-training reserved."""
    text = "User-agent: Google-Extended\nDisallow: /\n"
    ev = evaluate(text, "/article")
    assert ev.crawl_allowed
    assert decision(ev, Purpose.AI_TRAINING) is Decision.RESERVED
    training = signal(ev, "robots.txt", Purpose.AI_TRAINING)
    assert training.values[Purpose.AI_TRAINING] is Decision.RESERVED
    assert training.rule == "Disallow: / (line 2) in group for Google-Extended"
    assert training.line == 2
    assert training.raw == "Disallow: /"
    assert training.details["disallowed"] == {"Google-Extended": 2}
    assert decision(evaluate(text, "/article", policy="own-token"), Purpose.AI_TRAINING) is Decision.ALLOWED


# --- RFC 9309 details -----------------------------------------------------------------------------------------


def test_lines_before_the_first_user_agent_are_ignored() -> None:
    """Rules before any `User-agent` line belong to no group."""
    assert allowed("Disallow: /\nUser-agent: *\nDisallow: /private\n", "/public")


def test_sitemap_and_unknown_lines_do_not_end_a_group() -> None:
    """`Sitemap` and unknown lines between user-agent lines keep them in one group."""
    text = "User-agent: a\nCrawl-delay: 3\nSitemap: https://x/s.xml\nUser-agent: rightfulbot\nDisallow: /x\n"
    robots = RobotsTxt.parse(text)
    assert not robots.match("a", "/x").allowed
    assert not robots.match(OWN_TOKEN, "/x").allowed
    assert robots.sitemaps == ("https://x/s.xml",)


def test_a_rule_ends_the_user_agent_run() -> None:
    """A user-agent line after a rule starts a new group."""
    text = "User-agent: a\nDisallow: /a\nUser-agent: b\nDisallow: /b\n"
    robots = RobotsTxt.parse(text)
    assert robots.match("a", "/b").allowed
    assert not robots.match("b", "/b").allowed


def test_user_agent_values_are_reduced_to_product_tokens_case_insensitively() -> None:
    """`User-agent: GPTBot/1.1 (+https://openai.com)` names GPTBot; matching ignores case."""
    text = "User-agent: GPTBot/1.1 (+https://openai.com)\nDisallow: /\n"
    assert not allowed(text, "/", token="gptbot")
    assert allowed(text, "/", token="GPTBot-Image")


def test_longest_match_wins_regardless_of_order() -> None:
    """The most specific rule (most octets) decides, not the first one."""
    text = "User-agent: *\nDisallow: /a\nAllow: /a/b/c\nDisallow: /a/b\n"
    assert allowed(text, "/a/b/c/d")
    assert not allowed(text, "/a/b/x")


def test_wildcards_match_any_sequence() -> None:
    """`*` matches any sequence of octets, including none."""
    text = "User-agent: *\nDisallow: /*/private/*.html\n"
    assert not allowed(text, "/x/private/a.html")
    assert not allowed(text, "/x/y/private/.html")
    assert allowed(text, "/private/a.html")


def test_empty_disallow_allows_everything() -> None:
    """`Disallow:` with no path is no rule at all."""
    assert allowed("User-agent: *\nDisallow:\n", "/anything")


def test_robots_txt_itself_is_always_allowed() -> None:
    """`/robots.txt` is implicitly allowed, even under `Disallow: /`."""
    text = "User-agent: *\nDisallow: /\n"
    assert allowed(text, "/robots.txt")
    ev = evaluate(text, "/robots.txt")
    assert ev.crawl_allowed
    assert decision(ev, Purpose.AI_TRAINING) is Decision.ALLOWED


@pytest.mark.parametrize(
    ("rule", "path"),
    [
        ("/~joe", "/%7Ejoe"),
        ("/%7ejoe", "/~joe"),
        ("/café", "/caf%C3%A9"),
        ("/caf%c3%a9", "/café"),
        ("/a b", "/a%20b"),
    ],
)
def test_percent_encoding_is_normalised_on_both_sides(rule: str, path: str) -> None:
    """Encoded unreserved octets are decoded, non-ASCII is encoded, hex case does not matter."""
    assert not allowed(f"User-agent: *\nDisallow: {rule}\n", path)


def test_reserved_characters_stay_distinct_when_encoded() -> None:
    """`%2F` is not `/`: an encoded reserved character is kept encoded."""
    assert allowed("User-agent: *\nDisallow: /a/b\n", "/a%2Fb")


def test_paths_are_case_sensitive() -> None:
    """Path matching is case-sensitive."""
    assert allowed("User-agent: *\nDisallow: /Private\n", "/private")


def test_full_urls_are_accepted_as_paths() -> None:
    """A full URL is reduced to its path and query."""
    assert not allowed("User-agent: *\nDisallow: /a?b\n", "https://example.org/a?b=1#frag")


@pytest.mark.parametrize("newline", ["\r\n", "\r", "\n"])
def test_crlf_cr_and_lf_line_ends(newline: str) -> None:
    """CRLF, CR and LF all end lines, and line numbers follow them."""
    text = newline.join(["# c", "User-agent: *", "Disallow: /x", ""])
    match = RobotsTxt.parse(text.encode()).match(OWN_TOKEN, "/x")
    assert not match.allowed
    assert match.rule is not None
    assert match.rule.line == 3


def test_missing_colon_is_tolerated_like_google() -> None:
    """`Disallow /x` (no colon) is read, as Google's parser does."""
    assert not allowed("User-agent: *\nDisallow /x\n", "/x")


def test_large_files_are_truncated_and_the_truncation_recorded() -> None:
    """Rules past max_bytes are ignored and the truncation is noted in the evidence."""
    head = "User-agent: *\nDisallow: /early\n"
    body = head + "#" * 600_000 + "\nDisallow: /late\n"
    robots = RobotsTxt.parse(body.encode())
    assert robots.truncated
    assert not robots.match(OWN_TOKEN, "/early").allowed
    assert robots.match(OWN_TOKEN, "/late").allowed
    notes = signal(evaluate(robots, "/x"), "robots.txt", Purpose.AI_TRAINING).details["notes"]
    assert any("524288 bytes" in n for n in notes)


def test_a_line_cut_by_the_size_limit_is_dropped() -> None:
    """A rule cut in half by max_bytes (`/priv` of `/private`) is not read as a shorter, broader rule."""
    robots = RobotsTxt.parse(b"User-agent: *\nDisallow: /a\nDisallow: /private\n", max_bytes=36)
    assert robots.truncated
    assert not robots.match(OWN_TOKEN, "/a").allowed
    assert robots.match(OWN_TOKEN, "/priv").allowed
    assert robots.match(OWN_TOKEN, "/private").allowed


def test_truncation_by_the_fetcher_is_recorded() -> None:
    """A body the fetcher already cut is marked truncated too."""
    doc = OriginDocument(url=LOCATION, state=DocumentState.OK, status=200, body=b"User-agent: *\n", truncated=True)
    assert RobotsTxt.from_document(doc).truncated


def test_at_least_500_kib_is_parsed() -> None:
    """A rule just under 500 KiB into the file is still read."""
    body = "User-agent: *\n" + ("#" * 1000 + "\n") * 500 + "Disallow: /deep\n"
    assert len(body) > 500_000
    assert not allowed(body.encode(), "/deep")


def test_non_utf8_bytes_are_tolerated() -> None:
    """A Latin-1 file is decoded, not rejected; its non-ASCII paths match their UTF-8 URLs."""
    robots = RobotsTxt.parse("User-agent: *\nDisallow: /café\n".encode("latin-1"))
    assert not robots.match(OWN_TOKEN, "/caf%C3%A9").allowed
    assert any("Latin-1" in n for n in robots.notes)


def test_mixed_encodings_are_decoded_line_by_line() -> None:
    """One Latin-1 line does not spoil the UTF-8 lines around it."""
    body = "User-agent: *\nDisallow: /naïve\n".encode() + "Disallow: /été\n".encode("latin-1")
    robots = RobotsTxt.parse(body)
    assert not robots.match(OWN_TOKEN, "/na%C3%AFve").allowed
    assert not robots.match(OWN_TOKEN, "/%C3%A9t%C3%A9").allowed


def test_binary_garbage_yields_no_rules() -> None:
    """Random binary bytes parse to no groups: everything allowed, nothing raised."""
    robots = RobotsTxt.parse(bytes(range(256)) * 40)
    assert robots.groups == ()
    assert robots.match(OWN_TOKEN, "/").allowed


def test_html_body_yields_no_rules_and_an_error() -> None:
    """An HTML page served with 200 is not robots.txt: no rules, and the evaluation records why."""
    html = b"<HTML>\n<HEAD><TITLE>404</TITLE></HEAD>\nUser-agent: *\nDisallow: /\n</HTML>\n"
    robots = RobotsTxt.parse(html)
    assert robots.groups == ()
    assert robots.is_html
    ev = evaluate(robots, "/x")
    assert ev.crawl_allowed
    assert [e.code for e in ev.findings.errors] == ["robots-html-body"]


def test_rules_keep_their_line_numbers_and_raw_text() -> None:
    """Every rule carries its line number and raw line (comments stripped from matching, not from raw)."""
    robots = RobotsTxt.parse("# x\n\nUser-agent: *\nDisallow: /x  # private\n")
    rule = robots.groups[0].rules[0]
    assert (rule.allow, rule.pattern, rule.line, rule.raw) == (False, "/x", 4, "Disallow: /x  # private")


def test_match_many_group_for_and_fallback() -> None:
    """match_many answers several tokens at once; group_for and falls_to_star say which group applies."""
    robots = RobotsTxt.parse("User-agent: GPTBot\nDisallow: /\n\nUser-agent: *\nDisallow: /x\n")
    answers = robots.match_many(["GPTBot", "CCBot", OWN_TOKEN], "/page")
    assert [answers[t].allowed for t in ("GPTBot", "CCBot", OWN_TOKEN)] == [False, True, True]
    assert answers["CCBot"].group == ("*",)
    assert robots.falls_to_star("CCBot")
    assert not robots.falls_to_star("gptbot")
    group = robots.group_for("GPTBot")
    assert group is not None
    assert group.agents == ("GPTBot",)
    assert RobotsTxt.parse("User-agent: a\nDisallow: /\n").group_for("b") is None


# --- purposes and evidence ------------------------------------------------------------------------------------


def test_star_disallow_reserves_training_under_any_ai_token() -> None:
    """`User-agent: *` / `Disallow: /` reserves ai-training, data-mining and search."""
    ev = evaluate("User-agent: *\nDisallow: /\n", "/x")
    assert not ev.crawl_allowed
    for purpose in (Purpose.AI_TRAINING, Purpose.DATA_MINING, Purpose.SEARCH, Purpose.GENAI_TRAINING):
        assert decision(ev, purpose) is Decision.RESERVED
    training = signal(ev, "robots.txt", Purpose.AI_TRAINING)
    assert "in group * for rightfulbot, GPTBot" in training.rule
    assert "(no group of their own)" in training.rule


def test_no_rules_allow_everything() -> None:
    """A robots.txt that disallows nothing relevant allows ai-training, data-mining and search."""
    ev = evaluate("User-agent: SomeSEOBot\nDisallow: /\n", "/x")
    for purpose in (Purpose.AI_TRAINING, Purpose.DATA_MINING, Purpose.SEARCH):
        assert decision(ev, purpose) is Decision.ALLOWED


def test_own_disallow_reserves_data_mining() -> None:
    """Our own token disallowed → data-mining reserved (and so ai-training)."""
    ev = evaluate("User-agent: rightfulbot\nDisallow: /\n", "/x", policy="own-token")
    assert decision(ev, Purpose.DATA_MINING) is Decision.RESERVED
    assert decision(ev, Purpose.AI_TRAINING) is Decision.RESERVED
    assert not ev.crawl_allowed


def test_allowed_data_mining_does_not_imply_allowed_training() -> None:
    """The data-mining signal leaves ai-training to the training signal instead of carrying `allowed` down."""
    ev = evaluate("User-agent: GPTBot\nDisallow: /\n", "/x")
    mining = signal(ev, "robots.txt", Purpose.DATA_MINING)
    assert mining.values[Purpose.DATA_MINING] is Decision.ALLOWED
    assert Purpose.AI_TRAINING not in mining.values
    assert decision(ev, Purpose.AI_TRAINING) is Decision.RESERVED


def test_search_tokens_decide_search() -> None:
    """Any disallowed search token reserves search; the evidence names it."""
    ev = evaluate("User-agent: Bingbot\nDisallow: /\n", "/x")
    assert decision(ev, Purpose.SEARCH) is Decision.RESERVED
    assert decision(ev, Purpose.AI_TRAINING) is Decision.ALLOWED
    assert "Bingbot" in signal(ev, "robots.txt", Purpose.SEARCH).rule


def test_user_fetch_tokens_are_reported_without_a_purpose() -> None:
    """A disallowed ChatGPT-User is listed in details; it decides no purpose."""
    ev = evaluate("User-agent: ChatGPT-User\nDisallow: /\n", "/x")
    assert decision(ev, Purpose.AI_TRAINING) is Decision.ALLOWED
    assert decision(ev, Purpose.AI_INFERENCE) is Decision.UNKNOWN
    assert signal(ev, "robots.txt", Purpose.AI_TRAINING).details["user_fetch_disallowed"] == {"ChatGPT-User": 2}


def test_evidence_carries_fetch_time_and_document_hash() -> None:
    """fetched_at and document_hash are passed through to every signal."""
    at = datetime(2026, 1, 2, tzinfo=UTC)
    ev = evaluate("User-agent: *\nDisallow: /\n", "/x", fetched_at=at, document_hash="sha256:ab")
    assert all(s.fetched_at == at and s.document_hash == "sha256:ab" for s in ev.findings.signals)
    assert all(s.location == LOCATION for s in ev.findings.signals)


def test_several_tokens_on_one_rule_are_named_in_one_clause() -> None:
    """Stacked user-agent lines sharing one Disallow give one clause naming the tokens."""
    text = "User-agent: GPTBot\nUser-agent: CCBot\nUser-agent: ClaudeBot\nDisallow: /\n"
    training = signal(evaluate(text, "/x"), "robots.txt", Purpose.AI_TRAINING)
    assert training.rule == "Disallow: / (line 4) in group for GPTBot, CCBot, ClaudeBot"
    assert training.details["disallowed"] == {"GPTBot": 4, "CCBot": 4, "ClaudeBot": 4}


def test_evaluation_is_stable_across_paths_sharing_rules() -> None:
    """Cached evidence is reused for paths decided by the same rules, and differs where rules differ."""
    robots = RobotsTxt.parse("User-agent: *\nDisallow: /private\n")
    first, second = evaluate(robots, "/a"), evaluate(robots, "/b")
    assert first.findings.signals == second.findings.signals
    assert first.findings.signals is not second.findings.signals
    assert decision(evaluate(robots, "/private/x"), Purpose.AI_TRAINING) is Decision.RESERVED


# --- extensions -----------------------------------------------------------------------------------------------


def test_content_usage_longest_path_prefix_wins() -> None:
    """`Content-Usage: /path prefs` lines: the longest matching path decides (protocol aipref)."""
    text = "User-agent: *\nAllow: /\nContent-Usage: train-ai=n\nContent-Usage: /open/ train-ai=y\n"
    assert decision(evaluate(text, "/x"), Purpose.AI_TRAINING, "aipref") is Decision.RESERVED
    ev = evaluate(text, "/open/a")
    assert decision(ev, Purpose.AI_TRAINING, "aipref") is Decision.ALLOWED
    usage = signal(ev, "aipref", Purpose.AI_TRAINING)
    assert usage.line == 4
    assert usage.raw == "Content-Usage: /open/ train-ai=y"


def test_content_usage_conflict_at_same_path_is_most_restrictive() -> None:
    """Two statements for the same path: n wins over y, whatever their order."""
    text = "User-agent: *\nContent-Usage: /a train-ai=n\nContent-Usage: /a train-ai=y, search=y\n"
    ev = evaluate(text, "/a/b")
    assert decision(ev, Purpose.AI_TRAINING, "aipref") is Decision.RESERVED
    assert decision(ev, Purpose.SEARCH, "aipref") is Decision.ALLOWED


def test_content_usage_applies_only_to_crawlable_paths() -> None:
    """In a group that disallows the path, Content-Usage is not applied (and the evidence says so)."""
    text = "User-agent: *\nDisallow: /private\nContent-Usage: train-ai=y\n"
    ev = evaluate(text, "/private/x")
    assert not [s for s in ev.findings.signals if s.protocol == "aipref"]
    mining = signal(ev, "robots.txt", Purpose.DATA_MINING)
    assert mining.details["extensions_not_applied"] == ["Content-Usage (line 3)"]
    assert decision(evaluate(text, "/public"), Purpose.AI_TRAINING, "aipref") is Decision.ALLOWED


def test_content_usage_is_read_in_our_own_group_only() -> None:
    """A Content-Usage line in another crawler's group does not apply to us."""
    text = "User-agent: GPTBot\nContent-Usage: train-ai=n\nAllow: /\n\nUser-agent: *\nAllow: /\n"
    assert not [s for s in evaluate(text, "/x").findings.signals if s.protocol == "aipref"]


def test_content_usage_legacy_label_and_parse_error_are_recorded() -> None:
    """A legacy label gives a legacy-label warning; an unparsable value an aipref-parse error."""
    ev = evaluate("User-agent: *\nContent-Usage: ai=n\n", "/x")
    assert [e.code for e in ev.findings.errors] == ["legacy-label"]
    assert decision(ev, Purpose.AI_TRAINING, "aipref") is Decision.UNKNOWN
    ev = evaluate("User-agent: *\nContent-Usage: Train-AI=n\n", "/x")
    assert [e.code for e in ev.findings.errors] == ["aipref-parse"]


def test_disallow_ai_training_lines() -> None:
    """`DisallowAITraining` / `AllowAITraining` are path rules (longest match) under protocol robots-ai-training."""
    text = "User-agent: *\nDisallowAITraining: /\nAllowAITraining: /public/\n"
    assert decision(evaluate(text, "/x"), Purpose.AI_TRAINING, "robots-ai-training") is Decision.RESERVED
    ev = evaluate(text, "/public/a")
    assert decision(ev, Purpose.AI_TRAINING, "robots-ai-training") is Decision.ALLOWED
    assert ev.crawl_allowed


def test_content_signal_line_in_group() -> None:
    """`Content-Signal: search=yes, ai-train=no` in our group → ai-training reserved, ai-inference unknown."""
    ev = evaluate("User-agent: *\nContent-Signal: search=yes, ai-train=no\nAllow: /\n", "/x")
    assert decision(ev, Purpose.AI_TRAINING, "content-signal") is Decision.RESERVED
    assert decision(ev, Purpose.SEARCH, "content-signal") is Decision.ALLOWED
    assert decision(ev, Purpose.AI_INFERENCE, "content-signal") is Decision.UNKNOWN


def test_content_signal_with_path() -> None:
    """`Content-Signal: /docs/ ai-train=no` applies under /docs/ only."""
    text = "User-agent: *\nContent-Signal: /docs/ ai-train=no\n"
    assert decision(evaluate(text, "/docs/a"), Purpose.AI_TRAINING, "content-signal") is Decision.RESERVED
    assert not [s for s in evaluate(text, "/x").findings.signals if s.protocol == "content-signal"]


def test_license_line_is_a_file_wide_licence_constraint() -> None:
    """`License: URL` (RSL) anywhere in the file gives a licence constraint, no purpose value."""
    ev = evaluate("License: https://example.org/license.xml\nUser-agent: *\nAllow: /\n", "/x")
    assert [(c.source, c.licence) for c in ev.findings.licence] == [("rsl", "https://example.org/license.xml")]
    assert not [s for s in ev.findings.signals if s.protocol == "rsl"]


def test_extension_outside_any_group_is_noted() -> None:
    """A Content-Signal line before any User-agent belongs to no group: ignored and noted."""
    robots = RobotsTxt.parse("Content-Signal: ai-train=no\nUser-agent: *\nAllow: /\n")
    assert any("outside any group" in n for n in robots.notes)


# --- performance and properties -------------------------------------------------------------------------------


def _big_robots() -> str:
    lines = [f"User-agent: Bot{chr(65 + i % 26)}{i}\nDisallow: /b{i}/\n" for i in range(40)]
    lines += [f"User-agent: {t}\nDisallow: /\n" for t in AGENTS.training[:15]]
    lines.append("User-agent: *\n" + "".join(f"Disallow: /p{i}/*.html$\nAllow: /p{i}/pub\n" for i in range(30)))
    return "\n".join(lines)


def test_evaluate_is_fast_with_the_full_agent_list() -> None:
    """evaluate() on a ~200-line file with every agent takes well under 100 µs per path (bound relaxed for CI)."""
    robots = RobotsTxt.parse(_big_robots())
    assert len(_big_robots().splitlines()) >= 200
    evaluate(robots, "/warm")
    n = 2000
    start = time.perf_counter()
    for i in range(n):
        evaluate(robots, f"/p{i % 40}/article-{i}.html")
    per_call = (time.perf_counter() - start) / n
    assert per_call < 500e-6, f"{per_call * 1e6:.1f} µs per evaluate()"


@given(st.binary(max_size=4000))
@settings(max_examples=300, deadline=None)
def test_parse_never_crashes_on_bytes(data: bytes) -> None:
    """Any bytes parse and evaluate without raising."""
    robots = RobotsTxt.parse(data)
    ev = evaluate(robots, "/x")
    assert isinstance(ev.crawl_allowed, bool)


@given(st.text(max_size=2000), st.text(max_size=80))
@settings(max_examples=300, deadline=None)
def test_parse_and_match_never_crash_on_text(text: str, path: str) -> None:
    """Any text and any path parse and match without raising; /robots.txt is always allowed."""
    robots = RobotsTxt.parse("User-agent: *\n" + text)
    robots.match(OWN_TOKEN, path)
    assert robots.match(OWN_TOKEN, "/robots.txt").allowed


_SEGMENT = st.text(alphabet="abcxyzé~-._%20", min_size=1, max_size=12)


@given(_SEGMENT, _SEGMENT)
@settings(max_examples=200, deadline=None)
def test_a_disallowed_path_and_everything_under_it_is_disallowed(first: str, rest: str) -> None:
    """Property: `Disallow: P` disallows P and P + anything; an equal `Allow: P` reverses it (Allow wins ties)."""
    path = f"/{first}".replace("*", "").replace("$", "")
    text = f"User-agent: *\nDisallow: {path}\n"
    assert not allowed(text, path)
    assert not allowed(text, path + "/" + rest)
    assert allowed(text + f"Allow: {path}\n", path)
