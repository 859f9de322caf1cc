"""TDMRep against real files: the W3C specification's examples and tdmrep.json files from live sites.

Expected results were derived by reading each file (see ../shared/fixtures/external/SOURCES.md, TDMRep
section); the W3C examples include two published errors (an invalid JSON policy, a malformed XMP snippet).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rightful.models import Decision, ItemError, Purpose
from rightful.signals import html, tdmrep
from rightful.signals.base import DocumentState, Findings, OriginDocument

pytestmark = pytest.mark.external


def _file(external: Path, name: str) -> tdmrep.TdmRepFile:
    body = (external / "tdmrep" / name).read_bytes()
    url = f"https://{Path(name).name.split('.tdmrep')[0]}/.well-known/tdmrep.json"
    return tdmrep.TdmRepFile.from_document(OriginDocument(url=url, state=DocumentState.OK, status=200, body=body))


def _mining(found: Findings) -> Decision | None:
    values = [s.values[Purpose.DATA_MINING] for s in found.signals if Purpose.DATA_MINING in s.values]
    return values[0] if values else None


def _http_head(path: Path) -> list[tuple[str, str]]:
    """The header fields of an HTTP response head as printed in the spec (status line skipped)."""
    lines = path.read_text().splitlines()[1:]
    return [(name.strip(), value.strip()) for name, _, value in (ln.partition(":") for ln in lines if ":" in ln)]


def test_spec_example_whole_site(external: Path) -> None:
    """W3C example 1 (`/` reserved, no policy) reserves every path."""
    parsed = _file(external, "w3c-spec/examples/tdmrep.example-1-whole-site.json")
    for path in ("/", "/index.html", "/a/b/c.pdf"):
        found = parsed.lookup(path)
        assert _mining(found) is Decision.RESERVED
        assert found.signals[0].details["policy"] is None
    assert parsed.errors == ()


@pytest.mark.parametrize(
    ("path", "expected", "policy"),
    [
        ("/directory-a/report.pdf", Decision.RESERVED, None),
        ("/directory-b/html/page.html", Decision.RESERVED, "https://provider.com/policies/policy.json"),
        ("/directory-b/images/photo.jpg", Decision.ALLOWED, None),
        ("/directory-b/images/sub/photo.jpg", Decision.ALLOWED, None),
        ("/directory-b/images/photo.png", None, None),
        ("/directory-a", None, None),  # the pattern has a trailing slash
        ("/index.html", None, None),
    ],
)
def test_spec_example_three_groups(external: Path, path: str, expected: Decision | None, policy: str | None) -> None:
    """W3C example 2: two reserved directories (one with a policy), JPEGs in /directory-b/images/ allowed."""
    found = _file(external, "w3c-spec/examples/tdmrep.example-2-three-groups.json").lookup(path)
    assert _mining(found) is expected
    assert found.errors == []
    if expected is not None:
        assert found.signals[0].details["policy"] == policy


def test_spec_http_example_reservation(external: Path) -> None:
    """W3C HTTP example 1 (`tdm-reservation: 1` on an image response) reserves the resource."""
    headers = _http_head(external / "tdmrep/w3c-spec/examples/http-response.example-1-reservation.txt")
    found = tdmrep.header_findings(headers, url="https://provider.com/a.jpg")
    assert _mining(found) is Decision.RESERVED
    assert found.signals[0].details["policy"] is None


def test_spec_http_example_with_policy(external: Path) -> None:
    """W3C HTTP example 2 reserves the resource and points to its policy."""
    headers = _http_head(external / "tdmrep/w3c-spec/examples/http-response.example-2-reservation-with-policy.txt")
    (signal,) = tdmrep.header_findings(headers, url="https://provider.com/").signals
    assert signal.values[Purpose.AI_TRAINING] is Decision.RESERVED
    assert signal.details["policy"] == "https://provider.com/policies/policy.json"


def test_spec_html_example(external: Path) -> None:
    """The W3C HTML example's meta tags reserve the page (place html-meta, line 5) with the policy URL."""
    body = (external / "tdmrep/w3c-spec/examples/html-meta.example.html").read_bytes()
    found = html.html_findings(body, url="https://provider.com/doc.html")
    (signal,) = [s for s in found.signals if s.protocol == "tdmrep"]
    assert signal.values[Purpose.DATA_MINING] is Decision.RESERVED
    assert (signal.line, signal.details["place"]) == (5, "html-meta")
    assert signal.details["policy"] == "https://provider.com/policies/policy.json"
    assert found.errors == []


def test_spec_policy_example_obtain_consent(external: Path) -> None:
    """W3C full policy example 1 is a valid offer: tdm:mine with duty obtainConsent, full vCard contact."""
    body = (external / "tdmrep/w3c-spec/examples/policy.full-example-1-obtainConsent.json").read_bytes()
    policy = tdmrep.parse_policy(body, url="https://provider.com/policies/policy.json")
    assert isinstance(policy, tdmrep.TdmPolicy)
    assert policy.uid == "https://provider.com/policies/1"
    assert policy.problems == ()
    assert policy.assigner is not None
    assert policy.assigner.name == "Provider"
    assert policy.assigner.email == "mailto:contact@provider.com"
    assert policy.assigner.telephone == "tel:+61755555555"
    assert policy.assigner.url == "https://provider.com/tdm/licensing.html"
    assert policy.assigner.address["locality"] == "Espérance"
    assert policy.permissions == (tdmrep.TdmPermission(action="tdm:mine", duties=("obtainConsent",)),)


