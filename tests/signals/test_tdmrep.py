"""TDMRep: reservation values, tdmrep.json, headers, precedence across places, TDM policies."""

from __future__ import annotations

import email.message
import json
import re
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict

from rightful.models import Decision, ItemError, Purpose, Signal
from rightful.signals import tdmrep
from rightful.signals.base import DocumentState, Findings, HeaderMap, OriginDocument

URL = "https://example.com/.well-known/tdmrep.json"
WHEN = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def _doc(body: bytes | str, state: DocumentState = DocumentState.OK, **kw: Any) -> OriginDocument:
    data = body.encode() if isinstance(body, str) else body
    return OriginDocument(url=URL, state=state, status=200, body=data, fetched_at=WHEN, **kw)


def _file(rules: Any) -> tdmrep.TdmRepFile:
    return tdmrep.TdmRepFile.from_document(_doc(json.dumps(rules) if not isinstance(rules, str) else rules))


def _decision(findings: Findings, purpose: Purpose = Purpose.DATA_MINING) -> Decision | None:
    values = [s.values[purpose] for s in findings.signals if purpose in s.values]
    assert len(values) <= 1
    return values[0] if values else None


def _codes(findings: Findings) -> list[str]:
    return [e.code for e in findings.errors]


# --- parse_reservation ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [(1, 1), (0, 0), ("1", 1), ("0", 0), (" 1 ", 1), ("\t0\r\n", 0)])
def test_valid_reservation_values(raw: object, expected: int) -> None:
    """JSON numbers 1/0 and the strings "1"/"0" (whitespace stripped) are the only valid values."""
    assert tdmrep.parse_reservation(raw) == (expected, None)


@pytest.mark.parametrize(
    "raw", [True, False, "true", "01", "yes", "2", 2, -1, "1.0", 1.0, 0.0, "1, 1", "", " ", [], {}, [1], "١"]
)
def test_invalid_reservation_values_are_unset_with_a_reason(raw: object) -> None:
    """Any other value (true, 01, yes, 2, "1.0", a comma list) is a protocol error: unset, with the reason."""
    value, error = tdmrep.parse_reservation(raw)
    assert value is None
    assert error is not None
    assert "1 or 0" in error


def test_absent_reservation_is_neither_value_nor_error() -> None:
    """None means the place said nothing: no value and no error."""
    assert tdmrep.parse_reservation(None) == (None, None)


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(), st.lists, max_leaves=5))
def test_parse_reservation_accepts_exactly_the_four_valid_forms(raw: object) -> None:
    """Property: for any JSON-like value, exactly 1, 0, "1", "0" (stripped) give a value, all else an error."""
    value, error = tdmrep.parse_reservation(raw)
    valid = (type(raw) is int and raw in (0, 1)) or (isinstance(raw, str) and raw.strip() in ("0", "1"))
    if raw is None:
        assert (value, error) == (None, None)
    elif valid:
        assert value in (0, 1)
        assert error is None
    else:
        assert value is None
        assert error


# --- reservation_findings ---------------------------------------------------------------------------------


def test_reservation_one_reserves_data_mining_and_the_training_purposes() -> None:
    """`1` reserves data-mining, which carries down to ai-training and genai-training."""
    found = tdmrep.reservation_findings(1, None, place="header", location="https://e.com/a")
    (signal,) = found.signals
    assert signal.protocol == "tdmrep"
    assert signal.values == {
        Purpose.DATA_MINING: Decision.RESERVED,
        Purpose.AI_TRAINING: Decision.RESERVED,
        Purpose.GENAI_TRAINING: Decision.RESERVED,
    }
    assert found.errors == []


def test_reservation_zero_with_policy_allows_and_ignores_the_policy() -> None:
    """`0` + policy → data-mining explicitly allowed; the policy is not processed (kept as ignored_policy)."""
    found = tdmrep.reservation_findings("0", "https://e.com/p.json", place="header", location="https://e.com/")
    (signal,) = found.signals
    assert signal.values[Purpose.DATA_MINING] is Decision.ALLOWED
    assert signal.values[Purpose.AI_TRAINING] is Decision.ALLOWED
    assert signal.details["policy"] is None
    assert signal.details["ignored_policy"] == "https://e.com/p.json"
    assert "tdm-policy" not in signal.rule


