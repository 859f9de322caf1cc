"""``rightful audit INPUT --out DIR``: screen a dataset; ``rightful training-summary DIR…``: merge summaries."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from rightful.audit.pipeline import AuditOptions, AuditProgress, AuditResult, audit_dataset
from rightful.audit.policy import AuditPolicy
from rightful.audit.shards import SourceOptions
from rightful.audit.summary import merge_summaries
from rightful.cli._common import console, err_console, fail, handle_errors
from rightful.config import Settings

__all__ = ["audit", "training_summary"]


def audit(
    source: Annotated[Path, typer.Argument(help="The dataset: a folder, .csv/.tsv/.jsonl/.parquet, tars, …")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Audit folder (results, keep/exclude, report).")],
    purpose: Annotated[
        list[str] | None,
        typer.Option("--purpose", "-p", help="What the data is for (repeatable; default genai-training)."),
    ] = None,
    on_unknown: Annotated[
        str, typer.Option("--on-unknown", help="keep or exclude items no signal speaks about.")
    ] = "keep",
    executor: Annotated[str, typer.Option(help="local (process pool) or ray.")] = "local",
    address: Annotated[str | None, typer.Option(help="Ray cluster address to attach to (with --executor ray).")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Worker processes / Ray CPUs (default: all).")] = None,
    url_column: Annotated[str, typer.Option("--url-column", help="Column holding the URL.")] = "url",
    path_column: Annotated[str, typer.Option("--path-column", help="Column holding a local path.")] = "path",
    shard_size: Annotated[
        int | None, typer.Option("--shard-size", min=1, help="Items per shard (default: 10000 rows, 1000 files).")
    ] = None,
    encoding: Annotated[str, typer.Option(help="Text encoding of CSV/TSV input.")] = "utf-8",
    kind: Annotated[str | None, typer.Option(help="Force the input kind (csv, jsonl, parquet, …).")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Dataset name in the report and summary.")] = None,
    retries: Annotated[int, typer.Option(min=0, help="Retries per failed shard.")] = 2,
    restart: Annotated[bool, typer.Option("--restart", help="Discard an earlier audit in --out.")] = False,
    allow_private: Annotated[
        bool, typer.Option("--allow-private", help="Allow loopback/private addresses (local testing).")
    ] = False,
    policy: Annotated[str | None, typer.Option(help="robots.txt token policy: any-ai-token or own-token.")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not read or write the origin cache.")] = False,
    concurrency: Annotated[int | None, typer.Option(min=1, help="Requests in flight per worker.")] = None,
    timeout: Annotated[float | None, typer.Option(min=0.1, help="Read timeout per request, seconds.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as one JSON object.")] = False,
    progress: Annotated[
        bool | None, typer.Option("--progress/--no-progress", help="Progress bar on stderr (default: on a TTY).")
    ] = None,
) -> None:
    """Screen a whole dataset: keep what may be used for PURPOSE, exclude what is reserved, and prove it.

    Writes DIR/results/ (Parquet, one row per item with reasons and evidence), DIR/keep.<fmt> and
    DIR/exclude.<fmt> in the input's own format, DIR/report.html and DIR/training-summary.md/.json.
    Rerunning the same command resumes an interrupted audit.
    """
    with handle_errors():
        if executor not in ("local", "ray"):
            raise fail(f"--executor must be local or ray, not {executor!r}")
        if address and executor != "ray":
            raise fail("--address needs --executor ray")
        options = AuditOptions(
            policy=AuditPolicy.from_names(purpose, on_unknown=on_unknown),
            source=SourceOptions(url_column=url_column, path_column=path_column, encoding=encoding,
                                 shard_size=shard_size),
            kind=kind, executor=executor, workers=workers, address=address, retries=retries, restart=restart,
            dataset_name=name,
        )  # fmt: skip
        settings = Settings.load(
            policy=policy, allow_private=allow_private or None, concurrency=concurrency, read_timeout=timeout,
            cache=False if no_cache else None,
        )  # fmt: skip
        show = progress if progress is not None else err_console.is_terminal
        with _progress_bar(show) as on_progress:
            result = audit_dataset(source, out, options=options, settings=settings, progress=on_progress)
    if as_json:
        sys.stdout.write(json.dumps(_as_dict(result), ensure_ascii=False) + "\n")
    else:
        _render(result)


def _as_dict(result: AuditResult) -> dict[str, object]:
    return {
        "out": str(result.out), "kind": result.kind, "totals": result.totals.to_dict(),
        "outputs": {k: str(v) for k, v in result.outputs.items()}, "shards": result.shards_total,
        "shards_run": result.shards_run, "shards_skipped": result.shards_skipped, "seconds": round(result.seconds, 3),
        "warnings": list(result.warnings),
    }  # fmt: skip


def _render(result: AuditResult) -> None:
    t = result.totals
    table = Table(title=f"audit of {escape(str(result.out))}", title_justify="left")
    table.add_column("", no_wrap=True)
    table.add_column("items", justify="right")
    table.add_column("share", justify="right")
    rows = [
        ("kept", t.keep), ("excluded", t.exclude), ("reserved", t.status.get("reserved", 0)),
        ("allowed", t.status.get("allowed", 0)), ("unknown (no signal)", t.status.get("unknown", 0)),
        ("with errors", t.with_errors), ("duplicates", t.duplicates),
        ("malformed records", t.malformed),
    ]  # fmt: skip
    for label, n in [("items", t.rows), *rows]:
        table.add_row(label, f"{n:,}", f"{100 * n / t.rows:.1f}%" if t.rows and label != "items" else "")
    console.print(table)
    if t.exclusions_by_protocol:
        by = ", ".join(f"{escape(p)} {n:,}" for p, n in t.exclusions_by_protocol.most_common())
        console.print(f"excluded by: {by}")
    skipped = f", {result.shards_skipped} resumed from an earlier run" if result.shards_skipped else ""
    console.print(f"{result.shards_total} shards ({result.shards_run} run{skipped}) in {result.seconds:.1f} s")
    for warning in result.warnings:
        console.print(f"[yellow]warning[/] {escape(warning)}")
    for label, path in result.outputs.items():
        console.print(f"  {label:22} {escape(str(path))}")


@contextmanager
def _progress_bar(enabled: bool) -> Iterator[Callable[[AuditProgress], None] | None]:
    """The progress bar, redrawn by the audit's own progress calls (several a second while items move) rather
    than by a refresh thread: a driver with no other thread can fork its workers (see ``LocalExecutor``)."""
    if not enabled:
        yield None
        return
    bar = Progress(
        TextColumn("[bold]auditing"), BarColumn(), TaskProgressColumn(),
        TextColumn("{task.completed:,.0f} items · {task.fields[rate]:.0f}/s · shards {task.fields[shards]}"),
        TimeElapsedColumn(), TimeRemainingColumn(), console=err_console, transient=True, auto_refresh=False,
    )  # fmt: skip
    task = bar.add_task("audit", total=None, rate=0.0, shards="0/0")

    def update(p: AuditProgress) -> None:
        failed = f", {p.shards_failed} failed" if p.shards_failed else ""
        bar.update(task, completed=p.items, total=p.total_items, rate=p.rate,
                   shards=f"{p.shards_done}/{p.shards_total}{failed}", refresh=True)  # fmt: skip

    with bar:
        yield update


def training_summary(
    audits: Annotated[list[Path], typer.Argument(help="Audit folders (from rightful audit) to summarise together.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output path without suffix (.md and .json written).")],
    sme: Annotated[bool, typer.Option("--sme", help="SME rule: top 5% or 1,000 domains, not top 10%.")] = False,
    provider: Annotated[str | None, typer.Option(help="Provider name for section 1.")] = None,
    model: Annotated[str | None, typer.Option(help="Model name and version for section 1.")] = None,
) -> None:
    """Merge the training-content summaries of several audits (several datasets) into one.

    Follows the EU AI Office template for the public summary of training content (AI Act Art. 53(1)(d));
    parts only the provider can write are left as marked placeholders.
    """
    with handle_errors():
        md, js = merge_summaries(audits, dest=out, sme=sme, provider=provider, model=model)
    console.print(f"training summary: {escape(str(md))}\n                  {escape(str(js))}")
