"""robots.txt (RFC 9309), read for crawl permission and for AI-training reservations, plus its extensions.

Parsing follows RFC 9309 and, where the RFC is silent, Google's reference parser (so our crawl answers agree
with the crawler most sites test against): user-agent values are reduced to their product token (digits kept:
see :func:`~rightful.signals.agents.product_token`) and matched case-insensitively as whole tokens; all groups
naming a token are merged; ``*`` applies only when none does; only ``Allow``/``Disallow`` lines end a run of
``User-agent`` lines (``Sitemap``, unknown and extension lines do not); the longest pattern in octets wins and
``Allow`` wins a tie; ``/robots.txt`` is always allowed.

A site's AI-training reservation is read from how it treats the crawlers of AI companies
(:mod:`rightful.signals.agents`), not only from our own token: under the default ``any-ai-token`` policy a
``Disallow`` for any AI-training token reserves ``ai-training`` for that path (SPEC-signals.md).

The file is parsed once and its patterns compiled once; the merged group of each token is cached; and
:meth:`RobotsTxt.evaluate` decides each *distinct* group once per path, since most AI tokens fall to the same
``*`` group. Extensions (``Content-Usage``, ``Content-Signal``, ``DisallowAITraining``/``AllowAITraining``)
are read in the group selected for our own token and apply only to paths that group allows; ``License`` (RSL)
is a file-wide directive, like ``Sitemap``. The module is longer than most because parsing, matching and the
evidence they produce share private structures that would otherwise have to be exposed.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from rightful.config import TokenPolicy
from rightful.models import Decision, ItemError, LicenceConstraint, Purpose, Signal
from rightful.signals.agents import AgentList, product_token
from rightful.signals.aipref import (
    ContentSignal,
    ContentUsage,
    combine_content_signals,
    combine_content_usage,
    parse_content_signal,
    parse_content_usage,
    signal_findings,
    usage_findings,
)
from rightful.signals.base import DocumentState, Findings, OriginDocument

__all__ = [
    "DEFAULT_MAX_BYTES",
    "Dialect",
    "RobotsEvaluation",
    "RobotsExtension",
    "RobotsGroup",
    "RobotsMatch",
    "RobotsRule",
    "RobotsTxt",
    "describe_disallowed",
]

#: How much of a robots.txt body is parsed (RFC 9309 §2.5 asks for at least 500 KiB).
DEFAULT_MAX_BYTES: Final = 512 * 1024
#: ``ai.txt`` reuses this parser; its patterns may be bare extension globs (``*.jpg``, ``.jpg``).
Dialect = Literal["robots", "ai.txt"]

_UA, _ALLOW, _DISALLOW, _SITEMAP, _USAGE, _SIGNAL, _AI_ALLOW, _AI_DISALLOW, _LICENSE = range(9)
# Google's parser accepts these spellings too; so do we, or our crawl answers would differ from Google's.
_KEYS: Final = {
    "user-agent": _UA, "useragent": _UA, "user agent": _UA,
    "allow": _ALLOW,
    "disallow": _DISALLOW, "dissallow": _DISALLOW, "dissalow": _DISALLOW, "disalow": _DISALLOW,
    "diasllow": _DISALLOW, "disallaw": _DISALLOW,
    "sitemap": _SITEMAP, "site-map": _SITEMAP,
    "content-usage": _USAGE, "content-signal": _SIGNAL,
    "allowaitraining": _AI_ALLOW, "disallowaitraining": _AI_DISALLOW,
    "license": _LICENSE,
}  # fmt: skip
_EXTENSION_NAMES: Final = {
    _USAGE: "Content-Usage", _SIGNAL: "Content-Signal", _AI_ALLOW: "AllowAITraining",
    _AI_DISALLOW: "DisallowAITraining", _LICENSE: "License",
}  # fmt: skip
_LINE_END = re.compile(r"\r\n|\r|\n")
_BYTE_LINE_END = re.compile(rb"\r\n|\r|\n")
_NEEDS_ENCODING = re.compile(r"[^A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%")
_UNRESERVED: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_HEX: Final = frozenset("0123456789abcdefABCDEF")
_HTML = re.compile(r"\s*<(?:!doctype\s+html|html|head|body|title|\?xml|!--)", re.IGNORECASE)
_EXTENSION_GLOB = re.compile(r"\*\.[A-Za-z0-9]+\$?")
_ROBOTS_PATH: Final = "/robots.txt"
_EVIDENCE_CACHE: Final = 4096
_PLAN_CACHE: Final = 16


@dataclass(frozen=True, slots=True)
class RobotsRule:
    """One ``Allow``/``Disallow`` line (or ``AllowAITraining``/``DisallowAITraining``), as normalised."""

    allow: bool
    pattern: str
    line: int
    raw: str


@dataclass(frozen=True, slots=True)
class RobotsExtension:
    """One extension line: ``Content-Usage``, ``Content-Signal``, ``(Dis)AllowAITraining`` or ``License``."""

    directive: str
    value: str
    line: int
    raw: str


@dataclass(frozen=True, slots=True)
class RobotsGroup:
    """A group as written (or several merged): its agent names, rules and extension lines."""

    agents: tuple[str, ...]
    rules: tuple[RobotsRule, ...]
    extensions: tuple[RobotsExtension, ...] = ()


@dataclass(frozen=True, slots=True)
class RobotsMatch:
    """The crawl answer for one token and path: the deciding rule (None: no rule matched) and its group."""

    allowed: bool
    rule: RobotsRule | None
    group: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RobotsEvaluation:
    """What robots.txt says about one path: may we fetch it, and the signals per purpose."""

    crawl_allowed: bool
    findings: Findings


class _Pattern:
    """A compiled path pattern: a plain prefix, an exact path (``$``) or a regular expression."""

    __slots__ = ("exact", "prefix", "regex", "text")

    def __init__(self, text: str, *, ignore_case: bool = False) -> None:
        self.text = text
        self.prefix: str | None = None
        self.exact: str | None = None
        self.regex: re.Pattern[str] | None = None
        body = re.sub(r"\*+", "*", text)
        anchored = body.endswith("$")
        body = body[:-1] if anchored else body
        if "*" not in body and not ignore_case:
            if anchored:
                self.exact = body
            else:
                self.prefix = body
            return
        source = ".*".join(re.escape(part) for part in body.split("*")) + (r"\Z" if anchored else "")
        self.regex = re.compile(source, re.DOTALL | (re.IGNORECASE if ignore_case else 0))

    def matches(self, path: str) -> bool:
        if self.prefix is not None:
            return path.startswith(self.prefix)
        if self.exact is not None:
            return path == self.exact
        assert self.regex is not None
        return self.regex.match(path) is not None


_Ruled = tuple[_Pattern, RobotsRule]


def _decide(rules: Sequence[_Ruled], path: str) -> RobotsRule | None:
    """The rule that decides ``path``: ``rules`` are sorted longest first, Allow first on a tie."""
    for pattern, rule in rules:
        if pattern.matches(path):
            return rule
    return None


class _Group:
    """A group while parsing, then its compiled form (also used for several groups merged)."""

    __slots__ = ("agents", "ai_rules", "extensions", "rules", "signals", "star", "tokens", "usage")

    def __init__(self) -> None:
        self.agents: list[str] = []
        self.tokens: set[str] = set()
        self.star = False
        self.rules: list[_Ruled] = []
        self.ai_rules: list[_Ruled] = []
        self.usage: list[tuple[_Pattern, ContentUsage, RobotsExtension]] = []
        self.signals: list[tuple[_Pattern, ContentSignal, RobotsExtension]] = []
        self.extensions: list[RobotsExtension] = []

    @classmethod
    def merge(cls, groups: Sequence[_Group]) -> _Group:
        merged = cls()
        for g in groups:
            merged.agents.extend(a for a in g.agents if a not in merged.agents)
            merged.rules.extend(g.rules)
            merged.ai_rules.extend(g.ai_rules)
            merged.usage.extend(g.usage)
            merged.signals.extend(g.signals)
            merged.extensions.extend(g.extensions)
        for rules in (merged.rules, merged.ai_rules):
            rules.sort(key=lambda r: (-len(r[0].text), not r[1].allow, r[1].line))
        return merged

    def public(self) -> RobotsGroup:
        rules = tuple(sorted((r for _, r in self.rules), key=lambda r: r.line))
        return RobotsGroup(tuple(self.agents), rules, tuple(self.extensions))


def _normalise(text: str) -> str:
    """Percent-encoding normalised: non-ASCII and unsafe octets encoded, encoded unreserved octets decoded."""
    if _NEEDS_ENCODING.search(text) is None:
        return text
    out: list[str] = []
    i, end = 0, len(text)
    while i < end:
        char = text[i]
        if char == "%":
            digits = text[i + 1 : i + 3]
            if len(digits) == 2 and digits[0] in _HEX and digits[1] in _HEX:
                decoded = chr(int(digits, 16))
                out.append(decoded if decoded in _UNRESERVED else "%" + digits.upper())
                i += 3
                continue
            out.append("%25")
        elif _NEEDS_ENCODING.match(char):
            out.append("".join(f"%{b:02X}" for b in char.encode("utf-8", "surrogatepass")))
        else:
            out.append(char)
        i += 1
    return "".join(out)


def _request_path(path: str) -> str:
    """The path (with query) that rules are matched against, from a path or a full URL."""
    if not path.startswith("/"):
        if "://" in path:
            parts = urlsplit(path)
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        else:
            path = "/" + path
    path = path.split("#", 1)[0]
    return _normalise(path)


def _decode(data: bytes | str, max_bytes: int) -> tuple[str, bool, list[str]]:
    """Text to parse, whether it was truncated, and notes. Never raises."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    truncated = len(raw) > max_bytes
    body = raw[:max_bytes]
    if truncated:  # a line cut by the limit may be a shortened rule (`/priv` of `/private`): drop it
        body = body[: max(body.rfind(b"\n"), body.rfind(b"\r")) + 1]
    body = body.removeprefix(b"\xef\xbb\xbf")
    try:
        return body.decode("utf-8"), truncated, []
    except UnicodeDecodeError:
        lines = [_line_text(line) for line in _BYTE_LINE_END.split(body)]
        return "\n".join(lines), truncated, ["not valid UTF-8: lines that are not were decoded as Latin-1"]


