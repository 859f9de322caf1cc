"""``rightful site-kit``: every file a website needs to state an AI reservation, generated from one reservation.

The kit says the same thing in every protocol Rightful reads (SPEC-signals.md), so a crawler that honours only
one of them still sees it, and ``rightful check`` finds all of them (the tests serve a kit and check it):

==============================  ==================================================================
``robots.txt``                  ``Disallow: /`` for each AI-training token of Rightful's versioned list
                                (its version in a comment); ``Content-Usage``, ``Content-Signal`` and
                                ``DisallowAITraining`` lines in the ``*`` group
``ai.txt``                      Spawning's format: ``Disallow: /`` for every agent
``.well-known/tdmrep.json``     TDMRep reservation for the whole site (data mining only, see below)
TDM policy (JSON-LD)            an ODRL offer naming whom to ask (with ``--policy-url``)
``headers.txt``                 ``X-Robots-Tag: noai, noimageai``, ``Content-Usage``, ``Content-Signal``,
                                ``TDM-Reservation`` / ``TDM-Policy``
``meta-tags.html``              the same as ``<meta>`` tags for each page's ``<head>``
``server/``                     nginx, Apache and Caddy snippets that add :attr:`SiteKit.headers`
==============================  ==================================================================

What is deliberately *not* written: robots.txt never blocks ``rightfulbot`` or search engines (they are how
the other statements get read), and TDMRep — one switch for all text and data mining — is set only when data
mining is reserved, so an ``ai-training`` kit does not claim more than it was asked to. Generative training on
its own cannot be stated by any website protocol today; asking for it is an error with the way out.
Output is deterministic: the same reservation and agent list give byte-identical files.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Final
from urllib.parse import urlsplit

from rightful._version import __version__
from rightful.errors import InvalidInput, ProtectionError
from rightful.models import Purpose
from rightful.protect.terms import Reservation, check_url
from rightful.signals.agents import AgentList, load_agents

__all__ = ["SiteKit", "build_site_kit", "write_site_kit"]

_TDMREP_CONTEXT: Final = [
    "http://www.w3.org/ns/odrl.jsonld",
    {"tdm": "http://www.w3.org/ns/tdmrep#", "vcard": "http://www.w3.org/2006/vcard/ns#"},
]
_DEFAULT_POLICY_FILE: Final = ".well-known/tdm-policy.json"


@dataclass(frozen=True, slots=True)
class SiteKit:
    """A generated kit: ``files`` maps a path inside the kit folder to its text."""

    reservation: Reservation
    agents_version: str
    policy_url: str | None
    headers: tuple[tuple[str, str], ...]
    meta_tags: tuple[str, ...]
    files: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def policy_path(self) -> str | None:
        """Where the TDM policy file sits inside the kit (mirrors the path of ``policy_url``)."""
        return _policy_path(self.policy_url) if self.policy_url and self.reservation.tdmrep else None


def build_site_kit(
    reservation: Reservation, *, policy_url: str | None = None, agents: AgentList | None = None
) -> SiteKit:
    """Generate the kit for ``reservation``. Raises InvalidInput for what no website protocol can state."""
    if not reservation.ai_training:
        raise InvalidInput(
            "no website protocol can reserve generative AI training alone (robots.txt, ai.txt, noai and aipref "
            "speak of AI training as a whole): use --reserve ai-training for the site, and "
            "'rightful tag --reserve genai-training' for the files themselves"
        )
    policy = check_url(policy_url, what="--policy-url") if policy_url is not None else None
    agent_list = agents or load_agents()
    headers = _headers(reservation, policy)
    meta = _meta_tags(reservation, policy)
    notes = _notes(reservation, policy)
    files: dict[str, str] = {
        "robots.txt": _robots_txt(reservation, agent_list),
        "ai.txt": _ai_txt(reservation),
        "headers.txt": _header_lines(headers),
        "meta-tags.html": _meta_html(reservation, meta),
        "server/nginx.conf": _nginx(headers),
        "server/apache.conf": _apache(headers),
        "server/Caddyfile": _caddy(headers),
    }
    if reservation.tdmrep:
        files[".well-known/tdmrep.json"] = _tdmrep_json(policy)
        if policy is not None:
            files[_policy_path(policy)] = _tdm_policy(reservation, policy)
    kit = SiteKit(reservation=reservation, agents_version=agent_list.version, policy_url=policy, headers=headers,
                  meta_tags=meta, notes=notes)  # fmt: skip
    files["README.md"] = _readme(kit, files, agent_list)
    return dataclasses.replace(kit, files=dict(sorted(files.items())))


def write_site_kit(kit: SiteKit, out: str | Path, *, overwrite: bool = False) -> list[Path]:
    """Write the kit's files under ``out``; refuses to replace existing files unless ``overwrite``."""
    root = Path(out)
    targets = [root / name for name in kit.files]
    if not overwrite:
        existing = [str(p) for p in targets if p.exists()]
        if existing:
            raise InvalidInput(f"{existing[0]} already exists ({len(existing)} kit files do): pass --force to replace")
    written: list[Path] = []
    try:
        for path, (_name, text) in zip(targets, kit.files.items(), strict=True):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8", newline="\n")
            written.append(path)
    except OSError as exc:
        raise ProtectionError(f"cannot write the site kit into {root}: {exc.strerror or exc}", path=str(root)) from exc
    return written


