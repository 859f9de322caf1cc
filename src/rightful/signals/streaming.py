"""Bridges from the async engine to sync callers, and progress accounting for long runs."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from rightful.models import CheckResult

__all__ = ["Progress", "ProgressCallback", "iterate_in_thread", "run_in_new_loop", "run_sync"]

T = TypeVar("T")
_DONE = object()


@dataclass(slots=True)
class Progress:
    """Running totals of a bulk check; ``callback`` is called after every item."""

    callback: ProgressCallback | None = None
    done: int = 0
    reserved: int = 0
    errors: int = 0
    requests: int = 0
    origins: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    def update(self, result: CheckResult, stats: Any) -> None:
        self.done += 1
        self.reserved += result.reserved
        self.errors += bool(result.errors)
        self.requests = stats.total_requests
        self.origins = stats.origins
        if self.callback is not None:
            self.callback(self)


ProgressCallback = Callable[[Progress], None]


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed (roughly twice aiohttp's request rate), else the standard loop."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run_in_new_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` in a fresh event loop (uvloop when installed) on this thread."""
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(coro)


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, even when the caller already has a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run_in_new_loop(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = run_in_new_loop(coro)
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name="rightful-sync", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


def iterate_in_thread(agen: AsyncIterator[T], *, buffer: int = 1024) -> Iterator[T]:
    """Consume an async iterator on a worker thread's loop and yield its items here (bounded buffer)."""
    items: queue.Queue[Any] = queue.Queue(maxsize=buffer)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    async def pump() -> None:
        try:
            async for item in agen:
                try:
                    items.put_nowait(item)
                except queue.Full:  # back-pressure without blocking the loop's other work
                    if not await asyncio.to_thread(put, item):
                        break
                if stop.is_set():
                    break
        except BaseException as exc:
            put(_Raised(exc))
        finally:
            with contextlib.suppress(BaseException):
                await agen.aclose()  # type: ignore[attr-defined]
            put(_DONE)

    thread = threading.Thread(target=lambda: run_in_new_loop(pump()), name="rightful-stream", daemon=True)
    thread.start()
    try:
        while True:
            item = items.get()
            if item is _DONE:
                break
            if isinstance(item, _Raised):
                raise item.exc
            yield item
    finally:
        stop.set()
        thread.join(timeout=30)


@dataclass(frozen=True, slots=True)
class _Raised:
    exc: BaseException
