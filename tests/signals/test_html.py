"""The HTML head: parsing, charsets, where the head ends, robots meta and TDMRep meta."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rightful.models import Decision, Purpose, document_hash
from rightful.signals import html
from rightful.signals.base import Findings
from rightful.signals.html import MetaTag

URL = "https://example.com/page"
WHEN = datetime(2025, 3, 4, tzinfo=UTC)


def _page(head: str, body: str = "<p>hello</p>") -> bytes:
    return f"<!DOCTYPE html>\n<html>\n<head>\n{head}\n</head>\n<body>{body}</body>\n</html>\n".encode()


def _findings(body: bytes, **kw: object) -> Findings:
    return html.html_findings(body, url=URL, **kw)  # type: ignore[arg-type]


def _values(found: Findings, protocol: str | None = None) -> dict[Purpose, Decision]:
    out: dict[Purpose, Decision] = {}
    for signal in found.signals:
        if protocol is None or signal.protocol == protocol:
            out.update(signal.values)
    return out


# --- parse_head -------------------------------------------------------------------------------------------


def test_parse_head_reads_name_and_http_equiv_metas_with_lines() -> None:
    """Named metas (lower-cased names) and http-equiv metas are listed separately with their line and source."""
    metas = '<meta charset="utf-8">\n<META NAME="Robots" CONTENT="NoAI">\n'
    head = html.parse_head(_page(metas + '<meta http-equiv="X-Robots-Tag" content="noindex">'))
    assert head.metas == (MetaTag("robots", "NoAI", 5, '<META NAME="Robots" CONTENT="NoAI">'),)
    assert head.http_equivs == (
        MetaTag("x-robots-tag", "noindex", 6, '<meta http-equiv="X-Robots-Tag" content="noindex">'),
    )
    assert head.head_complete
    assert not head.truncated
    assert head.encoding == "utf-8"


def test_metas_after_the_head_are_not_read() -> None:
    """Parsing stops at </head>: a robots meta in the body does not count."""
    head = html.parse_head(_page("<title>x</title>", body='<meta name="robots" content="noai">'))
    assert head.metas == ()
    assert head.head_complete


def test_parsing_stops_at_body_without_a_head_end_tag() -> None:
    """A page without </head> ends its head at <body>."""
    head = html.parse_head(b'<html><meta name="robots" content="noai"><body><meta name="x" content="y">')
    assert [m.name for m in head.metas] == ["robots"]
    assert head.head_complete


def test_page_without_head_or_body_tags() -> None:
    """A fragment with no <head>/<body> still gives its metas; the head is not known to be complete."""
    head = html.parse_head(b'<meta name="robots" content="noai"><p>text</p>')
    assert [m.content for m in head.metas] == ["noai"]
    assert not head.head_complete


def test_character_references_in_content_are_decoded() -> None:
    """Attribute values are unescaped (`&amp;`, `&#x6E;`), as a browser reads them."""
    head = html.parse_head(_page('<meta name="tdm-policy" content="https://e.com/p?a=1&amp;b=2">'))
    assert head.metas[0].content == "https://e.com/p?a=1&b=2"


def test_repeated_attribute_first_wins() -> None:
    """As in browsers, the first of a repeated attribute counts."""
    head = html.parse_head(_page('<meta name="robots" name="other" content="noai" content="all">'))
    assert (head.metas[0].name, head.metas[0].content) == ("robots", "noai")


def test_meta_without_content_has_empty_content() -> None:
    """`<meta name="robots">` with no content (or a bare attribute) reads as empty content."""
    head = html.parse_head(_page('<meta name="robots"><meta name=x content>'))
    assert [m.content for m in head.metas] == ["", ""]


@pytest.mark.parametrize(
    ("body", "encoding", "content"),
    [
        (b'<meta charset="windows-1252"><meta name="d" content="caf\xe9">', "cp1252", "café"),
        (b'<meta charset=ISO-8859-1><meta name="d" content="caf\xe9">', "cp1252", "café"),
        (
            b'<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-15"><meta name="d" content="\xa4">',
            "iso8859-15",
            "€",
        ),
        (b'\xef\xbb\xbf<meta charset="latin1"><meta name="d" content="caf\xc3\xa9">', "utf-8", "café"),
        (b"\xff\xfe" + "<meta name='d' content='café'>".encode("utf-16-le"), "utf-16-le", "café"),
        (b"\xfe\xff" + "<meta name='d' content='café'>".encode("utf-16-be"), "utf-16-be", "café"),
        (b'<meta charset="utf-16"><meta name="d" content="caf\xc3\xa9">', "utf-8", "café"),
        (b'<meta charset="no-such-charset"><meta name="d" content="caf\xc3\xa9">', "utf-8", "café"),
        (b'<meta charset="rot13"><meta name="d" content="abc">', "utf-8", "abc"),
        (b'<meta charset="base64"><meta name="d" content="abc">', "utf-8", "abc"),
        (b'<meta charset="idna"><meta name="d" content="caf\xc3\xa9">', "utf-8", "café"),
        (b'<meta charset="utf-7"><meta name="d" content="a+b">', "utf-8", "a+b"),
        (b'<meta name="d" content="caf\xe9">', "utf-8", "caf\ufffd"),
    ],
    ids=[
        "cp1252",
        "latin1-is-cp1252",
        "http-equiv",
        "bom-wins",
        "utf16le-bom",
        "utf16be-bom",
        "meta-utf16-is-utf8",
        "unknown",
        "rot13",
        "base64",
        "idna",
        "utf7",
        "invalid-utf8",
    ],
)
def test_charsets(body: bytes, encoding: str, content: str) -> None:
    """BOM, then <meta charset>, then UTF-8; WHATWG relabels; non-web codecs are refused; bad bytes → U+FFFD."""
    head = html.parse_head(body)
    assert head.encoding.replace("_", "-") == encoding
    assert head.metas[-1].content == content


def test_transport_charset_beats_meta() -> None:
    """A charset from the Content-Type header (passed by the caller) wins over <meta charset>."""
    head = html.parse_head(b'<meta charset="utf-8"><meta name="d" content="caf\xe9">', encoding="windows-1252")
    assert head.metas[-1].content == "café"


def test_nul_bytes_do_not_break_parsing() -> None:
    """NUL bytes in the markup are replaced, and metas around them are still read."""
    head = html.parse_head(b'<head>\x00<meta name="robots"\x00 content="no\x00ai"><meta name="robots" content="noai">')
    assert head.metas[-1].content == "noai"
    assert "\x00" not in "".join(m.content for m in head.metas)


@pytest.mark.parametrize(
    "body",
    [
        b'<head><meta name="robots" content="noai',
        b'<head><meta name="robots" content=noai',
        b"<head><!-- never closed",
        b"<head><![CDATA[ x",
        b"<head><!x",
        b"<head><script>var a = '<body>'",
        b"</head>",
        b"<<<<>>>><meta",
        b"",
    ],
)
def test_broken_html_never_raises(body: bytes) -> None:
    """Unterminated tags, comments, CDATA and scripts give a (possibly empty) result, never an exception."""
    head = html.parse_head(body)
    assert isinstance(head.metas, tuple)


def test_body_inside_a_script_or_comment_does_not_end_the_head() -> None:
    """`<body>` in a script string or comment is not the end of the head."""
    body = _page("<script>document.write('<body>')</script>\n<!-- <body> -->\n<meta name=robots content=noai>")
    assert [m.content for m in html.parse_head(body).metas] == ["noai"]


def test_huge_document_is_capped() -> None:
    """A head that never ends within the cap is read only up to max_bytes, marked truncated and incomplete."""
    body = b"<html><head>" + b"<link rel=x>" * 400_000 + b'<meta name="robots" content="noai"></head>'
    start = time.perf_counter()
    head = html.parse_head(body, max_bytes=1024 * 1024)
    assert time.perf_counter() - start < 10
    assert head.truncated
    assert not head.head_complete
    assert head.metas == ()


def test_a_large_body_after_a_small_head_is_not_parsed() -> None:
    """Parsing stops at the end of the head, so a multi-megabyte body costs nothing."""
    body = _page('<meta name="robots" content="noai">', body="<p>x</p>" * 500_000)
    start = time.perf_counter()
    head = html.parse_head(body, max_bytes=len(body))
    assert time.perf_counter() - start < 1
    assert head.head_complete


@pytest.mark.parametrize(
    "junk",
    [b"</", b"<!", b"<", b"<a", b"<a>", b"<meta", b'="', b"&#", b"<script>", b"<!--", b"<?"],
    ids=lambda j: j.decode(),
)
def test_hostile_markup_is_read_in_linear_time(junk: bytes) -> None:
    """1 MiB of repeated `</` (quadratic in CPython 3.11's HTMLParser, CVE-2025-6069) or similar stays fast."""
    body = b"<head>" + junk * (1024 * 1024 // len(junk))
    start = time.perf_counter()
    html.parse_head(body)
    html.head_end(body)
    assert time.perf_counter() - start < 3


@pytest.mark.parametrize(
    ("head", "contents"),
    [
        ('<meta content="a>b" name=robots>', ["a>b"]),
        ("<meta name=robots content='<body>'><meta name=x content=y>", ["<body>", "y"]),
        ("<meta name=robots content=noai/>", ["noai/"]),
        ("<meta name=robots content=noai />", ["noai"]),
        ("<meta it's name=robots content=noai>", ["noai"]),
        ("<!--> <meta name=robots content=a>", ["a"]),
        ("<!---> <meta name=robots content=a>", ["a"]),
        ("<!-- <meta name=robots content=a> -->", []),
        ("<title><body><meta name=robots content=a></title><meta name=robots content=b>", ["b"]),
        ("<textarea></head></textarea><meta name=robots content=b>", ["b"]),
        ("<!DOCTYPE html><?xml x?><meta name=robots content=b>", ["b"]),
        ("<meta\tname=robots\ncontent=b>", ["b"]),
        ("<meta name=&#114;obots content=&quot;b&quot;>", ['"b"']),
    ],
)
def test_tokenizer_follows_html_rules(head: str, contents: list[str]) -> None:
    """Quoted `>`, unquoted values, abrupt comments, raw-text elements and char refs read as a browser does."""
    assert [m.content for m in html.parse_head(_page(head)).metas] == contents


# --- head_end ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"<html><head><title>x</title></head><body>", len(b"<html><head><title>x</title></head>")),
        (b"<head></HEAD >", len(b"<head></HEAD >")),
        (b"<html><BODY class=x>", len(b"<html>")),
        (b"<html><body>", len(b"<html>")),
        (b"<html><body/>", len(b"<html>")),
        (b"<html><bodyx><head>", None),
        (b"<head><title>x", None),
        (b"<head></head", None),
        (b"<head><!-- </head> -->", None),
        (b"<head><!-- </head> --></head>", len(b"<head><!-- </head> --></head>")),
        (b"<head><script>x='</head>'</script><body>", len(b"<head><script>x='</head>'</script>")),
        (b"<head><style>/* <body> */</style></head>", len(b"<head><style>/* <body> */</style></head>")),
        (b"<head><script>never closed <body>", None),
        (b"", None),
    ],
)
def test_head_end(body: bytes, expected: int | None) -> None:
    """The offset after </head> or at <body> (any case), skipping comments, scripts and styles; else None."""
    assert html.head_end(body) == expected


