"""X-Robots-Tag and robots meta directives: noai, noimageai, noindex, scoping, combination."""

from __future__ import annotations

import email.message
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict

from rightful.models import Decision, Purpose
from rightful.signals import xrobots
from rightful.signals.base import Findings, HeaderMap
from rightful.signals.xrobots import Directive

URL = "https://example.com/a"
WHEN = datetime(2025, 5, 6, tzinfo=UTC)


def _header(value: str | list[str], *, is_image: bool = False, token: str = "rightfulbot") -> Findings:
    return xrobots.header_findings({"X-Robots-Tag": value}, url=URL, own_token=token, is_image=is_image)


def _values(found: Findings) -> dict[Purpose, Decision]:
    out: dict[Purpose, Decision] = {}
    for signal in found.signals:
        out.update(signal.values)
    return out


def _reserved(found: Findings, purpose: Purpose = Purpose.AI_TRAINING) -> bool:
    return _values(found).get(purpose) is Decision.RESERVED


# --- SPEC vectors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["noai", "NoAI", "NOAI", " noai "])
def test_noai_reserves_ai_training_in_any_case(value: str) -> None:
    """SPEC: `noai` / `NoAI` → ai-training reserved (and genai-training, which it contains)."""
    found = _header(value)
    assert _values(found) == {Purpose.AI_TRAINING: Decision.RESERVED, Purpose.GENAI_TRAINING: Decision.RESERVED}


def test_noindex_affects_search_only() -> None:
    """SPEC: `noindex` → search reserved; ai-training says nothing."""
    assert _values(_header("noindex")) == {Purpose.SEARCH: Decision.RESERVED}


def test_directives_scoped_to_another_crawler_do_not_bind_us() -> None:
    """SPEC: `googlebot: noindex, noai` → not reserved (the scope runs over the whole list)."""
    found = _header("googlebot: noindex, noai")
    assert _values(found) == {}


def test_directives_scoped_to_our_token_bind_us() -> None:
    """SPEC: `rightfulbot: noai` → reserved."""
    assert _reserved(_header("rightfulbot: noai"))


def test_separate_header_lines_combine_and_scopes_end_with_the_line() -> None:
    """SPEC: headers `otherbot: noindex` and `noai` → reserved (the second line is unscoped)."""
    found = _header(["otherbot: noindex", "noai"])
    assert _values(found) == {Purpose.AI_TRAINING: Decision.RESERVED, Purpose.GENAI_TRAINING: Decision.RESERVED}


def test_noimageai_reserves_images() -> None:
    """SPEC: `NoImageAI` (as in `<meta name="ROBOTS" content="NoImageAI">`) → images reserved."""
    found = xrobots.directive_findings(
        ["NoImageAI"], protocol=xrobots.META_PROTOCOL, location=URL, own_token="rightfulbot", is_image=True
    )
    assert _reserved(found)


# --- noimageai / noimageindex on pages --------------------------------------------------------------------


def test_noimageai_on_a_page_is_reported_not_applied() -> None:
    """On an HTML page `noimageai` has no values; details say it applies to the page's images."""
    (signal,) = _header("noimageai").signals
    assert signal.values == {}
    assert signal.details["applied"] is False
    assert signal.details["applies_to"] == "images"
    assert signal.details["image_values"] == {"ai-training": "reserved"}
    assert "images" in signal.rule


def test_noimageindex_only_affects_images() -> None:
    """`noimageindex` reserves search for an image, and is only reported on a page."""
    assert _values(_header("noimageindex", is_image=True)) == {Purpose.SEARCH: Decision.RESERVED}
    assert _values(_header("noimageindex")) == {}


def test_noai_applies_to_images_too() -> None:
    """`noai` on an image response reserves ai-training for that image."""
    assert _reserved(_header("noai", is_image=True))


# --- combination ------------------------------------------------------------------------------------------


def test_none_means_noindex_nofollow() -> None:
    """`none` reserves search (it is noindex + nofollow) and says nothing about AI."""
    assert _values(_header("none")) == {Purpose.SEARCH: Decision.RESERVED}


@pytest.mark.parametrize("value", ["all", "index, follow", "INDEX", "max-snippet: -1", "nofollow", "noarchive"])
def test_permissive_directives_are_not_permissions(value: str) -> None:
    """`all`/`index` say nothing about AI: no signal, never "allowed" (index, follow has not permitted training)."""
    assert _header(value).signals == []


