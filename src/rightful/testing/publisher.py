"""A loopback "publisher": one real HTTP server playing many websites at once.

Tests, the benchmark and the demo need real HTTP with configurable rights signals: robots.txt,
``/.well-known/tdmrep.json``, ``/ai.txt``, response headers and media with embedded metadata. One uvicorn
server listens on many ``127.0.0.1`` ports; each port is one origin (``http://127.0.0.1:<port>``) and plays
one :class:`Site`. The ASGI app is deliberately bare (no framework routing, responses prepared once) because
the benchmark needs the server to answer thousands of requests per second without being the bottleneck.

Every request is counted by ``(origin, method, target)`` so a test can assert how often a checker fetched
what; the same counts are served as JSON at ``/__stats__`` on every origin (not counted itself) for a
publisher that runs in another process::

    python -m rightful.testing.publisher --mix bench --origins 200 --latency 0.005

prints one JSON line ``{"origins": [...], "pid": ...}`` and serves until SIGINT/SIGTERM.

Bodies, header values and redirect targets may name origins by placeholder, because ports are only known
once the server starts: ``{{origin}}`` is the site's own origin and ``{{origin:N}}`` the origin of site ``N``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import mimetypes
import os
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs

import uvicorn

__all__ = ["Publisher", "RequestKey", "Resource", "Site", "summarize"]

#: ``(origin, method, target)``; the target is the path as sent plus ``?query`` when there is one.
RequestKey = tuple[str, str, str]
HeaderInput = tuple[tuple[str, str], ...] | Mapping[str, str]

_Scope = MutableMapping[str, Any]
_Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
_Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

HOST = "127.0.0.1"
STATS_PATH = "/__stats__"
ROBOTS_PATH = "/robots.txt"
TDMREP_PATH = "/.well-known/tdmrep.json"
AITXT_PATH = "/ai.txt"
_KINDS = {ROBOTS_PATH: "robots.txt", TDMREP_PATH: "tdmrep.json", AITXT_PATH: "ai.txt"}
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_PREPARED_CACHE_MAX = 4096


@dataclass(frozen=True, slots=True)
class Resource:
    """One response.

    ``hang`` never answers (until the client leaves or the server stops), for timeout tests; ``redirect``
    sends a ``Location`` (status 302 unless ``status`` is already a redirect); ``delay`` adds to the
    publisher's latency; ``content_type`` None means guessed from the path (HTML when it has no suffix).
    """

    status: int = 200
    headers: HeaderInput = ()
    body: bytes = b""
    delay: float = 0.0
    hang: bool = False
    redirect: str | None = None
    content_type: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.headers, Mapping):
            object.__setattr__(self, "headers", tuple(self.headers.items()))
        if isinstance(self.body, str):
            object.__setattr__(self, "body", self.body.encode("utf-8"))
        if self.delay < 0:
            raise ValueError("delay must not be negative")

    @property
    def header_items(self) -> tuple[tuple[str, str], ...]:
        return tuple(self.headers.items()) if isinstance(self.headers, Mapping) else self.headers


@dataclass(frozen=True, slots=True, eq=False)
class Site:
    """One origin's content. A missing robots.txt, tdmrep.json or ai.txt answers 404; ``pages`` are matched by
    exact path (with the query string when the key has one); ``default`` answers any other path."""

    robots_txt: Resource | bytes | str | None = None
    tdmrep_json: Resource | bytes | str | None = None
    ai_txt: Resource | bytes | str | None = None
    pages: Mapping[str, Resource] = field(default_factory=dict)
    default: Callable[[str], Resource] | Resource | None = None
    name: str = ""

    def resolve(self, path: str, query: str) -> Resource | None:
        """The resource for a request, or None for a 404."""
        if path == ROBOTS_PATH:
            return _document(self.robots_txt, "text/plain; charset=utf-8")
        if path == TDMREP_PATH:
            return _document(self.tdmrep_json, "application/json")
        if path == AITXT_PATH:
            return _document(self.ai_txt, "text/plain; charset=utf-8")
        if query:
            found = self.pages.get(f"{path}?{query}")
            if found is not None:
                return found
        found = self.pages.get(path)
        if found is not None or self.default is None:
            return found
        return self.default if isinstance(self.default, Resource) else self.default(path)


def _document(value: Resource | bytes | str | None, content_type: str) -> Resource | None:
    if value is None or isinstance(value, Resource):
        return value
    body = value.encode("utf-8") if isinstance(value, str) else value
    return Resource(body=body, content_type=content_type)


_NOT_FOUND = Resource(status=404, body=b"not found\n", content_type="text/plain; charset=utf-8")
_STOPPING = Resource(status=503, body=b"server stopping\n", content_type="text/plain; charset=utf-8")


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A resource made ready to send for one site: placeholders filled, headers encoded, length known."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    delay: float
    hang: bool


def _fill(text: str, origins: Sequence[str], own: int) -> str:
    if "{{origin" not in text:
        return text
    for index in range(len(origins) - 1, -1, -1):  # longest numbers first: {{origin:12}} before {{origin:1}}
        text = text.replace(f"{{{{origin:{index}}}}}", origins[index])
    return text.replace("{{origin}}", origins[own])


def _prepare(resource: Resource, content_type: str, origins: Sequence[str], own: int) -> _Prepared:
    body = resource.body
    if b"{{origin" in body:
        body = _fill(body.decode("utf-8"), origins, own).encode("utf-8")
    pairs = [(name.lower(), _fill(value, origins, own)) for name, value in resource.header_items]
    status = resource.status
    if resource.redirect is not None:
        status = status if status in _REDIRECT_STATUSES else 302
        pairs.append(("location", _fill(resource.redirect, origins, own)))
    if not any(name == "content-type" for name, _ in pairs):
        pairs.append(("content-type", content_type))
    pairs = [(n, v) for n, v in pairs if n != "content-length"] + [("content-length", str(len(body)))]
    encoded = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in pairs]
    return _Prepared(status, encoded, body, resource.delay, resource.hang)


def _guess_type(path: str) -> str:
    guessed, _ = mimetypes.guess_type(path, strict=False)
    if guessed is None:
        return "text/html; charset=utf-8"
    return f"{guessed}; charset=utf-8" if guessed.startswith("text/") else guessed


def kind_of(target: str) -> str:
    """``robots.txt``, ``tdmrep.json``, ``ai.txt`` or ``page``: what a counted request was for."""
    return _KINDS.get(target.split("?", 1)[0], "page")


def summarize(counts: Mapping[RequestKey, int], *, full: bool = False) -> dict[str, Any]:
    """Aggregate request counts: totals by method and kind, the worst origin per kind, and repeats.

    ``repeated`` counts the (origin, method, target) keys asked more than once: a checker that downloads the
    same URL once per rule shows up there.
    """
    by_method: Counter[str] = Counter()
    by_kind: Counter[str] = Counter()
    page_by_method: Counter[str] = Counter()
    per_origin: dict[str, Counter[str]] = {}
    repeated = 0
    for (origin, method, target), count in counts.items():
        kind = kind_of(target)
        by_method[method] += count
        by_kind[kind] += count
        if kind == "page":
            page_by_method[method] += count
        per_origin.setdefault(origin, Counter())[kind] += count
        repeated += count > 1
    out: dict[str, Any] = {
        "total": sum(by_method.values()),
        "by_method": dict(by_method),
        "by_kind": dict(by_kind),
        "page_by_method": dict(page_by_method),
        "origins_seen": len(per_origin),
        "per_origin_max": {
            kind: max((c[kind] for c in per_origin.values()), default=0) for kind in (*_KINDS.values(), "page")
        },
        "origin_docs_max": max((sum(c[kind] for kind in _KINDS.values()) for c in per_origin.values()), default=0),
        "distinct": len(counts),
        "repeated": repeated,
    }
    if full:
        out["requests"] = [[o, m, t, c] for (o, m, t), c in sorted(counts.items())]
    return out


class _App:
    """The bare ASGI callable: route by listening port, count, wait, answer."""

    def __init__(self, sites: Sequence[Site], ports: Sequence[int], latency: Callable[[], float]) -> None:
        self.sites = list(sites)
        self.origins = [f"http://{HOST}:{port}" for port in ports]
        self.by_port = {port: index for index, port in enumerate(ports)}
        self.latency = latency
        self.counts: Counter[RequestKey] = Counter()
        self.lock = threading.Lock()
        self.stopping: asyncio.Event | None = None
        self._prepared: dict[tuple[int, int, str], tuple[Resource, _Prepared]] = {}

    async def __call__(self, scope: _Scope, receive: _Receive, send: _Send) -> None:
        if scope["type"] != "http":
            return
        index = self.by_port[scope["server"][1]]
        raw_path: bytes | None = scope.get("raw_path")
        path = raw_path.decode("latin-1") if raw_path else scope["path"]
        query = scope["query_string"].decode("latin-1")
        if path == STATS_PATH:
            await self._stats(send, query)
            return
        method = scope["method"]
        target = f"{path}?{query}" if query else path
        with self.lock:
            self.counts[self.origins[index], method, target] += 1
        site = self.sites[index]
        resource = site.resolve(path, query)
        if resource is None and path != scope["path"]:
            resource = site.resolve(scope["path"], query)
        prepared = self._prepare(resource or _NOT_FOUND, path, index)
        wait = self.latency() + prepared.delay
        if wait > 0:
            await asyncio.sleep(wait)
        if prepared.hang:
            await self._hang(receive)
            prepared = _prepare(_STOPPING, "text/plain", self.origins, index)
        await send({"type": "http.response.start", "status": prepared.status, "headers": prepared.headers})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else prepared.body})

    def _prepare(self, resource: Resource, path: str, index: int) -> _Prepared:
        # Keyed by identity (the stored reference keeps the id valid): a `default` callable returning one of a
        # few shared resources is prepared once; one that builds a new resource per call, once per call.
        content_type = resource.content_type or _guess_type(path)
        key = (id(resource), index, content_type)
        cached = self._prepared.get(key)
        if cached is not None and cached[0] is resource:
            return cached[1]
        prepared = _prepare(resource, content_type, self.origins, index)
        if len(self._prepared) >= _PREPARED_CACHE_MAX:
            self._prepared.clear()
        self._prepared[key] = (resource, prepared)
        return prepared

    async def _hang(self, receive: _Receive) -> None:
        """Wait until the client disconnects or the server stops, so a hung request never blocks shutdown."""
        assert self.stopping is not None
        stop = asyncio.ensure_future(self.stopping.wait())
        gone = asyncio.ensure_future(_disconnected(receive))
        _, pending = await asyncio.wait({stop, gone}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()

    async def _stats(self, send: _Send, query: str) -> None:
        params = parse_qs(query)
        with self.lock:
            snapshot = Counter(self.counts)
            if params.get("reset", ["0"])[0] not in {"", "0"}:
                self.counts.clear()
        body = json.dumps(summarize(snapshot, full=params.get("full", ["0"])[0] not in {"", "0"})).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def _disconnected(receive: _Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _bind() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    sock.listen(4096)
    sock.setblocking(False)
    return sock


def _server(app: _App) -> uvicorn.Server:
    fast = importlib.util.find_spec("httptools") is not None
    config = uvicorn.Config(
        app,
        http="httptools" if fast else "h11",
        ws="none",
        lifespan="off",
        log_level="warning",
        log_config=None,
        access_log=False,
        server_header=False,
        date_header=False,
        backlog=4096,
        timeout_keep_alive=30,
        timeout_graceful_shutdown=2,
    )
    return uvicorn.Server(config)


async def _serve(server: uvicorn.Server, app: _App, sockets: list[socket.socket]) -> None:
    app.stopping = asyncio.Event()

    async def release_hung_requests() -> None:
        while not server.should_exit:
            await asyncio.sleep(0.05)
        assert app.stopping is not None
        app.stopping.set()

    watcher = asyncio.ensure_future(release_hung_requests())
    try:
        await server.serve(sockets=sockets)
    finally:
        watcher.cancel()


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    if importlib.util.find_spec("uvloop") is None:
        return None
    import uvloop

    return uvloop.new_event_loop


class Publisher:
    """Serve ``sites`` on loopback from a background thread; use as a context manager.

    ``latency`` (seconds, may be changed while running) delays every response without blocking the server.
    ``requests`` is a snapshot of the counts; ``reset_counts()`` starts them again.
    """

    def __init__(self, sites: Sequence[Site], *, latency: float = 0.0) -> None:
        if not sites:
            raise ValueError("a publisher needs at least one site")
        self.sites = list(sites)
        self.latency = latency
        self.origins: list[str] = []
        self._app: _App | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    def __enter__(self) -> Publisher:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self, *, timeout: float = 10.0) -> None:
        if self._thread is not None:
            raise RuntimeError("publisher already started")
        sockets = [_bind() for _ in self.sites]
        self._app = _App(self.sites, [s.getsockname()[1] for s in sockets], lambda: self.latency)
        self.origins = list(self._app.origins)
        self._server = _server(self._app)
        self._thread = threading.Thread(
            target=self._run, args=(self._server, self._app, sockets), name="rightful-publisher", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if self._failure is not None or not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("publisher did not start") from self._failure
            time.sleep(0.005)

    def _run(self, server: uvicorn.Server, app: _App, sockets: list[socket.socket]) -> None:
        try:
            with asyncio.Runner(loop_factory=_loop_factory()) as runner:
                runner.run(_serve(server, app, sockets))
        except BaseException as exc:  # reported by start(); a thread cannot raise to its caller
            self._failure = exc
        finally:
            for sock in sockets:
                sock.close()

    def stop(self, *, timeout: float = 10.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(timeout)
        self._thread = None

    def url(self, site_index: int, path: str = "/") -> str:
        return self.origins[site_index] + (path if path.startswith("/") else "/" + path)

    @property
    def requests(self) -> Counter[RequestKey]:
        """A snapshot of the request counts by ``(origin, method, target)``; ``/__stats__`` is not counted."""
        app = self._require_app()
        with app.lock:
            return Counter(app.counts)

    def total_requests(self) -> int:
        return sum(self.requests.values())

    def reset_counts(self) -> None:
        app = self._require_app()
        with app.lock:
            app.counts.clear()

    def stats(self, *, full: bool = False) -> dict[str, Any]:
        """The same summary ``/__stats__`` serves."""
        return summarize(self.requests, full=full)

    def _require_app(self) -> _App:
        if self._app is None:
            raise RuntimeError("publisher not started")
        return self._app


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m rightful.testing.publisher", description="Serve a site mix on loopback ports."
    )
    parser.add_argument("--mix", choices=("bench", "demo"), default="bench")
    parser.add_argument("--origins", type=int, default=200, help="number of sites (bench mix)")
    parser.add_argument("--urls-per-origin", type=int, default=100, help="pages per site (bench mix)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every response")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve in the foreground until SIGINT/SIGTERM; print the origins as one JSON line first."""
    from rightful.testing import sites as mixes  # sites imports this module

    args = _parse_args(argv)
    sites = (
        mixes.bench_sites(args.origins, args.urls_per_origin, seed=args.seed)
        if args.mix == "bench"
        else mixes.demo_sites()
    )
    sockets = [_bind() for _ in sites]
    app = _App(sites, [s.getsockname()[1] for s in sockets], lambda: args.latency)
    server = _server(app)
    print(json.dumps({"origins": app.origins, "pid": os.getpid()}), flush=True)
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner, _closing(sockets):
            runner.run(_serve(server, app, sockets))
    except KeyboardInterrupt:  # uvicorn re-raises the SIGINT it caught, after a graceful shutdown
        pass
    return 0


@contextlib.contextmanager
def _closing(sockets: list[socket.socket]) -> Iterator[None]:
    try:
        yield
    finally:
        for sock in sockets:
            sock.close()


if __name__ == "__main__":
    sys.exit(main())