@given(st.binary(max_size=400))
def test_head_end_never_raises(body: bytes) -> None:
    """Property: head_end returns None or an offset within the data."""
    end = html.head_end(body)
    assert end is None or 0 <= end <= len(body)


@given(
    st.text(alphabet=st.characters(blacklist_characters="<", blacklist_categories=("Cs",)), max_size=50),
    st.sampled_from(["</head>", "<body>"]),
)
def test_head_end_finds_a_plain_end(prefix: str, marker: str) -> None:
    """Property: text without markup followed by </head> or <body> ends exactly there."""
    body = ("<head>" + prefix).encode() + marker.encode()
    end = html.head_end(body)
    assert end == (len(body) if marker == "</head>" else len(body) - len(marker))


_SOUP = st.sampled_from(
    [
        "<head>",
        "</head>",
        "<body>",
        "<meta name=robots content=noai>",
        "<meta name='tdm-reservation' content=1>",
        "<!--",
        "-->",
        "<script>",
        "</script>",
        "<title>",
        "</title>",
        "<!",
        "<",
        ">",
        '"',
        "'",
        "=",
        "\n",
        "é",
    ]
)


@given(st.lists(_SOUP | st.text(max_size=4), max_size=25).map("".join))
def test_head_end_and_parse_head_agree(markup: str) -> None:
    """Property: the head that ends at head_end holds exactly the metas parse_head reads from the whole page."""
    body = markup.encode("utf-8", "surrogatepass")
    end = html.head_end(body)
    whole = html.parse_head(body)
    assert whole.head_complete is (end is not None)
    if end is not None:
        assert html.parse_head(body[:end]).metas == whole.metas


