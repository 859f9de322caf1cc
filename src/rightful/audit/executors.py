"""Executors: where shard tasks run. ``local`` (a process pool on this machine) or ``ray`` (a Ray cluster).

Both run the same :func:`~rightful.audit.task.run_shard` on shard references; workers read their own slice
and write their own outputs, and the driver only learns each shard's counts. A failed shard is retried (a
worker killed mid-shard included) up to ``retries`` times, then reported as failed without stopping the others.
This module is the executor boundary: the one place where any exception from a shard becomes a result.

Item-level progress travels through the audit folder, not through a queue: a worker rewrites
``work/progress-NNNNNN`` (its shard's running count) a few times a second and the driver reads the files of
the shards in flight. A worker killed mid-write can therefore never wedge a lock the others need (as a killed
writer of a ``multiprocessing.Queue`` can), and the same mechanism serves Ray workers on other machines.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import multiprocessing
import os
import select
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

from rightful._presence import registry_absent
from rightful.audit.shards import FILE_SHARD_SIZE, AuditPaths, Shard
from rightful.audit.task import TaskConfig, run_shard
from rightful.config import Settings
from rightful.errors import ExecutorError, MissingDependency

__all__ = ["Executor", "LocalExecutor", "RayExecutor", "ShardOutcome", "fork_is_safe", "make_executor"]

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


def _start_failed(exc: BaseException) -> ExecutorError:
    return ExecutorError(f"cannot start the local worker pool: {_describe(exc)}")


# --- progress through the audit folder ---------------------------------------------------------------------


def _progress_file(paths: AuditPaths, shard: Shard) -> Path:
    return paths.work / f"progress-{shard.id}"


class _Reporter:
    """Worker side: the shard's running item count, rewritten (tmp + rename, no fsync) on every report."""

    def __init__(self, path: Path) -> None:
        self.path, self.count = path, 0
        self._tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")

    def __call__(self, n: int) -> None:
        self.count += n
        with contextlib.suppress(OSError):  # progress is best effort: a full disk must not fail the shard
            self._tmp.write_bytes(str(self.count).encode())
            os.replace(self._tmp, self.path)


def _task(shard: Shard, config: TaskConfig) -> dict[str, Any]:
    """What a worker runs for one shard (local and Ray alike)."""
    return run_shard(shard, config, report=_Reporter(_progress_file(AuditPaths(Path(config.out)), shard)))


class _Progress:
    """Driver side: turns the progress files of the shards in flight into item increments.

    Each shard counts at most its highest reported number, so a retried shard (whose new attempt counts
    from zero again) is never counted twice; a finished shard tops up to its real row count.
    """

    def __init__(self, paths: AuditPaths, callback: ProgressFn | None) -> None:
        self.paths, self.callback = paths, callback
        self.seen: dict[int, int] = {}

    def _emit(self, shard: Shard, count: int) -> None:
        more = count - self.seen.get(shard.index, 0)
        if more > 0:
            self.seen[shard.index] = count
            if self.callback is not None:
                self.callback(more)

    def poll(self, running: Iterable[Shard]) -> None:
        if self.callback is None:
            return
        for shard in running:
            try:
                count = int(_progress_file(self.paths, shard).read_bytes() or 0)
            except (OSError, ValueError):
                continue
            self._emit(shard, count)

    def finished(self, shard: Shard, stats: dict[str, Any]) -> None:
        self._emit(shard, int(stats.get("rows", 0)))
        with contextlib.suppress(OSError):
            _progress_file(self.paths, shard).unlink(missing_ok=True)


def _retry_or_fail(shard: Shard, error: str, attempt: int, retries: int, paths: AuditPaths) -> ShardOutcome | None:
    """The shard's outcome if it is finished after all (marker written before a crash) or out of attempts."""
    finished = paths.done([shard])
    if shard.index in finished:
        return ShardOutcome(shard, finished[shard.index], attempts=attempt)
    if attempt > retries:
        return ShardOutcome(shard, None, error=error, attempts=attempt)
    return None