@pytest.mark.parametrize(
    "value", ["index, noindex, noai", "all, noai, noindex", ["all", "noai, noindex"], ["noindex", "index, noai"]]
)
def test_most_restrictive_directive_wins(value: str | list[str]) -> None:
    """Contradicting lists combine to the most restrictive reading."""
    found = _header(value)
    assert _reserved(found)
    assert _reserved(found, Purpose.SEARCH)


def test_a_repeated_directive_gives_one_signal() -> None:
    """`noai` twice (in one line or across lines) is one signal, evidenced by its first occurrence."""
    found = _header(["noai, noai", "NOAI"])
    assert len(found.signals) == 1
    assert found.signals[0].raw == "X-Robots-Tag: noai, noai"


def test_space_separated_directives_are_read() -> None:
    """`noai noimageai` (spaces, no commas), as pages write it, gives both directives."""
    found = _header("noai noimageai", is_image=True)
    assert [s.details["directive"] for s in found.signals] == ["noai", "noimageai"]


def test_scoped_ai_directives_are_reported_without_values() -> None:
    """`googlebot: noai` is kept as evidence with no values and the reason, so a reader sees why it did not count."""
    (signal,) = _header("googlebot: noai").signals
    assert signal.values == {}
    assert signal.details["scope"] == "googlebot"
    assert signal.details["reason"] == "scoped to another crawler"
    assert "binds googlebot only" in signal.rule


def test_scope_is_case_insensitive() -> None:
    """`RightfulBot: NOAI` binds rightfulbot (img2dataset compared scopes case-sensitively)."""
    assert _reserved(_header("RightfulBot: NOAI"))


def test_scope_is_a_whole_token() -> None:
    """`rightful: noai` and `rightfulbot2: noai` do not bind rightfulbot."""
    assert not _reserved(_header("rightful: noai"))
    assert not _reserved(_header("rightfulbot2: noai"))


def test_own_token_is_configurable() -> None:
    """Another product token can be our own: `mybot: noai` then binds."""
    assert _reserved(_header("mybot: noai", token="MyBot"))
    assert not _reserved(_header("rightfulbot: noai", token="mybot"))


def test_scope_switches_within_a_line() -> None:
    """`googlebot: noindex, rightfulbot: noai` → the second scope binds us."""
    found = _header("googlebot: noindex, rightfulbot: noai")
    assert _values(found) == {Purpose.AI_TRAINING: Decision.RESERVED, Purpose.GENAI_TRAINING: Decision.RESERVED}


# --- unavailable_after and other valued directives --------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "date"),
    [
        ("unavailable_after: 25 Jun 2010 15:00:00 PST", "25 Jun 2010 15:00:00 PST"),
        ("unavailable_after: Friday, 25-Jun-10 15:00:00 GMT", "Friday, 25-Jun-10 15:00:00 GMT"),
        ("UNAVAILABLE_AFTER: Wed, 25 Jun 2025 15:00:00 GMT", "Wed, 25 Jun 2025 15:00:00 GMT"),
        ("unavailable_after: 2025-06-25T15:00:00+00:00", "2025-06-25T15:00:00+00:00"),
    ],
)
def test_unavailable_after_is_a_directive_not_a_scope(value: str, date: str) -> None:
    """The date's colons and commas stay in the directive; nothing becomes a scope."""
    assert xrobots.parse_directives(value) == [Directive("unavailable_after", date)]


def test_directives_after_a_date_are_unscoped() -> None:
    """`unavailable_after: <date with comma>, noai` → noai binds us (the date did not open a scope)."""
    assert _reserved(_header("unavailable_after: Friday, 25-Jun-10 15:00:00 GMT, noai"))


def test_scoped_unavailable_after_keeps_the_scope() -> None:
    """`googlebot: unavailable_after: <date>, noai` → both scoped to googlebot."""
    parsed = xrobots.parse_directives("googlebot: unavailable_after: 25 Jun 2010 15:00:00 PST, noai")
    assert parsed == [
        Directive("unavailable_after", "25 Jun 2010 15:00:00 PST", "googlebot"),
        Directive("noai", None, "googlebot"),
    ]


def test_valued_directives_keep_their_value() -> None:
    """`max-snippet: 20` and `max-image-preview:large` are directives with values, not scopes."""
    assert xrobots.parse_directives("max-snippet: 20, max-image-preview:large, noai") == [
        Directive("max-snippet", "20"),
        Directive("max-image-preview", "large"),
        Directive("noai"),
    ]


# --- containers and evidence ------------------------------------------------------------------------------


def _email_headers() -> email.message.Message:
    msg = email.message.Message()
    msg["x-robots-tag"] = "otherbot: noindex"
    msg["X-Robots-Tag"] = "noai"
    return msg