# --- html_findings: robots meta ---------------------------------------------------------------------------


def test_robots_meta_noai_reserves_ai_training() -> None:
    """`<meta name="robots" content="noai">` → ai-training reserved, protocol robots-meta, with line and tag."""
    found = _findings(_page('<meta name="robots" content="noai">'), fetched_at=WHEN)
    (signal,) = found.signals
    assert signal.protocol == "robots-meta"
    assert signal.values[Purpose.AI_TRAINING] is Decision.RESERVED
    assert (signal.line, signal.raw) == (4, '<meta name="robots" content="noai">')
    assert signal.fetched_at == WHEN


def test_meta_named_for_our_token_binds_us() -> None:
    """`<meta name="RightfulBot" content="noai">` binds us (names are case-insensitive)."""
    assert (
        _values(_findings(_page('<meta name="RightfulBot" content="noai">')))[Purpose.AI_TRAINING] is Decision.RESERVED
    )


def test_meta_named_for_another_crawler_is_ignored() -> None:
    """`<meta name="googlebot" content="noai">` is another crawler's instruction: ignored."""
    assert _findings(_page('<meta name="googlebot" content="noai, noindex">')).signals == []


def test_own_token_is_configurable() -> None:
    """With own_token="mybot", `<meta name="mybot">` binds and `<meta name="rightfulbot">` does not."""
    body = _page('<meta name="mybot" content="noindex"><meta name="rightfulbot" content="noai">')
    assert _values(_findings(body, own_token="MyBot")) == {Purpose.SEARCH: Decision.RESERVED}