def _policy_path(policy_url: str) -> str:
    path = PurePosixPath(urlsplit(policy_url).path or "/")
    if path.suffix.lower() not in (".json", ".jsonld") or ".." in path.parts:
        return _DEFAULT_POLICY_FILE
    return str(path).lstrip("/")


# --- the statements ----------------------------------------------------------------------------------------


def _content_signal(reservation: Reservation) -> str:
    keys = ["ai-train=no"]
    if reservation.reserves(Purpose.AI_INFERENCE):
        keys.append("ai-input=no")
    return ", ".join(keys)


def _headers(reservation: Reservation, policy: str | None) -> tuple[tuple[str, str], ...]:
    headers = [
        ("X-Robots-Tag", "noai, noimageai"),
        ("Content-Usage", "train-ai=n"),
        ("Content-Signal", _content_signal(reservation)),
    ]
    if reservation.tdmrep:
        headers.append(("TDM-Reservation", "1"))
        if policy is not None:
            headers.append(("TDM-Policy", policy))
    return tuple(headers)


def _meta_tags(reservation: Reservation, policy: str | None) -> tuple[str, ...]:
    tags = ['<meta name="robots" content="noai, noimageai">']
    if reservation.tdmrep:
        tags.append('<meta name="tdm-reservation" content="1">')
        if policy is not None:
            tags.append(f'<meta name="tdm-policy" content="{policy}">')
    return tuple(tags)


def _notes(reservation: Reservation, policy: str | None) -> tuple[str, ...]:
    notes: list[str] = []
    if not reservation.tdmrep:
        notes.append("TDMRep (tdmrep.json, TDM-Reservation) is not part of this kit: it has one switch for all text "
                     "and data mining, more than AI training. Use --reserve data-mining (or all) to set it; in the "
                     "EU it is the machine-readable opt-out of DSM Art. 4(3).")  # fmt: skip
    elif policy is None:
        notes.append("No --policy-url: the TDMRep reservation names no policy, so crawlers see no contact or terms. "
                     "Pass --policy-url https://<your site>/.well-known/tdm-policy.json to publish them.")  # fmt: skip
    if not reservation.contact:
        notes.append("No --contact: nothing tells a builder whom to ask for a licence.")
    return tuple(notes)


def _banner(reservation: Reservation) -> list[str]:
    purposes = ", ".join(sorted(p.value for p in reservation.purposes))
    lines = [f"# Generated by Rightful {__version__} (rightful site-kit --reserve {reservation.label})",
             f"# Reserved: {purposes}"]  # fmt: skip
    if reservation.contact:
        lines.append(f"# Licensing contact: {reservation.contact.words()}")
    if reservation.licence:
        lines.append(f"# Licence: {reservation.licence}")
    return lines


def _robots_txt(reservation: Reservation, agents: AgentList) -> str:
    lines = _banner(reservation)
    lines += [
        f"# AI crawler tokens: Rightful ai-agents list version {agents.version} ({len(agents.training)} tokens)",
        "# Already have a robots.txt? Put the AI groups below at its top, and add the Content-Usage, Content-Signal",
        "# and DisallowAITraining lines to your own 'User-agent: *' group.",
        "",
        "# AI-training crawlers",
        *(f"User-agent: {token}" for token in agents.training),
        "Disallow: /",
        "",
    ]
    if reservation.reserves(Purpose.AI_INFERENCE) and agents.user_fetch:
        lines += ["# AI assistants that fetch pages on a user's request (use as AI input is reserved)",
                  *(f"User-agent: {token}" for token in agents.user_fetch), "Disallow: /", ""]  # fmt: skip
    lines += [
        "# Everyone else (search engines, rightfulbot) may crawl and read the reservations below",
        "User-agent: *",
        "Allow: /",
        "Content-Usage: train-ai=n",
        f"Content-Signal: {_content_signal(reservation)}",
        "DisallowAITraining: /",
    ]
    return "\n".join(lines) + "\n"


def _ai_txt(reservation: Reservation) -> str:
    lines = [*_banner(reservation), "# Spawning ai.txt format: AI training is reserved for every file on this site.",
             "User-Agent: *", "Disallow: /"]  # fmt: skip
    return "\n".join(lines) + "\n"


def _tdmrep_json(policy: str | None) -> str:
    entry: dict[str, object] = {"location": "/", "tdm-reservation": 1}
    if policy is not None:
        entry["tdm-policy"] = policy
    return json.dumps([entry], indent=2) + "\n"


