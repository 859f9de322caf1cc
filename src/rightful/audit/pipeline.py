"""``audit_dataset``: plan shards, run them on an executor, resume what is done, then write the outputs.

An audit folder ``DIR`` holds ``plan.json`` (the shards), ``results/`` (one Parquet file and one done marker
per shard), ``parts/`` (per-shard keep/exclude pieces), ``work/`` (a folder's listing, the cross-shard
seen-set, progress counts), and the final outputs: ``keep.<fmt>``, ``exclude.<fmt>``, ``report.html``,
``training-summary.md``/``.json`` and ``audit.json``. Rerunning the same
command over the same ``DIR`` skips finished shards; a different input or policy is refused rather than mixed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rightful._version import __version__
from rightful.audit.dedup import SeenSet
from rightful.audit.executors import Executor, ShardOutcome, make_executor
from rightful.audit.policy import AuditPolicy
from rightful.audit.shards import AuditPaths, Plan, Shard, SourceOptions, write_atomic
from rightful.audit.sources import open_source
from rightful.audit.stats import AuditTotals
from rightful.audit.task import TaskConfig
from rightful.config import Settings
from rightful.errors import AuditError, ShardFailed
from rightful.models import utcnow

__all__ = ["AuditOptions", "AuditProgress", "AuditResult", "audit_dataset", "load_audit"]


@dataclass(frozen=True, slots=True)
class AuditOptions:
    """How to run an audit. ``executor`` is ``local`` or ``ray``; ``restart`` discards an earlier run in DIR."""

    policy: AuditPolicy = field(default_factory=AuditPolicy)
    source: SourceOptions = field(default_factory=SourceOptions)
    kind: str | None = None
    executor: str = "local"
    workers: int | None = None
    address: str | None = None
    retries: int = 2
    restart: bool = False
    dataset_name: str | None = None
    report: bool = True


@dataclass(frozen=True, slots=True)
class AuditProgress:
    """Where a running audit stands (sent to the progress callback)."""

    items: int
    total_items: int | None
    shards_done: int
    shards_total: int
    shards_skipped: int
    shards_failed: int
    elapsed: float

    @property
    def rate(self) -> float:
        return self.items / self.elapsed if self.elapsed > 0 else 0.0


@dataclass(frozen=True, slots=True)
class AuditResult:
    """What an audit produced: counts, output paths, and which shards ran, were skipped or failed."""

    out: Path
    kind: str
    totals: AuditTotals
    outputs: dict[str, Path]
    shards_total: int
    shards_run: int
    shards_skipped: int
    failed: tuple[ShardOutcome, ...] = ()
    seconds: float = 0.0
    warnings: tuple[str, ...] = ()


_held_locks: set[int] = set()


def _close_held_locks() -> None:
    """In a forked worker: point its copies of the folder locks at /dev/null, so each lock ends with the driver
    alone (an ``flock`` lives as long as any copy of its descriptor). The numbers stay open, so nothing that
    later closes them in the child can close another file by mistake."""
    if not _held_locks:
        return
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        for fd in _held_locks:
            with contextlib.suppress(OSError):
                os.dup2(null, fd)
    finally:
        os.close(null)
    _held_locks.clear()


os.register_at_fork(after_in_child=_close_held_locks)


@contextmanager
def _locked(paths: AuditPaths) -> Iterator[None]:
    """One audit per folder at a time (a second one would interleave writes)."""
    paths.root.mkdir(parents=True, exist_ok=True)
    with (paths.root / ".lock").open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AuditError(f"another audit is running in {paths.root}", out=str(paths.root)) from None
        _held_locks.add(fh.fileno())
        try:
            yield
        finally:
            _held_locks.discard(fh.fileno())


def _reset(paths: AuditPaths) -> None:
    for name in ("results", "parts", "work"):
        shutil.rmtree(paths.root / name, ignore_errors=True)
    for item in paths.root.iterdir():
        if item.name.startswith(("keep.", "exclude.", "plan.json", "report.html", "training-summary", "audit.json")):
            shutil.rmtree(item) if item.is_dir() else item.unlink()


def _plan(source: Path, paths: AuditPaths, options: AuditOptions, settings: Settings) -> Plan:
    """The saved plan when resuming the same audit, else a new one (saved before any shard runs)."""
    kind, fmt = open_source(source, kind=options.kind)
    source_options = options.source.resolved(kind)
    decision = {"policy": options.policy.name, "token_policy": settings.policy, "combine": settings.combine}
    if paths.plan.exists():
        try:
            saved = Plan.from_dict(json.loads(paths.plan.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise AuditError(f"{paths.plan} is unreadable ({exc}); rerun with --restart") from exc
        current = Plan(source=str(source.resolve()), kind=kind, options=source_options, shards=(),
                       signature=fmt.signature(source))  # fmt: skip
        if saved.fingerprint != current.fingerprint:
            raise AuditError(
                f"{paths.root} holds an audit of another input, or the input or options changed since "
                f"({saved.source}, {saved.kind}). Use another --out, or --restart to start over",
                out=str(paths.root),
            )
        if saved.meta.get("decision") != decision:
            raise AuditError(
                f"{paths.root} was audited under {saved.meta.get('decision')}, not {decision}. Use another --out, "
                "or --restart to start over",
                out=str(paths.root),
            )
        return saved
    draft = fmt.plan(source, source_options, paths)
    plan = Plan(source=str(source.resolve()), kind=kind, options=source_options, shards=tuple(draft.shards),
                signature=fmt.signature(source), meta={**draft.meta, "decision": decision},
                warnings=tuple(draft.warnings))  # fmt: skip
    write_atomic(paths.plan, json.dumps(plan.to_dict(), indent=1).encode("utf-8"))
    return plan


def audit_dataset(
    source: str | Path,
    out: str | Path,
    *,
    options: AuditOptions | None = None,
    settings: Settings | None = None,
    executor: Executor | None = None,
    progress: Callable[[AuditProgress], None] | None = None,
) -> AuditResult:
    """Screen a whole dataset: every item checked, kept or excluded with reasons, outputs in the input's format.

    An ``executor`` passed in must already be entered (``with LocalExecutor() as ex:``) and stays open, so
    several audits can share one pool or one Ray connection; without one, ``options.executor`` names it.

    Raises :class:`~rightful.errors.InvalidInput` for an input it cannot read, :class:`AuditError` for an
    output folder it cannot use, and :class:`ShardFailed` when shards still failed after their retries (the
    finished ones are kept: rerunning resumes).
    """
    opts = options or AuditOptions()
    cfg = settings or Settings.load()
    cfg = cfg.replace(home=cfg.home.expanduser().resolve())
    src, paths = Path(source).expanduser(), AuditPaths(Path(out).expanduser().resolve())
    started = time.monotonic()
    with _locked(paths):
        if opts.restart:
            _reset(paths)
        paths.make()
        _sweep(paths)
        plan, done, todo, failed = _execute(src, paths, opts, cfg, executor, _Callback(progress, started))
        markers = paths.done(plan.shards)
        totals = AuditTotals.from_markers(markers[i] for i in sorted(markers))
        result = AuditResult(out=paths.root, kind=plan.kind, totals=totals, outputs={}, shards_total=len(plan.shards),
                             shards_run=len(todo) - len(failed), shards_skipped=len(done), failed=tuple(failed),
                             seconds=time.monotonic() - started, warnings=plan.warnings)  # fmt: skip
        if failed:
            _write_audit_json(paths, plan, opts, cfg, result, complete=False)
            first = failed[0]
            raise ShardFailed(
                f"{len(failed)} of {len(plan.shards)} shards failed (shard {first.shard.id}: {first.error}). "
                "Finished shards are kept: rerun the same command to retry the rest",
                out=str(paths.root),
            )
        outputs = _finish(paths, plan, opts, cfg, result)
        result = AuditResult(**{**_fields(result), "outputs": outputs, "seconds": time.monotonic() - started})
        _write_audit_json(paths, plan, opts, cfg, result, complete=True)
        return result


def _execute(
    src: Path, paths: AuditPaths, opts: AuditOptions, cfg: Settings, executor: Executor | None, progress: _Callback
) -> tuple[Plan, dict[int, dict[str, Any]], list[Shard], list[ShardOutcome]]:
    """Plan, run the unfinished shards, and merge duplicates in shard order as they finish.

    Returns the plan, the shards already done before, the shards run now and those that failed.
    """
    failed: list[ShardOutcome] = []
    with contextlib.ExitStack() as stack:
        plan = _plan(src, paths, opts, cfg)
        done = paths.done(plan.shards)
        todo = [s for s in plan.shards if s.index not in done]
        seen = SeenSet(paths, plan.shards, unique_keys=plan.kind == "folder")  # a listing names each file once
        stack.callback(seen.close)
        seen.advance(done)
        run = _Run(plan, len(done), sum(int(m.get("rows", 0)) for m in done.values()), progress.fn, progress.started)
        config = TaskConfig(out=str(paths.root), policy=opts.policy, settings=cfg, options=plan.options,
                            meta=plan.meta, executor=executor.name if executor else opts.executor)  # fmt: skip
        if todo:
            engine = executor or stack.enter_context(_make(opts))
            finished = set(done)
            for outcome in engine.run(todo, config, progress=run.add_items):
                if outcome.stats is None:
                    failed.append(outcome)
                else:
                    finished.add(outcome.shard.index)
                    seen.advance(finished)  # in shard order, while later shards still run
                run.shard(outcome)
    return plan, done, todo, failed


def _make(opts: AuditOptions) -> Executor:
    return make_executor(opts.executor, workers=opts.workers, address=opts.address, retries=opts.retries)


def _sweep(paths: AuditPaths) -> None:
    """Remove the temporary and progress files of attempts killed in an earlier run (each names its own)."""
    for folder in (paths.results, paths.parts, paths.work):
        for tmp in [*folder.glob(".*.tmp"), *folder.glob("progress-*")]:
            with contextlib.suppress(OSError):
                shutil.rmtree(tmp) if tmp.is_dir() else tmp.unlink()


def _fields(result: AuditResult) -> dict[str, Any]:
    return {name: getattr(result, name) for name in AuditResult.__dataclass_fields__}


@dataclass(frozen=True, slots=True)
class _Callback:
    """The caller's progress callback, and when the audit started (for the rate)."""

    fn: Callable[[AuditProgress], None] | None
    started: float


