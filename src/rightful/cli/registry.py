"""``rightful register``, ``rightful match``, ``rightful works …`` and ``rightful registry …``: thin commands over
:class:`rightful.registry.Registry`."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from rightful.cli._common import console, err_console, fail, handle_errors
from rightful.config import Settings
from rightful.errors import InvalidInput
from rightful.fingerprints.embedding import load_embedder
from rightful.media import read_capped
from rightful.models import Match, MatchBand, Purpose, Terms, TermStatus, Work
from rightful.signals.policy import parse_purposes

if TYPE_CHECKING:  # the registry (FAISS, SQLAlchemy) is imported by the commands that use it, not by every command:
    # ``rightful audit`` must not have FAISS loaded to fork its workers, and ``rightful --help`` starts faster
    from rightful.registry import MatchReport, Registered, Registry

__all__ = ["match", "register", "registry_app", "works_app"]

#: Purposes ``--terms`` applies to when no ``--purpose`` is given: the text-and-data-mining family.
DEFAULT_PURPOSES = (Purpose.DATA_MINING, Purpose.AI_TRAINING, Purpose.GENAI_TRAINING)

works_app = typer.Typer(name="works", help="List, show, re-term and remove registered works.", no_args_is_help=True)
registry_app = typer.Typer(name="registry", help="Maintain the registry: rebuild the index, show statistics.",
                           no_args_is_help=True)  # fmt: skip

TermsOpt = Annotated[str, typer.Option("--terms", help="reserved, allowed or licensed (for the purposes given).")]
PurposeOpt = Annotated[
    list[str] | None,
    typer.Option("--purpose", "-p", help="Purposes the terms cover (repeatable; default: data-mining, ai-training, "
                 "genai-training; 'all' for every purpose)."),
]  # fmt: skip
LicenceOpt = Annotated[str | None, typer.Option("--licence", help="Where a licence can be obtained (URL).")]
ContactOpt = Annotated[str | None, typer.Option("--contact", help="Whom to ask (e-mail or URL).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="JSON output (one object per line for lists).")]
ModelOpt = Annotated[
    Path | None,
    typer.Option("--embedding-model", help="Local ONNX or TorchScript descriptor model file (never downloaded)."),
]


def _terms(status: str, purposes: list[str] | None, licence: str | None, contact: str | None) -> Terms:
    try:
        term = TermStatus(status)
    except ValueError:
        raise InvalidInput(f"--terms must be reserved, allowed or licensed, not {status!r}") from None
    chosen = parse_purposes(purposes) if purposes else list(DEFAULT_PURPOSES)
    if term is TermStatus.LICENSED and not licence:
        raise InvalidInput("--terms licensed needs --licence URL (where the licence can be obtained)")
    return Terms({p: term for p in chosen}, licence=licence, contact=contact)


def _open(*, create: bool = True, model: Path | None = None) -> Registry:
    from rightful.registry import Registry

    embedder = load_embedder(model) if model is not None else None
    return Registry.open(Settings.load(), create=create, embedder=embedder)


def _emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def register(
    paths: Annotated[list[Path] | None, typer.Argument(help="Image or text files, or folders (recursive).")] = None,
    owner: Annotated[str, typer.Option("--owner", help="The rights-holder's name.")] = "",
    title: Annotated[str | None, typer.Option("--title", help="Title (default: the file name).")] = None,
    text: Annotated[
        list[Path] | None, typer.Option("--text", help="Register this file as plain text (repeatable).")
    ] = None,
    terms: TermsOpt = "reserved",
    purpose: PurposeOpt = None,
    licence: LicenceOpt = None,
    contact: ContactOpt = None,
    model: ModelOpt = None,
    as_json: JsonOpt = False,
    progress: Annotated[
        bool | None, typer.Option("--progress/--no-progress", help="Progress bar on stderr (default: on a TTY).")
    ] = None,
) -> None:
    """Register works (images, texts, whole folders) with their terms. Re-running resumes: works already
    registered are skipped. Exit 1 when some files could not be registered."""
    with handle_errors():
        if not owner.strip():
            raise fail("--owner is required: the rights-holder's name")
        if not paths and not text:
            raise fail("nothing to register: give files or folders, or --text FILE")
        work_terms = _terms(terms, purpose, licence, contact)
        failed = 0
        show = progress if progress is not None else err_console.is_terminal
        with _open(model=model) as registry:
            for item in _register_all(registry, paths or [], text or [], owner=owner.strip(), title=title,
                                      terms=work_terms, show=show):  # fmt: skip
                failed += item.error is not None
                _show_registered(item, as_json=as_json)
    if failed:
        raise typer.Exit(1)


def _register_all(registry: Registry, paths: list[Path], texts: list[Path], *, owner: str, title: str | None,
                  terms: Terms, show: bool) -> Iterator[Registered]:  # fmt: skip
    from rightful.registry import Registered

    if title is not None and (len(paths) + len(texts) != 1 or (paths and paths[0].is_dir())):
        raise InvalidInput("--title names one work: give a single file with it")
    for path in texts:
        try:
            yield registry.register_file(path, owner=owner, terms=terms, title=title, as_text=True)
        except InvalidInput as exc:
            yield Registered(str(path), None, False, error=str(exc))
    if title is not None and paths:
        try:
            yield registry.register_file(paths[0], owner=owner, terms=terms, title=title)
        except InvalidInput as exc:
            yield Registered(str(paths[0]), None, False, error=str(exc))
        return
    if paths:
        with _progress(show) as update:
            yield from registry.register_paths(paths, owner=owner, terms=terms, progress=update)


@contextmanager
def _progress(enabled: bool) -> Iterator[Any]:
    if not enabled:
        yield None
        return
    bar = Progress(TextColumn("[bold]registering"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=err_console, transient=True)  # fmt: skip
    task = bar.add_task("register", total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    with bar:
        yield update


def _show_registered(item: Registered, *, as_json: bool) -> None:
    if as_json:
        _emit(item.to_dict())
        return
    if item.error is not None:
        err_console.print(f"[yellow]error[/] {escape(item.source)}: {escape(item.error)}", soft_wrap=True)
    elif item.work is not None:
        verb = "registered" if item.created else "already registered"
        console.print(f"{verb} work [bold]{item.work.id}[/]: {escape(item.source)} ({item.work.media_type})",
                      soft_wrap=True)  # fmt: skip
    for note in item.notes:
        if note != "already registered":
            console.print(f"  [dim]note: {escape(note)}[/]")


def match(
    file: Annotated[Path | None, typer.Argument(help="The image or text file to match.", show_default=False)] = None,
    text: Annotated[Path | None, typer.Option("--text", help="Match this file as plain text.")] = None,
    top_k: Annotated[int, typer.Option("--top-k", min=1, max=1000, help="At most this many works.")] = 10,
    min_band: Annotated[
        str, typer.Option("--min-band", help="Weakest band to report: exact, near-duplicate, partial, similar.")
    ] = "similar",
    model: ModelOpt = None,
    as_json: JsonOpt = False,
    fail_on_match: Annotated[bool, typer.Option("--fail-on-match", help="Exit 1 when anything matches.")] = False,
) -> None:
    """Does this image or text replicate a registered work? Bands, distances and evidence, best first."""
    with handle_errors():
        if (file is None) == (text is None):
            raise fail("give one FILE, or --text FILE")
        try:
            band = MatchBand(min_band)
        except ValueError:
            raise fail("--min-band must be exact, near-duplicate, partial or similar") from None
        target = file or text
        assert target is not None
        data, truncated = read_capped(target)
        with _open(create=False, model=model) as registry:
            report = registry.match(data, media_type="text/plain" if text is not None else None, top_k=top_k,
                                    min_band=band)  # fmt: skip
        if truncated:
            from rightful.registry import MatchReport

            report = MatchReport(report.matches, (*report.notes, "the file was read only up to 64 MiB"),
                                 report.media_type)  # fmt: skip
        if as_json:
            _emit(report.to_dict())
        else:
            _render_matches(str(target), report)
    if fail_on_match and report.matches:
        raise typer.Exit(1)


def _how(m: Match) -> str:
    if m.distance is not None:
        return f"distance {m.distance}"
    return f"score {m.score:.3f}" if m.score is not None else ""


def _evidence(m: Match) -> str:
    ev = m.evidence
    if "spans" in ev:
        spans = ev["spans"]
        first = spans[0] if spans else {}
        return (f"{len(spans)} verbatim span(s), {ev.get('span_tokens')} tokens; first at query tokens "
                f"{first.get('query_start')}–{first.get('query_end')}")  # fmt: skip
    if "query_region" in ev:
        return f"query {ev['query_region']} ↔ work {ev['work_region']}"
    return ", ".join(f"{k} {v}" for k, v in ev.items() if k != "rule")


def _render_matches(target: str, report: MatchReport) -> None:
    if not report.matches:
        console.print(f"{escape(target)}: no registered work matches", soft_wrap=True)
    else:
        table = Table(title=escape(target), title_justify="left")
        for col in ("work", "band", "how close", "owner", "title", "terms", "evidence"):
            table.add_column(col, overflow="fold")
        for m in report.matches:
            terms = ", ".join(f"{p}: {s}" for p, s in m.work.terms.purposes.items()) or "-"
            table.add_row(str(m.work.id), str(m.band), _how(m), escape(m.work.owner), escape(m.work.title or ""),
                          escape(terms), escape(_evidence(m)))  # fmt: skip
        console.print(table)
    for note in report.notes:
        console.print(f"  [dim]note: {escape(note)}[/]")


@works_app.command("list")
def works_list(
    owner: Annotated[str | None, typer.Option("--owner", help="Only this rights-holder's works.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many works.")] = 100,
    offset: Annotated[int, typer.Option("--offset", min=0, help="Skip this many works first.")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """List registered works, oldest first."""
    with handle_errors(), _open(create=False) as registry:
        works = registry.works(owner=owner, limit=limit, offset=offset)
        if as_json:
            for work in works:
                _emit(work.to_dict())
            return
        table = Table()
        for col in ("id", "owner", "title", "type", "terms", "registered"):
            table.add_column(col, overflow="fold")
        for w in works:
            terms = ", ".join(f"{p}: {s}" for p, s in w.terms.purposes.items()) or "-"
            table.add_row(str(w.id), escape(w.owner), escape(w.title or ""), w.media_type, escape(terms),
                          w.created_at.strftime("%Y-%m-%d %H:%M") if w.created_at else "")  # fmt: skip
        console.print(table)


@works_app.command("show")
def works_show(
    work_id: Annotated[int, typer.Argument(help="The work's id.")],
    as_json: JsonOpt = False,
) -> None:
    """Show one work: metadata, terms and fingerprints."""
    with handle_errors(), _open(create=False) as registry:
        _show_work(registry.get(work_id, fingerprints=True), as_json=as_json)


@works_app.command("set-terms")
def works_set_terms(
    work_id: Annotated[int, typer.Argument(help="The work's id.")],
    terms: TermsOpt = "reserved",
    purpose: PurposeOpt = None,
    licence: LicenceOpt = None,
    contact: ContactOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Replace a work's terms (all of them: purposes not given are no longer covered)."""
    with handle_errors(), _open(create=False) as registry:
        _show_work(registry.set_terms(work_id, _terms(terms, purpose, licence, contact)), as_json=as_json)


