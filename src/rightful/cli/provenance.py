"""Output-side commands: ``keys``, ``sign``, ``verify``, ``log`` and ``models`` — thin layers over
:mod:`rightful.provenance`."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from rightful.cli._common import console, err_console, fail, handle_errors
from rightful.config import Settings
from rightful.errors import InvalidInput
from rightful.provenance import keys as keystore
from rightful.provenance.bundle import ProofBundle, check_consistency, make_bundle, verify_bundle
from rightful.provenance.ledger import Ledger
from rightful.provenance.note import NoteVerifier
from rightful.provenance.records import model_record, parse_record
from rightful.provenance.sign import SignedOutput, SignOptions, keys_dir, ledger_dir, sign_many
from rightful.provenance.verify import verify_asset

__all__ = ["keys_app", "log_app", "models_app", "sign", "verify"]

keys_app = typer.Typer(help="Signing keys: local CA + C2PA certificate, log key, watermark key.", no_args_is_help=True)
log_app = typer.Typer(help="The transparency log: append, checkpoint, prove, verify, consistency.",
                      no_args_is_help=True)  # fmt: skip
models_app = typer.Typer(help="Register models in the transparency log.", no_args_is_help=True)

_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff"}


def _say(text: str) -> None:
    """One line of plain output: no markup, no wrapping (paths and keys must stay copyable)."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


# -- keys ------------------------------------------------------------------------------------------------------


@keys_app.command("init")
def keys_init(
    organisation: Annotated[
        str, typer.Option(help="Organisation named in the certificates.")
    ] = "Rightful local signer",
    origin: Annotated[str, typer.Option(help="The log's origin line (and key name).")] = keystore.DEFAULT_ORIGIN,
    days: Annotated[int, typer.Option(min=1, help="Certificate validity in days.")] = 825,
    force: Annotated[bool, typer.Option("--force", help="Replace existing keys.")] = False,
    import_chain: Annotated[
        Path | None,
        typer.Option(
            "--import", help="Install your own C2PA certificate chain (PEM, leaf first) instead of the local CA."
        ),
    ] = None,
    key: Annotated[Path | None, typer.Option("--key", help="The private key (PEM) of the --import chain.")] = None,
) -> None:
    """Create the local CA and ES256 C2PA signing certificate, the log key and the watermark key (0600 files)."""
    with handle_errors():
        directory = keys_dir(Settings.load())
        if import_chain is not None:
            if key is None:
                raise fail("--import needs --key (the chain's private key)")
            identity = keystore.import_chain(directory, chain=import_chain, key=key)
            if not keystore.KeyPaths(directory).log_key.exists():
                keystore.init_keys(directory / ".generated", organisation=organisation, origin=origin, days=days)
                _adopt(directory / ".generated", directory)
            _say(f"imported C2PA signer {identity.subject} (issuer {identity.issuer}, "
                          f"valid until {identity.not_after:%Y-%m-%d}) into {directory}")  # fmt: skip
            return
        paths = keystore.init_keys(directory, organisation=organisation, origin=origin, days=days, force=force)
        _say(f"keys written to {paths.root} (files 0600)")
        _say(f"log public key: {keystore.load_log_verifier(paths.root).encode()}")


def _adopt(generated: Path, directory: Path) -> None:
    """Keep the generated log and watermark keys, drop the generated CA (the imported chain replaces it)."""
    for name in ("log.key", "log.pub", "watermark.key"):
        (generated / name).replace(directory / name)
    for leftover in generated.iterdir():
        leftover.unlink()
    generated.rmdir()


@keys_app.command("show")
def keys_show() -> None:
    """Show the signing certificate, its validity, and the log public key."""
    with handle_errors():
        directory = keys_dir(Settings.load())
        identity = keystore.load_signing_identity(directory)
        _say(f"C2PA signer: {identity.subject}\nissuer: {identity.issuer}\nalgorithm: {identity.alg}\n"
                      f"valid until: {identity.not_after:%Y-%m-%d}")  # fmt: skip
        _say(f"log public key: {keystore.load_log_verifier(directory).encode()}")


# -- sign / verify ---------------------------------------------------------------------------------------------


def _pairs(target: Path, out: Path) -> list[tuple[Path, Path]]:
    if target.is_dir():
        files = sorted(p for p in target.rglob("*") if p.is_file() and p.suffix.lower() in _IMAGE_SUFFIXES)
        if not files:
            raise InvalidInput(f"{target} holds no image files to sign")
        return [(p, out / p.relative_to(target)) for p in files]
    if not target.is_file():
        raise InvalidInput(f"{target}: no such file or folder")
    return [(target, out / target.name if out.is_dir() else out)]