def test_reservation_findings_records_an_error_for_invalid_values() -> None:
    """An invalid value gives no signal and one tdmrep-invalid error naming protocol and location."""
    found = tdmrep.reservation_findings("true", None, place="html-meta", location="https://e.com/p", line=7)
    assert found.signals == []
    (error,) = found.errors
    assert error.code == "tdmrep-invalid"
    assert error.protocol == "tdmrep"
    assert error.location == "https://e.com/p"
    assert "line 7" in error.message


def test_reservation_findings_without_value_is_silent() -> None:
    """A policy with no reservation says nothing: no signal and no error."""
    found = tdmrep.reservation_findings(None, "https://e.com/p.json", place="header", location="u")
    assert (found.signals, found.errors) == ([], [])


@pytest.mark.parametrize(
    ("place", "rank"), [("tdmrep.json", 1), ("header", 2), ("html-meta", 3), ("epub", 4), ("pdf-xmp", 4)]
)
def test_every_place_has_its_spec_rank(place: str, rank: int) -> None:
    """Each place carries its precedence rank (tdmrep.json < header < HTML meta < in-file metadata)."""
    (signal,) = tdmrep.reservation_findings(1, None, place=place, location="x").signals
    assert signal.details["place"] == place
    assert signal.details["rank"] == rank


def test_unknown_place_is_a_programming_error() -> None:
    """A typo in the place name raises: it is a bug in the caller, not bad input from the network."""
    with pytest.raises(ValueError, match="unknown TDMRep place"):
        tdmrep.reservation_findings(1, None, place="xmp", location="x")


def test_reservation_findings_carries_all_evidence() -> None:
    """Location, line, raw text, fetch time, document hash and the policy URL all reach the signal."""
    (signal,) = tdmrep.reservation_findings(
        1,
        " https://e.com/policy.json ",
        place="pdf-xmp",
        location="/data/a.pdf",
        line=12,
        raw="<tdm:reservation>1</tdm:reservation>",
        fetched_at=WHEN,
        document_hash="sha256:ab",
    ).signals
    assert (signal.location, signal.line, signal.raw) == ("/data/a.pdf", 12, "<tdm:reservation>1</tdm:reservation>")
    assert (signal.fetched_at, signal.document_hash) == (WHEN, "sha256:ab")
    assert signal.details["policy"] == "https://e.com/policy.json"
    assert "PDF XMP" in signal.rule
    assert "https://e.com/policy.json" in signal.rule
    json.dumps(signal.to_dict())


# --- headers ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"TDM-Reservation": "1"},
        {"tdm-reservation": "1"},
        {"TDM-RESERVATION": ["1"]},
        [("Tdm-Reservation", "1")],
        [(b"tdm-reservation", b"1")],
        HeaderMap({"tdm-reservation": "1"}),
        CIMultiDict([("TDM-Reservation", "1")]),
    ],
    ids=["dict", "dict-lower", "dict-list", "pairs", "bytes-pairs", "headermap", "multidict"],
)
def test_header_reservation_in_any_container_is_reserved(headers: Any) -> None:
    """SPEC: header `TDM-Reservation: 1` in any container → reserved (header names are case-insensitive)."""
    found = tdmrep.header_findings(headers, url="https://e.com/a.jpg")
    assert _decision(found) is Decision.RESERVED
    assert found.signals[0].details["place"] == "header"


def test_header_reservation_from_an_email_message_container() -> None:
    """http.client / email.message header objects (with get_all) work too."""
    msg = email.message.Message()
    msg["TDM-Reservation"] = "1"
    msg["tdm-policy"] = "https://e.com/p.json"
    found = tdmrep.header_findings(msg, url="https://e.com/")
    assert _decision(found) is Decision.RESERVED
    assert found.signals[0].details["policy"] == "https://e.com/p.json"


@pytest.mark.parametrize("value", ["true", "01", "yes", "2", "1.0", "", "1;q=0"])
def test_invalid_header_values_are_unset_with_an_error(value: str) -> None:
    """SPEC: `true`, `01`, `yes` → unset; the protocol error is recorded."""
    found = tdmrep.header_findings({"tdm-reservation": value}, url="https://e.com/")
    assert found.signals == []
    assert _codes(found) == ["tdmrep-invalid"]