class _Run:
    """Progress accounting for the callback."""

    def __init__(self, plan: Plan, skipped: int, skipped_items: int, callback: Any, started: float) -> None:
        self.plan, self.skipped, self.callback, self.started = plan, skipped, callback, started
        self.done, self.failed = skipped, 0
        self._items = skipped_items
        self._emit()

    def add_items(self, n: int) -> None:
        self._items += n
        self._emit()

    def shard(self, outcome: ShardOutcome) -> None:
        self.done += outcome.stats is not None
        self.failed += outcome.stats is None
        self._emit()

    def _emit(self) -> None:
        if self.callback is not None:
            self.callback(AuditProgress(
                items=self._items, total_items=self.plan.total_rows, shards_done=self.done,
                shards_total=len(self.plan.shards), shards_skipped=self.skipped, shards_failed=self.failed,
                elapsed=time.monotonic() - self.started,
            ))  # fmt: skip


def _finish(paths: AuditPaths, plan: Plan, opts: AuditOptions, cfg: Settings, result: AuditResult) -> dict[str, Path]:
    """Merge the parts into keep/exclude outputs, then the report and the training summary."""
    from rightful.audit.sources import format_for

    fmt = format_for(plan.kind)
    outputs: dict[str, Path] = {"results": paths.results}
    for decision in ("keep", "exclude"):
        dest = paths.root / f"{decision}{fmt.suffix if plan.kind != 'hf' else '.hf'}"
        parts = [(s, paths.part(s, decision, fmt.suffix)) for s in plan.shards]
        fmt.merge(parts, dest, plan.meta)
        outputs[decision] = dest
    ranked = dict(sorted(result.totals.domains.items(), key=lambda kv: (-kv[1][0], kv[0])))
    write_atomic(paths.root / "domains.json", json.dumps(ranked).encode("utf-8"))
    outputs["domains"] = paths.root / "domains.json"
    info = audit_info(plan, opts, cfg, result)
    if opts.report:
        from rightful.audit.report import write_report
        from rightful.audit.summary import write_training_summary

        outputs["report"] = write_report(paths, info, result.totals)
        md, js = write_training_summary(paths.root, [info])
        outputs["training_summary_md"], outputs["training_summary_json"] = md, js
    return outputs