#: Imported once by the fork server, so every worker starts with them loaded (the registry pulls in FAISS,
#: SQLAlchemy and SciPy on the first file checked: ~1.6 s per process in all on this project's CI machine).
_PRELOAD = ("rightful.audit.executors", "pandas", "defusedxml.ElementTree", "charset_normalizer", "PIL.ImageOps")
#: Preloaded as well where a registry exists (it brings FAISS, which rules out forking: see :func:`fork_is_safe`).
_REGISTRY = "rightful.registry.findings"


def _preload(settings: Settings | None) -> tuple[str, ...]:
    """What a worker imports before its first shard: the registry (FAISS, SQLAlchemy, SciPy: ≈ 0.7 s of CPU per
    process) only when one exists — screening without a registry never imports it (``rightful._presence``)."""
    if settings is not None and not registry_absent(settings):
        return (*_PRELOAD, _REGISTRY)
    return _PRELOAD


def _import(modules: tuple[str, ...]) -> None:
    """Import ``modules`` (a missing optional one is skipped), and let pyarrow set up pandas (its first table does)."""
    import pyarrow as pa

    for module in modules:
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
    pa.Table.from_pylist([{"warm": 1}])


def _warm(modules: tuple[str, ...] = _PRELOAD) -> int:
    """Pay a worker's one-off costs before its first shard: the imports (already done in a forked local worker,
    not in a Ray one), and pyarrow's set-up of pandas on the first table built. Then everything alive is moved
    out of the garbage collector's sight (``gc.freeze``): a Ray worker's heap is large, and scanning it over and
    over cost a third of each shard's CPU."""
    _import(modules)
    gc.collect()
    gc.freeze()  # what lives now (imports; in Ray, Ray itself) outlives every shard: collections skip it from now on
    return os.getpid()