def test_header_zero_with_policy_is_not_reserved() -> None:
    """SPEC: `0` + policy → not reserved (data-mining allowed)."""
    headers = {"tdm-reservation": "0", "tdm-policy": "https://e.com/policy.json"}
    found = tdmrep.header_findings(headers, url="https://e.com/")
    assert _decision(found) is Decision.ALLOWED
    assert found.errors == []


def test_comma_list_in_one_header_is_invalid() -> None:
    """`tdm-reservation: 1, 1` is not a valid value (a datadiligence fault accepted it): unset + error."""
    found = tdmrep.header_findings({"tdm-reservation": "1, 1"}, url="https://e.com/")
    assert found.signals == []
    assert _codes(found) == ["tdmrep-invalid"]


def test_repeated_identical_header_lines_are_one_statement() -> None:
    """Two field lines that both say `1` are the same statement: reserved."""
    found = tdmrep.header_findings([("tdm-reservation", "1"), ("TDM-Reservation", " 1")], url="https://e.com/")
    assert _decision(found) is Decision.RESERVED
    assert found.errors == []


def test_conflicting_header_lines_are_invalid() -> None:
    """Field lines that disagree (`1` and `0`) are a protocol error: unset + error."""
    found = tdmrep.header_findings([("tdm-reservation", "1"), ("tdm-reservation", "0")], url="https://e.com/")
    assert found.signals == []
    assert _codes(found) == ["tdmrep-invalid"]
    assert "disagree" in found.errors[0].message


def test_header_evidence_names_the_header_and_url() -> None:
    """The signal's raw text shows both header lines; its location is the response URL."""
    headers = {"Tdm-Reservation": "1", "Tdm-Policy": "https://e.com/p.json"}
    (signal,) = tdmrep.header_findings(headers, url="https://e.com/a", fetched_at=WHEN).signals
    assert signal.location == "https://e.com/a"
    assert signal.raw == "tdm-reservation: 1\ntdm-policy: https://e.com/p.json"
    assert signal.fetched_at == WHEN


def test_no_tdm_headers_say_nothing() -> None:
    """A response without TDMRep headers has no signal and no error; a lone tdm-policy says nothing."""
    assert tdmrep.header_findings({"content-type": "text/html"}, url="u").signals == []
    lone = tdmrep.header_findings({"tdm-policy": "https://e.com/p"}, url="u")
    assert (lone.signals, lone.errors) == ([], [])


@given(st.lists(st.tuples(st.sampled_from(["tdm-reservation", "TDM-Policy", "x"]), st.text()), max_size=4))
def test_header_findings_never_raises(pairs: list[tuple[str, str]]) -> None:
    """Property: any header values give findings, never an exception, and at most one signal."""
    found = tdmrep.header_findings(pairs, url="https://e.com/")
    assert len(found.signals) <= 1


# --- tdmrep.json ------------------------------------------------------------------------------------------

SPEC_FILE = [{"location": "/", "tdm-reservation": 1}, {"location": "/img/*.jpg", "tdm-reservation": 0}]


def test_first_matching_entry_wins() -> None:
    """SPEC: `/` reserved then `/img/*.jpg` not reserved, path `/img/a.jpg` → reserved (first match wins)."""
    found = _file(SPEC_FILE).lookup("/img/a.jpg")
    assert _decision(found) is Decision.RESERVED
    assert found.signals[0].details["pattern"] == "/"


def test_file_without_brackets_is_unset_with_an_error() -> None:
    """SPEC: the same entries without the array brackets → unset + error."""
    body = json.dumps(SPEC_FILE)[1:-1]
    parsed = tdmrep.TdmRepFile.from_document(_doc(body))
    found = parsed.lookup("/img/a.jpg")
    assert found.signals == []
    assert _codes(found) == ["tdmrep-invalid"]
    assert parsed.rules == ()


def test_single_object_instead_of_array_is_invalid() -> None:
    """A lone object (a common mistake) is not an array: unset, and the error says so."""
    found = _file({"location": "/", "tdm-reservation": 1}).lookup("/")
    assert found.signals == []
    assert "must be a JSON array" in found.errors[0].message


def test_no_matching_entry_is_unset_without_error() -> None:
    """No match → unset: no signal and no error."""
    found = _file([{"location": "/private/", "tdm-reservation": 1}]).lookup("/public/a.html")
    assert (found.signals, found.errors) == ([], [])