def _line_text(line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return line.decode("latin-1")


def _split(value: str) -> tuple[str, str]:
    """``[/path ]prefs`` → (path pattern, prefs); a statement without a path covers the whole site."""
    if value[:1] in ("/", "*"):
        path, _, rest = value.partition(" ")
        if not rest:
            path, _, rest = value.partition("\t")
        return path, rest.strip()
    return "/", value


class _Parser:
    """One pass over the lines; builds groups, sitemaps and file-wide ``License`` lines."""

    def __init__(self, *, dialect: Dialect) -> None:
        self.dialect = dialect
        self.groups: list[_Group] = []
        self.sitemaps: list[str] = []
        self.licences: list[RobotsExtension] = []
        self.notes: list[str] = []
        self.unknown: dict[str, int] = {}
        self.rule_lines = 0
        self._current: _Group | None = None
        self._in_agents = False

    def feed(self, text: str) -> None:
        for number, line in enumerate(_LINE_END.split(text), start=1):
            content = line.split("#", 1)[0].strip()
            if content:
                self._line(number, line.strip(), content)

    def _line(self, number: int, raw: str, content: str) -> None:
        key, sep, value = content.partition(":")
        key, value = key.strip().lower(), value.strip()
        if not sep:  # Google accepts "Disallow /x" when the colon is missing
            parts = content.split(None, 1)
            key, value = parts[0].lower(), (parts[1].strip() if len(parts) > 1 else "")
            if key not in _KEYS or len(parts) < 2 or len(value.split()) != 1:
                return
        kind = _KEYS.get(key)
        if kind is None:
            self.unknown[key] = self.unknown.get(key, 0) + 1
        elif kind == _UA:
            self._agent(value)
        elif kind == _SITEMAP:
            self.sitemaps.append(value)
        elif kind == _LICENSE:
            self.licences.append(RobotsExtension("License", value, number, raw))
        elif self._current is None:
            if kind != _ALLOW and kind != _DISALLOW:
                self.notes.append(f"{_EXTENSION_NAMES[kind]} on line {number} is outside any group: ignored")
        elif kind in (_ALLOW, _DISALLOW):
            self._in_agents = False
            self.rule_lines += 1
            self._rule(self._current.rules, kind == _ALLOW, value, number, raw)
        else:
            self._extension(self._current, kind, value, number, raw)

    def _agent(self, value: str) -> None:
        if self._current is None or not self._in_agents:
            self._current = _Group()
            self.groups.append(self._current)
        self._in_agents = True
        self._current.agents.append(value)
        if value == "*" or value.startswith(("* ", "*\t")):
            self._current.star = True
        elif token := product_token(value):
            self._current.tokens.add(token.lower())

    def _rule(self, into: list[_Ruled], allow: bool, value: str, number: int, raw: str) -> None:
        if not value:  # "Disallow:" with no path allows everything: it is no rule at all
            return
        pattern, ignore_case = self._pattern(value)
        into.append((_Pattern(pattern, ignore_case=ignore_case), RobotsRule(allow, pattern, number, raw)))

    def _pattern(self, value: str) -> tuple[str, bool]:
        if self.dialect == "ai.txt":
            if value.startswith("."):
                value = "*" + value
            elif not value.startswith(("/", "*")):
                value = "/" + value
            pattern = _normalise(value)
            return pattern, _EXTENSION_GLOB.fullmatch(pattern) is not None
        return _normalise(value), False

    def _extension(self, group: _Group, kind: int, value: str, number: int, raw: str) -> None:
        ext = RobotsExtension(_EXTENSION_NAMES[kind], value, number, raw)
        group.extensions.append(ext)
        if kind in (_AI_ALLOW, _AI_DISALLOW):
            self._rule(group.ai_rules, kind == _AI_ALLOW, value, number, raw)
            return
        path, statement = _split(value)
        pattern = _Pattern(_normalise(path))
        if kind == _USAGE:
            group.usage.append((pattern, parse_content_usage(statement), ext))
        else:
            group.signals.append((pattern, parse_content_signal(statement), ext))


class RobotsTxt:
    """A parsed robots.txt (or a fetch outcome standing in for one). Immutable once built; caches inside."""

    __slots__ = (
        "_by_token",
        "_evidence",
        "_fallback",
        "_groups",
        "_merged",
        "_plans",
        "_selected",
        "_star",
        "is_html",
        "licences",
        "notes",
        "rule_lines",
        "sitemaps",
        "state",
        "status",
        "truncated",
        "unknown_directives",
    )

    def __init__(
        self,
        parser: _Parser | None = None,
        *,
        state: DocumentState = DocumentState.OK,
        status: int | None = None,
        truncated: bool = False,
        html: bool = False,
        notes: Iterable[str] = (),
    ) -> None:
        parser = parser or _Parser(dialect="robots")
        self.state = state
        self.status = status
        self.truncated = truncated
        #: The body was an HTML page (an error page served with 200), so no rules were read.
        self.is_html = html
        self.notes: tuple[str, ...] = (*notes, *parser.notes)
        self.sitemaps: tuple[str, ...] = tuple(parser.sitemaps)
        self.licences: tuple[RobotsExtension, ...] = tuple(parser.licences)
        self.unknown_directives: dict[str, int] = dict(parser.unknown)
        #: ``Allow``/``Disallow`` lines inside groups, empty ones included (``ai.txt`` format detection).
        self.rule_lines = parser.rule_lines
        self._groups = parser.groups
        self._star = tuple(i for i, g in enumerate(parser.groups) if g.star)
        self._by_token: dict[str, list[int]] = {}
        for i, group in enumerate(parser.groups):
            for token in group.tokens:
                self._by_token.setdefault(token, []).append(i)
        self._merged: dict[tuple[int, ...], _Group] = {}
        self._selected: dict[str, _Group | None] = {}
        self._fallback: set[str] = set()
        self._plans: dict[tuple[str, int], _Plan] = {}
        self._evidence: dict[tuple[Any, ...], _Evidence] = {}

    @classmethod
    def parse(
        cls,
        data: bytes | str,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        dialect: Dialect = "robots",
        status: int | None = None,
        truncated: bool = False,
    ) -> RobotsTxt:
        """Parse a robots.txt body. Never raises: what cannot be read is skipped and noted.

        ``truncated`` says the fetcher already cut the body (it is recorded like a cut made here).
        """
        text, cut, notes = _decode(data, max_bytes)
        parser = _Parser(dialect=dialect)
        html = _HTML.match(text[:512]) is not None
        if html:
            notes.append("the body is an HTML page, not a robots.txt file: no rules read")
        else:
            parser.feed(text)
        if cut or truncated:
            notes.append(f"only the first {min(max_bytes, len(data))} bytes were parsed (RFC 9309 §2.5)")
        return cls(parser, status=status, truncated=cut or truncated, html=html, notes=notes)

    @classmethod
    def from_document(
        cls, doc: OriginDocument, *, max_bytes: int = DEFAULT_MAX_BYTES, dialect: Dialect = "robots"
    ) -> RobotsTxt:
        """The rules for a fetch outcome: OK → the body; unavailable → allow all; unreachable → disallow all."""
        if doc.state is DocumentState.OK:
            return cls.parse(doc.body, max_bytes=max_bytes, dialect=dialect, status=doc.status, truncated=doc.truncated)
        note = f"{doc.error}" if doc.error else ""
        return cls(state=doc.state, status=doc.status, notes=(note,) if note else ())

    @property
    def groups(self) -> tuple[RobotsGroup, ...]:
        """The groups as written, in file order."""
        return tuple(g.public() for g in self._groups)

    def group_for(self, token: str) -> RobotsGroup | None:
        """The merged group that applies to ``token`` (its own groups, else ``*``), or None."""
        selected = self._select(token)
        return selected.public() if selected is not None else None

    def match(self, token: str, path: str) -> RobotsMatch:
        """May ``token`` fetch ``path`` (a path with query, or a full URL)?"""
        if self.state is DocumentState.UNREACHABLE:
            return RobotsMatch(False, None, ())
        request = _request_path(path)
        selected = self._select(token)
        if selected is None or request == _ROBOTS_PATH:
            return RobotsMatch(True, None, tuple(selected.agents) if selected else ())
        rule = _decide(selected.rules, request)
        return RobotsMatch(rule is None or rule.allow, rule, tuple(selected.agents))

    def match_many(self, tokens: Iterable[str], path: str) -> dict[str, RobotsMatch]:
        """:meth:`match` for several tokens, deciding each distinct group once."""
        request = _request_path(path)
        decided: dict[int, RobotsRule | None] = {}
        out: dict[str, RobotsMatch] = {}
        for token in tokens:
            if self.state is DocumentState.UNREACHABLE:
                out[token] = RobotsMatch(False, None, ())
                continue
            group = self._select(token)
            if group is None or request == _ROBOTS_PATH:
                out[token] = RobotsMatch(True, None, tuple(group.agents) if group else ())
                continue
            if id(group) not in decided:
                decided[id(group)] = _decide(group.rules, request)
            rule = decided[id(group)]
            out[token] = RobotsMatch(rule is None or rule.allow, rule, tuple(group.agents))
        return out

    def falls_to_star(self, token: str) -> bool:
        """True when ``token`` has no group of its own and the ``*`` group applies to it."""
        return self._select(token) is not None and product_token(token).lower() in self._fallback

    def _select(self, token: str) -> _Group | None:
        key = product_token(token).lower()
        if key in self._selected:
            return self._selected[key]
        indices = tuple(self._by_token.get(key, ()))
        if not indices and self._star:
            indices = self._star
            self._fallback.add(key)
        selected = None
        if indices:
            selected = self._merged.get(indices)
            if selected is None:
                selected = self._merged[indices] = _Group.merge([self._groups[i] for i in indices])
        self._selected[key] = selected
        return selected

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
    ) -> RobotsEvaluation:
        """Crawl permission for ``own_token`` and the signals for ai-training, data-mining and search.

        Paths decided by the same rules share their (immutable) evidence: only the matching runs per path.
        """
        ctx = _Context(location, fetched_at, document_hash)
        if self.state is not DocumentState.OK:
            return self._fetch_outcome(ctx)
        plan = self._plan(own_token, agents)
        request = _request_path(path)
        decided = {} if request == _ROBOTS_PATH else {id(g): _decide(g.rules, request) for g in plan.distinct}
        own = decided.get(id(plan.own))
        crawl_allowed = own is None or own.allow
        hits = _Hits.find(plan.own, request) if crawl_allowed and plan.own is not None else _NO_HITS
        key = (policy, ctx, plan, tuple(map(id, decided.values())), hits.key)
        evidence = self._evidence.get(key)
        if evidence is None:
            if len(self._evidence) >= _EVIDENCE_CACHE:
                self._evidence.clear()
            evidence = self._evidence[key] = self._build(plan, decided, own, hits, policy=policy, ctx=ctx)
        signals, licences, errors = evidence
        return RobotsEvaluation(crawl_allowed, Findings(list(signals), list(licences), list(errors)))

    def _build(
        self,
        plan: _Plan,
        decided: dict[int, RobotsRule | None],
        own: RobotsRule | None,
        hits: _Hits,
        *,
        policy: TokenPolicy,
        ctx: _Context,
    ) -> _Evidence:
        findings = Findings()
        training = _training_signal(plan, decided, policy=policy, ctx=ctx, notes=self.notes)
        findings.signals.append(training)
        findings.signals.append(_mining_signal(plan, own, ctx=ctx))
        findings.signals.append(_search_signal(plan, decided, ctx=ctx))
        if plan.own is not None:
            hits.emit(findings, plan.own, ctx=ctx)
        for lic in self.licences:
            findings.licence.append(
                LicenceConstraint(source="rsl", location=ctx.location, licence=lic.value, terms=lic.raw)
            )
        if self.is_html:
            message = "robots.txt body is an HTML page, not robots.txt: no rules read (everything allowed)"
            findings.error("robots-html-body", message, protocol="robots.txt", location=ctx.location)
        return tuple(findings.signals), tuple(findings.licence), tuple(findings.errors)

    def _plan(self, own_token: str, agents: AgentList) -> _Plan:
        key = (own_token.lower(), id(agents))
        plan = self._plans.get(key)
        if plan is None or plan.agents is not agents:
            if len(self._plans) >= _PLAN_CACHE:  # callers building a fresh AgentList per call
                self._plans.clear()
            plan = self._plans[key] = _Plan.build(self, own_token, agents)
        return plan

    def _fetch_outcome(self, ctx: _Context) -> RobotsEvaluation:
        status = f"HTTP {self.status}" if self.status is not None else (self.notes[0] if self.notes else "error")
        findings = Findings()
        if self.state is DocumentState.UNAVAILABLE:
            rule = f"robots.txt unavailable ({status}): no restrictions"
            value, crawl = Decision.ALLOWED, True
        else:
            rule = f"robots.txt unreachable ({status}): complete disallow"
            value, crawl = Decision.RESERVED, False
            findings.error("robots-unreachable", rule, protocol="robots.txt", location=ctx.location)
        purposes = (Purpose.DATA_MINING, Purpose.AI_TRAINING, Purpose.SEARCH)
        findings.signals.append(
            ctx.signal("robots.txt", "", rule, dict.fromkeys(purposes, value), None, {"state": str(self.state)})
        )
        return RobotsEvaluation(crawl_allowed=crawl, findings=findings)


