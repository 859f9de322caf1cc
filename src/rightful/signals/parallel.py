"""Checking URLs in several processes: one event loop per CPU core, each owning a share of the origins.

One asyncio loop saturates one core at a few thousand URLs per second; past that, ``workers`` processes each
run the same engine. URLs are routed by origin (a stable hash of scheme and host), so each origin's robots.txt,
tdmrep.json and ai.txt are still fetched once, by the one worker that owns it, and per-origin politeness limits
still hold. Batches travel through bounded queues in both directions, so memory stays flat: the driver only routes
URLs and unpickles results.

Workers are started with ``spawn`` (safe with threads and uvloop): a script that calls ``check_urls(...,
workers=N)`` must guard its entry point with ``if __name__ == "__main__":``, as with any multiprocessing code.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import queue
import threading
import zlib
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from rightful.config import Settings
from rightful.errors import RightfulError
from rightful.models import CheckResult
from rightful.signals.streaming import Progress, ProgressCallback, run_in_new_loop

__all__ = ["check_urls_in_processes"]

_BATCH = 256
_RESULT_BATCH = 128
_POLL = 0.2


@dataclass(frozen=True, slots=True)
class _Totals:
    requests: int
    origins: int


class _Stats:
    """What the progress display reads: the sum of every worker's last reported counters."""

    def __init__(self, workers: int) -> None:
        self.per_worker = [_Totals(0, 0) for _ in range(workers)]

    @property
    def total_requests(self) -> int:
        return sum(t.requests for t in self.per_worker)

    @property
    def origins(self) -> int:
        return sum(t.origins for t in self.per_worker)


def _route(url: str, workers: int) -> int:
    try:
        parts = urlsplit(url.strip())
        key = f"{parts.scheme.lower()}://{(parts.hostname or '')}:{parts.port or ''}"
    except ValueError:  # a malformed URL: any worker reports it as invalid-url
        return 0
    return zlib.crc32(key.encode("utf-8", "surrogatepass")) % workers


def _worker(index: int, inbox: Any, outbox: Any, settings: Settings, purposes: tuple[str, ...]) -> None:
    """A worker process: the ordinary streaming engine over the URLs this worker owns."""
    from rightful.signals.check import acheck_urls

    async def source() -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        while (batch := await loop.run_in_executor(None, inbox.get)) is not None:
            for url in batch:
                yield url

    async def main() -> None:
        loop = asyncio.get_running_loop()
        latest = _Totals(0, 0)

        def remember(p: Progress) -> None:
            nonlocal latest
            latest = _Totals(p.requests, p.origins)

        buffer: list[CheckResult] = []
        async for result in acheck_urls(source(), settings=settings, purposes=purposes, progress=remember):
            buffer.append(result)
            if len(buffer) >= _RESULT_BATCH:
                await loop.run_in_executor(None, outbox.put, ("results", index, buffer, latest))
                buffer = []
        await loop.run_in_executor(None, outbox.put, ("results", index, buffer, latest))

    try:
        run_in_new_loop(main())
    except BaseException as exc:  # the executor boundary: the driver turns this into an error
        outbox.put(("error", index, f"{type(exc).__name__}: {exc}", None))
        raise
    outbox.put(("done", index, None, None))


def check_urls_in_processes(
    urls: Iterable[str],
    *,
    settings: Settings,
    purposes: Sequence[str],
    workers: int,
    progress: ProgressCallback | None = None,
) -> Iterator[CheckResult]:
    """:func:`~rightful.signals.check.check_urls` over ``workers`` processes (results in completion order)."""
    ctx = mp.get_context("spawn")
    inboxes = [ctx.Queue(maxsize=8) for _ in range(workers)]
    outbox = ctx.Queue(maxsize=4 * workers)
    one = settings.replace(workers=1)
    procs = [
        ctx.Process(target=_worker, args=(i, inboxes[i], outbox, one, tuple(purposes)), daemon=True)
        for i in range(workers)
    ]
    for proc in procs:
        proc.start()
    stop = threading.Event()
    feeder = _Feeder(urls, inboxes, stop)
    feeder.start()
    tracker = Progress(callback=progress)
    stats = _Stats(workers)
    try:
        finished: set[int] = set()
        while len(finished) < workers:
            try:
                kind, index, payload, totals = outbox.get(timeout=_POLL)
            except queue.Empty:
                _check_alive(procs, finished)
                continue
            if kind == "error":
                raise RightfulError(f"check worker {index} failed: {payload}")
            if kind == "done":
                finished.add(index)
                continue
            stats.per_worker[index] = totals
            for result in payload:
                tracker.update(result, stats)
                yield result
        if feeder.error is not None:
            raise feeder.error
    finally:
        stop.set()
        for proc in procs:
            if proc.is_alive() and not _joined(proc, 1.0):
                proc.terminate()
                proc.join(5)
        feeder.join(5)
        for channel in (*inboxes, outbox):
            # Batches a stopped worker never read must not keep this process from exiting.
            channel.cancel_join_thread()
            channel.close()


def _joined(proc: Any, timeout: float) -> bool:
    proc.join(timeout)
    return not proc.is_alive()


def _check_alive(procs: Sequence[Any], finished: set[int]) -> None:
    for index, proc in enumerate(procs):
        if index not in finished and not proc.is_alive():
            raise RightfulError(
                f"check worker {index} exited unexpectedly (exit code {proc.exitcode}); a script using workers > 1"
                " must guard its entry point with `if __name__ == '__main__':`"
            )


class _Feeder(threading.Thread):
    """Routes input URLs to workers in batches; a failure of the input is handed to the consumer."""

    def __init__(self, urls: Iterable[str], inboxes: Sequence[Any], stop: threading.Event) -> None:
        super().__init__(name="rightful-feeder", daemon=True)
        self._urls = urls
        self._inboxes = inboxes
        self._halt = stop
        self.error: BaseException | None = None

    def run(self) -> None:
        batches: list[list[str]] = [[] for _ in self._inboxes]
        try:
            for url in self._urls:
                if self._halt.is_set():
                    return
                index = _route(url, len(self._inboxes))
                batches[index].append(url)
                if len(batches[index]) >= _BATCH:
                    self._put(index, batches[index])
                    batches[index] = []
        except BaseException as exc:
            self.error = exc
        for index, batch in enumerate(batches):
            if batch:
                self._put(index, batch)
        for index in range(len(self._inboxes)):
            self._put(index, None)

    def _put(self, index: int, item: list[str] | None) -> None:
        while not self._halt.is_set():
            try:
                self._inboxes[index].put(item, timeout=_POLL)
                return
            except queue.Full:
                continue