def _watch_driver(driver: int) -> None:
    """A local worker's initializer: end it soon after the driver process is gone. A driver killed with ``kill -9``
    cannot stop its pool, and an idle worker would wait for work forever (a fork-server worker's own parent, the
    fork server, lives as long as any worker does). A daemon thread waits on a pidfd of the driver (Linux), else
    polls it. A shard cut short leaves only temporary files, which the next run sweeps away."""
    try:
        handle: int | None = os.pidfd_open(driver)
    except (AttributeError, OSError):  # not Linux 5.3+, or the driver is already gone (then the poll says so)
        handle = None

    def watch() -> None:
        if handle is not None:
            select.select([handle], [], [])  # readable once the driver has exited
        else:
            while _alive(driver):
                time.sleep(0.5)
        os._exit(70)  # EX_SOFTWARE; no cleanup: the exit handlers here are copies of the driver's

    threading.Thread(target=watch, name="rightful-driver-watch", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        pass
    return True


#: Loaded, these keep thread pools or device contexts that a forked child cannot use (OpenMP in FAISS and torch,
#: CUDA, Ray's and gRPC's threads).
_FORK_UNSAFE = ("faiss", "torch", "tensorflow", "jax", "ray", "grpc")


def fork_is_safe(modules: tuple[str, ...] = ()) -> bool:
    """Whether workers that import ``modules`` may be started with a plain ``fork`` of this process: on Linux,
    with no other Python thread running (a lock another thread holds would be copied into the child as held
    forever) and nothing loaded, or about to be, that keeps fork-unsafe threads (:data:`_FORK_UNSAFE`; the
    registry brings FAISS). The C libraries' own idle threads (OpenBLAS, jemalloc) handle a fork themselves."""
    if sys.platform != "linux" or threading.active_count() != 1 or _REGISTRY in modules:
        return False
    return not any(name in sys.modules for name in _FORK_UNSAFE)


# --- local -----------------------------------------------------------------------------------------------


class LocalExecutor:
    """A process pool on this machine (``workers`` processes, default: the CPU count); each worker screens
    whole shards with its own asyncio loop for the network and its own thread for file metadata.

    How workers start (``start_method``): ``auto`` (the default) forks them straight from the driver when
    :func:`fork_is_safe` (Linux, the driver's only thread, no FAISS/torch/Ray loaded): the driver imports the
    audit's modules (:data:`_PRELOAD`) and the workers exist a few milliseconds later with everything loaded.
    Otherwise (other threads running, e.g. a web server; a registry to match against; macOS) — or with
    ``forkserver`` — workers are forked from a ``forkserver`` that imported the same modules once; that first
    start (~1-2 s) runs in a background thread, and until it is done the driver screens small shards itself in
    one thread (``driver_helps``; see :meth:`_may_help`), so the start costs neither an idle CPU nor the
    caller's time. Either way a pool rebuilt after a crash starts in milliseconds, and workers end by themselves
    when the driver is gone (:func:`_watch_driver`). A run of a single shard starts no pool at all: the driver
    screens it. At most ``workers`` shards are in the pool at once, so a worker that dies (OOM killer,
    ``kill -9``) costs only the shards it was running: the pool is rebuilt and those shards are retried.
    """

    name = "local"

    def __init__(
        self, *, workers: int | None = None, retries: int = 2, driver_helps: bool = True, start_method: str = "auto"
    ) -> None:
        if start_method not in ("auto", "fork", "forkserver"):
            raise ExecutorError(f"unknown start method {start_method!r}: choose auto, fork or forkserver")
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.retries, self.driver_helps, self.start_method = retries, driver_helps, start_method
        self._ctx = multiprocessing.get_context("forkserver")
        self._pool: ProcessPoolExecutor | None = None
        self._inline: ThreadPoolExecutor | None = None
        self._starting: threading.Thread | None = None
        self._start_error: BaseException | None = None
        self._modules: tuple[str, ...] = _PRELOAD
        #: How the current pool's workers were started (``fork`` or ``forkserver``); None before the first pool.
        self.method: str | None = None

    def __enter__(self) -> LocalExecutor:
        self._inline = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rightful-driver-shard")
        return self

    def start(self, settings: Settings | None = None) -> None:
        """Start the worker pool in the background, if not yet done (:meth:`run` does when it has 2+ shards)."""
        if self._pool is None and self._starting is None:
            self._modules = _preload(settings)
            self._ctx.set_forkserver_preload(list(self._modules))  # used when the forkserver first starts
            if self._forks():  # now, in this thread: the children are copies of this process with its imports
                try:
                    _import(self._modules)
                    self._pool = self._new_pool(fork=True)
                except Exception as exc:
                    raise _start_failed(exc) from exc
                return
            self._starting = threading.Thread(target=self._start, name="rightful-pool-start", daemon=True)
            self._starting.start()

    def _forks(self) -> bool:
        """Whether the next pool forks its workers from this process (see the class notes)."""
        return self.start_method == "fork" or (self.start_method == "auto" and fork_is_safe(self._modules))

    def _start(self) -> None:
        try:
            self._pool = self._new_pool()
        except BaseException as exc:  # re-raised in the caller's thread by _ready()
            self._start_error = exc

    def _state(self) -> str:
        """``idle`` (no pool: the driver runs a lone shard), ``starting``, or ``ready``."""
        if self._starting is not None and self._starting.is_alive():
            return "starting"
        return "idle" if self._pool is None and self._starting is None else "ready"

    def _ready(self) -> ProcessPoolExecutor | None:
        if self._starting is not None:
            self._starting.join()
            self._starting = None
        if self._start_error is not None:
            error, self._start_error = self._start_error, None
            raise _start_failed(error) from error
        return self._pool

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._starting is not None:  # a start still under way finishes first (then the pool is stopped)
            self._starting.join()
            self._starting = None
        self._start_error = None
        if self._inline is not None:
            self._inline.shutdown(wait=True, cancel_futures=True)
            self._inline = None
        if self._pool is not None:  # on an error, do not wait for warm-ups or shards before reporting it
            self._pool.shutdown(wait=exc_type is None, cancel_futures=True)
            self._pool = None

    def _new_pool(self, *, fork: bool | None = None) -> ProcessPoolExecutor:
        """A pool with its workers started: forked from here (``fork``; by default when :meth:`_forks`), else
        from the fork server."""
        forks = self._forks() if fork is None else fork
        self.method = "fork" if forks else "forkserver"
        context = multiprocessing.get_context("fork") if forks else self._ctx
        pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context, initializer=_watch_driver,
                                   initargs=(os.getpid(),))  # fmt: skip
        if not forks:
            return self._submit_warm(pool)
        gc.freeze()  # the driver's objects out of the children's collections: they would copy every page they scan
        try:
            with warnings.catch_warnings():  # Python 3.12+ counts the C libraries' idle threads (see fork_is_safe)
                warnings.filterwarnings("ignore", message=".*multi-threaded.*fork", category=DeprecationWarning)
                return self._submit_warm(pool)  # a fork pool starts all its workers on the first submit
        finally:
            gc.unfreeze()

    def _submit_warm(self, pool: ProcessPoolExecutor) -> ProcessPoolExecutor:
        for _ in range(self.workers):  # one submit per worker: the pool starts them all now, not on demand
            pool.submit(_warm, self._modules)
        return pool

    def worker_pids(self) -> list[int]:
        """The worker processes' ids, starting the pool first if needed (tests use them to kill one)."""
        self.start()
        processes = getattr(self._ready(), "_processes", None) or {}
        return sorted(processes)

    def run(
        self, shards: Sequence[Shard], config: TaskConfig, *, progress: ProgressFn | None = None
    ) -> Iterator[ShardOutcome]:
        if self._inline is None:
            raise ExecutorError("LocalExecutor.run() outside its with-block")
        state = _LocalRun(shards, AuditPaths(Path(config.out)), _Progress(AuditPaths(Path(config.out)), progress))
        if len(shards) > 1:
            self.start(config.settings)
        while state.todo or state.running:
            yield from self._submit(state, config)
            done, _ = wait(state.running, timeout=0.2, return_when=FIRST_COMPLETED)
            state.counter.poll(state.running.values())
            broken = False
            for future in done:
                shard = state.running.pop(future)
                try:
                    stats = future.result()
                except BrokenProcessPool as exc:
                    broken, error = True, f"worker died: {_describe(exc)}"
                except Exception as exc:  # the executor boundary: a failed shard is a result
                    error = _describe(exc)
                else:
                    state.counter.finished(shard, stats)
                    yield ShardOutcome(shard, stats, attempts=state.attempts[shard.index])
                    continue
                yield from state.retry(shard, error, self.retries)
            if broken:
                yield from self._rebuild(state)

    def _submit(self, state: _LocalRun, config: TaskConfig) -> Iterator[ShardOutcome]:
        """Fill the pool (at most ``workers`` shards in it); while it is still starting, the driver's thread."""
        while state.todo:
            phase = self._state()
            if phase != "ready":
                if state.inline_busy() or (phase == "starting" and not self._may_help(state.todo[-1])):
                    return
                assert self._inline is not None
                state.start(self._inline.submit(_task, state.todo[-1], config), inline=True)
                continue
            pool = self._ready()
            assert pool is not None
            if state.in_pool() >= self.workers:
                return
            try:
                future = pool.submit(_task, state.todo[-1], config)
            except BrokenProcessPool:  # a worker died since the last wait: rebuild before submitting more
                yield from self._rebuild(state)
                continue
            state.start(future, inline=False)

    def _may_help(self, shard: Shard) -> bool:
        """Whether the driver takes this shard while the pool starts: only a small one (at most
        :data:`~rightful.audit.shards.FILE_SHARD_SIZE` items, a fraction of a second of file reads), so that the
        driver never holds a long shard at the tail of the run while the pool's workers sit idle."""
        return self.driver_helps and shard.rows is not None and shard.rows <= FILE_SHARD_SIZE

    def _rebuild(self, state: _LocalRun) -> Iterator[ShardOutcome]:
        """A dead worker breaks the whole pool: start a new one and retry every shard that was in it.

        The old pool is shut down *and waited for*: its surviving workers are terminated by the pool, and a
        retried shard must not start while the old attempt could still be writing the same files.
        """
        assert self._pool is not None
        self._pool.shutdown(wait=True, cancel_futures=True)
        for future, shard in list(state.running.items()):
            if future not in state.inline:
                del state.running[future]
                yield from state.retry(shard, "worker died", self.retries)
        self._pool = self._new_pool()