@dataclass(frozen=True, slots=True)
class _Context:
    location: str
    fetched_at: datetime | None
    document_hash: str | None

    def fields(self) -> dict[str, Any]:
        return {"location": self.location, "fetched_at": self.fetched_at, "document_hash": self.document_hash}

    def signal(
        self,
        protocol: str,
        raw: str,
        rule: str,
        values: dict[Purpose, Decision],
        line: int | None,
        details: dict[str, Any],
    ) -> Signal:
        return Signal(
            protocol=protocol,
            location=self.location,
            raw=raw,
            rule=rule,
            values=values,
            line=line,
            fetched_at=self.fetched_at,
            document_hash=self.document_hash,
            details=details,
        )


_Entry = tuple[str, _Group | None]
_Evidence = tuple[tuple[Signal, ...], tuple[LicenceConstraint, ...], tuple[ItemError, ...]]


@dataclass(eq=False, slots=True)
class _Plan:
    """Per (own token, agent list): the group of every token and the distinct groups to decide per path."""

    agents: AgentList
    own_token: str
    own: _Group | None
    training: tuple[_Entry, ...]
    search: tuple[_Entry, ...]
    user_fetch: tuple[_Entry, ...]
    distinct: tuple[_Group, ...]
    fallback: frozenset[str]

    @classmethod
    def build(cls, robots: RobotsTxt, own_token: str, agents: AgentList) -> _Plan:
        def entries(tokens: Iterable[str]) -> tuple[_Entry, ...]:
            return tuple((t, robots._select(t)) for t in tokens)

        own = robots._select(own_token)
        training, search, fetch = entries(agents.training), entries(agents.search), entries(agents.user_fetch)
        groups = {id(g): g for _, g in (*training, *search, *fetch, (own_token, own)) if g is not None}
        everyone = (own_token, *agents.training, *agents.search, *agents.user_fetch)
        fallback = frozenset(t for t in everyone if robots.falls_to_star(t))
        return cls(agents, own_token, own, training, search, fetch, tuple(groups.values()), fallback)


