"""Async, cached, SSRF-safe fetching of origin documents and items.

Policy lives here; I/O goes through one :class:`aiohttp.ClientSession` whose connector uses the
:class:`~rightful.signals.netguard.GuardedResolver`. Limits: global concurrency (connector ``limit``), per-origin
concurrency (``limit_per_host``: aiohttp keys it on scheme/host/port, i.e. the origin), connect and read
timeouts, at most ``max_redirects`` redirects (followed by hand so every hop is checked), byte caps on every body.
"""

from __future__ import annotations

import asyncio
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import aiohttp
from aiohttp.abc import AbstractResolver
from yarl import URL

from rightful.config import Settings
from rightful.media import sniff
from rightful.models import ItemError, utcnow
from rightful.signals.base import DocumentState, HeaderMap, OriginDocument
from rightful.signals.cache import MemoryOriginCache, OriginCache, SqliteOriginCache
from rightful.signals.netguard import BlockedAddressError, GuardedResolver, blocked_cause, check_host

__all__ = ["BodyMode", "FetchStats", "FetchedResource", "Fetcher", "media_type_of", "origin_of"]

BodyMode = Literal["none", "html", "media"]
#: Given the response's media type, how much of the body is needed.
BodyPlanner = Callable[[str | None], BodyMode]
#: Given the bytes so far, the offset where reading may stop (HTML: end of <head>), or None.
StopAt = Callable[[bytes], int | None]

_CHUNK = 64 * 1024
_RECENT_DOCS = 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


def origin_of(url: URL) -> str:
    """``scheme://host[:port]``: the unit of caching and politeness."""
    return str(url.origin())


@dataclass(slots=True)
class FetchStats:
    """Counters for progress displays and benchmarks."""

    requests: Counter[str] = field(default_factory=Counter)
    bytes_read: int = 0
    cache_hits: int = 0
    origins: int = 0

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())


@dataclass(frozen=True, slots=True)
class FetchedResource:
    """One item as fetched: final status, headers and as much of the body as was needed."""

    url: str
    final_url: str
    method: str
    status: int | None
    headers: HeaderMap
    body: bytes = b""
    truncated: bool = False
    content_type: str | None = None
    fetched_at: datetime = field(default_factory=utcnow)
    redirects: tuple[str, ...] = ()
    error: ItemError | None = None


class _Failure(Exception):
    def __init__(self, code: str, message: str, *, state: DocumentState = DocumentState.UNREACHABLE) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.state = state


