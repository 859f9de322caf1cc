"""Writing C2PA manifests with c2pa-python (reading lives in ``signals.c2pa_manifest``).

:func:`sign_bytes` is the one place that calls ``c2pa.Builder``: any list of assertions, signed into any asset
(:func:`sign_assertions` for files; ``rightful tag`` signs an artist's ``cawg.training-mining`` terms with it).

For generated content the manifest (:func:`build_manifest`) says, in assertions any C2PA reader shows:
``c2pa.actions.v2`` with ``c2pa.created`` and the IPTC digital source type ``trainedAlgorithmicMedia`` (the EU
AI Act Art. 50 machine-readable marking); the generator (model name, version, weights digest) as the action's
software agent; ``cawg.training-mining`` terms for the output; a ``c2pa.soft-binding`` naming our watermark and
ledger entry, so a copy stripped of its manifest can be found again; and ``org.rightful.provenance`` with the
licence and attributions. Inputs the output derives from become ingredients (``inputTo``).

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
    "TRAINING_MINING_KEYS",
    "Generator",
    "Ingredient",
    "ManifestOptions",
    "SignedAsset",
    "SignedBytes",
    "build_manifest",
    "manifest_definition",
    "sign_assertions",
    "sign_bytes",
    "sign_manifest",
    "training_mining_assertion",
    "write_signed",
]

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
SOFT_BINDING_ALG = "org.rightful.watermark.v1"
SIDECAR_SUFFIX = ".c2pa"
PROVENANCE_LABEL = "org.rightful.provenance"
_EMBEDDABLE = frozenset({"image/jpeg", "image/png", "image/webp", "image/tiff", "image/avif", "image/heic",
                         "image/gif", "image/svg+xml", "video/mp4", "audio/mpeg", "audio/wav",
                         "application/pdf"})  # fmt: skip
#: The four entries of a CAWG training-and-mining assertion.
TRAINING_MINING_KEYS = ("cawg.data_mining", "cawg.ai_inference", "cawg.ai_generative_training", "cawg.ai_training")
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
    training_mining: Mapping[str, str] = field(
        default_factory=lambda: dict.fromkeys(TRAINING_MINING_KEYS, "notAllowed")
    )
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


def sidecar_for(path: Path) -> Path:
    """Where Rightful writes the detached manifest of ``path``: ``x.jpg`` → ``x.jpg.c2pa``."""
    return path.with_name(path.name + SIDECAR_SUFFIX)


def _check_options(options: ManifestOptions) -> None:
    if not options.generator.name.strip():
        raise InvalidInput("the generator (model) name must not be empty")
    training_mining_assertion(options.training_mining)


def manifest_definition(
    assertions: Sequence[Mapping[str, Any]],
    *,
    title: str,
    media_type: str,
    claim_generator: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The definition ``c2pa.Builder`` takes: who made the claim, the asset's title and format, the assertions."""
    info = dict(claim_generator or {"name": "rightful", "version": __version__})
    return {"claim_generator_info": [info], "title": title, "format": media_type,
            "assertions": [dict(a) for a in assertions]}  # fmt: skip


def build_manifest(options: ManifestOptions, *, media_type: str, title: str) -> dict[str, Any]:
    """The generated-content manifest definition handed to ``c2pa.Builder`` (pure; tested without signing)."""
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
        training_mining_assertion(options.training_mining),
    ]
    if options.watermark_payload is not None or options.ledger_index is not None:
        binding = {"watermark_payload": options.watermark_payload, "ledger_origin": options.ledger_origin,
                   "ledger_index": options.ledger_index}  # fmt: skip
        provenance["soft_binding"] = {k: v for k, v in binding.items() if v is not None}
        value = json.dumps(provenance["soft_binding"], sort_keys=True, separators=(",", ":"))
        assertions.append({"label": "c2pa.soft-binding",
                           "data": {"alg": SOFT_BINDING_ALG, "blocks": [{"scope": {}, "value": value}]}})  # fmt: skip
    assertions.append({"label": PROVENANCE_LABEL, "data": provenance})
    return manifest_definition(assertions, title=options.title or title, media_type=media_type)