def _tdm_policy(reservation: Reservation, policy: str) -> str:
    """An ODRL 2.2 offer (TDMRep profile): mining is permitted once the rightsholder has consented."""
    parts = urlsplit(policy)
    site = f"{parts.scheme}://{parts.netloc}/"
    contact = reservation.contact
    assigner: dict[str, object] = {"uid": contact.url or site}
    for key, value in (("vcard:fn", contact.name), ("vcard:hasEmail", contact.mailto),
                       ("vcard:hasTelephone", contact.tel), ("vcard:hasURL", contact.url)):  # fmt: skip
        if value:
            assigner[key] = value
    permission: dict[str, object] = {"target": site, "action": "tdm:mine", "duty": [{"action": "obtainConsent"}]}
    offer = {
        "@context": _TDMREP_CONTEXT,
        "@type": "Offer",
        "profile": "http://www.w3.org/ns/tdmrep",
        "uid": policy,
        "assigner": assigner,
        "permission": [permission],
    }
    return json.dumps(offer, indent=2, ensure_ascii=False) + "\n"


# --- server snippets ---------------------------------------------------------------------------------------


def _header_lines(headers: tuple[tuple[str, str], ...]) -> str:
    return "".join(f"{name}: {value}\n" for name, value in headers)


def _meta_html(reservation: Reservation, tags: tuple[str, ...]) -> str:
    purposes = ", ".join(sorted(p.value for p in reservation.purposes))
    head = (
        f"<!-- Rightful {__version__} site kit: put these tags in the <head> of every page (reserved: {purposes}) -->"
    )
    return "\n".join([head, *tags]) + "\n"


def _nginx(headers: tuple[tuple[str, str], ...]) -> str:
    lines = [
        f"# Rightful {__version__} site kit: AI reservation headers for nginx.",
        "# include this file inside your server { } block. nginx drops server-level add_header lines in any",
        "# location that has add_header lines of its own: include this file in those locations too.",
        *(f'add_header {name} "{value}" always;' for name, value in headers),
    ]
    return "\n".join(lines) + "\n"


def _apache(headers: tuple[tuple[str, str], ...]) -> str:
    lines = [
        f"# Rightful {__version__} site kit: AI reservation headers for Apache httpd (mod_headers: a2enmod headers).",
        "# Include this file in your <VirtualHost> (Include /path/apache.conf) or paste it into .htaccess.",
        "<IfModule mod_headers.c>",
        *(f'    Header always set {name} "{value}"' for name, value in headers),
        "</IfModule>",
    ]
    return "\n".join(lines) + "\n"


def _caddy(headers: tuple[tuple[str, str], ...]) -> str:
    lines = [
        f"# Rightful {__version__} site kit: AI reservation headers for Caddy.",
        "# Inside your site block: import /path/to/this/Caddyfile",
        "header {",
        *(f'\t{name} "{value}"' for name, value in headers),
        "}",
    ]
    return "\n".join(lines) + "\n"


def _readme(kit: SiteKit, files: Mapping[str, str], agents: AgentList) -> str:
    r = kit.reservation
    rows = {
        "robots.txt": "serve at https://<your site>/robots.txt",
        "ai.txt": "serve at https://<your site>/ai.txt",
        ".well-known/tdmrep.json": "serve at https://<your site>/.well-known/tdmrep.json (application/json)",
        "headers.txt": "the response headers every page and file should carry (what the server snippets add)",
        "meta-tags.html": "paste into the <head> of every HTML page",
        "server/nginx.conf": "nginx: include inside your server { } block",
        "server/apache.conf": "Apache httpd: Include in your <VirtualHost>, or paste into .htaccess",
        "server/Caddyfile": "Caddy: import inside your site block",
    }
    if kit.policy_path is not None:
        rows[kit.policy_path] = f"your TDM policy (ODRL offer): serve at {kit.policy_url} (application/json)"
    lines = [
        "# AI reservation site kit", "",
        f"Generated by Rightful {__version__} with `--reserve {r.label}`; reserved purposes: "
        f"{', '.join(sorted(p.value for p in r.purposes))}.", "",
        f"robots.txt names the {len(agents.training)} AI-training crawler tokens of Rightful's list, version "
        f"{agents.version}. Crawlers change: regenerate the kit when Rightful's list is updated.", "",
        "| file | what to do with it |", "|---|---|",
        *(f"| `{name}` | {rows[name]} |" for name in files if name in rows), "",
        "Check the result once it is online: `rightful check https://<your site>/` lists every statement found.", "",
        "These are statements of your terms, read by crawlers that choose to honour them; they do not technically "
        "block anyone. Keep your originals and your licence terms somewhere a human can read them too.",
    ]  # fmt: skip
    if kit.notes:
        lines += ["", "## Notes", "", *(f"- {note}" for note in kit.notes)]
    return "\n".join(lines) + "\n"