class Fetcher:
    """Fetches with the settings' limits; use as ``async with Fetcher(settings) as f``."""

    def __init__(
        self, settings: Settings, *, cache: OriginCache | None = None, resolver: AbstractResolver | None = None
    ) -> None:
        self.settings = settings
        self._resolver = resolver
        self.stats = FetchStats()
        if cache is None:
            cache = SqliteOriginCache(settings.db_path) if settings.cache else MemoryOriginCache()
        self._cache = cache
        self._inflight: dict[str, asyncio.Future[OriginDocument]] = {}
        self._recent: OrderedDict[str, OriginDocument] = OrderedDict()
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Fetcher:
        s = self.settings
        connector = aiohttp.TCPConnector(
            limit=s.concurrency,
            limit_per_host=s.per_origin,
            resolver=GuardedResolver(allow_private=s.allow_private, inner=self._resolver),
            ttl_dns_cache=300,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=s.connect_timeout + 2 * s.read_timeout, sock_connect=s.connect_timeout,
                sock_read=s.read_timeout,
            ),
            headers={"User-Agent": s.user_agent, "Accept-Encoding": "gzip, deflate"},
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=True,
        )  # fmt: skip
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
        self._cache.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("Fetcher used outside 'async with'")
        return self._session

    async def document(self, url: str, *, max_bytes: int) -> OriginDocument:
        """An origin-wide document, fetched once per run and cached across runs (TTL from settings)."""
        recent = self._recent.get(url)
        if recent is not None:
            return recent
        cached = self._cache.get(url, max_age=self.settings.cache_ttl)
        if cached is not None:
            self.stats.cache_hits += 1
            self._remember(cached)
            return cached
        future = self._inflight.get(url)
        if future is not None:
            return await asyncio.shield(future)
        future = asyncio.get_running_loop().create_future()
        self._inflight[url] = future
        try:
            doc = await self._fetch_document(url, max_bytes=max_bytes)
        except BaseException as exc:  # cancellation: waiters must not hang
            future.set_exception(exc)
            future.exception()  # retrieved: only the waiters care
            raise
        finally:
            self._inflight.pop(url, None)
        future.set_result(doc)
        self._remember(doc)
        return doc

    def _remember(self, doc: OriginDocument) -> None:
        """A small per-run memory in front of the database (policy URLs are asked for once per item)."""
        self._recent[doc.url] = doc
        if len(self._recent) > _RECENT_DOCS:
            self._recent.popitem(last=False)

    async def _fetch_document(self, url: str, *, max_bytes: int) -> OriginDocument:
        try:
            res = await self._request(url, method="GET", plan=lambda _t: "media", max_bytes=max_bytes)
        except _Failure as failure:
            doc = OriginDocument(
                url=url, state=failure.state, fetched_at=utcnow(), error=f"{failure.code}: {failure.message}"
            )
            if failure.state is DocumentState.UNREACHABLE:
                stale = self._cache.get(url, max_age=None)
                if stale is not None and stale.state is DocumentState.OK:
                    return _with_error(stale, f"{failure.message}; using the last good copy")
            else:
                self._cache.put(doc)
            return doc
        assert res.status is not None
        state = _document_state(res.status)
        doc = OriginDocument(
            url=url,
            state=state,
            status=res.status,
            body=res.body if state is DocumentState.OK else b"",
            fetched_at=res.fetched_at,
            truncated=res.truncated,
            content_type=res.content_type,
            error=None if state is DocumentState.OK else f"HTTP {res.status}",
        )
        if state is DocumentState.UNREACHABLE:
            stale = self._cache.get(url, max_age=None)
            if stale is not None and stale.state is DocumentState.OK:
                return _with_error(stale, f"HTTP {res.status}; using the last good copy")
        self._cache.put(doc)
        return doc

    async def resource(
        self, url: str | URL, *, plan: BodyPlanner, stop_at: StopAt | None = None, head_first: bool = False
    ) -> FetchedResource:
        """Fetch an item: HEAD when asked and enough, else one streamed GET reading only what ``plan`` needs."""
        try:
            if head_first:
                head = await self._request(url, method="HEAD", plan=plan)
                if head.status is not None and (head.status >= 300 or plan(head.content_type) == "none"):
                    return head
            return await self._request(url, method="GET", plan=plan, stop_at=stop_at)
        except _Failure as failure:
            err = ItemError(code=failure.code, message=failure.message, location=str(url))
            return FetchedResource(
                url=str(url), final_url=str(url), method="GET", status=None, headers=HeaderMap(), error=err
            )

    async def _request(
        self,
        url: str | URL,
        *,
        method: str,
        plan: BodyPlanner,
        stop_at: StopAt | None = None,
        max_bytes: int | None = None,
    ) -> FetchedResource:
        current = url if isinstance(url, URL) else URL(url)
        redirects: list[str] = []
        while True:
            async with self._open(current, method=method) as resp:
                if resp.status in _REDIRECTS and "Location" in resp.headers:
                    if len(redirects) >= self.settings.max_redirects:
                        raise _Failure(
                            "too-many-redirects",
                            f"more than {self.settings.max_redirects} redirects from {url}",
                            state=DocumentState.UNAVAILABLE,
                        )
                    nxt = current.join(URL(resp.headers["Location"]))
                    if nxt.scheme not in {"http", "https"}:
                        raise _Failure("bad-redirect", f"redirect to unsupported URL {nxt}")
                    redirects.append(str(nxt))
                    current = nxt
                    continue
                ctype = media_type_of(resp.headers.get("Content-Type"))
                body, truncated = b"", False
                if method == "GET":
                    body, truncated, ctype = await self._read(resp, ctype, plan, stop_at, max_bytes)
                return FetchedResource(
                    url=str(url), final_url=str(current) if redirects else str(url), method=method, status=resp.status,
                    headers=HeaderMap(resp.raw_headers), body=body, truncated=truncated,
                    content_type=ctype, redirects=tuple(redirects),
                )  # fmt: skip

    def _open(self, url: URL, *, method: str) -> _GuardedRequest:
        if url.scheme not in {"http", "https"} or not url.host:
            raise _Failure("invalid-url", f"not an http(s) URL: {url}")
        try:
            check_host(url.host, allow_private=self.settings.allow_private)
        except BlockedAddressError as exc:
            raise _Failure("blocked-address", str(exc)) from exc
        self.stats.requests[method] += 1
        return _GuardedRequest(self.session.request(method, url, allow_redirects=False), url)

    async def _read(
        self,
        resp: aiohttp.ClientResponse,
        ctype: str | None,
        plan: BodyPlanner,
        stop_at: StopAt | None,
        max_bytes: int | None,
    ) -> tuple[bytes, bool, str | None]:
        mode = plan(ctype) if max_bytes is None else "media"
        if mode == "none" and ctype not in (None, "application/octet-stream"):
            return b"", False, ctype
        cap = max_bytes or (self.settings.html_max_bytes if mode == "html" else self.settings.media_max_bytes)
        buf = bytearray()
        try:
            async for chunk in resp.content.iter_chunked(_CHUNK):
                buf += chunk
                if len(buf) == len(chunk) and ctype in (None, "application/octet-stream"):
                    ctype = sniff(bytes(buf[:512])) or ctype
                    mode = plan(ctype) if max_bytes is None else "media"
                    if mode == "none":
                        return b"", False, ctype
                    if mode == "html" and max_bytes is None:
                        cap = self.settings.html_max_bytes
                if mode == "html" and stop_at is not None and (end := stop_at(bytes(buf))) is not None:
                    return bytes(buf[:end]), False, ctype
                if len(buf) > cap:
                    return bytes(buf[:cap]), True, ctype
        except (aiohttp.ClientError, TimeoutError) as exc:
            if not buf:
                raise _Failure("read-failed", f"reading {resp.url} failed: {_describe(exc)}") from exc
            self.stats.bytes_read += len(buf)
            return bytes(buf), True, ctype
        self.stats.bytes_read += len(buf)
        return bytes(buf), False, ctype


