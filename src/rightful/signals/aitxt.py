"""Spawning ``ai.txt``: a robots.txt-grammar file at ``/ai.txt`` that opts content out of AI training.

The file is parsed and matched by :mod:`rightful.signals.robots` (dialect ``"ai.txt"``), so the grammar, group
selection and longest-match rules are the same as robots.txt. What differs:

* patterns may be bare extension globs: ``*.jpg`` is anchored like a robots ``*`` at the path start (so it
  matches ``/a.jpg`` and ``/x.jpg.html``), ``.jpg`` is read as ``*.jpg``, and ``images/`` as ``/images/``;
* extension globs match **case-insensitively** (``/a.JPG`` is reserved by ``*.jpg``) — Spawning does not say;
  this is Rightful's choice, stated in every signal's ``details``;
* only ``ai-training`` is expressed, with the same token policy as robots.txt;
* a missing, unavailable or unreachable ai.txt expresses nothing: unlike robots.txt, an unreachable ai.txt
  must not disallow everything (the error is recorded);
* look-alike files (``Disallow-Training: yes``, ``ai-training: disallowed``, Markdown) are reported as
  ``unrecognised-format`` and never guessed. A Spawning file that also carries such ad-hoc policy lines still
  reserves what its rules reserve, but gives no ``allowed`` answer: we do not understand all it says.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Final

from rightful.config import TokenPolicy
from rightful.models import Decision, Purpose, Signal
from rightful.signals.agents import AgentList
from rightful.signals.base import DocumentState, Findings, OriginDocument
from rightful.signals.robots import DEFAULT_MAX_BYTES, RobotsTxt, describe_disallowed

__all__ = ["EXTENSION_MATCHING", "AiTxt"]

#: Stated in the evidence of every ai.txt signal.
EXTENSION_MATCHING: Final = (
    "extension globs such as *.jpg match case-insensitively (Rightful's choice; the ai.txt format does not say)"
)
_PROTOCOL: Final = "ai.txt"
# Words that make an unknown ``key: value`` line look like a policy statement in a vocabulary we do not read.
_POLICY_WORDS: Final = frozenset(
    {"ai", "ml", "llm", "tdm", "train", "training", "mining", "scraping", "scrape", "inference", "search"}
    | {"indexing", "index", "dataset", "usage", "use", "access", "summarization", "summarisation", "crawling"}
    | {"generative", "genai"}
)


class AiTxt:
    """A fetched ai.txt: its rules (when the file is in Spawning's format) and what could not be read."""

    __slots__ = ("policy_lines", "recognised", "robots", "state", "status")

    def __init__(
        self, robots: RobotsTxt, *, state: DocumentState = DocumentState.OK, status: int | None = None
    ) -> None:
        self.robots = robots
        self.state = state
        self.status = status
        #: Unknown ``key: value`` lines that look like policy in another vocabulary (never interpreted).
        self.policy_lines = tuple(k for k in robots.unknown_directives if _policy_like(k))
        #: True when the file has Spawning (robots.txt-grammar) rules that we can evaluate.
        self.recognised = state is DocumentState.OK and robots.rule_lines > 0 and bool(robots.groups)

    @classmethod
    def parse(cls, data: bytes | str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> AiTxt:
        return cls(RobotsTxt.parse(data, max_bytes=max_bytes, dialect="ai.txt"))

    @classmethod
    def from_document(cls, doc: OriginDocument, *, max_bytes: int = DEFAULT_MAX_BYTES) -> AiTxt:
        if doc.state is DocumentState.OK:
            robots = RobotsTxt.parse(doc.body, max_bytes=max_bytes, dialect="ai.txt", status=doc.status)
            return cls(robots, status=doc.status)
        return cls(RobotsTxt(state=doc.state, status=doc.status), state=doc.state, status=doc.status)

    def evaluate(
        self,
        path: str,
        *,
        own_token: str,
        policy: TokenPolicy,
        agents: AgentList,
        location: str,
        fetched_at: datetime | None = None,
        document_hash: str | None = None,
    ) -> Findings:
        """The ai-training signal for ``path`` (none when the file is absent or not in Spawning's format)."""
        findings = Findings()
        if self.state is DocumentState.UNREACHABLE:
            status = f"HTTP {self.status}" if self.status is not None else "network error or timeout"
            message = f"ai.txt unreachable ({status}): no ai.txt signal (an ai.txt never disallows by default)"
            findings.error("aitxt-unreachable", message, protocol=_PROTOCOL, location=location)
            return findings
        if self.state is DocumentState.UNAVAILABLE:
            return findings
        if not self.recognised or self.policy_lines:
            findings.error("unrecognised-format", self._unrecognised(), protocol=_PROTOCOL, location=location)
        if not self.recognised:
            return findings
        tokens = (own_token, *agents.training) if policy == "any-ai-token" else (own_token,)
        matches = self.robots.match_many(tokens, path)
        blocked = [(t, m.rule) for t, m in matches.items() if not m.allowed and m.rule is not None]
        details: dict[str, Any] = {
            "policy": policy,
            "agents_version": agents.version,
            "tokens_checked": len(tokens),
            "extension_matching": EXTENSION_MATCHING,
            "disallowed": {t: r.line for t, r in blocked},
        }
        if self.policy_lines:
            details["unrecognised_lines"] = list(self.policy_lines)
        if blocked:
            fallback = {t for t, _ in blocked if self.robots.falls_to_star(t)}
            rule, raw = describe_disallowed(blocked, fallback=fallback)
            values = {Purpose.AI_TRAINING: Decision.RESERVED}
            line: int | None = min(r.line for _, r in blocked)
        elif self.policy_lines:
            return findings  # we read only part of this file: an "allowed" would be a guess
        else:
            own = matches[own_token].rule
            rule = f"no ai.txt rule disallows {path} for {own_token}" + (
                f" or any of {len(tokens) - 1} AI-training tokens" if len(tokens) > 1 else ""
            )
            raw, line = (own.raw, own.line) if own else ("", None)
            values = {Purpose.AI_TRAINING: Decision.ALLOWED}
        findings.signals.append(
            Signal(
                protocol=_PROTOCOL,
                location=location,
                raw=raw,
                rule=rule,
                values=values,
                line=line,
                fetched_at=fetched_at,
                document_hash=document_hash,
                details=details,
            )
        )
        return findings

    def _unrecognised(self) -> str:
        if self.robots.is_html:
            return "ai.txt is an HTML page, not a Spawning ai.txt: ignored"
        keys = ", ".join(k[:40] for k in self.policy_lines[:6])
        if not self.recognised:
            found = f" (found {keys})" if keys else ""
            return f"ai.txt has no Spawning User-agent/Allow/Disallow rules{found}: not interpreted"
        return f"ai.txt also states policy in a vocabulary Rightful does not read ({keys}): not interpreted"


def _policy_like(key: str) -> bool:
    return any(part in _POLICY_WORDS for part in re.split(r"[-_\s]+", key))
