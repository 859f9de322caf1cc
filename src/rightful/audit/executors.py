"""Executors: where shard tasks run. ``local`` (a process pool on this machine) or ``ray`` (a Ray cluster).

Both run the same :func:`~rightful.audit.task.run_shard` on shard references; workers read their own slice
and write their own outputs, and the driver only learns each shard's counts. A failed shard is retried (a
worker killed mid-shard included) up to ``retries`` times, then reported as failed without stopping the others.
This module is the executor boundary: the one place where any exception from a shard becomes a result.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

from rightful.audit.shards import AuditPaths, Shard
from rightful.audit.task import TaskConfig, run_shard
from rightful.errors import ExecutorError, MissingDependency

__all__ = ["Executor", "LocalExecutor", "RayExecutor", "ShardOutcome", "make_executor"]

ProgressFn = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class ShardOutcome:
    """How one shard ended: its stats, or the error of its last attempt."""

    shard: Shard
    stats: dict[str, Any] | None
    error: str | None = None
    attempts: int = 1


class Executor(Protocol):
    """Runs shard tasks and yields each shard's outcome as it finishes (in any order)."""

    name: str

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def run(
        self, shards: Sequence[Shard], config: TaskConfig, *, progress: ProgressFn | None = None
    ) -> Iterator[ShardOutcome]: ...


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


# --- local -----------------------------------------------------------------------------------------------

_progress_queue: Any = None


def _init_worker(progress_queue: Any) -> None:
    global _progress_queue
    _progress_queue = progress_queue


def _report(n: int) -> None:
    if _progress_queue is not None:
        _progress_queue.put(n)


def _local_task(shard: Shard, config: TaskConfig) -> dict[str, Any]:
    return run_shard(shard, config, report=_report)


class LocalExecutor:
    """A process pool on this machine (``workers`` processes, default: the CPU count); each worker screens
    whole shards with its own asyncio loop for the network and its own thread for file metadata.

    At most ``workers`` shards are in flight, so a worker that dies (OOM killer, ``kill -9``) costs only the
    shards it was running: the pool is rebuilt and those shards are retried.
    """

    name = "local"

    def __init__(self, *, workers: int | None = None, retries: int = 2) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.retries = retries
        self._ctx = multiprocessing.get_context("spawn")
        self._queue: Any = None
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> LocalExecutor:
        self._queue = self._ctx.Queue()
        self._pool = self._new_pool()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._queue is not None:
            self._queue.close()
            self._queue.join_thread()
            self._queue = None

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.workers, mp_context=self._ctx, initializer=_init_worker, initargs=(self._queue,)
        )

    def worker_pids(self) -> list[int]:
        """The worker processes' ids (tests use them to kill one mid-shard)."""
        processes = getattr(self._pool, "_processes", None) or {}
        return sorted(processes)

    def _drain(self, progress: ProgressFn | None) -> None:
        while True:
            try:
                n = self._queue.get_nowait()
            except queue.Empty:
                return
            if progress is not None:
                progress(n)

    def run(
        self, shards: Sequence[Shard], config: TaskConfig, *, progress: ProgressFn | None = None
    ) -> Iterator[ShardOutcome]:
        if self._pool is None:
            raise ExecutorError("LocalExecutor.run() outside its with-block")
        todo = list(reversed(shards))
        attempts: dict[int, int] = {}
        running: dict[Future[dict[str, Any]], Shard] = {}
        paths = AuditPaths(Path(config.out))
        while todo or running:
            while todo and len(running) < self.workers:
                shard = todo.pop()
                try:
                    future = self._pool.submit(_local_task, shard, config)
                except BrokenProcessPool:  # a worker died since the last wait: rebuild before submitting more
                    todo.append(shard)
                    yield from self._rebuild(running, todo, attempts, paths)
                    continue
                attempts[shard.index] = attempts.get(shard.index, 0) + 1
                running[future] = shard
            done, _ = wait(running, timeout=0.2, return_when=FIRST_COMPLETED)
            self._drain(progress)
            broken = False
            for future in done:
                shard = running.pop(future)
                try:
                    yield ShardOutcome(shard, future.result(), attempts=attempts[shard.index])
                    continue
                except BrokenProcessPool as exc:
                    broken, error = True, f"worker died: {_describe(exc)}"
                except Exception as exc:  # the executor boundary: a failed shard is a result
                    error = _describe(exc)
                retry = _retry_or_fail(shard, error, attempts[shard.index], self.retries, paths)
                if isinstance(retry, ShardOutcome):
                    yield retry
                else:
                    todo.append(shard)
            if broken:
                yield from self._rebuild(running, todo, attempts, paths)
        self._drain(progress)

    def _rebuild(
        self, running: dict[Future[dict[str, Any]], Shard], todo: list[Shard], attempts: dict[int, int],
        paths: AuditPaths,
    ) -> Iterator[ShardOutcome]:  # fmt: skip
        """A dead worker breaks the whole pool: start a new one and retry every shard that was in flight."""
        assert self._pool is not None
        self._pool.shutdown(wait=False, cancel_futures=True)
        for shard in running.values():
            retry = _retry_or_fail(shard, "worker died", attempts[shard.index], self.retries, paths)
            if isinstance(retry, ShardOutcome):
                yield retry
            else:
                todo.append(shard)
        running.clear()
        self._pool = self._new_pool()