def test_location_matching_is_case_sensitive() -> None:
    """`/img/` does not match `/IMG/a.jpg`: location matching is case-sensitive."""
    parsed = _file([{"location": "/img/", "tdm-reservation": 1}])
    assert _decision(parsed.lookup("/img/a.jpg")) is Decision.RESERVED
    assert parsed.lookup("/IMG/a.jpg").signals == []


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("/a.pdf$", "/a.pdf", True),
        ("/a.pdf$", "/a.pdf?x=1", False),
        ("/*.pdf$", "/docs/b.pdf", True),
        ("/*.pdf$", "/docs/b.pdf.html", False),
        ("/*.pdf", "/docs/b.pdf.html", True),
        ("/directory-b/images/*.jpg", "/directory-b/images/x/y.jpg", True),
        ("/directory-b/images/*.jpg", "/directory-b/img/y.jpg", False),
        ("*", "/anything", True),
        ("/*", "/", True),
        ("/a*b*c$", "/a-b-b-c", True),
        ("/a*b*c$", "/a-c-b", False),
        ("/fish", "/fish.html", True),
        ("/fish/", "/fish", False),
        ("/x$y", "/x$y", True),  # a "$" before the end is literal
        ("/path/foo-%24", "/path/foo-$", True),  # the spec's escaped "$"
        ("/%2A", "/*", True),
        ("/%2A", "/a", False),
        ("/caf%C3%A9", "/café", True),
        ("/café", "/caf%c3%a9", True),
        ("/%7Euser", "/~user", True),
        ("/a%2fb", "/a/b", False),  # an encoded reserved character stays distinct
    ],
)
def test_location_patterns(pattern: str, path: str, matches: bool) -> None:
    """Patterns: prefix match, `*`, trailing `$`, percent-encoding normalised as in robots.txt."""
    found = _file([{"location": pattern, "tdm-reservation": 1}]).lookup(path)
    assert bool(found.signals) is matches


def test_full_urls_are_matched_on_their_path_and_query() -> None:
    """lookup accepts a full URL: the path and query are matched."""
    parsed = _file([{"location": "/a.pdf$", "tdm-reservation": 1}])
    assert parsed.lookup("https://example.com/a.pdf").signals
    assert not parsed.lookup("https://example.com/a.pdf?x=1").signals


def test_lookup_evidence_points_into_the_file() -> None:
    """The signal names tdmrep.json's URL, the entry's line, its raw JSON, the fetch time and hash."""
    body = (
        '[\n  {"location": "/a/", "tdm-reservation": 0},\n  {"location": "/", "tdm-reservation": 1,\n'
        '   "tdm-policy": "https://example.com/p.json"}\n]\n'
    )
    doc = _doc(body)
    (signal,) = tdmrep.TdmRepFile.from_document(doc).lookup("/b/c.html").signals
    assert signal.location == URL
    assert signal.line == 3
    assert json.loads(signal.raw)["location"] == "/"
    assert (signal.fetched_at, signal.document_hash) == (WHEN, doc.hash)
    assert signal.details == {
        "place": "tdmrep.json",
        "rank": 1,
        "reservation": 1,
        "policy": "https://example.com/p.json",
        "pattern": "/",
        "entry": 2,
        "path": "/b/c.html",
    }
    assert "location /" in signal.rule


def test_lookup_overrides_evidence_fields() -> None:
    """Callers may pass location, fetch time and hash (e.g. from their cache) explicitly."""
    later = datetime(2026, 1, 1, tzinfo=UTC)
    (signal,) = _file(SPEC_FILE).lookup("/", location="cache:x", fetched_at=later, document_hash="h").signals
    assert (signal.location, signal.fetched_at, signal.document_hash) == ("cache:x", later, "h")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b'\xef\xbb\xbf[{"location": "/", "tdm-reservation": 1}]', "byte order mark"),
        (b'[{"location": "/caf\xe9", "tdm-reservation": 1}]', "not UTF-8"),
        (b"", "not valid JSON"),
        (b"<html>not found</html>", "not valid JSON"),
        (b'[{"location": "/", "tdm-reservation": NaN}]', "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
        (b'"/"', "not a JSON string"),
        (b"null", "not a JSON null"),
    ],
    ids=["bom", "latin1", "empty", "html", "nan", "deep", "string", "null"],
)
def test_invalid_files_are_unset_with_an_error(body: bytes, fragment: str) -> None:
    """BOM, non-UTF-8, not JSON, NaN, absurd nesting, not an array → invalid → unset, with the error."""
    parsed = tdmrep.TdmRepFile.from_document(_doc(body))
    found = parsed.lookup("/")
    assert found.signals == []
    assert _codes(found) == ["tdmrep-invalid"]
    assert fragment in found.errors[0].message