def test_spec_policy_example_with_published_trailing_comma_is_invalid(external: Path) -> None:
    """W3C full policy example 2 is invalid JSON as published (trailing comma): an ItemError, not a crash."""
    body = (external / "tdmrep/w3c-spec/examples/policy.full-example-2-compensate-non-research.json").read_bytes()
    parsed = tdmrep.parse_policy(body, url="https://provider.com/policies/policy.json")
    assert isinstance(parsed, ItemError)
    assert parsed.code == "tdmrep-policy-invalid"


def test_spec_policy_example_two_reads_once_the_comma_is_fixed(external: Path) -> None:
    """With the published trailing comma removed, example 2 is compensate + purpose tdm:non-research."""
    text = (external / "tdmrep/w3c-spec/examples/policy.full-example-2-compensate-non-research.json").read_text()
    fixed = text.replace('"mailto:contact@provider.com",', '"mailto:contact@provider.com"')
    policy = tdmrep.parse_policy(fixed.encode(), url="https://provider.com/policies/policy.json")
    assert isinstance(policy, tdmrep.TdmPolicy)
    assert policy.permissions == (
        tdmrep.TdmPermission(action="tdm:mine", duties=("compensate",), purposes=("tdm:non-research",)),
    )


@pytest.mark.parametrize(
    ("name", "policy"),
    [
        ("sites/debats.co.tdmrep.json", "https://debats.co/mentions-legales"),
        ("sites/nineplus.sh.tdmrep.json", "https://www.nineplus.sh/legal/tdm.json"),
        ("sites/scenarios.thehonestbroker.org.tdmrep.json", "https://thehonestbroker.org/terms/"),
        ("sites/licence.thibaultsan.com.tdmrep.json", "https://licence.thibaultsan.com/"),
    ],
)
def test_real_sites_reserving_everything(external: Path, name: str, policy: str) -> None:
    """Real whole-site reservations with a policy URL reserve every path and carry the policy."""
    parsed = _file(external, name)
    assert parsed.errors == ()
    for path in ("/", "/blog/post-1", "/images/a.jpg?size=2"):
        found = parsed.lookup(path)
        assert _mining(found) is Decision.RESERVED
        assert found.signals[0].details["policy"] == policy


def test_real_compact_file_gives_line_one(external: Path) -> None:
    """nineplus.sh writes `[{` on one line: the entry's evidence line is 1."""
    (signal,) = _file(external, "sites/nineplus.sh.tdmrep.json").lookup("/").signals
    assert signal.line == 1


def test_real_site_allowing_mining(external: Path) -> None:
    """xlr8harder.github.io states `/*` → 0: data-mining (and so AI training) explicitly allowed."""
    found = _file(external, "sites/xlr8harder.github.io.tdmrep.json").lookup("/posts/x.html")
    assert _mining(found) is Decision.ALLOWED
    assert found.signals[0].values[Purpose.AI_TRAINING] is Decision.ALLOWED


@pytest.mark.parametrize("name", ["sites/baxin.pages.dev.tdmrep.json", "sites/maikfigura.de.tdmrep.json"])
def test_real_malformed_files_are_unset(external: Path, name: str) -> None:
    """Real files that are a JSON object instead of the spec's array are invalid: unset with an error."""
    found = _file(external, name).lookup("/")
    assert found.signals == []
    assert [e.code for e in found.errors] == ["tdmrep-invalid"]
    assert "must be a JSON array" in found.errors[0].message


def test_real_policy_of_nineplus(external: Path) -> None:
    """nineplus.sh's real policy: an offer with obtainConsent and a contact e-mail, surfaced as a signal."""
    body = (external / "tdmrep/sites/nineplus.sh.legal-tdm-policy.json").read_bytes()
    policy = tdmrep.parse_policy(body, url="https://www.nineplus.sh/legal/tdm.json", content_type="application/json")
    assert isinstance(policy, tdmrep.TdmPolicy)
    assert policy.problems == ()
    (signal,) = tdmrep.policy_findings(policy).signals
    assert signal.location == "https://www.nineplus.sh/legal/tdm.json"
    assert signal.details["assigner"]["email"] == "mailto:hakase@nineplus.sh"
    assert "obtainConsent" in signal.rule


def test_w3c_context_defines_the_policy_terms(external: Path) -> None:
    """The published JSON-LD context maps mine/research/non-research into the tdm: namespace we normalise to."""
    context = (external / "tdmrep/w3c-spec/ns-tdmrep.jsonld").read_text()
    for term in ("tdm:mine", "tdm:research", "tdm:non-research", "http://www.w3.org/ns/tdmrep#"):
        assert term in context
