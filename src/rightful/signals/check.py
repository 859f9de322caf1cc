"""The check verbs: ``check_url``, ``check_urls``, ``check_response``, ``check_file`` (and async twins).

All of them end in the same place: the signals found for an item are put through TDMRep's own precedence
(:func:`rightful.signals.tdmrep.resolve`) and then :func:`rightful.signals.policy.combine`, so one input gives
one answer whichever door it came in by.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from aiohttp.abc import AbstractResolver
from yarl import URL

from rightful.config import Settings
from rightful.errors import InvalidInput
from rightful.media import media_type_for, read_capped, sniff
from rightful.models import CheckResult, ItemError, Purpose, document_hash, utcnow
from rightful.signals import aipref, tdmrep, xrobots
from rightful.signals.agents import AgentList, load_agents
from rightful.signals.base import Findings, HeaderMap
from rightful.signals.embedded import embedded_findings
from rightful.signals.fetch import BodyMode, FetchedResource, Fetcher, media_type_of, origin_of
from rightful.signals.html import head_end, html_findings
from rightful.signals.origin import OriginRulesCache
from rightful.signals.policy import combine, parse_purposes
from rightful.signals.streaming import Progress, ProgressCallback, iterate_in_thread, run_sync

__all__ = [
    "Checker",
    "acheck_url",
    "acheck_urls",
    "add_item_source",
    "check_bytes",
    "check_file",
    "check_response",
    "check_url",
    "check_urls",
]

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_MEDIA_TYPES = frozenset({"application/pdf", "application/epub+zip", "application/rdf+xml"})
#: Extensions whose bodies we never read: a HEAD answers everything we need about them.
_HEAD_FIRST = frozenset(
    [
        ".mp4",
        ".mov",
        ".webm",
        ".mkv",
        ".avi",
        ".mp3",
        ".wav",
        ".flac",
        ".ogg",
        ".m4a",
        ".zip",
        ".gz",
        ".tgz",
        ".tar",
        ".bz2",
        ".xz",
        ".7z",
        ".rar",
        ".iso",
        ".bin",
        ".exe",
        ".dmg",
        ".csv",
        ".tsv",
        ".json",
        ".jsonl",
        ".parquet",
        ".js",
        ".mjs",
        ".css",
        ".woff",
        ".woff2",
        ".ttf",
        ".otf",
        ".wasm",
        ".txt",
        ".xml",
    ]
)
_POLICY_MAX_BYTES = 256 * 1024
_POLICY_MEMORY = 1024


def body_plan(media_type: str | None) -> BodyMode:
    """How much of a response body the signals need, by its media type."""
    if media_type in _HTML_TYPES:
        return "html"
    if media_type is not None and (media_type.startswith("image/") or media_type in _MEDIA_TYPES):
        return "media"
    return "none"


class Checker:
    """One checking session: a fetcher, the per-origin rules, the agent list and the settings."""

    def __init__(
        self,
        settings: Settings,
        *,
        purposes: Sequence[Purpose] | None = None,
        resolver: AbstractResolver | None = None,
    ) -> None:
        self.settings = settings
        self.purposes = tuple(purposes) if purposes else tuple(Purpose)
        self.agents: AgentList = load_agents()
        self.fetcher = Fetcher(settings, resolver=resolver)
        self._origins = OriginRulesCache(self.fetcher)
        self._policies: dict[str, Findings] = {}

    async def __aenter__(self) -> Checker:
        await self.fetcher.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.fetcher.__aexit__(*exc)

    async def check(self, url: str) -> CheckResult:
        """Check one URL: origin rules, then (when our crawl is allowed) one request for the item itself."""
        parsed = _parse_url(url)
        return await self._check(url, parsed, response=None)

    async def check_response(self, url: str, headers: Any, body: bytes | None, *, fetch_origin: bool) -> CheckResult:
        parsed = _parse_url(url)
        hdrs = HeaderMap(headers)
        ctype = _content_type(hdrs, body)
        response = FetchedResource(
            url=url, final_url=url, method="GET" if body is not None else "HEAD", status=200, headers=hdrs,
            body=body or b"", content_type=ctype,
        )  # fmt: skip
        if not fetch_origin:
            findings = self._response_findings(response)
            return await self._finish(url, "response", findings, crawl_allowed=None)
        return await self._check(url, parsed, response=response)

    async def _check(self, url: str, parsed: URL, *, response: FetchedResource | None) -> CheckResult:
        kind = "url" if response is None else "response"
        rules = await self._origins.get(origin_of(parsed))
        if rules.blocked:
            error = ItemError(code="blocked-address", message=rules.blocked.split(": ", 1)[-1], location=url)
            return await self._finish(url, kind, Findings(errors=[error]), crawl_allowed=None)
        robots, findings = rules.evaluate(
            parsed.raw_path or "/",
            parsed.raw_path_qs or "/",
            settings=self.settings,
            agents=self.agents,
        )
        for doc, protocol in (
            (rules.robots_doc, "robots.txt"),
            (rules.tdmrep_doc, "tdmrep"),
            (rules.aitxt_doc, "ai.txt"),
        ):
            if doc.error and not doc.error.startswith("HTTP 4"):
                findings.error(_code(doc.error), doc.error, protocol=protocol, location=doc.url)
        if response is None and robots.crawl_allowed:
            head_first = Path(parsed.path).suffix.lower() in _HEAD_FIRST
            response = await self.fetcher.resource(parsed, plan=body_plan, stop_at=head_end, head_first=head_first)
        if response is not None:
            findings.extend(self._response_findings(response))
        return await self._finish(url, kind, findings, crawl_allowed=robots.crawl_allowed)

    def _response_findings(self, res: FetchedResource) -> Findings:
        findings = Findings()
        if res.error is not None:
            findings.errors.append(res.error)
            return findings
        if res.status is not None and res.status >= 400:
            findings.error("http-status", f"the item answered HTTP {res.status}", location=res.final_url)
        is_image = (res.content_type or "").startswith("image/")
        at = res.fetched_at
        findings.extend(
            xrobots.header_findings(
                res.headers, url=res.final_url, own_token=self.settings.own_token, is_image=is_image, fetched_at=at
            )
        )
        findings.extend(tdmrep.header_findings(res.headers, url=res.final_url, fetched_at=at))
        findings.extend(aipref.header_findings(res.headers, url=res.final_url, fetched_at=at))
        if res.body:
            findings.extend(self._body_findings(res.body, res.final_url, res.content_type, res.truncated, at))
        return findings

    def _body_findings(self, body: bytes, location: str, ctype: str | None, truncated: bool, at: Any) -> Findings:
        mode = body_plan(ctype)
        if mode == "html":
            return html_findings(
                body, url=location, own_token=self.settings.own_token, fetched_at=at,
                document_hash=document_hash(body),
            )  # fmt: skip
        if mode == "media":
            found = embedded_findings(
                body, location=location, media_type=ctype, truncated=truncated, fetched_at=at,
                max_pixels=self.settings.max_pixels,
            )  # fmt: skip
            return _with_item_sources(found, body, location=location, media_type=ctype, settings=self.settings)
        return Findings()

    async def _finish(self, item: str, kind: str, findings: Findings, *, crawl_allowed: bool | None) -> CheckResult:
        await self._add_tdm_policies(findings)
        return build_result(item, kind, findings, settings=self.settings, purposes=self.purposes,
                            crawl_allowed=crawl_allowed)  # fmt: skip

    async def _add_tdm_policies(self, findings: Findings) -> None:
        """Fetch the TDM policy of each reserving TDMRep statement (cached), to surface whom to ask."""
        urls = {
            str(s.details["policy"])
            for s in findings.signals
            if s.protocol == "tdmrep" and s.details.get("policy") and Purpose.DATA_MINING in s.values
        }
        for policy_url in sorted(urls):
            found = self._policies.get(policy_url)
            if found is None:
                found = await self._policy_findings(policy_url)
                if len(self._policies) >= _POLICY_MEMORY:
                    self._policies.pop(next(iter(self._policies)))
                self._policies[policy_url] = found
            findings.signals.extend(found.signals)
            findings.errors.extend(found.errors)

    async def _policy_findings(self, policy_url: str) -> Findings:
        """One policy, fetched (cached across runs) and parsed once per run: many items share a policy."""
        findings = Findings()
        try:
            _parse_url(policy_url)
        except InvalidInput as exc:
            findings.error("tdm-policy", str(exc), protocol="tdmrep-policy", location=policy_url)
            return findings
        doc = await self.fetcher.document(policy_url, max_bytes=_POLICY_MAX_BYTES)
        if doc.error or not doc.body:
            findings.error(
                "tdm-policy", f"policy not available: {doc.error}", protocol="tdmrep-policy", location=policy_url
            )
            return findings
        parsed = tdmrep.parse_policy(doc.body, url=policy_url, content_type=doc.content_type)
        if isinstance(parsed, ItemError):
            findings.errors.append(parsed)
        else:
            findings.extend(tdmrep.policy_findings(parsed, location=policy_url))
        return findings


def build_result(
    item: str,
    kind: str,
    findings: Findings,
    *,
    settings: Settings,
    purposes: Sequence[Purpose],
    crawl_allowed: bool | None,
) -> CheckResult:
    """TDMRep precedence, then cross-protocol combination: the one place a verdict is made."""
    signals = tdmrep.resolve(findings.signals)
    verdicts = combine(signals, purposes=purposes, policy=settings.combine)
    errors = tuple(dict.fromkeys(findings.errors))  # the same problem reported twice is one problem
    return CheckResult(
        item=item, kind=kind, verdicts=verdicts, signals=tuple(signals), licence=tuple(findings.licence),
        errors=errors, crawl_allowed=crawl_allowed,
    )  # fmt: skip


def _code(error: str) -> str:
    head = error.split(":", 1)[0]
    return head if head and " " not in head else "fetch"


def _parse_url(url: str) -> URL:
    try:
        parsed = URL(url.strip())
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"not a valid URL: {url!r}") from exc
    if parsed.scheme not in {"http", "https"} or not parsed.host:
        raise InvalidInput(f"not an http(s) URL: {url!r}", url=url)
    return parsed


def _content_type(headers: HeaderMap, body: bytes | None) -> str | None:
    ctype = media_type_of(headers.get("content-type"))
    if (ctype is None or ctype == "application/octet-stream") and body:
        ctype = sniff(body[:512]) or ctype
    return ctype


def _settings(settings: Settings | None, overrides: dict[str, Any]) -> Settings:
    if settings is None:
        return Settings.load(**overrides)
    return settings.replace(**{k: v for k, v in overrides.items() if v is not None}) if overrides else settings


# --- public verbs -----------------------------------------------------------------------------------------


async def acheck_url(
    url: str, *, settings: Settings | None = None, purposes: Iterable[str] | None = None, **overrides: Any
) -> CheckResult:
    """Async :func:`check_url`."""
    async with Checker(_settings(settings, overrides), purposes=parse_purposes(purposes)) as checker:
        return await checker.check(url)


def check_url(
    url: str, *, settings: Settings | None = None, purposes: Iterable[str] | None = None, **overrides: Any
) -> CheckResult:
    """Check one URL. Raises :class:`InvalidInput` for something that is not an http(s) URL."""
    _parse_url(url)
    return run_sync(acheck_url(url, settings=settings, purposes=purposes, **overrides))


async def acheck_urls(
    urls: Iterable[str] | AsyncIterable[str],
    *,
    settings: Settings | None = None,
    purposes: Iterable[str] | None = None,
    progress: ProgressCallback | None = None,
    **overrides: Any,
) -> AsyncIterator[CheckResult]:
    """Check many URLs concurrently; results stream out as they complete, memory stays bounded.

    ``urls`` may be sync or async; surrounding whitespace is stripped and blank lines are skipped, so the lines
    of a file work as they are. A bad URL becomes a result with an ``invalid-url`` error rather than stopping
    the run. This runs in one process; :func:`check_urls` with ``workers > 1`` spreads origins over processes.
    """
    cfg = _settings(settings, overrides)
    window = max(cfg.concurrency * 2, 16)
    tracker = Progress(callback=progress)
    async with Checker(cfg, purposes=parse_purposes(purposes)) as checker:
        pending: set[asyncio.Task[CheckResult]] = set()
        source = _urls_of(urls)
        exhausted = False
        try:
            while pending or not exhausted:
                while not exhausted and len(pending) < window:
                    nxt = await anext(source, None)
                    if nxt is None:
                        exhausted = True
                        break
                    pending.add(asyncio.create_task(_guarded_check(checker, nxt)))
                if not pending:
                    break
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    result = task.result()
                    tracker.update(result, checker.fetcher.stats)
                    yield result
        finally:  # the consumer stopped early (or failed): nothing may keep running behind its back
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)


async def _urls_of(urls: Iterable[str] | AsyncIterable[str]) -> AsyncIterator[str]:
    if isinstance(urls, AsyncIterable):
        async for url in urls:
            if url.strip():
                yield url.strip()
    else:
        for url in urls:
            if url.strip():
                yield url.strip()


async def _guarded_check(checker: Checker, url: str) -> CheckResult:
    try:
        return await checker.check(url)
    except InvalidInput as exc:
        error = ItemError(code="invalid-url", message=str(exc), location=url)
        return build_result(url, "url", Findings(errors=[error]), settings=checker.settings,
                            purposes=checker.purposes, crawl_allowed=None)  # fmt: skip


def check_urls(
    urls: Iterable[str],
    *,
    settings: Settings | None = None,
    purposes: Iterable[str] | None = None,
    progress: ProgressCallback | None = None,
    **overrides: Any,
) -> Iterator[CheckResult]:
    """Check many URLs; a sync stream of results in completion order, with bounded memory.

    With ``workers`` > 1 (setting or keyword) the origins are spread over that many processes, each running
    the same engine (see :mod:`rightful.signals.parallel`); otherwise one event loop runs in a worker thread.
    """
    cfg = _settings(settings, overrides)
    if cfg.workers > 1:
        from rightful.signals.parallel import check_urls_in_processes

        chosen = [p.value for p in parse_purposes(purposes)]
        return check_urls_in_processes(urls, settings=cfg, purposes=chosen, workers=cfg.workers, progress=progress)
    return iterate_in_thread(acheck_urls(urls, settings=cfg, purposes=purposes, progress=progress))


def check_response(
    url: str,
    headers: Any,
    body: bytes | None = None,
    *,
    fetch_origin: bool = True,
    settings: Settings | None = None,
    purposes: Iterable[str] | None = None,
    **overrides: Any,
) -> CheckResult:
    """Check a response the caller already fetched (headers from any container, body optional).

    With ``fetch_origin`` (default) the origin's robots.txt, tdmrep.json and ai.txt are fetched (cached) too,
    so the answer equals :func:`check_url`'s for the same response.
    """
    _parse_url(url)

    async def run() -> CheckResult:
        async with Checker(_settings(settings, overrides), purposes=parse_purposes(purposes)) as checker:
            return await checker.check_response(url, headers, body, fetch_origin=fetch_origin)

    return run_sync(run())


def _local_findings(data: bytes, *, location: str, truncated: bool, settings: Settings) -> Findings:
    """Embedded signals of bytes from a file or an archive member: HTML meta for HTML, metadata otherwise."""
    ctype = sniff(data[:512]) or media_type_for(location)
    if ctype in _HTML_TYPES:
        return html_findings(
            data, url=location, own_token=settings.own_token, fetched_at=utcnow(), document_hash=document_hash(data)
        )
    findings = embedded_findings(
        data, location=location, media_type=ctype, truncated=truncated, max_pixels=settings.max_pixels
    )
    return _with_item_sources(findings, data, location=location, media_type=ctype, settings=settings)


#: Further sources of signals for an item's content, called with (data, location=, media_type=, settings=).
#: Packages above ``signals`` plug in here (the works registry does, from ``rightful/__init__``), so that
#: ``signals`` itself depends on nothing above it.
ItemSource = Callable[..., Findings]
_ITEM_SOURCES: list[ItemSource] = []


def add_item_source(source: ItemSource) -> None:
    """Have every check of content (files, bytes, fetched media) also consult ``source``."""
    if source not in _ITEM_SOURCES:
        _ITEM_SOURCES.append(source)


def _with_item_sources(
    findings: Findings, data: bytes, *, location: str, media_type: str | None, settings: Settings
) -> Findings:
    for source in _ITEM_SOURCES:
        findings.extend(source(data, location=location, media_type=media_type, settings=settings))
    return findings


def check_bytes(
    data: bytes,
    *,
    name: str,
    truncated: bool = False,
    settings: Settings | None = None,
    purposes: Iterable[str] | None = None,
    **overrides: Any,
) -> CheckResult:
    """Check content already in memory (an archive member, a dataset column) as :func:`check_file` would.

    ``name`` is the item's name in the result and evidence (its extension is a format hint); bytes beyond
    ``media_max_bytes`` are not read. No network access.
    """
    cfg = _settings(settings, overrides)
    cut = len(data) > cfg.media_max_bytes
    findings = _local_findings(data[: cfg.media_max_bytes], location=name, truncated=truncated or cut, settings=cfg)
    return build_result(name, "file", findings, settings=cfg, purposes=parse_purposes(purposes), crawl_allowed=None)


def check_file(
    path: str | Path,
    *,
    settings: Settings | None = None,
    purposes: Iterable[str] | None = None,
    **overrides: Any,
) -> CheckResult:
    """Check a local file's embedded signals (XMP/IPTC, C2PA/CAWG, TDMRep in PDF/EPUB, HTML meta).

    A sidecar ``<name>.xmp`` next to the file is read too. No network access.
    """
    cfg = _settings(settings, overrides)
    p = Path(path)
    data, truncated = read_capped(p, max_bytes=cfg.media_max_bytes)
    findings = _local_findings(data, location=str(p), truncated=truncated, settings=cfg)
    for sidecar in (p.with_suffix(".xmp"), p.with_name(p.name + ".xmp")):
        if sidecar != p and sidecar.is_file():
            xmp, _ = read_capped(sidecar, max_bytes=cfg.html_max_bytes)
            findings.extend(embedded_findings(xmp, location=str(sidecar), media_type="application/rdf+xml"))
    return build_result(str(p), "file", findings, settings=cfg, purposes=parse_purposes(purposes), crawl_allowed=None)