def test_truncated_file_says_so() -> None:
    """A body cut at the size cap is reported as truncated in the error."""
    found = tdmrep.TdmRepFile.from_document(_doc(b'[{"location": "/"', truncated=True)).lookup("/")
    assert "truncated" in found.errors[0].message


def test_bad_entries_are_skipped_and_the_others_kept() -> None:
    """Entries with bad types are skipped with an error each; the valid entries still apply."""
    rules = [
        "not an object",
        {"tdm-reservation": 1},
        {"location": 5, "tdm-reservation": 1},
        {"location": "", "tdm-reservation": 1},
        {"location": "https://example.com/", "tdm-reservation": 1},
        {"location": "/ok/", "tdm-reservation": 1, "tdm-policy": 42},
    ]
    parsed = _file(rules)
    assert [r.location for r in parsed.rules] == ["/ok/"]
    assert len(parsed.errors) == 6
    found = parsed.lookup("/ok/page")
    assert _decision(found) is Decision.RESERVED
    assert found.signals[0].details["policy"] is None


def test_matching_entry_with_invalid_value_leaves_the_reservation_unset() -> None:
    """The first match decides even when its value is invalid: unset + error, no fall-through to later rules."""
    parsed = _file([{"location": "/a/", "tdm-reservation": "yes"}, {"location": "/", "tdm-reservation": 0}])
    found = parsed.lookup("/a/x")
    assert found.signals == []
    assert "entry 1" in found.errors[-1].message
    assert _decision(parsed.lookup("/b")) is Decision.ALLOWED


def test_entry_without_reservation_is_an_error() -> None:
    """`tdm-reservation` is mandatory in each entry; a rule without it matches and leaves the value unset."""
    parsed = _file([{"location": "/", "tdm-policy": "https://e.com/p"}])
    assert "mandatory" in parsed.errors[0].message
    assert parsed.lookup("/x").signals == []


def test_file_errors_can_be_left_out_of_lookups() -> None:
    """with_file_errors=False gives only the path's own result (for callers that report file errors once)."""
    parsed = _file(["junk", {"location": "/", "tdm-reservation": 1}])
    assert len(parsed.lookup("/").errors) == 1
    assert parsed.lookup("/", with_file_errors=False).errors == []


def test_unavailable_file_means_no_signal_and_no_error() -> None:
    """A 4xx tdmrep.json: the origin does not use the file; nothing to report."""
    doc = OriginDocument(url=URL, state=DocumentState.UNAVAILABLE, status=404)
    found = tdmrep.TdmRepFile.from_document(doc).lookup("/")
    assert (found.signals, found.errors) == ([], [])


def test_unreachable_file_records_an_error_and_no_signal() -> None:
    """A 5xx/timeout tdmrep.json: unset (never "allowed"), with a tdmrep-unreachable error."""
    doc = OriginDocument(url=URL, state=DocumentState.UNREACHABLE, status=503)
    found = tdmrep.TdmRepFile.from_document(doc).lookup("/")
    assert found.signals == []
    assert _codes(found) == ["tdmrep-unreachable"]
    assert "HTTP 503" in found.errors[0].message


def test_lookups_are_fast_for_many_paths() -> None:
    """Patterns are compiled once: 20k lookups against 50 rules take well under a second or two."""
    rules = [{"location": f"/section-{i}/*.jpg$", "tdm-reservation": i % 2} for i in range(49)]
    parsed = _file([*rules, {"location": "/", "tdm-reservation": 1}])
    start = time.perf_counter()
    hits = sum(bool(parsed.lookup(f"/section-{i % 60}/p{i}.jpg").signals) for i in range(20_000))
    assert hits == 20_000
    assert time.perf_counter() - start < 5


def test_hostile_patterns_do_not_backtrack() -> None:
    """Many wildcards against a long non-matching path stay linear (no regex backtracking)."""
    parsed = _file([{"location": "/" + "*a" * 40 + "b$", "tdm-reservation": 1}])
    start = time.perf_counter()
    assert parsed.lookup("/" + "a" * 5000).signals == []
    assert time.perf_counter() - start < 1