class _LocalRun:
    """The bookkeeping of one :meth:`LocalExecutor.run`: shards to do, in flight (and where), attempts."""

    def __init__(self, shards: Sequence[Shard], paths: AuditPaths, counter: _Progress) -> None:
        self.todo = list(reversed(shards))
        self.paths, self.counter = paths, counter
        self.attempts: dict[int, int] = {}
        self.running: dict[Future[dict[str, Any]], Shard] = {}
        self.inline: set[Future[dict[str, Any]]] = set()

    def start(self, future: Future[dict[str, Any]], *, inline: bool) -> None:
        shard = self.todo.pop()
        self.attempts[shard.index] = self.attempts.get(shard.index, 0) + 1
        self.running[future] = shard
        if inline:
            self.inline.add(future)

    def inline_busy(self) -> bool:
        self.inline &= set(self.running)
        return bool(self.inline)

    def in_pool(self) -> int:
        return sum(1 for f in self.running if f not in self.inline)

    def retry(self, shard: Shard, error: str, retries: int) -> Iterator[ShardOutcome]:
        outcome = _retry_or_fail(shard, error, self.attempts[shard.index], retries, self.paths)
        if outcome is None:
            self.todo.append(shard)
        else:
            yield outcome


# --- Ray -------------------------------------------------------------------------------------------------


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise MissingDependency("ray", extra="ray") from exc
    return ray


