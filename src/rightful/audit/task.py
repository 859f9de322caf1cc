"""The shard task, and :func:`screen_batch`: the same screening logic for any engine (ours, Spark, Ray Data).

:func:`run_shard` is what every executor runs: open the shard's slice of the input, screen each record with
the signals engine (URLs through one reused async :class:`~rightful.signals.check.Checker`, local files and
archive members through the embedded-metadata readers), decide under the policy, and write the shard's result
file, keep/exclude parts and done marker. Records stream through an ordered window, so memory is bounded by
the window, not by the shard.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import json
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rightful.audit.dedup import item_key
from rightful.audit.policy import AuditPolicy, Screening, decide
from rightful.audit.shards import AuditPaths, Record, Shard, SourceOptions, write_atomic
from rightful.audit.sources import format_for, make_record
from rightful.audit.stats import ShardStats
from rightful.audit.writer import ResultWriter, result_row
from rightful.config import Settings
from rightful.errors import InvalidInput
from rightful.models import CheckResult, ItemError, Purpose
from rightful.signals.base import Findings
from rightful.signals.check import Checker, build_result, check_bytes, check_file
from rightful.signals.policy import combine
from rightful.signals.streaming import run_sync

__all__ = ["TaskConfig", "run_shard", "screen_batch"]

_ALL = tuple(Purpose)
_WINDOW_BYTES = 64 * 1024 * 1024
_FILE_THREADS = 2
_REPORT_EVERY = 0.25
_RECENT = 1024


@dataclass(frozen=True, slots=True)
class TaskConfig:
    """Everything a worker needs besides the shard: picklable, sent once per shard."""

    out: str
    policy: AuditPolicy = field(default_factory=AuditPolicy)
    settings: Settings = field(default_factory=Settings)
    options: SourceOptions = field(default_factory=SourceOptions)
    meta: Mapping[str, Any] = field(default_factory=dict)
    executor: str = "local"


@dataclass(slots=True)
class Screened:
    record: Record
    result: CheckResult
    screening: Screening
    duplicate: bool


# --- checking one record ---------------------------------------------------------------------------------


def _error_result(item: str, code: str, message: str, settings: Settings, *, kind: str) -> CheckResult:
    findings = Findings(errors=[ItemError(code=code, message=message, location=item)])
    return build_result(item, kind, findings, settings=settings, purposes=_ALL, crawl_allowed=None)


def _check_local(record: Record, settings: Settings) -> CheckResult | None:
    if record.data is not None:
        return check_bytes(record.data, name=record.label or record.item, settings=settings, truncated=record.truncated)
    if record.path is not None:
        try:
            return check_file(record.path, settings=settings)
        except InvalidInput as exc:
            return _error_result(record.path, "unreadable-file", str(exc), settings, kind="file")
    return None


def _merge(item: str, online: CheckResult, local: CheckResult, settings: Settings) -> CheckResult:
    """One result from the URL's signals and the downloaded file's: the engine's combination over both."""
    signals = (*online.signals, *local.signals)
    return CheckResult(
        item=item, kind="url+file", verdicts=combine(signals, purposes=_ALL, policy=settings.combine),
        signals=signals, licence=(*online.licence, *local.licence), errors=(*online.errors, *local.errors),
        crawl_allowed=online.crawl_allowed,
    )  # fmt: skip