_ALPHABET = st.text(alphabet="ab/.", max_size=8)


@given(st.lists(_ALPHABET, min_size=1, max_size=4), st.booleans(), _ALPHABET)
def test_glob_matches_a_regex_reference(pieces: list[str], anchored: bool, path: str) -> None:
    """Property: matching equals the regex reading of the pattern (`*` = `.*`, trailing `$` = end)."""
    pattern = "/" + "*".join(pieces) + ("$" if anchored else "")
    reference = re.compile("/" + ".*".join(map(re.escape, pieces)) + ("$" if anchored else ""), re.S)
    found = _file([{"location": pattern, "tdm-reservation": 1}]).lookup("/" + path)
    assert bool(found.signals) is bool(reference.match("/" + path))


@given(st.text(alphabet=st.characters(blacklist_characters="*$%"), max_size=20), st.text(max_size=10))
def test_a_literal_location_matches_every_path_it_prefixes(location: str, rest: str) -> None:
    """Property: a location without special characters matches itself followed by anything."""
    found = _file([{"location": "/" + location, "tdm-reservation": 1}]).lookup("/" + location + rest)
    assert _decision(found) is Decision.RESERVED


@given(st.binary(max_size=300), st.text(max_size=30))
def test_tdmrep_file_never_raises_on_bytes(body: bytes, path: str) -> None:
    """Property: any body and any path give findings, never an exception."""
    tdmrep.TdmRepFile.from_document(_doc(body)).lookup(path)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
_ENTRY = st.fixed_dictionaries(
    {},
    optional={
        "location": st.text(max_size=10) | st.integers(),
        "tdm-reservation": _JSON,
        "tdm-policy": _JSON,
    },
)


@given(st.lists(_ENTRY | _JSON, max_size=5), st.text(max_size=20))
def test_tdmrep_file_never_raises_on_json(entries: list[Any], path: str) -> None:
    """Property: any JSON array of any entries gives at most one signal, and every skipped entry an error."""
    parsed = _file(entries)
    found = parsed.lookup(path)
    assert len(found.signals) <= 1
    assert len(parsed.rules) <= len(entries)


# --- resolve (precedence across places) -------------------------------------------------------------------


def _at(place: str, value: int) -> Signal:
    (signal,) = tdmrep.reservation_findings(value, None, place=place, location=place).signals
    return signal


def _combined(signals: list[Signal]) -> Decision | None:
    values = [s.values[Purpose.DATA_MINING] for s in signals if Purpose.DATA_MINING in s.values]
    assert len(values) <= 1
    return values[0] if values else None


def test_header_overrides_the_file() -> None:
    """SPEC: file 1, header 0 → not reserved; the file's signal is kept as evidence, overridden by the header."""
    resolved = tdmrep.resolve([_at("tdmrep.json", 1), _at("header", 0)])
    assert _combined(resolved) is Decision.ALLOWED
    assert resolved[0].values == {}
    assert resolved[0].details["overridden_by"] == "header"
    assert "overridden_by" not in resolved[1].details


def test_meta_overrides_the_header() -> None:
    """SPEC: header 0, meta 1 → reserved."""
    resolved = tdmrep.resolve([_at("header", 0), _at("html-meta", 1)])
    assert _combined(resolved) is Decision.RESERVED


def test_in_file_metadata_overrides_everything() -> None:
    """EPUB/PDF metadata is the strongest place, whatever order the signals arrive in."""
    resolved = tdmrep.resolve([_at("pdf-xmp", 0), _at("html-meta", 1), _at("tdmrep.json", 1), _at("header", 1)])
    assert _combined(resolved) is Decision.ALLOWED
    assert [s.details.get("overridden_by") for s in resolved] == [None, "pdf-xmp", "pdf-xmp", "pdf-xmp"]


def test_absence_never_resets_a_value() -> None:
    """An invalid header gives no signal, so the file's reservation stands."""
    findings = _file(SPEC_FILE).lookup("/x").extend(tdmrep.header_findings({"tdm-reservation": "yes"}, url="u"))
    assert _combined(tdmrep.resolve(findings.signals)) is Decision.RESERVED


def test_same_rank_disagreement_resolves_to_reserved() -> None:
    """Two in-file readings (EPUB and PDF) that disagree: the most restrictive wins."""
    resolved = tdmrep.resolve([_at("pdf-xmp", 1), _at("epub", 0)])
    assert _combined(resolved) is Decision.RESERVED


