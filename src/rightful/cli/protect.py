"""``rightful site-kit``, ``rightful tag`` and ``rightful protect``: the artist tools (library: rightful.protect)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from rightful.cli._common import console, err_console, fail, handle_errors
from rightful.protect.sitekit import build_site_kit, write_site_kit
from rightful.protect.tag import TagProgress, TagResult, TagStatus, tag_files
from rightful.protect.tagc2pa import C2paMode, resolve_identity
from rightful.protect.terms import RESERVE_CHOICES, Reservation

if TYPE_CHECKING:  # the cloak needs numpy and torch: imported only when `protect` runs
    from rightful.protect.cloak import CloakProgress

__all__ = ["protect", "site_kit", "tag"]

_RESERVE_HELP = f"What to reserve: {', '.join(RESERVE_CHOICES)} (repeatable or a comma list)."
_STYLE = {TagStatus.TAGGED: "green", TagStatus.UNCHANGED: "dim", TagStatus.WOULD_TAG: "cyan", TagStatus.FAILED: "red"}

Reserve = Annotated[list[str], typer.Option("--reserve", "-r", help=_RESERVE_HELP, show_default=False)]
Contacts = Annotated[
    list[str] | None,
    typer.Option(
        "--contact", help="Whom to ask for a licence: email, 'Name <email>', https:// URL or tel: (repeatable)."
    ),
]


def site_kit(
    reserve: Reserve,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the kit into.", show_default=False)],
    contact: Contacts = None,
    policy_url: Annotated[
        str | None,
        typer.Option("--policy-url", help="Where you will serve the TDM policy (absolute URL); names your contact."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace kit files already in --out.")] = False,
) -> None:
    """Generate a website's AI reservation files: robots.txt, ai.txt, tdmrep.json, headers, meta tags, server snippets.

    Check the site once they are online with 'rightful check https://your.site/'.
    """
    with handle_errors():
        reservation = Reservation.parse(reserve, contacts=contact or ())
        kit = build_site_kit(reservation, policy_url=policy_url)
        written = write_site_kit(kit, out, overwrite=force)
    console.print(f"[bold]Site kit[/] for [bold]{reservation.label}[/] written to {escape(str(out))}:")
    for path in written:
        console.print(f"  {escape(str(path.relative_to(out)))}")
    console.print(f"AI crawler list version {kit.agents_version}; headers: "
                  + ", ".join(name for name, _ in kit.headers))  # fmt: skip
    for note in kit.notes:
        err_console.print(f"note: {note}", markup=False, highlight=False)


def tag(
    files: Annotated[list[Path], typer.Argument(help="Files and folders (folders are walked).", show_default=False)],
    reserve: Reserve,
    licence: Annotated[
        str | None, typer.Option("--licence", "--license", help="Licence URL (xmpRights:WebStatement, cc:license).")
    ] = None,
    contact: Contacts = None,
    c2pa: Annotated[
        C2paMode,
        typer.Option(
            "--c2pa",
            help="Also sign a C2PA cawg.training-mining manifest into JPEG/PNG/WebP/TIFF: auto (when "
            "'rightful keys init' has made keys), always (keys required) or never (XMP only).",
        ),
    ] = C2paMode.AUTO,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be written; change nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line per file.")] = False,
    progress: Annotated[
        bool | None, typer.Option("--progress/--no-progress", help="Progress bar on stderr (default: on a TTY).")
    ] = None,
) -> None:
    """Write an AI reservation into JPEG, PNG, WebP, TIFF and PDF files (XMP, plus a signed C2PA manifest).

    Pixels are not re-encoded. Exit code 1 when any file could not be tagged; the others are tagged all the same.
    """
    import json

    with handle_errors():
        reservation = Reservation.parse(reserve, licence=licence, contacts=contact or ())
        identity = resolve_identity(c2pa)
    counts = dict.fromkeys(TagStatus, 0)
    show_progress = progress if progress is not None else err_console.is_terminal
    with _progress_bar(show_progress) as on_progress:
        for result in tag_files(files, reservation, dry_run=dry_run, identity=identity, progress=on_progress):
            counts[result.status] += 1
            if as_json:
                sys.stdout.write(json.dumps(result.to_dict()) + "\n")
                sys.stdout.flush()
            else:
                _render(result, verbose=dry_run)
    summary = ", ".join(f"{n} {status}" for status, n in counts.items() if n) or "no files found"
    err_console.print(f"rightful tag: {summary}", markup=False, highlight=False)
    if identity is None and c2pa is C2paMode.AUTO:
        err_console.print("note: XMP only, no C2PA manifest: no signing keys ('rightful keys init' adds them)",
                          markup=False, highlight=False)  # fmt: skip
    if counts[TagStatus.FAILED]:
        raise typer.Exit(1)
    if not sum(counts.values()):
        raise fail("no taggable files (JPEG, PNG, WebP, TIFF, PDF) in the paths given")


def _render(result: TagResult, *, verbose: bool) -> None:
    style = _STYLE[result.status]
    line = f"[{style}]{result.status.value:<10}[/] {escape(str(result.path))}"
    if result.c2pa:
        line += "  [dim](XMP + signed C2PA manifest)[/]"
    if result.error:
        line += f"  [red]{escape(result.error.removeprefix(f'{result.path}: '))}[/]"
    console.print(line)
    if verbose:
        for field in result.fields:
            console.print(f"             {escape(field)}", style="dim")


@contextmanager
def _progress_bar(enabled: bool) -> Iterator[Callable[[TagProgress], None] | None]:
    if not enabled:
        yield None
        return
    bar = Progress(TextColumn("[bold]tagging"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[failed]} failed"), TimeElapsedColumn(), console=err_console,
                   transient=True)  # fmt: skip
    task = bar.add_task("tag", total=None, failed=0)

    def update(p: TagProgress) -> None:
        bar.update(task, completed=p.done, total=p.total, failed=p.failed)

    with bar:
        yield update


def protect(
    images: Annotated[list[Path], typer.Argument(help="Images and folders (folders are walked).", show_default=False)],
    vae: Annotated[
        Path, typer.Option("--vae", help="Local folder of a Stable Diffusion VAE (diffusers AutoencoderKL).")
    ],
    strength: Annotated[int, typer.Option("--strength", help="ε in levels of 255: 4, 8 or 16.")] = 8,
    steps: Annotated[int, typer.Option("--steps", min=1, help="PGD steps per tile.")] = 100,
    device: Annotated[str, typer.Option("--device", help="cpu, cuda or mps.")] = "cpu",
    precision: Annotated[
        str, typer.Option("--precision", help="auto (bf16 on CPU, fp16 on GPU), fp32, bf16 or fp16.")
    ] = "auto",
    seed: Annotated[int, typer.Option("--seed", help="Random start; the same seed gives the same bytes.")] = 0,
    mask: Annotated[
        Path | None, typer.Option("--mask", help="Image of the same size: white pixels are left unchanged.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Folder for the outputs (default: next to each image).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line per image.")] = False,
    progress: Annotated[
        bool | None, typer.Option("--progress/--no-progress", help="Progress bar on stderr (default: on a TTY).")
    ] = None,
) -> None:
    """Cloak images against style mimicry (extra [protect]): writes NAME.cloaked.png and a self-check report.

    The report gives the measured figures and the known limits: noise plus upscaling removes such
    perturbations, and they target SD 1.x/2.x-family encoders. Keep your originals.
    """
    import json

    with handle_errors():
        from rightful.protect.cloak import CloakOptions, cloak_files
        from rightful.protect.selfcheck import LIMITS
        from rightful.protect.vae import load_vae

        options = CloakOptions(strength=strength, steps=steps, seed=seed, precision=precision)
        model = load_vae(vae, device=device)
        failed = 0
        show_progress = progress if progress is not None else err_console.is_terminal
        with _cloak_bar(show_progress) as on_progress:
            for outcome in cloak_files(images, vae=model, options=options, out_dir=out, mask=mask,
                                       progress=on_progress):  # fmt: skip
                failed += outcome.status == "failed"
                if as_json:
                    row = {
                        "source": str(outcome.source),
                        "status": outcome.status,
                        "error": outcome.error,
                        "output": str(outcome.output) if outcome.output else None,
                        "report": outcome.report,
                    }
                    sys.stdout.write(json.dumps(row) + "\n")  # fmt: skip
                    sys.stdout.flush()
                else:
                    _render_cloak(outcome.source, outcome.status, outcome.output, outcome.report, outcome.error)
    if not as_json:
        console.print("[bold]Known limits[/]")
        for limit in LIMITS:
            console.print(f"- {escape(limit)}")
    if failed:
        raise typer.Exit(1)


def _render_cloak(source: Path, status: str, output: Path | None, report: dict[str, object], error: str | None) -> None:
    style = {"cloaked": "green", "unchanged": "dim", "failed": "red"}[status]
    line = f"[{style}]{status:<10}[/] {escape(str(source))}"
    if output is not None:
        line += f" → {escape(str(output))}"
    if error:
        line += f"  [red]{escape(error)}[/]"
    console.print(line)
    check = report.get("self_check")
    if isinstance(check, dict):
        latent = check["latent"]
        psnr = "identical" if check["psnr_db"] is None else f"{check['psnr_db']} dB"
        console.print(f"           L∞ {check['linf_255']}/255 · PSNR {psnr} · SSIM {check['ssim']}")
        console.print("           latent distance to the decoy, cloaked/original (1 = no effect): "
                      + ", ".join(f"{name} {v['ratio_to_target']}" for name, v in latent.items()))  # fmt: skip


@contextmanager
def _cloak_bar(enabled: bool) -> Iterator[Callable[[CloakProgress], None] | None]:
    if not enabled:
        yield None
        return
    bar = Progress(TextColumn("[bold]cloaking {task.fields[name]}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), console=err_console, transient=True)  # fmt: skip
    task = bar.add_task("cloak", total=None, name="")

    def update(p: CloakProgress) -> None:
        bar.update(task, completed=p.step, total=p.total, name=p.image.name if p.image is not None else "")

    with bar:
        yield update