def _retry_or_fail(shard: Shard, error: str, attempt: int, retries: int, paths: AuditPaths) -> ShardOutcome | None:
    """The shard's outcome if it is finished after all (marker written before a crash) or out of attempts."""
    finished = paths.done(shard for shard in [shard])
    if shard.index in finished:
        return ShardOutcome(shard, finished[shard.index], attempts=attempt)
    if attempt > retries:
        return ShardOutcome(shard, None, error=error, attempts=attempt)
    return None


# --- Ray -------------------------------------------------------------------------------------------------


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise MissingDependency("ray", extra="ray") from exc
    return ray


def _ray_task(shard: Shard, config: TaskConfig) -> dict[str, Any]:
    return run_shard(shard, config)


class RayExecutor:
    """Shard tasks on a Ray cluster: ``address`` attaches to a running one; without it, an already connected
    driver is used, else a local cluster is started (``num_cpus``) and stopped again at the end.

    A cluster this executor did not start is never stopped: leaving only disconnects this driver.
    """

    name = "ray"

    def __init__(self, *, address: str | None = None, num_cpus: int | None = None, retries: int = 2) -> None:
        self.address, self.num_cpus, self.retries = address, num_cpus, retries
        self._ray: Any = None
        self._connected = False
        self.started_cluster = False

    def __enter__(self) -> RayExecutor:
        ray = self._ray = _import_ray()
        if ray.is_initialized():
            return self
        try:
            if self.address:
                ray.init(address=self.address, include_dashboard=False, log_to_driver=False,
                         configure_logging=False)  # fmt: skip
            else:
                ray.init(num_cpus=self.num_cpus or os.cpu_count() or 1, include_dashboard=False,
                         log_to_driver=False, configure_logging=False)  # fmt: skip
                self.started_cluster = True
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = f"the Ray cluster at {self.address}" if self.address else "a local Ray cluster"
            raise ExecutorError(f"cannot start or attach to {where}: {exc}") from exc
        self._connected = True
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._connected and self._ray is not None:
            self._ray.shutdown()  # stops the cluster only when this driver started it
        self._connected = False

    def run(
        self, shards: Sequence[Shard], config: TaskConfig, *, progress: ProgressFn | None = None
    ) -> Iterator[ShardOutcome]:
        ray = self._ray
        if ray is None:
            raise ExecutorError("RayExecutor.run() outside its with-block")
        remote = ray.remote(num_cpus=1, max_retries=self.retries)(_ray_task)
        paths = AuditPaths(Path(config.out))
        window = max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))
        todo = list(reversed(shards))
        attempts: dict[int, int] = {}
        running: dict[Any, Shard] = {}
        while todo or running:
            while todo and len(running) < window:
                shard = todo.pop()
                attempts[shard.index] = attempts.get(shard.index, 0) + 1
                running[remote.remote(shard, config)] = shard
            ready, _ = ray.wait(list(running), num_returns=1, timeout=0.5)
            for ref in ready:
                shard = running.pop(ref)
                try:
                    stats = ray.get(ref)
                except Exception as exc:  # the executor boundary: a failed shard is a result
                    cause = getattr(exc, "cause", None)  # RayTaskError wraps the task's own exception
                    error = _describe(cause if isinstance(cause, BaseException) else exc)
                    retry = _retry_or_fail(shard, error, attempts[shard.index], self.retries, paths)
                    if retry is None:
                        todo.append(shard)
                    else:
                        yield retry
                    continue
                if progress is not None:
                    progress(int(stats.get("rows", 0)))
                yield ShardOutcome(shard, stats, attempts=attempts[shard.index])


def make_executor(name: str, *, workers: int | None = None, address: str | None = None, retries: int = 2) -> Executor:
    """An executor by name: ``local`` or ``ray``."""
    if name == "local":
        return LocalExecutor(workers=workers, retries=retries)
    if name == "ray":
        return RayExecutor(address=address, num_cpus=workers, retries=retries)
    raise ExecutorError(f"unknown executor {name!r}: choose local or ray")