def training_mining_assertion(uses: Mapping[str, str]) -> dict[str, Any]:
    """A ``cawg.training-mining`` assertion: each CAWG entry (``cawg.ai_training`` …) with its ``use``."""
    for key, use in uses.items():
        if key not in TRAINING_MINING_KEYS:
            raise InvalidInput(f"training-mining key {key!r} is not one of {', '.join(TRAINING_MINING_KEYS)}")
        if use not in _USES:
            raise InvalidInput(f"training-mining use {use!r} is not allowed / notAllowed / constrained")
    return {"label": "cawg.training-mining", "data": {"entries": {k: {"use": v} for k, v in uses.items()}}}


@dataclass(frozen=True, slots=True)
class Ingredient:
    """An asset the signed one comes from: ``parentOf`` (this asset, before the edit) or ``inputTo``."""

    data: bytes
    title: str
    relationship: str = "inputTo"

    @classmethod
    def from_path(cls, path: Path, *, relationship: str = "inputTo") -> Ingredient:
        data, truncated = read_capped(path)
        if truncated:
            raise InvalidInput(f"ingredient {path} is too large", path=str(path))
        return cls(data, path.name, relationship)


@dataclass(frozen=True, slots=True)
class SignedBytes:
    """A signing result in memory: the asset (manifest embedded, or unchanged) and the manifest store."""

    data: bytes
    manifest: bytes
    media_type: str
    embedded: bool
    definition: dict[str, Any]


def _context(c2pa: Any, *, thumbnail: bool) -> Any:
    """Offline (no OCSP, no remote manifests) and, unless asked, no thumbnail: a re-encoded copy of the picture."""
    return c2pa.Context.from_dict({
        "builder": {"thumbnail": {"enabled": thumbnail}},
        "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
        "core": {"allowed_network_hosts": []},
    })  # fmt: skip


def _with_actions(assertions: Sequence[Mapping[str, Any]], ingredients: Sequence[Ingredient],
                  edited: bool) -> list[dict[str, Any]]:  # fmt: skip
    """The assertions, led by ``c2pa.opened`` (+ ``c2pa.edited.metadata``) when the caller gave no actions."""
    out = [dict(a) for a in assertions]
    if any(str(a.get("label", "")).startswith("c2pa.actions") for a in out):
        return out
    actions: list[dict[str, Any]] = [{"action": "c2pa.opened", "parameters": {"ingredientIds": ["parent"]}}]
    if edited:
        actions.append({"action": "c2pa.edited.metadata"})
    return [{"label": "c2pa.actions.v2", "data": {"actions": actions}}, *out]


def sign_bytes(
    data: bytes,
    assertions: Sequence[Mapping[str, Any]],
    *,
    identity: SigningIdentity,
    title: str,
    parent: bytes | None = None,
    ingredients: Sequence[Ingredient] = (),
    claim_generator: Mapping[str, str] | None = None,
    sidecar: bool = False,
    thumbnail: bool = False,
) -> SignedBytes:
    """Sign ``assertions`` into ``data`` (in memory): the one place Rightful calls ``c2pa.Builder``.

    Without a ``c2pa.actions`` assertion the manifest records an edit: ``c2pa.opened`` of ``parent`` (the asset
    before the change, by default ``data`` itself; its own manifest, if any, is kept as the ingredient's), then
    ``c2pa.edited.metadata`` when ``parent`` differs. Formats that cannot embed a manifest, or ``sidecar=True``,
    leave ``data`` unchanged and return the manifest store alone.
    """
    import c2pa

    media_type = sniff(data[:64])
    if media_type is None:
        raise InvalidInput("unsupported format: not a recognised image or media file")
    no_embed = sidecar or media_type not in _EMBEDDABLE
    actions_given = any(str(a.get("label", "")).startswith("c2pa.actions") for a in assertions)
    parts = list(ingredients)
    if not actions_given:
        parts.insert(0, Ingredient(data if parent is None else parent, title, "parentOf"))
    definition = manifest_definition(_with_actions(assertions, parts, parent is not None and parent != data),
                                     title=title, media_type=media_type, claim_generator=claim_generator)  # fmt: skip
    try:
        with c2pa.Builder.from_json(definition, _context(c2pa, thumbnail=thumbnail)) as builder:
            for number, ingredient in enumerate(parts):
                _add_ingredient(builder, ingredient, "parent" if number == 0 and not actions_given else None)
            if no_embed:
                builder.set_no_embed()
            with c2pa.Signer.from_info(c2pa.C2paSignerInfo(identity.alg.encode(), identity.chain_pem,
                                                           identity.key_pem, None)) as signer:  # fmt: skip
                dest = io.BytesIO()
                manifest_bytes = builder.sign(signer, media_type, io.BytesIO(data), dest)
    except c2pa.C2paError as exc:
        raise ProvenanceError(f"C2PA signing failed for {title}: {exc}") from exc
    signed = data if no_embed else dest.getvalue()
    return SignedBytes(signed, manifest_bytes, media_type, not no_embed, definition)