def _label(token: str, fallback: Collection[str]) -> str:
    return f"* ({token} has no group of its own)" if token in fallback else token


def _blocked(entries: Iterable[_Entry], decided: dict[int, RobotsRule | None]) -> list[tuple[str, RobotsRule]]:
    out = []
    for token, group in entries:
        rule = decided.get(id(group))
        if rule is not None and not rule.allow:
            out.append((token, rule))
    return out


def _names(tokens: Sequence[str]) -> str:
    return ", ".join(tokens[:5]) + (f" and {len(tokens) - 5} more" if len(tokens) > 5 else "")


def describe_disallowed(blocked: Sequence[tuple[str, RobotsRule]], *, fallback: Collection[str]) -> tuple[str, str]:
    """Evidence for the rules that disallowed some tokens: (human words, raw lines), one clause per rule.

    ``fallback`` names the tokens that had no group of their own and fell to ``*``.
    """
    by_rule: dict[RobotsRule, list[str]] = {}
    for token, rule in blocked:
        by_rule.setdefault(rule, []).append(token)
    clauses = []
    rules = sorted(by_rule, key=lambda r: r.line)
    for rule in rules:
        named = [t for t in by_rule[rule] if t not in fallback]
        fell = [t for t in by_rule[rule] if t in fallback]
        if named:
            clauses.append(f"{rule.raw} (line {rule.line}) in group for {_names(named)}")
        if fell:
            clauses.append(f"{rule.raw} (line {rule.line}) in group * for {_names(fell)} (no group of their own)")
    return "; ".join(clauses), "\n".join(r.raw for r in rules)


