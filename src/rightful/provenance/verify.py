"""``verify_asset``: everything Rightful can tell about where a file comes from, in one report.

Five independent sections, each a result and never an exception for "absent": ``c2pa`` (embedded or sidecar
manifest, validation state, signer, generator, AI marking, training-mining terms, licence, attributions),
``watermark`` (payload and calibrated false-positive probability, with this installation's key), ``ledger``
(the entry named by the manifest's soft binding or the watermark, proven included under the latest signed
checkpoint), ``signals`` (embedded reservations, through the signals engine) and ``matches`` (registered works
the file replicates, when a registry exists).
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rightful.config import Settings
from rightful.errors import InvalidInput, LedgerError, RightfulError, SignatureInvalid
from rightful.media import read_capped, sniff
from rightful.provenance.imagemark import detect_image
from rightful.provenance.keys import KeyPaths, load_log_verifier, load_watermark_key
from rightful.provenance.ledger import Ledger
from rightful.provenance.manifest import (
    PROVENANCE_LABEL,
    SIDECAR_SUFFIX,
    SOFT_BINDING_ALG,
    TRAINED_ALGORITHMIC_MEDIA,
    sidecar_for,
)
from rightful.provenance.records import parse_record
from rightful.signals.c2pa_manifest import C2PA_MEDIA_TYPES, ManifestReadError, read_manifest_store

__all__ = ["VerifyReport", "sidecar_paths", "verify_asset"]


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The five sections, as JSON-ready mappings."""

    path: str
    digest: str
    c2pa: Mapping[str, Any]
    watermark: Mapping[str, Any]
    ledger: Mapping[str, Any]
    signals: Mapping[str, Any]
    matches: list[Any]
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "digest": self.digest, "c2pa": dict(self.c2pa), "watermark": dict(self.watermark),
                "ledger": dict(self.ledger), "signals": dict(self.signals), "matches": list(self.matches),
                "notes": list(self.notes)}  # fmt: skip


def _sidecar_store(data: bytes, sidecar: bytes, media_type: str) -> dict[str, Any] | None:
    import c2pa

    context = c2pa.Context.from_dict({"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
                                      "core": {"allowed_network_hosts": []}})  # fmt: skip
    try:
        with c2pa.Reader(media_type, io.BytesIO(data), sidecar, context) as reader:
            store = json.loads(reader.json())
    except c2pa.C2paError as exc:
        raise ManifestReadError("c2pa-corrupt-manifest", str(exc)) from exc
    return store if isinstance(store, dict) else None


def sidecar_paths(path: Path) -> tuple[Path, ...]:
    """Where a detached manifest for ``path`` may sit: ``x.jpg.c2pa`` (what we write), then ``x.c2pa`` (c2patool)."""
    return tuple(dict.fromkeys((sidecar_for(path), path.with_suffix(SIDECAR_SUFFIX))))


def _c2pa_section(path: Path, data: bytes, media_type: str | None) -> dict[str, Any]:
    """The embedded manifest or, when there is none, the first sidecar beside the file, validated against it."""
    sidecar = next((p for p in sidecar_paths(path) if p != path and p.is_file()), None)
    if media_type is None or (media_type not in C2PA_MEDIA_TYPES and sidecar is None):
        return {"present": False, "reason": f"format {media_type or 'unknown'} carries no C2PA manifest"}
    source = "embedded"
    try:  # a format that cannot embed one may still have a detached manifest (sign_asset writes one)
        store = read_manifest_store(data, media_type=media_type) if media_type in C2PA_MEDIA_TYPES else None
        if store is None and sidecar is not None:
            source = f"sidecar {sidecar.name}"
            store = _sidecar_store(data, sidecar.read_bytes(), media_type)
    except ManifestReadError as exc:
        return {"present": True, "source": source, "state": "Unreadable", "failures": [exc.code], "error": str(exc)}
    except OSError as exc:
        return {"present": True, "source": source, "state": "Unreadable", "failures": ["c2pa-sidecar-unreadable"],
                "error": f"cannot read {sidecar}: {exc.strerror or exc}"}  # fmt: skip
    if store is None:
        return {"present": False}
    return {"present": True, "source": source, **summarise_store(store)}


def summarise_store(store: Mapping[str, Any]) -> dict[str, Any]:
    """The verify view of a manifest store: state, failures, signer, generator, AI marking, terms (pure)."""
    label = store.get("active_manifest")
    manifests = store.get("manifests") if isinstance(store.get("manifests"), Mapping) else {}
    manifest = manifests.get(label) if isinstance(label, str) and isinstance(manifests, Mapping) else None
    manifest = manifest if isinstance(manifest, Mapping) else {}
    statuses = store.get("validation_status")
    failures = sorted({str(s["code"]) for s in statuses if isinstance(s, Mapping) and isinstance(s.get("code"), str)}
                      if isinstance(statuses, list) else set())  # fmt: skip
    out: dict[str, Any] = {
        "state": store.get("validation_state", "Unknown"), "failures": failures, "manifest": label,
        "trusted": store.get("validation_state") == "Trusted", "signer": manifest.get("signature_info") or {},
        "generator": None, "ai_generated": False, "training_mining": {}, "licence": None, "attributions": [],
        "soft_binding": None,
    }  # fmt: skip
    for assertion in manifest.get("assertions") or []:
        if isinstance(assertion, Mapping):
            _read_assertion(str(assertion.get("label", "")), assertion.get("data"), out)
    return out


