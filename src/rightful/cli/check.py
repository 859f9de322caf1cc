"""``rightful check TARGET…``: verdicts per purpose, with the deciding evidence, for URLs and local files."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from rightful.cli._common import console, err_console, fail, handle_errors
from rightful.cli._render import render_result
from rightful.config import Settings
from rightful.errors import InvalidInput
from rightful.models import CheckResult
from rightful.signals.check import check_file, check_urls
from rightful.signals.policy import parse_purposes
from rightful.signals.streaming import Progress as CheckProgress
from rightful.signals.streaming import ProgressCallback

__all__ = ["check"]


def check(
    targets: Annotated[
        list[str] | None, typer.Argument(help="URLs (http/https) or local files.", show_default=False)
    ] = None,
    urls_file: Annotated[
        Path | None, typer.Option("--urls-file", help="Read more targets from a file, one per line ('-': stdin).")
    ] = None,
    purpose: Annotated[
        list[str] | None,
        typer.Option("--purpose", "-p", help="Purposes to report (repeatable or comma list; default: all)."),
    ] = None,
    policy: Annotated[
        str | None,
        typer.Option(help="robots.txt token policy: any-ai-token (default) or own-token."),
    ] = None,
    allow_private: Annotated[
        bool, typer.Option("--allow-private", help="Allow loopback/private addresses (local testing).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line per item.")] = False,
    fail_on_reserved: Annotated[
        bool, typer.Option("--fail-on-reserved", help="Exit 1 when any item is reserved for any purpose.")
    ] = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not read or write the origin cache.")] = False,
    concurrency: Annotated[int | None, typer.Option(min=1, help="Requests in flight overall.")] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Processes for URL checks (origins are split between them).")
    ] = None,
    timeout: Annotated[float | None, typer.Option(min=0.1, help="Read timeout per request, seconds.")] = None,
    progress: Annotated[
        bool | None, typer.Option("--progress/--no-progress", help="Progress bar on stderr (default: on a TTY).")
    ] = None,
) -> None:
    """Is each target reserved against AI training (and the other purposes)? Where does it say so?

    A reserved item is a result, not an error: the exit code is 0 unless --fail-on-reserved is given.
    """
    with handle_errors():
        purposes = parse_purposes(purpose)
        settings = Settings.load(
            policy=policy, allow_private=allow_private or None, concurrency=concurrency, read_timeout=timeout,
            workers=workers,
            cache=False if no_cache else None,
        )  # fmt: skip
        if not targets and urls_file is None:
            raise fail("no target given: pass URLs or files, or --urls-file")
        show_progress = progress if progress is not None else err_console.is_terminal
        any_reserved = False
        results = _results(targets or [], urls_file, settings=settings, purposes=[p.value for p in purposes],
                           show_progress=show_progress)  # fmt: skip
        for result in results:
            any_reserved = any_reserved or result.reserved
            if as_json:
                sys.stdout.write(result.to_json() + "\n")
                sys.stdout.flush()
            else:
                render_result(console, result, purposes=purposes)
    if fail_on_reserved and any_reserved:
        raise typer.Exit(1)


def _url_lines(urls_file: Path | None) -> Iterator[str]:
    if urls_file is None:
        return
    if str(urls_file) == "-":
        yield from _lines(sys.stdin)
        return
    try:
        with urls_file.open(encoding="utf-8", errors="replace") as fh:
            yield from _lines(fh)
    except OSError as exc:
        raise InvalidInput(f"cannot read --urls-file {urls_file}: {exc.strerror or exc}") from exc


def _lines(lines: Iterable[str]) -> Iterator[str]:
    for line in lines:
        text = line.strip()
        if text and not text.startswith("#"):
            yield text


def _is_url(target: str) -> bool:
    return target.lower().startswith(("http://", "https://"))


def _results(
    targets: list[str], urls_file: Path | None, *, settings: Settings, purposes: list[str], show_progress: bool
) -> Iterator[CheckResult]:
    """Files first (no network), then every URL through the streaming bulk checker.

    Targets on the command line are validated before anything runs; a bad line in --urls-file becomes a
    result with an ``invalid-url`` error, so one typo does not stop a long run.
    """
    for target in targets:
        if not _is_url(target) and not Path(target).exists():
            if "://" in target:
                raise InvalidInput(f"{target}: only http:// and https:// URLs can be checked")
            raise InvalidInput(f"{target}: not a URL, and no such file")
    for target in targets:
        if not _is_url(target):
            yield check_file(target, settings=settings, purposes=purposes)
    if urls_file is not None and str(urls_file) != "-" and not urls_file.is_file():
        raise InvalidInput(f"--urls-file {urls_file}: no such file")
    urls = itertools.chain((t for t in targets if _is_url(t)), _url_lines(urls_file))
    first = next(urls, None)
    if first is None:
        return
    with _progress_bar(show_progress) as on_progress:
        yield from check_urls(itertools.chain([first], urls), settings=settings, purposes=purposes,
                              progress=on_progress)  # fmt: skip


@contextmanager
def _progress_bar(enabled: bool) -> Iterator[ProgressCallback | None]:
    if not enabled:
        yield None
        return
    bar = Progress(
        TextColumn("[bold]checking"), BarColumn(), TaskProgressColumn(),
        TextColumn("{task.completed} items · {task.fields[rate]:.0f}/s · {task.fields[origins]} origins"
                   " · {task.fields[errors]} errors"),
        TimeElapsedColumn(), console=err_console, transient=True,
    )  # fmt: skip
    task = bar.add_task("check", total=None, rate=0.0, origins=0, errors=0)

    def update(p: CheckProgress) -> None:
        bar.update(task, completed=p.done, rate=p.rate, origins=p.origins, errors=p.errors)

    with bar:
        yield update