def _training_signal(
    plan: _Plan, decided: dict[int, RobotsRule | None], *, policy: TokenPolicy, ctx: _Context, notes: Sequence[str]
) -> Signal:
    own_entry = (plan.own_token, plan.own)
    entries = (own_entry, *plan.training) if policy == "any-ai-token" else (own_entry,)
    blocked = _blocked(entries, decided)
    details: dict[str, Any] = {
        "policy": policy,
        "agents_version": plan.agents.version,
        "tokens_checked": len(entries),
        "disallowed": {token: rule.line for token, rule in blocked},
        "user_fetch_disallowed": {t: r.line for t, r in _blocked(plan.user_fetch, decided)},
    }
    if notes:
        details["notes"] = list(notes)
    if blocked:
        rule, raw = describe_disallowed(blocked, fallback=plan.fallback)
        line = min(r.line for _, r in blocked)
        return ctx.signal("robots.txt", raw, rule, {Purpose.AI_TRAINING: Decision.RESERVED}, line, details)
    others = f" or any of {len(entries) - 1} AI-training tokens" if len(entries) > 1 else ""
    own = decided.get(id(plan.own))
    values = {Purpose.AI_TRAINING: Decision.ALLOWED}
    rule = f"no rule disallows this path for {plan.own_token}{others}"
    return ctx.signal("robots.txt", own.raw if own else "", rule, values, own.line if own else None, details)