def sign(
    target: Annotated[Path, typer.Argument(help="A generated file, or a folder of them.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file (or folder, for a folder).")],
    model: Annotated[str, typer.Option("--model", help="Name of the model that generated the content.")],
    model_version: Annotated[str | None, typer.Option("--model-version", help="Model version.")] = None,
    model_digest: Annotated[str | None, typer.Option("--model-digest", help="sha256:… of the weights.")] = None,
    licence: Annotated[str | None, typer.Option("--licence", help="SPDX id or URL of the output's licence.")] = None,
    attribute: Annotated[list[str] | None, typer.Option("--attribute", help="Work id credited (repeatable).")] = None,
    ingredient: Annotated[list[Path] | None, typer.Option("--ingredient", help="Input file (repeatable).")] = None,
    no_watermark: Annotated[bool, typer.Option("--no-watermark", help="Skip the invisible watermark.")] = False,
    sidecar: Annotated[bool, typer.Option("--sidecar", help="Write the manifest as OUT.c2pa, not embedded.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per signed file.")] = False,
    progress: Annotated[bool | None, typer.Option("--progress/--no-progress", help="Progress bar on stderr.")] = None,
) -> None:
    """Watermark, C2PA-sign and log generated content; prints each file's ledger index."""
    with handle_errors():
        settings = Settings.load()
        pairs = _pairs(target, out)
        options = SignOptions(model=model, model_version=model_version, model_digest=model_digest, licence=licence,
                              attributions=tuple(attribute or ()), ingredients=tuple(ingredient or ()),
                              watermark=not no_watermark, sidecar=sidecar)  # fmt: skip
        show = progress if progress is not None else (err_console.is_terminal and len(pairs) > 1)
        for result in _with_progress(sign_many(pairs, options=options, settings=settings), len(pairs), show):
            if as_json:
                sys.stdout.write(json.dumps(result.to_dict()) + "\n")
            else:
                mark = "watermarked, " if result.watermarked else ""
                _say(f"{result.path}: {mark}signed, ledger index {result.ledger_index}")


