"""``sign_asset``: watermark, then C2PA-sign, then log — one generated file, or a folder of them.

The ledger index is reserved first (the log is held by this process), so the watermark payload *is* the
index and the manifest's soft binding can name it; the output record (with the digest of the final signed
bytes) is appended at exactly that index and committed once per batch.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from rightful.config import Settings
from rightful.errors import InvalidInput, LedgerError
from rightful.media import read_capped, sniff
from rightful.provenance.imagemark import MARKABLE_TYPES, watermark_image
from rightful.provenance.keys import load_log_signer, load_signing_identity, load_watermark_key
from rightful.provenance.ledger import Ledger
from rightful.provenance.manifest import Generator, ManifestOptions, sign_manifest
from rightful.provenance.records import check_digest, output_record

__all__ = ["SignOptions", "SignedOutput", "keys_dir", "ledger_dir", "sign_asset", "sign_many"]


@dataclass(frozen=True, slots=True)
class SignOptions:
    """What every signed output states; ``watermark=False`` skips the invisible mark."""

    model: str
    model_version: str | None = None
    model_digest: str | None = None
    licence: str | None = None
    attributions: Sequence[str] = ()
    ingredients: Sequence[Path] = ()
    training_mining: dict[str, str] | None = None
    watermark: bool = True
    sidecar: bool = False

    def __post_init__(self) -> None:
        if not self.model.strip():
            raise InvalidInput("--model must name the model that generated the content")
        if self.model_digest is not None:
            check_digest(self.model_digest, "--model-digest")


@dataclass(frozen=True, slots=True)
class SignedOutput:
    """One signed file: where it went, its digest, its ledger index and what was embedded."""

    source: Path
    path: Path
    sidecar: Path | None
    digest: str
    ledger_index: int
    watermarked: bool
    media_type: str

    def to_dict(self) -> dict[str, object]:
        return {"source": str(self.source), "path": str(self.path), "sidecar": str(self.sidecar or "") or None,
                "digest": self.digest, "ledger_index": self.ledger_index, "watermarked": self.watermarked,
                "media_type": self.media_type}  # fmt: skip


def keys_dir(settings: Settings) -> Path:
    return settings.home / "keys"


def ledger_dir(settings: Settings) -> Path:
    return settings.home / "ledger"


def _sign_one(source: Path, out: Path, *, options: SignOptions, ledger: Ledger, settings: Settings,
              wm_key: bytes | None) -> SignedOutput:  # fmt: skip
    data, truncated = read_capped(source, max_bytes=settings.media_max_bytes)
    if truncated:
        raise InvalidInput(f"{source} is larger than media_max_bytes", path=str(source))
    media_type = sniff(data[:64])
    if media_type is None:
        raise InvalidInput(f"{source}: unsupported format (not an image or media type Rightful knows)")
    index = ledger.next_index
    marked = wm_key is not None and media_type in MARKABLE_TYPES
    if marked:
        assert wm_key is not None
        data = watermark_image(data, index, key=wm_key, max_pixels=settings.max_pixels)
    manifest = ManifestOptions(
        generator=Generator(options.model, options.model_version, options.model_digest),
        licence=options.licence, attributions=tuple(options.attributions), ingredients=tuple(options.ingredients),
        watermark_payload=f"{index:012x}" if marked else None, ledger_origin=ledger.verifier.name,
        ledger_index=index, sidecar=options.sidecar,
    )  # fmt: skip
    if options.training_mining:
        manifest = dataclasses.replace(manifest, training_mining=dict(options.training_mining))
    signed = sign_manifest(data, out, options=manifest, identity=load_signing_identity(keys_dir(settings)),
                           title=source.name)  # fmt: skip
    try:
        digest = "sha256:" + hashlib.sha256(out.read_bytes()).hexdigest()
        entry = output_record(digest=digest, model=options.model, model_digest=options.model_digest,
                              licence=options.licence, attributions=options.attributions,
                              watermark_payload=f"{index:012x}" if marked else None, media_type=media_type)  # fmt: skip
        if ledger.add(entry) != index:
            raise LedgerError("the log moved while signing (another writer?)")
    except BaseException:  # the output names a ledger index it will never get: do not leave it behind
        out.unlink(missing_ok=True)
        if signed.sidecar is not None:
            signed.sidecar.unlink(missing_ok=True)
        raise
    return SignedOutput(source, out, signed.sidecar, digest, index, marked, media_type)


def sign_many(
    pairs: Sequence[tuple[Path, Path]],
    *,
    options: SignOptions,
    settings: Settings | None = None,
    on_done: Callable[[SignedOutput | Exception], None] | None = None,
) -> Iterator[SignedOutput]:
    """Sign each (source, destination) pair; one log commit at the end (and every 256 files)."""
    cfg = settings or Settings.load()
    wm_key = load_watermark_key(keys_dir(cfg)) if options.watermark else None
    load_signing_identity(keys_dir(cfg))  # fail before touching anything when the certificate is bad
    with Ledger.open(ledger_dir(cfg), signer=load_log_signer(keys_dir(cfg))) as ledger:
        try:
            for number, (source, out) in enumerate(pairs, start=1):
                result = _sign_one(source, out, options=options, ledger=ledger, settings=cfg, wm_key=wm_key)
                if number % 256 == 0:
                    ledger.commit()
                if on_done is not None:
                    on_done(result)
                yield result
        finally:
            ledger.commit()


def sign_asset(
    path: str | Path, *, out: str | Path, options: SignOptions, settings: Settings | None = None
) -> SignedOutput:
    """Watermark, C2PA-sign and log one file; returns where it went and its ledger index."""
    (result,) = sign_many([(Path(path), Path(out))], options=options, settings=settings)
    return result