def test_noimageai_on_a_page_is_reported_for_its_images() -> None:
    """SPEC: `<meta name="ROBOTS" content="NoImageAI">` → the page's images are reserved; the page itself is not."""
    (signal,) = _findings(_page('<meta name="ROBOTS" content="NoImageAI">')).signals
    assert signal.values == {}
    assert signal.details["applies_to"] == "images"
    assert signal.details["image_values"] == {"ai-training": "reserved"}


def test_robots_metas_combine_most_restrictive() -> None:
    """Several robots metas combine: `index, follow` plus `noai` → reserved; index never becomes "allowed"."""
    body = _page('<meta name="robots" content="index, follow"><meta name="robots" content="noai, noindex">')
    assert _values(_findings(body)) == {
        Purpose.AI_TRAINING: Decision.RESERVED,
        Purpose.GENAI_TRAINING: Decision.RESERVED,
        Purpose.SEARCH: Decision.RESERVED,
    }


def test_index_follow_alone_permits_nothing() -> None:
    """A page with only `index, follow` has no signal at all."""
    assert _findings(_page('<meta name="robots" content="index, follow">')).signals == []


def test_http_equiv_x_robots_tag_is_treated_like_the_header() -> None:
    """`<meta http-equiv="X-Robots-Tag" content="noai">` → protocol x-robots-tag, scoping as in the header."""
    body = _page(
        '<meta http-equiv="x-robots-tag" content="noai"><meta http-equiv="X-Robots-Tag" content="googlebot: noindex">'
    )
    found = _findings(body)
    assert _values(found, "x-robots-tag")[Purpose.AI_TRAINING] is Decision.RESERVED
    assert Purpose.SEARCH not in _values(found)
    assert "meta http-equiv" in found.signals[0].rule