def _mining_signal(plan: _Plan, own: RobotsRule | None, *, ctx: _Context) -> Signal:
    """Our own token decides data-mining (we are a TDM agent)."""
    label = _label(plan.own_token, plan.fallback)
    if own is not None and not own.allow:
        rule = f"{own.raw} (line {own.line}) in group for {label}"
        # Extensions apply only to crawlable paths: say which ones this disallow switched off.
        skipped = [f"{e.directive} (line {e.line})" for e in plan.own.extensions] if plan.own else []
        details: dict[str, Any] = {"extensions_not_applied": skipped} if skipped else {}
        return ctx.signal("robots.txt", own.raw, rule, {Purpose.DATA_MINING: Decision.RESERVED}, own.line, details)
    # Our crawl permission says nothing about the AI-training tokens, which the training signal answers:
    # mark ai-training as not spoken to, so the permission does not carry down (models.expand_values).
    values = {Purpose.DATA_MINING: Decision.ALLOWED, Purpose.AI_TRAINING: Decision.UNKNOWN}
    if own is not None:
        rule = f"{own.raw} (line {own.line}) in group for {label} allows this path"
    else:
        rule = f"no rule disallows this path for {plan.own_token}"
    details = {"ai_training": "answered by the robots.txt ai-training signal (token policy)"}
    return ctx.signal("robots.txt", own.raw if own else "", rule, values, own.line if own else None, details)


