"""``build_site_kit`` / ``write_site_kit``: every statement of a served kit is found by ``check_url``."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from rightful.errors import InvalidInput
from rightful.models import CheckResult, Decision, Purpose
from rightful.protect.sitekit import SiteKit, build_site_kit, write_site_kit
from rightful.protect.terms import Reservation
from rightful.signals.agents import load_agents
from rightful.signals.check import check_url
from rightful.testing.publisher import Publisher, Resource, Site

SITE = "https://kit.example"
POLICY = f"{SITE}/.well-known/tdm-policy.json"
CONTACT = ["Ada Lovelace <ada@example.org>", "https://ada.example/licensing"]
_PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


def _kit(reserve: str = "all", *, policy: str | None = POLICY) -> SiteKit:
    return build_site_kit(Reservation.parse([reserve], contacts=CONTACT), policy_url=policy)


def _live(text: str) -> str:
    """The kit was made for https://kit.example; the loopback publisher plays that site at its own origin."""
    return text.replace(SITE, "{{origin}}")


def _headers(kit: SiteKit) -> tuple[tuple[str, str], ...]:
    return tuple((name, _live(value)) for name, value in kit.headers)


def _serve(kit: SiteKit, publisher: Callable[..., Publisher]) -> Publisher:
    head = "\n".join(kit.meta_tags)
    page = f"<!doctype html><html><head><title>Art</title>\n{_live(head)}\n</head><body>Art</body></html>"
    pages = {
        "/": Resource(body=page.encode(), headers=_headers(kit), content_type="text/html; charset=utf-8"),
        "/art.png": Resource(body=_PNG, headers=_headers(kit), content_type="image/png"),
    }
    if kit.policy_path is not None:
        pages["/" + kit.policy_path] = Resource(body=_live(kit.files[kit.policy_path]).encode(),
                                                content_type="application/ld+json")  # fmt: skip
    tdmrep = kit.files.get(".well-known/tdmrep.json")
    site = Site(robots_txt=kit.files["robots.txt"], ai_txt=kit.files["ai.txt"],
                tdmrep_json=_live(tdmrep) if tdmrep else None, pages=pages)  # fmt: skip
    return publisher(site)


def _check(url: str) -> CheckResult:
    return check_url(url, allow_private=True, cache=False)


def _by_protocol(result: CheckResult) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for signal in result.signals:
        found.setdefault(signal.protocol, []).append(signal.location)
    return found


def _reserving(result: CheckResult, protocol: str, purpose: Purpose) -> list[str]:
    return [s.location for s in result.signals if s.protocol == protocol and s.values.get(purpose) is Decision.RESERVED]


def test_served_kit_reserves_every_purpose_in_every_protocol(publisher: Callable[..., Publisher]) -> None:
    """A page of a served ``--reserve all`` kit is reserved for each purpose, and each protocol says so."""
    kit = _kit("all")
    pub = _serve(kit, publisher)
    result = _check(pub.url(0, "/"))
    for purpose in (Purpose.DATA_MINING, Purpose.AI_TRAINING, Purpose.GENAI_TRAINING, Purpose.AI_INFERENCE):
        assert result.decision(purpose) is Decision.RESERVED, purpose
    assert result.decision(Purpose.SEARCH) is Decision.ALLOWED  # search engines may still crawl
    assert result.crawl_allowed is True
    robots, page = pub.url(0, "/robots.txt"), pub.url(0, "/")
    assert _reserving(result, "robots.txt", Purpose.AI_TRAINING) == [robots]
    assert _reserving(result, "robots-ai-training", Purpose.AI_TRAINING) == [robots]
    assert sorted(_reserving(result, "aipref", Purpose.AI_TRAINING)) == sorted([robots, page])
    assert sorted(_reserving(result, "content-signal", Purpose.AI_INFERENCE)) == sorted([robots, page])
    assert _reserving(result, "ai.txt", Purpose.AI_TRAINING) == [pub.url(0, "/ai.txt")]
    assert _reserving(result, "x-robots-tag", Purpose.AI_TRAINING) == [page]
    assert _reserving(result, "robots-meta", Purpose.AI_TRAINING) == [page]
    places = {s.details["place"] for s in result.signals if s.protocol == "tdmrep"}
    assert places == {"tdmrep.json", "header", "html-meta"}
    assert _reserving(result, "tdmrep", Purpose.DATA_MINING) == [page]  # html-meta wins TDMRep's precedence
    policy = next(s for s in result.signals if s.protocol == "tdmrep-policy")
    assert policy.details["assigner"]["email"] == "mailto:ada@example.org"
    assert policy.details["problems"] == []
    assert "mining permitted with duty obtainConsent" in policy.rule
    assert not [e for e in result.errors if e.code != "legacy-label"], result.errors


def test_served_kit_reserves_an_image_through_its_headers(publisher: Callable[..., Publisher]) -> None:
    """An image of the served kit is reserved by X-Robots-Tag noai/noimageai and the TDMRep header."""
    pub = _serve(_kit("data-mining"), publisher)
    result = _check(pub.url(0, "/art.png"))
    assert result.decision(Purpose.AI_TRAINING) is Decision.RESERVED
    image = pub.url(0, "/art.png")
    assert set(_reserving(result, "x-robots-tag", Purpose.AI_TRAINING)) == {image}  # noai and noimageai
    rules = " ".join(s.rule for s in result.signals if s.protocol == "x-robots-tag")
    assert "noimageai" in rules
    assert _reserving(result, "tdmrep", Purpose.DATA_MINING) == [image]  # the header outranks tdmrep.json
    assert result.decision(Purpose.AI_INFERENCE) is Decision.UNKNOWN