def test_document_hash_defaults_to_the_body_hash() -> None:
    """Without a hash from the caller, signals carry the hash of the body; a given hash is passed through."""
    body = _page('<meta name="robots" content="noai">')
    assert _findings(body).signals[0].document_hash == document_hash(body)
    assert _findings(body, document_hash="sha256:given").signals[0].document_hash == "sha256:given"


def test_head_cut_by_the_cap_is_reported() -> None:
    """When the head does not end within max_bytes, an html-head-incomplete error says metas may be missing."""
    body = b"<head>" + b"<link>" * 1000 + b'<meta name="robots" content="noai">'
    found = _findings(body, max_bytes=1000)
    assert found.signals == []
    assert [e.code for e in found.errors] == ["html-head-incomplete"]


# --- html_findings: TDMRep meta ---------------------------------------------------------------------------


def test_tdm_meta_reserves_with_policy() -> None:
    """`tdm-reservation` 1 + `tdm-policy` → TDMRep place html-meta, data-mining reserved, policy in details."""
    body = _page('<meta name="TDM-Reservation" content="1">\n<meta name="tdm-policy" content="https://e.com/p.json">')
    (signal,) = _findings(body).signals
    assert signal.protocol == "tdmrep"
    assert signal.values[Purpose.DATA_MINING] is Decision.RESERVED
    assert signal.details["place"] == "html-meta"
    assert signal.details["policy"] == "https://e.com/p.json"
    assert signal.raw.splitlines() == [
        '<meta name="TDM-Reservation" content="1">',
        '<meta name="tdm-policy" content="https://e.com/p.json">',
    ]


def test_tdm_meta_zero_allows() -> None:
    """`<meta name="tdm-reservation" content="0">` → data-mining allowed."""
    found = _findings(_page('<meta name="tdm-reservation" content=" 0 ">'))
    assert _values(found)[Purpose.DATA_MINING] is Decision.ALLOWED


@pytest.mark.parametrize("value", ["true", "01", "yes", "1, 1", ""])
def test_invalid_tdm_meta_is_unset_with_an_error(value: str) -> None:
    """An invalid tdm-reservation in a meta tag is unset, with a tdmrep-invalid error."""
    found = _findings(_page(f'<meta name="tdm-reservation" content="{value}">'))
    assert found.signals == []
    assert [e.code for e in found.errors] == ["tdmrep-invalid"]


def test_identical_repeated_tdm_metas_are_one_statement() -> None:
    """Two tdm-reservation metas saying 1 are one statement."""
    body = _page('<meta name="tdm-reservation" content="1"><meta name="tdm-reservation" content="1">')
    found = _findings(body)
    assert len(found.signals) == 1
    assert found.errors == []