def _search_signal(plan: _Plan, decided: dict[int, RobotsRule | None], *, ctx: _Context) -> Signal:
    blocked = _blocked(plan.search, decided)
    details = {"tokens_checked": [t for t, _ in plan.search], "disallowed": {t: r.line for t, r in blocked}}
    if blocked:
        rule, raw = describe_disallowed(blocked, fallback=plan.fallback)
        line = min(r.line for _, r in blocked)
        return ctx.signal("robots.txt", raw, rule, {Purpose.SEARCH: Decision.RESERVED}, line, details)
    rule = f"no rule disallows this path for any of {len(plan.search)} search tokens"
    return ctx.signal("robots.txt", "", rule, {Purpose.SEARCH: Decision.ALLOWED}, None, details)


_Stated = tuple[_Pattern, Any, RobotsExtension]


def _longest(entries: Sequence[_Stated], path: str) -> tuple[_Stated, ...]:
    """The matching statements with the longest path pattern (several on a tie; rule order is meaningless)."""
    best: list[_Stated] = []
    for entry in entries:
        if entry[0].matches(path):
            if not best or len(entry[0].text) > len(best[0][0].text):
                best = [entry]
            elif len(entry[0].text) == len(best[0][0].text):
                best.append(entry)
    return tuple(best)