def test_other_protocols_pass_through_unchanged_in_order() -> None:
    """Non-tdmrep signals (tdmrep-policy included) are returned as they are, in their place."""
    reserved = {Purpose.AI_TRAINING: Decision.RESERVED}
    other = Signal(protocol="x-robots-tag", location="u", raw="noai", rule="noai", values=reserved)
    policy = Signal(protocol="tdmrep-policy", location="p", raw="{}", rule="policy")
    signals = [other, _at("tdmrep.json", 0), policy, _at("header", 1)]
    resolved = tdmrep.resolve(signals)
    assert resolved[0] is other
    assert resolved[2] is policy
    assert resolved[3] is signals[3]


def test_a_single_signal_is_untouched() -> None:
    """With one tdmrep signal there is nothing to resolve."""
    signal = _at("header", 1)
    assert tdmrep.resolve([signal]) == [signal]


@given(st.lists(st.tuples(st.sampled_from(sorted(tdmrep.PLACES)), st.sampled_from([0, 1])), max_size=6))
def test_resolve_leaves_exactly_the_strongest_statement(stated: list[tuple[str, int]]) -> None:
    """Property: after resolve at most one tdmrep signal has values, and it comes from the highest rank."""
    resolved = tdmrep.resolve([_at(place, value) for place, value in stated])
    assert len(resolved) == len(stated)
    live = [s for s in resolved if s.values]
    assert len(live) == min(1, len(stated))
    if live:
        assert live[0].details["rank"] == max(tdmrep.PLACES[p] for p, _ in stated)


# --- TDM policies -----------------------------------------------------------------------------------------

POLICY: dict[str, Any] = {
    "@context": ["http://www.w3.org/ns/odrl.jsonld", "http://www.w3.org/ns/tdmrep.jsonld"],
    "@type": "Offer",
    "profile": "http://www.w3.org/ns/tdmrep",
    "uid": "https://provider.com/policies/1",
    "assigner": {
        "uid": "https://provider.com",
        "vcard:fn": "Provider",
        "vcard:hasEmail": "mailto:contact@provider.com",
        "vcard:hasURL": "https://provider.com/tdm/licensing.html",
    },
    "permission": [
        {
            "action": "tdm:mine",
            "duty": [{"action": "compensate"}],
            "constraint": [{"leftOperand": "purpose", "operator": "eq", "rightOperand": "tdm:non-research"}],
        }
    ],
}


def _policy(doc: Any, **kw: Any) -> tdmrep.TdmPolicy:
    parsed = tdmrep.parse_policy(json.dumps(doc).encode(), url="https://provider.com/p.json", **kw)
    assert isinstance(parsed, tdmrep.TdmPolicy), parsed
    return parsed


def test_policy_offer_is_read_with_contact_duties_and_purpose() -> None:
    """An ODRL offer gives its uid, the assigner's contact, and each permission's duties and purpose."""
    policy = _policy(POLICY)
    assert policy.uid == "https://provider.com/policies/1"
    assert policy.assigner == tdmrep.TdmAssigner(
        uid="https://provider.com",
        name="Provider",
        email="mailto:contact@provider.com",
        url="https://provider.com/tdm/licensing.html",
    )
    assert policy.permissions == (
        tdmrep.TdmPermission(action="tdm:mine", duties=("compensate",), purposes=("tdm:non-research",)),
    )
    assert policy.problems == ()


def test_policy_accepts_expanded_iris_and_jsonld_values() -> None:
    """Full IRIs, odrl: prefixes, {"@id": …} values and a JSON-LD @graph all read the same."""
    doc = {
        "@graph": [
            {
                "@type": "odrl:Offer",
                "odrl:profile": {"@id": "http://www.w3.org/ns/tdmrep"},
                "odrl:uid": {"@id": "urn:p:1"},
                "odrl:assigner": {
                    "@id": "https://p.example",
                    "http://www.w3.org/2006/vcard/ns#hasEmail": {"@id": "mailto:a@p.example"},
                },
                "odrl:permission": {
                    "odrl:action": {"@id": "http://www.w3.org/ns/tdmrep#mine"},
                    "odrl:duty": {"odrl:action": {"@id": "http://www.w3.org/ns/odrl/2/obtainConsent"}},
                    "odrl:constraint": [
                        {"leftOperand": "purpose", "operator": "odrl:eq", "rightOperand": "research"},
                        {"leftOperand": "spatial", "operator": "eq", "rightOperand": "FR"},
                    ],
                },
            }
        ]
    }
    policy = _policy(doc)
    assert policy.uid == "urn:p:1"
    assert policy.assigner is not None
    assert policy.assigner.email == "mailto:a@p.example"
    (permission,) = policy.permissions
    assert permission.action == "tdm:mine"
    assert permission.duties == ("obtainConsent",)
    assert permission.purposes == ("tdm:research",)
    assert permission.constraints == ("spatial eq FR",)
    assert policy.problems == ()