class _Screener:
    """Screens records through one checker; identical URLs and paths within a run are checked once."""

    def __init__(self, checker: Checker, policy: AuditPolicy) -> None:
        self.checker, self.policy, self.settings = checker, policy, checker.settings
        self._files = asyncio.Semaphore(_FILE_THREADS)
        self._seen: set[str] = set()
        self._recent: collections.OrderedDict[str, asyncio.Future[CheckResult]] = collections.OrderedDict()

    async def _url(self, url: str) -> CheckResult:
        try:
            return await self.checker.check(url)
        except InvalidInput as exc:
            return _error_result(url, "invalid-url", str(exc), self.settings, kind="url")

    async def _local(self, record: Record) -> CheckResult | None:
        if record.path is None and record.data is None:  # a URL-only record: nothing local to read
            return None
        if record.url is None:  # a file-only record: inline, a thread hop would cost more than the read
            return _check_local(record, self.settings)
        async with self._files:
            return await asyncio.to_thread(_check_local, record, self.settings)

    async def check(self, record: Record) -> CheckResult:
        if record.error is not None:
            return _error_result(record.item, "malformed-record", record.error, self.settings, kind="invalid")
        online = await self._url(record.url) if record.url else None
        local = await self._local(record)
        record.data = None  # the bytes are not needed any more; the window must not hold them
        if online is not None and local is not None:
            return _merge(record.item, online, local, self.settings)
        result = online or local
        assert result is not None
        return result

    def start(self, record: Record) -> tuple[asyncio.Future[CheckResult], bool, bool]:
        """The future for a record, whether it repeats an earlier item, and whether the future is shared.

        Every key seen is remembered (for the duplicate flag) but only the last :data:`_RECENT` results are,
        so a shard's memory does not grow with its results; an older repeat is checked again (cheaply: its
        origin's rules are cached).
        """
        key = None if record.error is not None else item_key(record.url, record.path or record.label)
        duplicate = key is not None and key in self._seen
        if key is not None and key in self._recent:
            return self._recent[key], duplicate, True
        future = asyncio.ensure_future(self.check(record))
        if key is not None:
            self._seen.add(key)
            self._recent[key] = future
            if len(self._recent) > _RECENT:
                self._recent.popitem(last=False)
        return future, duplicate, False

    async def screen(self, records: Iterable[Record]) -> AsyncIterator[Screened]:
        """Screened records in input order.

        At most ``window`` checks run at once; finished ones wait (up to ``16 * window`` records, 64 MiB of file
        bytes) for the slowest earlier one, so one slow origin delays the output, never the checking.
        """
        window = max(64, 2 * self.settings.concurrency)
        pending: collections.deque[tuple[Record, asyncio.Future[CheckResult], bool, int]] = collections.deque()
        wake = asyncio.Event()
        state = {"inflight": 0, "held": 0}

        def finished(_: object) -> None:
            state["inflight"] -= 1
            wake.set()

        source = iter(records)
        exhausted = False
        while pending or not exhausted:
            while (not exhausted and state["inflight"] < window and len(pending) < 16 * window
                   and state["held"] < _WINDOW_BYTES):  # fmt: skip
                record = next(source, None)
                if record is None:
                    exhausted = True
                    break
                size = len(record.data) if record.data else 0
                future, duplicate, shared = self.start(record)
                if not shared:
                    state["inflight"] += 1
                    future.add_done_callback(finished)
                pending.append((record, future, duplicate, size))
                state["held"] += size
            if not pending:
                break
            if not pending[0][1].done():
                wake.clear()
                await wake.wait()
                continue
            while pending and pending[0][1].done():
                record, future, duplicate, size = pending.popleft()
                state["held"] -= size
                result = future.result()
                if duplicate:
                    result = _relabel(result, record.item)
                yield Screened(record, result, decide(result, self.policy), duplicate)


def _relabel(result: CheckResult, item: str) -> CheckResult:
    if result.item == item:
        return result
    return CheckResult(item=item, kind=result.kind, verdicts=result.verdicts, signals=result.signals,
                       licence=result.licence, errors=result.errors, crawl_allowed=result.crawl_allowed)  # fmt: skip


# --- one engine per process ------------------------------------------------------------------------------


class _Engine:
    """An event loop and a checker kept for the life of a worker process, so origins stay warm across shards."""

    def __init__(self, settings: Settings) -> None:
        from rightful.signals.streaming import _loop_factory

        self.settings = settings
        self.runner = asyncio.Runner(loop_factory=_loop_factory())
        self.checker = Checker(settings, purposes=_ALL)
        self.runner.run(self.checker.__aenter__())

    def close(self) -> None:
        try:
            self.runner.run(self.checker.__aexit__(None, None, None))
        finally:
            self.runner.close()


_engines: dict[tuple[int, Settings], _Engine] = {}
_engine_lock = threading.Lock()


def _engine(settings: Settings) -> _Engine:
    key = (threading.get_ident(), settings)
    with _engine_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = _Engine(settings)
        return engine


_inherited: list[_Engine] = []


def _forget_engines() -> None:
    """In a forked child: the parent's engines (their loops, sockets, cache connection) are not this process's to
    use or close; they are set aside untouched and the child builds its own."""
    _inherited.extend(_engines.values())
    _engines.clear()


os.register_at_fork(after_in_child=_forget_engines)


@atexit.register
def _close_engines() -> None:
    with _engine_lock:
        engines = list(_engines.values())
        _engines.clear()
    for engine in engines:
        engine.close()


def _in_running_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _run(settings: Settings, make: Callable[[Checker], Any]) -> Any:
    """Run ``make(checker)`` on this thread's engine (or, inside a running loop, on a fresh one in a thread)."""
    if _in_running_loop():

        async def once() -> Any:
            async with Checker(settings, purposes=_ALL) as checker:
                return await make(checker)

        return run_sync(once())
    engine = _engine(settings)
    return engine.runner.run(make(engine.checker))