@dataclass(frozen=True, slots=True)
class _Hits:
    """The extension statements of our own group that apply to one (crawlable) path."""

    ai_rule: RobotsRule | None = None
    usage: tuple[_Stated, ...] = ()
    signals: tuple[_Stated, ...] = ()

    @classmethod
    def find(cls, group: _Group, path: str) -> _Hits:
        if not (group.ai_rules or group.usage or group.signals):
            return _NO_HITS
        return cls(_decide(group.ai_rules, path), _longest(group.usage, path), _longest(group.signals, path))

    @property
    def key(self) -> tuple[int, ...]:
        return (id(self.ai_rule), *(id(e) for e in self.usage), -1, *(id(e) for e in self.signals))

    def emit(self, findings: Findings, group: _Group, *, ctx: _Context) -> None:
        where = f"group for {_names(group.agents)}"
        if self.ai_rule is not None:
            rule = self.ai_rule
            value = {Purpose.AI_TRAINING: Decision.ALLOWED if rule.allow else Decision.RESERVED}
            words = f"{rule.raw} (line {rule.line}) in {where}"
            findings.signals.append(ctx.signal("robots-ai-training", rule.raw, words, value, rule.line, {}))
        if self.usage:
            usage = combine_content_usage([u for _, u, _ in self.usage])
            words, raw, line = _statement_evidence(self.usage, where)
            findings.extend(usage_findings(usage, rule=words, raw=raw, line=line, **ctx.fields()))
        if self.signals:
            signal = combine_content_signals([s for _, s, _ in self.signals])
            words, raw, line = _statement_evidence(self.signals, where)
            findings.extend(signal_findings(signal, rule=words, raw=raw, line=line, **ctx.fields()))


_NO_HITS: Final = _Hits()


def _statement_evidence(stated: Sequence[_Stated], where: str) -> tuple[str, str, int]:
    exts = [e for _, _, e in stated]
    words = "; ".join(f"{e.raw} (line {e.line})" for e in exts) + f" in {where}"
    return words, "\n".join(e.raw for e in exts), exts[0].line