def _with_progress(results: Iterator[SignedOutput], total: int, show: bool) -> Iterator[SignedOutput]:
    if not show:
        yield from results
        return
    bar = Progress(TextColumn("[bold]signing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=err_console, transient=True)  # fmt: skip
    task = bar.add_task("sign", total=total)
    with bar:
        for result in results:
            bar.advance(task)
            yield result


def verify(
    target: Annotated[Path, typer.Argument(help="The file to verify.", show_default=False)],
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object: c2pa, watermark, ledger, signals, matches.")
    ] = False,
) -> None:
    """Where does this file come from? C2PA manifest, watermark, ledger entry, embedded signals, registry."""
    with handle_errors():
        report = verify_asset(target, settings=Settings.load())
        if as_json:
            sys.stdout.write(json.dumps(report.to_dict(), ensure_ascii=False, default=str) + "\n")
            return
        _render_report(report.to_dict())


def _render_report(report: dict[str, Any]) -> None:
    _say(f"{report['path']} {report['digest']}")
    _say(_c2pa_line(report["c2pa"]))
    mark, ledger = report["watermark"], report["ledger"]
    if not mark.get("checked"):
        _say(f"watermark: not checked ({mark.get('reason')})")
    elif mark.get("found"):
        _say(
            f"watermark: payload {mark['payload']}, false-positive probability {mark['false_positive_probability']:.1e}"
        )
    else:
        _say("watermark: none found")
    if ledger.get("found"):
        verified = "verified" if ledger["inclusion_verified"] else "NOT verified"
        digest = "matches this file" if ledger["digest_matches"] else "differs (an edited or re-encoded copy)"
        _say(f"ledger: entry {ledger['index']} (via {ledger['via']}), inclusion {verified} at size "
             f"{ledger['checkpoint']['size']}; recorded digest {digest}")  # fmt: skip
    else:
        _say(f"ledger: no entry ({ledger.get('reason')})")
    reserved = [p for p, d in report["signals"]["verdicts"].items() if d == "reserved"]
    _say(f"signals: {'reserved for ' + ', '.join(reserved) if reserved else 'no reservation found'}")
    _say(f"registry matches: {len(report['matches'])}" + "".join(f"; {n}" for n in report["notes"]))


def _c2pa_line(c2pa: dict[str, Any]) -> str:
    if not c2pa.get("present"):
        return f"C2PA: none{' (' + c2pa['reason'] + ')' if c2pa.get('reason') else ''}"
    if c2pa.get("state") == "Unreadable":
        return f"C2PA: Unreadable ({', '.join(c2pa.get('failures') or [])}): {c2pa.get('error')}"
    failures = ", ".join(c2pa.get("failures") or []) or "no failures"
    generator = c2pa.get("generator") or {}
    lines = [f"C2PA: {c2pa.get('state')} ({failures}); signer {c2pa.get('signer', {}).get('common_name', '?')}; "
             f"AI-generated: {'yes' if c2pa.get('ai_generated') else 'not stated'}"]  # fmt: skip
    if generator:
        lines.append(f"  generator: {generator.get('name')} {generator.get('version') or ''}".rstrip())
    if c2pa.get("training_mining"):
        lines.append(f"  training/mining: {', '.join(f'{k}={v}' for k, v in c2pa['training_mining'].items())}")
    if c2pa.get("licence") or c2pa.get("attributions"):
        lines.append(f"  licence: {c2pa.get('licence')}; attributions: {', '.join(c2pa.get('attributions') or [])}")
    return "\n".join(lines)


# -- log -------------------------------------------------------------------------------------------------------


def _writer() -> Ledger:
    settings = Settings.load()
    return Ledger.open(ledger_dir(settings), signer=keystore.load_log_signer(keys_dir(settings)))


def _reader(key: Path | None) -> Ledger:
    settings = Settings.load()
    verifier = _verifier(key) if key else keystore.load_log_verifier(keys_dir(settings))
    return Ledger(ledger_dir(settings), verifier=verifier)


def _verifier(key: Path) -> NoteVerifier:
    try:
        return NoteVerifier.parse(key.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(f"cannot read --key {key}: {exc.strerror or exc}") from exc


def _records(records: list[str], file: Path | None) -> list[bytes]:
    lines = list(records)
    if file is not None:
        try:
            lines += [ln for ln in file.read_text(encoding="utf-8").splitlines() if ln.strip()]
        except OSError as exc:
            raise InvalidInput(f"cannot read --file {file}: {exc.strerror or exc}") from exc
    entries = []
    for line in lines:
        entry = line.strip().encode()
        record = parse_record(entry)
        entries.append(json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode())
    if not entries:
        raise InvalidInput("nothing to append: give records as arguments or --file")
    return entries


@log_app.command("append")
def log_append(
    records: Annotated[list[str] | None, typer.Argument(help="JSON records (kind work/model/output).")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="JSON Lines file of records.")] = None,
) -> None:
    """Append records in one batch (one checkpoint); prints their indices."""
    with handle_errors(), _writer() as ledger:
        indices = ledger.append(_records(records or [], file))
        _say(f"appended {len(indices)} entries at {indices[0]}..{indices[-1]}; tree size {ledger.size}")


@log_app.command("checkpoint")
def log_checkpoint(key: Annotated[Path | None, typer.Option("--key", help="Log public key file.")] = None) -> None:
    """Print the latest signed checkpoint (C2SP signed note), after verifying it."""
    with handle_errors():
        sys.stdout.write(_reader(key).checkpoint_note())


@log_app.command("prove")
def log_prove(index: Annotated[int, typer.Argument(min=0, help="Entry index.")]) -> None:
    """Print a proof bundle (entry, inclusion proof, signed checkpoint) as JSON, checkable offline."""
    with handle_errors():
        _print_json(make_bundle(_reader(None), index).to_dict())


@log_app.command("verify")
def log_verify(
    proof: Annotated[Path | None, typer.Option("--proof", help="Verify this proof bundle offline.")] = None,
    key: Annotated[Path | None, typer.Option("--key", help="Log public key file.")] = None,
) -> None:
    """Re-hash the whole log against its checkpoint, or verify a proof bundle offline (--proof)."""
    with handle_errors():
        if proof is None:
            size = _reader(key).audit()
            _say(f"log verified: {size} entries hash to the signed checkpoint")
            return
        verifier = _verifier(key) if key else keystore.load_log_verifier(keys_dir(Settings.load()))
        bundle = ProofBundle.from_dict(_load_json(proof))
        checkpoint = verify_bundle(bundle, verifier)
        _say(f"entry {bundle.proof.index} is included in {checkpoint.origin} at size {checkpoint.size}")


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"cannot read JSON from {path}: {exc}") from exc


@log_app.command("consistency")
def log_consistency(
    old: Annotated[Path, typer.Option("--old", help="A signed checkpoint you saw before.")],
    key: Annotated[Path | None, typer.Option("--key", help="Log public key file.")] = None,
) -> None:
    """Prove the log only grew since an old checkpoint; exit non-zero on a fork or rewrite."""
    with handle_errors():
        try:
            note = old.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"cannot read --old {old}: {exc}") from exc
        proof = check_consistency(_reader(key), note)
        _print_json({"consistent": True, "proof": proof.to_dict()})


# -- models ----------------------------------------------------------------------------------------------------


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}") from exc
    return "sha256:" + digest.hexdigest()


@models_app.command("register")
def models_register(
    weights: Annotated[Path, typer.Argument(help="The model weights file.", show_default=False)],
    training_summary: Annotated[Path, typer.Option("--training-summary", help="Training-content summary file.")],
    name: Annotated[str | None, typer.Option("--name", help="Model name (default: the file name).")] = None,
    consent_basis: Annotated[str, typer.Option("--consent-basis", help="Consent basis claimed.")] = "opt-out-respected",
) -> None:
    """Log a model: weights digest, training-summary digest and consent basis."""
    with handle_errors():
        record = model_record(
            name=name or weights.name,
            weights_digest=_file_digest(weights),
            training_summary_digest=_file_digest(training_summary),
            consent_basis=consent_basis,
        )
        with _writer() as ledger:
            index = ledger.append([record])[0]
        _say(f"model {name or weights.name} logged at index {index}")