# --- public entry points ---------------------------------------------------------------------------------


def screen_batch(
    records: Iterable[Mapping[str, Any]] | Mapping[str, Sequence[Any]],
    *,
    policy: AuditPolicy | None = None,
    settings: Settings | None = None,
    url_column: str = "url",
    path_column: str = "path",
) -> Any:
    """Screen a batch of records (dicts with a URL and/or a path column) and return one result row per record.

    Rows carry ``decision`` (keep/exclude), ``status``, ``reasons``, per-purpose verdicts, ``evidence`` (JSON)
    and the record's other columns (as ``carried`` JSON). A columnar batch (``{"url": [...], ...}``, as Ray
    Data's ``map_batches`` passes) gives a columnar answer; a list of dicts (Spark ``mapPartitions``) gives a
    list of dicts. The checker and its origin cache are reused across calls in the same process.
    """
    cfg = settings or Settings.load()
    pol = policy or AuditPolicy()
    options = SourceOptions(url_column=url_column, path_column=path_column)
    columnar = isinstance(records, Mapping)
    if columnar:
        columns = {k: list(v) for k, v in records.items()}  # type: ignore[union-attr]
        n = len(next(iter(columns.values()), []))
        rows: Iterable[Mapping[str, Any]] = ({k: _plain(v[i]) for k, v in columns.items()} for i in range(n))
    else:
        rows = records  # type: ignore[assignment]
    built = [make_record(i, dict(r), options, base=Path.cwd(), raw=None) for i, r in enumerate(rows)]

    async def go(checker: Checker) -> list[dict[str, Any]]:
        screener = _Screener(checker, pol)
        return [result_row(s.record, s.result, s.screening, shard=-1, duplicate=s.duplicate, policy=pol.name)
                async for s in screener.screen(built)]  # fmt: skip

    out: list[dict[str, Any]] = _run(cfg, go)
    if columnar:
        keys = list(out[0]) if out else []
        return {k: [row[k] for row in out] for k in keys}
    return out


def _plain(value: Any) -> Any:
    """numpy scalars (Ray Data batches) to plain Python."""
    item = getattr(value, "item", None)
    return item() if callable(item) and not isinstance(value, bytes | str) else value


def run_shard(shard: Shard, config: TaskConfig, *, report: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Screen one shard and write its outputs; returns the shard's stats (also written as its done marker)."""
    paths = AuditPaths(Path(config.out))
    fmt = format_for(shard.kind)
    started, cpu = time.monotonic(), time.process_time()

    async def go(checker: Checker) -> dict[str, Any]:
        stats = ShardStats(shard=shard.index)
        writer = ResultWriter(paths.result_file(shard))
        parts = fmt.part_writer(shard, paths, config.meta)
        try:
            await _screen_into(fmt.read(shard, config.options), checker, config, stats, writer, parts, report)
            parts.commit()
            writer.commit()
        except BaseException:
            parts.abort()
            writer.abort()
            raise
        return stats.to_dict()

    stats: dict[str, Any] = _run(config.settings, go)
    stats.update(seconds=round(time.monotonic() - started, 3), cpu_seconds=round(time.process_time() - cpu, 3),
                 peak_rss_mib=_peak_rss_mib(), executor=config.executor, pid=os.getpid(), host=os.uname().nodename,
                 policy=config.policy.name)  # fmt: skip
    write_atomic(paths.done_marker(shard), json.dumps(stats, ensure_ascii=False).encode("utf-8"))
    return stats


def _peak_rss_mib() -> float:
    """This worker's peak resident memory so far (the done marker records it: memory must stay flat)."""
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


async def _screen_into(
    records: Iterator[Record], checker: Checker, config: TaskConfig, stats: ShardStats, writer: ResultWriter,
    parts: Any, report: Callable[[int], None] | None,
) -> None:  # fmt: skip
    screener = _Screener(checker, config.policy)
    unreported, last = 0, time.monotonic()
    async for s in screener.screen(records):
        keep = s.screening.decision == "keep"
        writer.add(result_row(s.record, s.result, s.screening, shard=stats.shard, duplicate=s.duplicate,
                              policy=config.policy.name))  # fmt: skip
        parts.add(s.record, keep=keep)
        stats.add(result=s.result, decision=s.screening.decision, status=s.screening.status,
                  protocols=s.screening.protocols, url=s.record.url, name=s.record.label or s.record.path,
                  duplicate=s.duplicate, malformed=s.record.error is not None)  # fmt: skip
        unreported += 1
        if report is not None and time.monotonic() - last > _REPORT_EVERY:
            report(unreported)
            unreported, last = 0, time.monotonic()
    if report is not None and unreported:
        report(unreported)