class _GuardedRequest:
    """Turns aiohttp's connection errors into :class:`_Failure` with a stable code."""

    def __init__(self, inner: aiohttp.client._RequestContextManager, url: URL) -> None:
        self._inner = inner
        self._url = url

    async def __aenter__(self) -> aiohttp.ClientResponse:
        try:
            return await self._inner.__aenter__()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise _classify_error(exc, self._url) from exc

    async def __aexit__(self, *exc: object) -> None:
        await self._inner.__aexit__(*exc)  # type: ignore[arg-type]


def _classify_error(exc: BaseException, url: URL) -> _Failure:
    blocked = blocked_cause(exc)
    if blocked is not None:
        return _Failure("blocked-address", str(blocked))
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        return _Failure("timeout", f"{url.host} did not answer in time")
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return _Failure("dns", f"cannot resolve {url.host}")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return _Failure("connect", f"cannot connect to {url.host}:{url.port}: {_describe(exc)}")
    return _Failure("network", f"{url}: {_describe(exc)}")


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _document_state(status: int) -> DocumentState:
    if 200 <= status < 300:
        return DocumentState.OK
    if status == 429 or status >= 500:
        return DocumentState.UNREACHABLE
    return DocumentState.UNAVAILABLE  # other 3xx (no Location), 4xx


def _with_error(doc: OriginDocument, error: str) -> OriginDocument:
    return OriginDocument(
        url=doc.url, state=doc.state, status=doc.status, body=doc.body, fetched_at=doc.fetched_at,
        error=error, truncated=doc.truncated, content_type=doc.content_type,
    )  # fmt: skip


def media_type_of(header: str | None) -> str | None:
    """The media type of a Content-Type value, lower-cased, without parameters."""
    if not header:
        return None
    return header.split(";", 1)[0].strip().lower() or None