def test_conflicting_tdm_metas_are_invalid() -> None:
    """tdm-reservation metas that disagree leave the reservation unset, with an error naming their lines."""
    body = _page('<meta name="tdm-reservation" content="1">\n<meta name="tdm-reservation" content="0">')
    found = _findings(body)
    assert found.signals == []
    assert [e.code for e in found.errors] == ["tdmrep-invalid"]
    assert "lines 4, 5" in found.errors[0].message


def test_conflicting_policies_are_dropped_but_the_reservation_stands() -> None:
    """Two different tdm-policy metas: the policy is unknown (error), the reservation still counts."""
    body = _page(
        '<meta name="tdm-reservation" content="1"><meta name="tdm-policy" content="https://a">'
        '<meta name="tdm-policy" content="https://b">'
    )
    found = _findings(body)
    assert _values(found)[Purpose.DATA_MINING] is Decision.RESERVED
    assert found.signals[0].details["policy"] is None
    assert [e.code for e in found.errors] == ["tdmrep-invalid"]


def test_tdm_http_equiv_counts_as_html_meta() -> None:
    """`<meta http-equiv="tdm-reservation" content="1">` is read as an HTML meta statement."""
    (signal,) = _findings(_page('<meta http-equiv="tdm-reservation" content="1">')).signals
    assert signal.details["place"] == "html-meta"


def test_everything_together() -> None:
    """A head with robots, own-token, TDMRep and unrelated metas gives one signal per statement."""
    body = _page(
        '<meta name="viewport" content="width=device-width">\n<meta name="robots" content="noimageai">\n'
        '<meta name="rightfulbot" content="noai">\n<meta name="tdm-reservation" content="1">'
    )
    found = _findings(body)
    assert sorted(s.protocol for s in found.signals) == ["robots-meta", "robots-meta", "tdmrep"]
    assert found.errors == []


# --- properties -------------------------------------------------------------------------------------------


@given(st.binary(max_size=600))
def test_parse_head_never_raises_on_bytes(body: bytes) -> None:
    """Property: any bytes give a head, never an exception."""
    head = html.parse_head(body, max_bytes=400)
    assert head.truncated is (len(body) > 400)


_FRAGMENTS = st.sampled_from(
    [
        "<head>",
        "</head>",
        "<body>",
        "<meta name=robots content=noai>",
        "<meta name='tdm-reservation' content=1>",
        "<meta http-equiv=x-robots-tag content='rightfulbot: noai'>",
        "<!--",
        "-->",
        "<script>",
        "</script>",
        "<![CDATA[",
        "]]>",
        "<!",
        "<?",
        "<",
        ">",
        '"',
        "'",
        "=",
        "&amp;",
        "&#",
        "\x00",
        "é",
        "\n",
        "<meta",
        "<title>",
        "</title>",
        "<style>",
        "</style>",
    ]
)


@given(st.lists(_FRAGMENTS | st.text(max_size=5), max_size=25).map("".join))
def test_html_findings_never_raise_on_markup_soup(markup: str) -> None:
    """Property: any mix of head-ish markup gives findings (signals or errors), never an exception."""
    found = html.html_findings(markup.encode("utf-8", "surrogatepass"), url=URL)
    for signal in found.signals:
        signal.to_dict()


@given(
    st.sampled_from(["robots", "ROBOTS", "Robots", "rightfulbot", "RIGHTFULBOT"]),
    st.sampled_from(["noai", "NOAI", "NoAI", "index, noai", "noai noimageai"]),
    st.lists(
        st.sampled_from(["<title>x</title>", "<link rel=icon href=/f>", "<meta charset=utf-8>", "\n"]), max_size=5
    ),
)
def test_a_robots_noai_meta_in_the_head_is_always_found(name: str, content: str, filler: list[str]) -> None:
    """Property: wherever a robots/own-token `noai` meta sits in a head, ai-training is reserved."""
    head = "".join(filler) + f'<meta name="{name}" content="{content}">' + "".join(reversed(filler))
    assert _values(_findings(_page(head)))[Purpose.AI_TRAINING] is Decision.RESERVED