@pytest.mark.parametrize(
    "headers",
    [
        {"x-robots-tag": ["otherbot: noindex", "noai"]},
        [("X-ROBOTS-TAG", "otherbot: noindex"), ("x-Robots-tag", "noai")],
        CIMultiDict([("X-Robots-Tag", "otherbot: noindex"), ("X-Robots-Tag", "noai")]),
        HeaderMap([("X-Robots-Tag", "otherbot: noindex"), ("X-Robots-Tag", "noai")]),
        _email_headers(),
    ],
    ids=["dict-list", "pairs", "multidict", "headermap", "email-message"],
)
def test_any_header_container_works(headers: Any) -> None:
    """Header names are matched case-insensitively in any container (datadiligence compared them exactly)."""
    assert _reserved(xrobots.header_findings(headers, url=URL, own_token="rightfulbot", is_image=False))


def test_header_signal_evidence() -> None:
    """The signal carries protocol, URL, raw header line, rule words and the caller's fetch time and hash."""
    found = xrobots.header_findings(
        {"X-Robots-Tag": "noai"}, url=URL, is_image=False, fetched_at=WHEN, document_hash="sha256:00"
    )
    (signal,) = found.signals
    assert (signal.protocol, signal.location, signal.raw) == ("x-robots-tag", URL, "X-Robots-Tag: noai")
    assert (signal.fetched_at, signal.document_hash) == (WHEN, "sha256:00")
    assert signal.rule == "noai in X-Robots-Tag: no AI training on this content"
    assert signal.details == {"directive": "noai", "scope": None, "meaning": signal.details["meaning"], "applied": True}


def test_directive_findings_uses_given_raws_and_lines() -> None:
    """Meta callers pass the raw tag and its line: they reach the signal and the rule."""
    found = xrobots.directive_findings(
        ["index", "noai"],
        protocol=xrobots.META_PROTOCOL,
        location=URL,
        own_token="rightfulbot",
        is_image=False,
        raws=['<meta name="robots" content="index">', '<meta name="rightfulbot" content="noai">'],
        lines=[3, 4],
    )
    (signal,) = found.signals
    assert (signal.protocol, signal.line) == ("robots-meta", 4)
    assert signal.raw == '<meta name="rightfulbot" content="noai">'
    assert "robots meta tag (line 4)" in signal.rule


def test_no_header_means_no_findings() -> None:
    """A response without X-Robots-Tag gives nothing."""
    found = xrobots.header_findings({"content-type": "image/png"}, url=URL, is_image=True)
    assert (found.signals, found.errors) == ([], [])


# --- properties -------------------------------------------------------------------------------------------


@given(st.text(max_size=80))
def test_parse_directives_never_raises(text: str) -> None:
    """Property: any text parses into lower-case directives without an exception."""
    for directive in xrobots.parse_directives(text):
        assert directive.name == directive.name.lower()
        assert directive.name


_WORDS = st.sampled_from(
    [
        "noai",
        "noimageai",
        "noindex",
        "none",
        "all",
        "index",
        "googlebot:",
        "rightfulbot:",
        "unavailable_after:",
        "25 jun 2010",
        "max-snippet:",
        "20",
        "nofollow",
        "otherbot:",
    ]
)


@given(st.lists(st.lists(_WORDS, max_size=6).map(", ".join), max_size=3), st.booleans())
def test_directive_case_does_not_matter(lines: list[str], is_image: bool) -> None:
    """Property: upper-casing every header line gives the same values (values are case-insensitive)."""
    lower = xrobots.header_findings({"x-robots-tag": lines}, url=URL, is_image=is_image)
    upper = xrobots.header_findings({"X-ROBOTS-TAG": [x.upper() for x in lines]}, url=URL, is_image=is_image)
    assert _values(lower) == _values(upper)


@given(st.lists(st.text(max_size=40), max_size=4), st.booleans())
def test_directives_never_allow_anything(lines: list[str], is_image: bool) -> None:
    """Property: robots directives only ever reserve; no input yields an "allowed" value."""
    found = xrobots.header_findings({"x-robots-tag": lines}, url=URL, is_image=is_image)
    assert all(d is Decision.RESERVED for d in _values(found).values())


@given(st.lists(_WORDS, max_size=6).map(", ".join))
def test_a_line_scoped_to_another_crawler_never_binds(line: str) -> None:
    """Property: prefixing a line with `otherbot:` (and no other scope inside) yields no values."""
    if "rightfulbot:" in line:
        return
    assert _values(_header(f"otherbot: {line}")) == {}