@works_app.command("remove")
def works_remove(
    work_id: Annotated[int, typer.Argument(help="The work's id.")],
    as_json: JsonOpt = False,
) -> None:
    """Remove a work from the registry and its index."""
    with handle_errors(), _open(create=False) as registry:
        registry.remove(work_id)
        if as_json:
            _emit({"work_id": work_id, "removed": True})
        else:
            console.print(f"removed work {work_id}")


def _show_work(work: Work, *, as_json: bool) -> None:
    if as_json:
        _emit(work.to_dict())
        return
    console.print(f"[bold]work {work.id}[/] {escape(work.title or '')}")
    for label, value in (("owner", work.owner), ("type", work.media_type), ("digest", work.digest),
                         ("source", work.source), ("licence", work.terms.licence), ("contact", work.terms.contact),
                         ("registered", work.created_at), ("updated", work.updated_at)):  # fmt: skip
        if value is not None:
            console.print(f"  {label}: {escape(str(value))}", soft_wrap=True)
    for p, s in work.terms.purposes.items():
        console.print(f"  terms: {p} [bold]{s}[/]")
    for fp in work.fingerprints:
        shown = fp.to_dict()
        quality = f" quality {fp.quality}" if fp.quality is not None else ""
        console.print(f"  [dim]{fp.kind} {fp.region}{quality}: {shown['value']}[/]", soft_wrap=True)


@registry_app.command("reindex")
def registry_reindex(as_json: JsonOpt = False) -> None:
    """Rebuild the FAISS index from the SQL store."""
    with handle_errors(), _open(create=False) as registry:
        stats = registry.reindex()
        if as_json:
            _emit(stats)
        else:
            vectors = sum(len(v) for v in registry.index.vectors.values())
            console.print(f"index rebuilt: {stats['pdq_hashes']} image hashes, {stats['texts']} texts, "
                          f"{vectors} descriptors ({stats['directory']})")  # fmt: skip


@registry_app.command("stats")
def registry_stats(as_json: JsonOpt = False) -> None:
    """Counts of works, fingerprints and index entries."""
    with handle_errors(), _open(create=False) as registry:
        stats = registry.stats()
        if as_json:
            _emit(stats)
            return
        console.print(f"works: {stats['works']} ({stats['texts']} texts) · backend {stats['backend']}")
        console.print(f"fingerprints: {json.dumps(stats['fingerprints'])}")
        console.print(f"index: {json.dumps(stats['index'])}", soft_wrap=True)
        for note in registry.index.notes:
            console.print(f"  [dim]note: {escape(note)}[/]")