def _read_assertion(label: str, data: Any, out: dict[str, Any]) -> None:
    if not isinstance(data, Mapping):
        return
    base = label.split("__")[0]
    if base in ("c2pa.actions", "c2pa.actions.v2"):
        for action in data.get("actions") or []:
            if isinstance(action, Mapping) and action.get("digitalSourceType") == TRAINED_ALGORITHMIC_MEDIA:
                out["ai_generated"] = True
                agent = action.get("softwareAgent")
                out["generator"] = agent if isinstance(agent, Mapping) else {"name": agent}
    elif base in ("cawg.training-mining", "c2pa.training-mining"):
        entries = data.get("entries")
        if isinstance(entries, Mapping):
            out["training_mining"].update({k: v.get("use") for k, v in entries.items() if isinstance(v, Mapping)})
    elif base == PROVENANCE_LABEL:
        out["licence"] = data.get("licence")
        out["attributions"] = list(data.get("attributions") or [])
        if isinstance(data.get("generator"), Mapping):
            out["generator"] = {**(out["generator"] or {}), **data["generator"]}
    elif base == "c2pa.soft-binding" and data.get("alg") == SOFT_BINDING_ALG:
        blocks = data.get("blocks") or []
        try:
            out["soft_binding"] = json.loads(blocks[0]["value"])
        except (IndexError, KeyError, TypeError, ValueError):
            out["soft_binding"] = {"error": "unreadable soft-binding value"}


def _watermark_section(data: bytes, keys: Path, settings: Settings) -> dict[str, Any]:
    try:
        key = load_watermark_key(keys)
    except RightfulError as exc:
        return {"checked": False, "reason": str(exc)}
    try:
        detection = detect_image(data, key=key, max_pixels=settings.max_pixels)
    except InvalidInput as exc:
        return {"checked": False, "reason": str(exc)}
    return {"checked": True, **detection.to_dict()}


def _ledger_section(digest: str, c2pa: Mapping[str, Any], mark: Mapping[str, Any], settings: Settings,
                    keys: Path) -> dict[str, Any]:  # fmt: skip
    binding = c2pa.get("soft_binding") if isinstance(c2pa.get("soft_binding"), Mapping) else {}
    candidates: list[tuple[str, int]] = []
    if isinstance(binding, Mapping) and isinstance(binding.get("ledger_index"), int):
        candidates.append(("c2pa soft binding", binding["ledger_index"]))
    if mark.get("found") and isinstance(mark.get("payload"), str):
        candidates.append(("watermark", int(mark["payload"], 16)))
    if not candidates:
        return {"found": False, "reason": "no ledger reference in a manifest or a watermark"}
    try:
        ledger = Ledger(settings.home / "ledger", verifier=load_log_verifier(keys))
    except (LedgerError, SignatureInvalid, RightfulError) as exc:
        return {"found": False, "reason": f"the log cannot be opened: {exc}", "candidates": dict(candidates)}
    for via, index in candidates:
        if not 0 <= index < ledger.size:
            continue
        entry = ledger.entry(index)
        proof = ledger.prove_inclusion(index)
        record = parse_record(entry)
        return {"found": True, "via": via, "index": index, "record": record, "digest_matches": record.get("digest")
                == digest, "checkpoint": {"origin": ledger.checkpoint.origin, "size": ledger.checkpoint.size},
                "inclusion_verified": proof.verify(entry, ledger.checkpoint), "proof": proof.to_dict()}  # fmt: skip
    return {"found": False, "reason": "the referenced entry is not in this log", "candidates": dict(candidates)}


def _matches(path: Path, settings: Settings) -> tuple[list[Any], str | None]:
    try:
        registry = importlib.import_module("rightful.registry")
    except ImportError:
        return [], "no registry module in this installation; registry matches skipped"
    try:
        found = registry.match(path, settings=settings)
    except RightfulError as exc:  # no registry yet, a missing extra, a store error: matching is optional here
        return [], f"registry matches skipped: {exc}"
    return [m.to_dict() if hasattr(m, "to_dict") else m for m in found], None


def verify_asset(path: str | Path, *, settings: Settings | None = None) -> VerifyReport:
    """Verify one file: C2PA, watermark, ledger, embedded signals and registry matches."""
    from rightful.signals.check import check_file

    cfg = settings or Settings.load()
    p = Path(path)
    data, truncated = read_capped(p, max_bytes=cfg.media_max_bytes)
    if truncated:
        raise InvalidInput(f"{p} is larger than media_max_bytes ({cfg.media_max_bytes})", path=str(p))
    media_type = sniff(data[:512])
    keys = KeyPaths(cfg.home / "keys").root
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    c2pa = _c2pa_section(p, data, media_type)
    mark = _watermark_section(data, keys, cfg) if media_type and media_type.startswith("image/") else \
        {"checked": False, "reason": "not an image"}  # fmt: skip
    ledger = _ledger_section(digest, c2pa, mark, cfg, keys)
    signals = check_file(p, settings=cfg).to_dict()
    matches, note = _matches(p, cfg)
    return VerifyReport(str(p), digest, c2pa, mark, ledger, signals, matches, (note,) if note else ())