def test_policy_departures_from_the_profile_are_listed_not_fatal() -> None:
    """A wrong @type, missing profile/uid or a non-mine action are problems; the contact is still read."""
    doc = {"@type": "Set", "assigner": {"vcard:fn": "X"}, "permission": [{"action": "use"}]}
    policy = _policy(doc)
    assert policy.assigner is not None
    assert policy.assigner.name == "X"
    assert len(policy.problems) == 4


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b'{"@type": "Offer", "assigner": {"vcard:fn": "X",},}', "tdmrep-policy-invalid"),
        (b"\xff\xfe", "tdmrep-policy-invalid"),
        (b'{"hello": "world"}', "tdmrep-policy-invalid"),
        (b"[1, 2]", "tdmrep-policy-invalid"),
    ],
    ids=["trailing-comma", "not-utf8", "not-an-offer", "array"],
)
def test_invalid_policies_are_item_errors(body: bytes, code: str) -> None:
    """A policy that is not JSON or not an offer is an ItemError of protocol tdmrep-policy."""
    parsed = tdmrep.parse_policy(body, url="https://e.com/p")
    assert isinstance(parsed, ItemError)
    assert (parsed.code, parsed.protocol, parsed.location) == (code, "tdmrep-policy", "https://e.com/p")


def test_html_policy_is_human_readable() -> None:
    """A policy served as text/html is a human-readable policy: reported, with its URL to read."""
    parsed = tdmrep.parse_policy(b"<html>terms</html>", url="https://e.com/terms", content_type="text/html; q")
    assert isinstance(parsed, ItemError)
    assert parsed.code == "tdmrep-policy-human-readable"
    assert "https://e.com/terms" in parsed.message


def test_markup_policy_without_content_type_is_human_readable() -> None:
    """Without a Content-Type, a body that starts with markup is recognised as a human-readable page."""
    parsed = tdmrep.parse_policy(b"\n  <!DOCTYPE html><title>Terms</title>", url="https://e.com/terms")
    assert isinstance(parsed, ItemError)
    assert parsed.code == "tdmrep-policy-human-readable"


def test_policy_findings_surface_the_contact_without_values() -> None:
    """The tdmrep-policy signal has no purpose values; its rule and details say whom to ask and on what terms."""
    (signal,) = tdmrep.policy_findings(_policy(POLICY), location="https://provider.com/p.json").signals
    assert signal.protocol == "tdmrep-policy"
    assert signal.values == {}
    assert "mailto:contact@provider.com" in signal.rule
    assert "compensate" in signal.rule
    assert "tdm:non-research" in signal.rule
    assert signal.details["assigner"]["email"] == "mailto:contact@provider.com"
    assert json.loads(json.dumps(signal.to_dict()))["details"]["permissions"][0]["action"] == "tdm:mine"


@given(st.binary(max_size=200))
def test_parse_policy_never_raises_on_bytes(body: bytes) -> None:
    """Property: any bytes give a policy or an ItemError."""
    assert isinstance(tdmrep.parse_policy(body, url="u"), tdmrep.TdmPolicy | ItemError)


@given(_JSON)
def test_parse_policy_never_raises_on_json(doc: Any) -> None:
    """Property: any JSON (and any offer-shaped JSON) gives a policy or an ItemError, and findings for it."""
    for candidate in (doc, {"assigner": doc, "permission": doc}, {"permission": [{"duty": doc, "constraint": doc}]}):
        parsed = tdmrep.parse_policy(json.dumps(candidate).encode(), url="u")
        if isinstance(parsed, tdmrep.TdmPolicy):
            json.dumps(tdmrep.policy_findings(parsed).signals[0].to_dict())
