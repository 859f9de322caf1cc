"""Writing C2PA manifests for generated content with c2pa-python (reading lives in ``signals.c2pa_manifest``).

The manifest says, in assertions any C2PA reader shows: ``c2pa.actions.v2`` with ``c2pa.created`` and the IPTC
digital source type ``trainedAlgorithmicMedia`` (the EU AI Act Art. 50 machine-readable marking); the generator
(model name, version, weights digest) as the action's software agent; ``cawg.training-mining`` terms for the
output; a ``c2pa.soft-binding`` naming our watermark and ledger entry, so a copy stripped of its manifest can be
found again; and ``org.rightful.provenance`` with the licence and attributions. Inputs the output derives from
become ingredients (``inputTo``).

When a format cannot carry an embedded manifest (or the caller asks), the manifest store is written next to
the asset as ``<name>.c2pa`` (a sidecar) and the asset is copied unchanged.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rightful._version import __version__
from rightful.errors import InvalidInput, ProvenanceError
from rightful.media import read_capped, sniff
from rightful.provenance.keys import SigningIdentity

__all__ = [
    "SIDECAR_SUFFIX",
    "SOFT_BINDING_ALG",
    "TRAINED_ALGORITHMIC_MEDIA",
    "Generator",
    "ManifestOptions",
    "SignedAsset",
    "build_manifest",
    "sign_manifest",
]

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
SOFT_BINDING_ALG = "org.rightful.watermark.v1"
SIDECAR_SUFFIX = ".c2pa"
PROVENANCE_LABEL = "org.rightful.provenance"
_EMBEDDABLE = frozenset({"image/jpeg", "image/png", "image/webp", "image/tiff", "image/avif", "image/heic",
                         "image/gif", "image/svg+xml", "video/mp4", "audio/mpeg", "audio/wav",
                         "application/pdf"})  # fmt: skip
_TRAINING_KEYS = ("cawg.data_mining", "cawg.ai_inference", "cawg.ai_generative_training", "cawg.ai_training")
_USES = {"allowed", "notAllowed", "constrained"}


@dataclass(frozen=True, slots=True)
class Generator:
    """The model that produced the output."""

    name: str
    version: str | None = None
    weights_digest: str | None = None

    def to_dict(self) -> dict[str, str]:
        out = {"name": self.name}
        if self.version:
            out["version"] = self.version
        if self.weights_digest:
            out["weights_digest"] = self.weights_digest
        return out


@dataclass(frozen=True, slots=True)
class ManifestOptions:
    """Everything a generated-content manifest states besides the asset itself."""

    generator: Generator
    title: str | None = None
    licence: str | None = None
    attributions: Sequence[str] = ()
    training_mining: Mapping[str, str] = field(default_factory=lambda: dict.fromkeys(_TRAINING_KEYS, "notAllowed"))
    ingredients: Sequence[Path] = ()
    watermark_payload: str | None = None
    ledger_origin: str | None = None
    ledger_index: int | None = None
    sidecar: bool = False


@dataclass(frozen=True, slots=True)
class SignedAsset:
    path: Path
    media_type: str
    sidecar: Path | None
    manifest: dict[str, Any]


def _check_options(options: ManifestOptions) -> None:
    if not options.generator.name.strip():
        raise InvalidInput("the generator (model) name must not be empty")
    for key, use in options.training_mining.items():
        if key not in _TRAINING_KEYS:
            raise InvalidInput(f"training-mining key {key!r} is not one of {', '.join(_TRAINING_KEYS)}")
        if use not in _USES:
            raise InvalidInput(f"training-mining use {use!r} is not allowed / notAllowed / constrained")


def build_manifest(options: ManifestOptions, *, media_type: str, title: str) -> dict[str, Any]:
    """The manifest definition handed to ``c2pa.Builder`` (pure; tested without signing)."""
    _check_options(options)
    generator = options.generator
    agent = {"name": generator.name, **({"version": generator.version} if generator.version else {})}
    action: dict[str, Any] = {"action": "c2pa.created", "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                              "softwareAgent": agent}  # fmt: skip
    if generator.weights_digest:
        action["parameters"] = {"org.rightful.weights_digest": generator.weights_digest}
    provenance: dict[str, Any] = {"generator": generator.to_dict(), "attributions": list(options.attributions)}
    if options.licence:
        provenance["licence"] = options.licence
    assertions: list[dict[str, Any]] = [
        {"label": "c2pa.actions.v2", "data": {"actions": [action]}},
        {"label": "cawg.training-mining",
         "data": {"entries": {k: {"use": v} for k, v in options.training_mining.items()}}},
    ]  # fmt: skip
    if options.watermark_payload is not None or options.ledger_index is not None:
        binding = {"watermark_payload": options.watermark_payload, "ledger_origin": options.ledger_origin,
                   "ledger_index": options.ledger_index}  # fmt: skip
        provenance["soft_binding"] = {k: v for k, v in binding.items() if v is not None}
        value = json.dumps(provenance["soft_binding"], sort_keys=True, separators=(",", ":"))
        assertions.append({"label": "c2pa.soft-binding",
                           "data": {"alg": SOFT_BINDING_ALG, "blocks": [{"scope": {}, "value": value}]}})  # fmt: skip
    assertions.append({"label": PROVENANCE_LABEL, "data": provenance})
    return {
        "claim_generator_info": [{"name": "rightful", "version": __version__}],
        "title": options.title or title,
        "format": media_type,
        "assertions": assertions,
    }


def sign_manifest(
    data: bytes, out: Path, *, options: ManifestOptions, identity: SigningIdentity, title: str
) -> SignedAsset:
    """Sign ``data`` (an image) into ``out``: embedded manifest, or a ``.c2pa`` sidecar next to ``out``."""
    import c2pa

    media_type = sniff(data[:64])
    if media_type is None:
        raise InvalidInput("unsupported format: not a recognised image or media file")
    sidecar = options.sidecar or media_type not in _EMBEDDABLE
    definition = build_manifest(options, media_type=media_type, title=title)
    try:
        with c2pa.Builder.from_json(definition) as builder:
            for ingredient in options.ingredients:
                _add_ingredient(builder, ingredient)
            if sidecar:
                builder.set_no_embed()
            with c2pa.Signer.from_info(c2pa.C2paSignerInfo(identity.alg.encode(), identity.chain_pem,
                                                           identity.key_pem, None)) as signer:  # fmt: skip
                dest = io.BytesIO()
                manifest_bytes = builder.sign(signer, media_type, io.BytesIO(data), dest)
    except c2pa.C2paError as exc:
        raise ProvenanceError(f"C2PA signing failed for {out.name}: {exc}", path=str(out)) from exc
    out.parent.mkdir(parents=True, exist_ok=True)
    sidecar_path = None
    if sidecar:
        out.write_bytes(data)
        sidecar_path = out.with_name(out.name + SIDECAR_SUFFIX)
        sidecar_path.write_bytes(manifest_bytes)
    else:
        out.write_bytes(dest.getvalue())
    return SignedAsset(out, media_type, sidecar_path, definition)


def _add_ingredient(builder: Any, path: Path) -> None:
    data, truncated = read_capped(path)
    if truncated:
        raise InvalidInput(f"ingredient {path} is too large", path=str(path))
    media_type = sniff(data[:64])
    if media_type is None:
        raise InvalidInput(f"ingredient {path}: unsupported format", path=str(path))
    builder.add_ingredient({"title": path.name, "relationship": "inputTo"}, media_type, io.BytesIO(data))