class RayExecutor:
    """Shard tasks on a Ray cluster: ``address`` attaches to a running one; without it, an already connected
    driver is used, else a local cluster is started (``num_cpus``) and stopped again at the end.

    Each shard is one task (1 CPU); Ray reuses its worker processes across tasks, and each process keeps its
    checker and origin cache (see :mod:`rightful.audit.task`), so nothing is re-imported or rebuilt per shard.
    Entering warms one worker per CPU in the background. A cluster this executor did not start is never
    stopped: leaving only disconnects this driver.
    """

    name = "ray"

    def __init__(self, *, address: str | None = None, num_cpus: int | None = None, retries: int = 2) -> None:
        self.address, self.num_cpus, self.retries = address, num_cpus, retries
        self._ray: Any = None
        self._connected = False
        self._warming: list[Any] = []
        self.started_cluster = False

    def __enter__(self) -> RayExecutor:
        ray = self._ray = _import_ray()
        if not ray.is_initialized():
            self._init(ray)
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        warm = ray.remote(num_cpus=1)(_warm)
        self._warming = [warm.remote() for _ in range(cpus)]
        return self

    def _init(self, ray: Any) -> None:
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

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._warming = []
        if self._connected and self._ray is not None:
            self._ray.shutdown()  # stops the cluster only when this driver started it
        self._connected = False

    def run(
        self, shards: Sequence[Shard], config: TaskConfig, *, progress: ProgressFn | None = None
    ) -> Iterator[ShardOutcome]:
        ray = self._ray
        if ray is None:
            raise ExecutorError("RayExecutor.run() outside its with-block")
        remote = ray.remote(num_cpus=1, max_retries=self.retries)(_task)
        paths = AuditPaths(Path(config.out))
        counter = _Progress(paths, progress)
        window = max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))
        todo = list(reversed(shards))
        attempts: dict[int, int] = {}
        running: dict[Any, Shard] = {}
        while todo or running:
            while todo and len(running) < window:
                shard = todo.pop()
                attempts[shard.index] = attempts.get(shard.index, 0) + 1
                running[remote.remote(shard, config)] = shard
            ready, _ = ray.wait(list(running), num_returns=1, timeout=0.25)
            counter.poll(running.values())
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
                counter.finished(shard, stats)
                yield ShardOutcome(shard, stats, attempts=attempts[shard.index])


def make_executor(name: str, *, workers: int | None = None, address: str | None = None, retries: int = 2) -> Executor:
    """An executor by name: ``local`` or ``ray``."""
    if name == "local":
        return LocalExecutor(workers=workers, retries=retries)
    if name == "ray":
        return RayExecutor(address=address, num_cpus=workers, retries=retries)
    raise ExecutorError(f"unknown executor {name!r}: choose local or ray")