def write_signed(signed: SignedBytes, out: Path) -> SignedAsset:
    """Write a signed asset to ``out``, and its manifest to ``out.c2pa`` beside it when it is not embedded."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(signed.data)
    sidecar_path = None
    if not signed.embedded:
        sidecar_path = sidecar_for(out)
        sidecar_path.write_bytes(signed.manifest)
    return SignedAsset(out, signed.media_type, sidecar_path, signed.definition)


def sign_assertions(
    src: str | Path,
    dst: str | Path,
    assertions: Sequence[Mapping[str, Any]],
    *,
    identity: SigningIdentity,
    title: str | None = None,
    ingredients: Sequence[Path] = (),
    claim_generator: Mapping[str, str] | None = None,
    sidecar: bool = False,
    thumbnail: bool = False,
) -> SignedAsset:
    """Sign ``assertions`` (C2PA assertion objects: ``{"label": …, "data": …}``) into the file ``src``, to ``dst``.

    Generic: ``sign_asset`` (generated content) and ``rightful tag`` (an artist's reservation) both end here.
    Without an actions assertion the manifest says the file was opened and signed as it is (see :func:`sign_bytes`).
    """
    source = Path(src)
    data, truncated = read_capped(source)
    if truncated:
        raise InvalidInput(f"{source} is too large to sign in memory", path=str(source))
    signed = sign_bytes(data, assertions, identity=identity, title=title or source.name,
                        ingredients=[Ingredient.from_path(p) for p in ingredients], claim_generator=claim_generator,
                        sidecar=sidecar, thumbnail=thumbnail)  # fmt: skip
    return write_signed(signed, Path(dst))


def sign_manifest(
    data: bytes, out: Path, *, options: ManifestOptions, identity: SigningIdentity, title: str
) -> SignedAsset:
    """Sign a generated-content manifest into ``data``, written to ``out`` (or a ``.c2pa`` sidecar beside it)."""
    media_type = sniff(data[:64])
    if media_type is None:
        raise InvalidInput("unsupported format: not a recognised image or media file")
    definition = build_manifest(options, media_type=media_type, title=title)
    signed = sign_bytes(data, definition["assertions"], identity=identity, title=definition["title"],
                        ingredients=[Ingredient.from_path(p) for p in options.ingredients],
                        sidecar=options.sidecar, thumbnail=True)  # fmt: skip
    try:
        return write_signed(signed, out)
    except OSError as exc:
        raise ProvenanceError(f"cannot write {out}: {exc.strerror or exc}", path=str(out)) from exc


def _add_ingredient(builder: Any, ingredient: Ingredient, instance_id: str | None) -> None:
    media_type = sniff(ingredient.data[:64])
    if media_type is None:
        raise InvalidInput(f"ingredient {ingredient.title}: unsupported format")
    info: dict[str, Any] = {"title": ingredient.title, "relationship": ingredient.relationship}
    if instance_id is not None:
        info |= {"instance_id": instance_id, "label": instance_id}
    builder.add_ingredient(info, media_type, io.BytesIO(ingredient.data))