def test_ai_training_kit_leaves_out_tdmrep(publisher: Callable[..., Publisher]) -> None:
    """``--reserve ai-training`` reserves AI training everywhere but states nothing about data mining."""
    kit = _kit("ai-training")
    assert ".well-known/tdmrep.json" not in kit.files
    assert not any(name.lower().startswith("tdm-") for name, _ in kit.headers)
    assert any("TDMRep" in note for note in kit.notes)
    pub = _serve(kit, publisher)
    result = _check(pub.url(0, "/"))
    assert result.decision(Purpose.AI_TRAINING) is Decision.RESERVED
    assert result.decision(Purpose.GENAI_TRAINING) is Decision.RESERVED
    assert not [s for s in result.signals if s.protocol.startswith("tdmrep")]
    assert _reserving(result, "tdmrep", Purpose.DATA_MINING) == []


def test_robots_txt_names_every_training_token_and_the_list_version() -> None:
    """robots.txt disallows each AI-training token of the current list and names the list's version."""
    agents = load_agents()
    robots = _kit("ai-training").files["robots.txt"]
    assert f"version {agents.version}" in robots
    named = re.findall(r"^User-agent: (\S+)$", robots, flags=re.MULTILINE)
    assert set(agents.training) <= set(named)
    assert not set(agents.user_fetch) & set(named)  # ai-inference is not reserved by --reserve ai-training
    assert set(agents.user_fetch) <= set(re.findall(r"^User-agent: (\S+)$", _kit("all").files["robots.txt"], re.M))


def test_server_snippets_add_exactly_the_kit_headers() -> None:
    """The nginx, Apache and Caddy snippets each add every header of the kit's header set, and nothing else."""
    kit = _kit("all")
    files = kit.files
    nginx = re.findall(r'^add_header (\S+) "([^"]*)" always;$', files["server/nginx.conf"], re.M)
    apache = re.findall(r'^\s+Header always set (\S+) "([^"]*)"$', files["server/apache.conf"], re.M)
    caddy = re.findall(r'^\t(\S+) "([^"]*)"$', files["server/Caddyfile"], re.M)
    lines = [tuple(line.split(": ", 1)) for line in files["headers.txt"].splitlines()]
    for found in (nginx, apache, caddy, lines):
        assert tuple(found) == kit.headers
    assert ("TDM-Policy", POLICY) in kit.headers


def test_tdm_policy_is_an_odrl_offer_the_checker_reads() -> None:
    """The policy file is an ODRL offer with the TDMRep profile, its URL as uid and the contact as assigner."""
    kit = _kit("data-mining")
    assert kit.policy_path == ".well-known/tdm-policy.json"
    offer = json.loads(kit.files[".well-known/tdm-policy.json"])
    assert offer["@type"] == "Offer"
    assert offer["uid"] == POLICY
    assert offer["profile"] == "http://www.w3.org/ns/tdmrep"
    assert offer["assigner"]["vcard:fn"] == "Ada Lovelace"
    assert json.loads(kit.files[".well-known/tdmrep.json"]) == [
        {"location": "/", "tdm-reservation": 1, "tdm-policy": POLICY}
    ]


def test_policy_file_follows_the_policy_url_path() -> None:
    """A policy URL ending in .json puts the policy file at that path inside the kit."""
    kit = _kit("data-mining", policy=f"{SITE}/licensing/tdm.json")
    assert kit.policy_path == "licensing/tdm.json"
    assert "licensing/tdm.json" in kit.files


def test_without_policy_url_the_kit_says_what_is_missing() -> None:
    """Without --policy-url no policy is referenced or written, and a note says how to add one."""
    kit = _kit("all", policy=None)
    assert kit.policy_path is None
    assert "tdm-policy" not in kit.files[".well-known/tdmrep.json"]
    assert all(name != "TDM-Policy" for name, _ in kit.headers)
    assert any("--policy-url" in note for note in kit.notes)
    assert "--policy-url" in kit.files["README.md"]


def test_generative_only_reservation_is_refused_with_the_way_out() -> None:
    """``--reserve genai-training`` is an error that names what to use instead."""
    with pytest.raises(InvalidInput, match="rightful tag --reserve genai-training"):
        _kit("genai-training")


@pytest.mark.parametrize("bad", ["kit.example/policy.json", "ftp://kit.example/p.json", 'https://k.example/"x'])
def test_bad_policy_url_is_refused(bad: str) -> None:
    """A policy URL that is not absolute http(s), or could break a header or config, is refused."""
    with pytest.raises(InvalidInput, match="--policy-url"):
        _kit(policy=bad)


def test_kit_is_deterministic() -> None:
    """The same reservation gives byte-identical files."""
    assert _kit().files == _kit().files


def test_write_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    """Writing into a folder that already holds kit files fails unless overwrite is asked for."""
    kit = _kit()
    written = write_site_kit(kit, tmp_path)
    assert {p.relative_to(tmp_path).as_posix() for p in written} == set(kit.files)
    assert (tmp_path / "robots.txt").read_text(encoding="utf-8") == kit.files["robots.txt"]
    with pytest.raises(InvalidInput, match="--force"):
        write_site_kit(kit, tmp_path)
    assert len(write_site_kit(kit, tmp_path, overwrite=True)) == len(kit.files)


def test_public_names_are_pinned() -> None:
    """``rightful.protect`` exports a sorted, complete ``__all__``; the cloak's names resolve lazily."""
    import rightful.protect as protect

    assert protect.__all__ == sorted(
        protect.__all__, key=lambda n: (not n.isupper(), n.lower() if n[0].islower() else n)
    )
    for name in protect.__all__:
        assert getattr(protect, name) is not None