def audit_info(plan: Plan, opts: AuditOptions, cfg: Settings, result: AuditResult) -> dict[str, Any]:
    """The facts about one audit that the report, the summary and ``audit.json`` share."""
    return {
        "rightful_version": __version__,
        "dataset": opts.dataset_name or Path(plan.source).name,
        "source": plan.source,
        "kind": plan.kind,
        "policy": opts.policy.name,
        "purposes": [p.value for p in opts.policy.purposes],
        "on_unknown": opts.policy.on_unknown,
        "executor": opts.executor,
        "user_agent": cfg.user_agent,
        "own_token": cfg.own_token,
        "token_policy": cfg.policy,
        "combine": cfg.combine,
        "finished_at": utcnow().isoformat(),
        "seconds": round(result.seconds, 3),
        "shards": {
            "total": result.shards_total,
            "run": result.shards_run,
            "skipped": result.shards_skipped,
            "failed": len(result.failed),
        },
        "warnings": list(result.warnings),
        "totals": result.totals.to_dict(),
        "top_domains": [list(t) for t in result.totals.top_domains(1000)],
        "domains_total": len(result.totals.domains),
    }


def _write_audit_json(
    paths: AuditPaths, plan: Plan, opts: AuditOptions, cfg: Settings, result: AuditResult, *, complete: bool
) -> None:
    info = audit_info(plan, opts, cfg, result)
    info["complete"] = complete
    info["outputs"] = {k: str(v) for k, v in result.outputs.items()}
    info["failed"] = [{"shard": f.shard.id, "error": f.error, "attempts": f.attempts} for f in result.failed]
    write_atomic(paths.audit_json, json.dumps(info, indent=1, ensure_ascii=False).encode("utf-8"))


def load_audit(out: str | Path) -> dict[str, Any]:
    """The ``audit.json`` of a finished audit folder (for merging training summaries)."""
    path = AuditPaths(Path(out)).audit_json
    try:
        info: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AuditError(f"{out} is not an audit folder (no audit.json): run rightful audit first") from None
    except (OSError, ValueError) as exc:
        raise AuditError(f"cannot read {path}: {exc}") from exc
    if not info.get("complete"):
        raise AuditError(f"the audit in {out} is not complete: rerun rightful audit to finish it")
    return info
