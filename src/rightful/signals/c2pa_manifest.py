"""C2PA / CAWG training-and-mining assertions, read from a file's embedded manifest with c2pa-python.

Two steps, kept apart so the interpretation is testable without signing anything:

* :func:`read_manifest_store` hands the bytes (in memory, with the sniffed MIME type) to ``c2pa.Reader`` under a
  context that forbids every network access: remote manifests are not fetched (``cloud.jpg`` points to one),
  OCSP is not queried, no network host is allowed. c2pa-python is a compiled library, imported only here.
* :func:`manifest_findings` is a pure function over the manifest-store JSON: the active manifest's
  ``c2pa.training-mining`` and ``cawg.training-mining`` assertions become signals (protocol ``c2pa`` or
  ``cawg`` by label) carrying the manifest's validation state, failure codes, claim generator and signer.

Documented choices: ``constrained`` counts as reserved (we understand no constraint vocabulary yet) with the
constraint text kept in the details. A manifest whose validation state is ``Invalid`` still counts for its
*reservations* (most restrictive), but its *permissions* are dropped: an invalid manifest can never make an
item "allowed". A manifest the reader cannot read at all is an error and no signal (verdict unknown).
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from rightful.models import Decision, Purpose, Signal
from rightful.signals.base import Findings

__all__ = [
    "C2PA_MEDIA_TYPES",
    "ManifestReadError",
    "c2pa_findings",
    "has_c2pa_marker",
    "manifest_findings",
    "read_manifest_store",
]

#: Media types we hand to the reader (those c2pa-python 0.38 reads and our sniffer names).
C2PA_MEDIA_TYPES = frozenset({
    "image/jpeg", "image/png", "image/webp", "image/gif", "image/tiff", "image/avif", "image/heic",
    "image/heif", "image/jxl", "image/svg+xml", "application/pdf", "application/epub+zip", "video/mp4",
    "video/quicktime", "audio/mpeg", "audio/wav", "audio/flac", "audio/mp4",
})  # fmt: skip

#: No network, ever: remote manifests, OCSP and any other fetch are refused by the SDK itself.
_OFFLINE_SETTINGS: Mapping[str, Any] = {
    "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
    "core": {"allowed_network_hosts": []},
}

_TRAINING_LABELS = {"c2pa.training-mining": "c2pa", "cawg.training-mining": "cawg"}
_ENTRY_PURPOSES: Mapping[str, Purpose] = {
    "data_mining": Purpose.DATA_MINING,
    "ai_inference": Purpose.AI_INFERENCE,
    "ai_generative_training": Purpose.GENAI_TRAINING,
    "ai_training": Purpose.AI_TRAINING,
}
_USES: Mapping[str, Decision] = {
    "allowed": Decision.ALLOWED,
    "notallowed": Decision.RESERVED,
    "constrained": Decision.RESERVED,
}
_LABEL_SUFFIX = re.compile(r"(__\d+)?$")
_VERSION_SUFFIX = re.compile(r"\.v\d+$")
_context_cache: dict[int, Any] = {}  # per process id: a c2pa Context does not survive fork()


class ManifestReadError(Exception):
    """The reader could not produce a manifest store; ``code`` names the kind of failure."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def has_c2pa_marker(data: bytes) -> bool:
    """Whether the bytes could hold a C2PA manifest (JUMBF box or C2PA label); cheap, to skip the reader."""
    return b"jumb" in data or b"c2pa" in data


def read_manifest_store(data: bytes, *, media_type: str) -> dict[str, Any] | None:
    """The manifest store as parsed JSON, None when there is no manifest; :class:`ManifestReadError` else."""
    try:
        import c2pa
    except (ImportError, OSError) as exc:  # the compiled library failed to load
        raise ManifestReadError("c2pa-unavailable", f"c2pa-python cannot be loaded: {exc}") from exc
    try:
        with c2pa.Reader(media_type, io.BytesIO(data), None, _offline_context(c2pa)) as reader:
            text = reader.json()
    except c2pa.C2paError.ManifestNotFound:
        return None
    except c2pa.C2paError as exc:
        raise ManifestReadError(_error_code(str(exc)), str(exc)) from exc
    try:
        store = json.loads(text)
    except ValueError as exc:
        raise ManifestReadError("c2pa-corrupt-manifest", f"manifest store is not JSON: {exc}") from exc
    if not isinstance(store, dict):
        raise ManifestReadError("c2pa-corrupt-manifest", "manifest store is not a JSON object")
    return store


def _offline_context(c2pa: Any) -> Any:
    pid = os.getpid()
    context = _context_cache.get(pid)
    if context is None:
        context = c2pa.Context.from_dict(dict(_OFFLINE_SETTINGS))
        _context_cache.clear()
        _context_cache[pid] = context
    return context


def _error_code(message: str) -> str:
    if message.startswith("Remote"):
        return "c2pa-remote-manifest"
    if message.startswith("NotSupported"):
        return "c2pa-unsupported-format"
    return "c2pa-corrupt-manifest"


def c2pa_findings(
    data: bytes,
    *,
    media_type: str,
    location: str,
    fetched_at: datetime | None = None,
    document_hash: str | None = None,
) -> Findings:
    """Read the embedded manifest (if any) and interpret it; reader failures become errors, never signals."""
    findings = Findings()
    if media_type not in C2PA_MEDIA_TYPES or not has_c2pa_marker(data):
        return findings
    try:
        store = read_manifest_store(data, media_type=media_type)
    except ManifestReadError as exc:
        message = f"C2PA manifest could not be read: {exc}"
        if exc.code == "c2pa-remote-manifest":
            message = f"the C2PA manifest is remote and was not fetched (network is never used): {exc}"
        findings.error(exc.code, message, protocol="c2pa", location=location)
        return findings
    if store is None:
        return findings
    return manifest_findings(store, location=location, fetched_at=fetched_at, document_hash=document_hash)


def manifest_findings(
    store: Mapping[str, Any],
    *,
    location: str,
    fetched_at: datetime | None = None,
    document_hash: str | None = None,
) -> Findings:
    """Interpret a manifest-store JSON (as ``c2pa.Reader.json()`` returns it): pure, no I/O."""
    findings = Findings()
    active = _active_manifest(store)
    if active is None:
        findings.error("c2pa-corrupt-manifest", "manifest store has no active manifest", protocol="c2pa",
                       location=location)  # fmt: skip
        return findings
    label, manifest = active
    summary = _summary(store, label, manifest)
    evidence: dict[str, Any] = {"location": location, "fetched_at": fetched_at, "document_hash": document_hash}
    assertions = manifest.get("assertions")
    found = False
    for assertion in assertions if isinstance(assertions, list) else []:
        if not isinstance(assertion, Mapping):
            continue
        protocol = _TRAINING_LABELS.get(_base_label(assertion.get("label")))
        if protocol is not None:
            found = True
            _assertion_signal(assertion, protocol, summary, evidence, findings)
    if not found:
        findings.signals.append(Signal(
            protocol="c2pa", raw=f"C2PA manifest {label}", rule=f"C2PA manifest ({_state_words(summary)}) "
            "with no training-mining assertion: states nothing about AI use", details=summary, **evidence,
        ))  # fmt: skip
    return findings


def _active_manifest(store: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]] | None:
    label = store.get("active_manifest")
    manifests = store.get("manifests")
    if not isinstance(label, str) or not isinstance(manifests, Mapping):
        return None
    manifest = manifests.get(label)
    return (label, manifest) if isinstance(manifest, Mapping) else None


def _base_label(label: object) -> str:
    """``c2pa.training-mining__1`` / ``cawg.training-mining.v2`` → the bare label."""
    if not isinstance(label, str):
        return ""
    return _VERSION_SUFFIX.sub("", _LABEL_SUFFIX.sub("", label, count=1))


def _summary(store: Mapping[str, Any], label: str, manifest: Mapping[str, Any]) -> dict[str, Any]:
    """What ``verify`` shows about a manifest: validation state and failures, generator, signer."""
    state = store.get("validation_state")
    signature = manifest.get("signature_info")
    signature = signature if isinstance(signature, Mapping) else {}
    generator = manifest.get("claim_generator")
    infos = manifest.get("claim_generator_info")
    if not isinstance(generator, str) and isinstance(infos, list) and infos and isinstance(infos[0], Mapping):
        generator = " ".join(str(infos[0].get(k)) for k in ("name", "version") if infos[0].get(k))
    return {
        "manifest": label,
        "validation_state": state if isinstance(state, str) else "Unknown",
        "validation_failures": _failure_codes(store),
        "claim_generator": generator if isinstance(generator, str) else None,
        "signer": {k: signature.get(k) for k in ("issuer", "common_name", "alg", "time") if signature.get(k)},
        "title": manifest.get("title") if isinstance(manifest.get("title"), str) else None,
    }


def _failure_codes(store: Mapping[str, Any]) -> list[str]:
    codes: list[str] = []
    statuses = store.get("validation_status")
    results = store.get("validation_results")
    if isinstance(results, Mapping) and isinstance(results.get("activeManifest"), Mapping):
        statuses = [*(statuses if isinstance(statuses, list) else []), *results["activeManifest"].get("failure", [])]
    for status in statuses if isinstance(statuses, list) else []:
        code = status.get("code") if isinstance(status, Mapping) else None
        if isinstance(code, str) and code not in codes:
            codes.append(code)
    return codes


def _state_words(summary: Mapping[str, Any]) -> str:
    state = str(summary["validation_state"])
    failures = [c for c in summary["validation_failures"] if c != "signingCredential.untrusted"]
    untrusted = "signingCredential.untrusted" in summary["validation_failures"]
    words = state + (", signer not on a trust list" if untrusted and state != "Trusted" else "")
    return words + (f", failures: {', '.join(failures)}" if failures else "")


def _assertion_signal(
    assertion: Mapping[str, Any],
    protocol: str,
    summary: dict[str, Any],
    evidence: dict[str, Any],
    findings: Findings,
) -> None:
    label = str(assertion.get("label"))
    data = assertion.get("data")
    entries = data.get("entries") if isinstance(data, Mapping) else None
    if not isinstance(entries, Mapping):
        findings.error("c2pa-invalid-assertion", f"{label} has no 'entries' object; ignored", protocol=protocol,
                       location=evidence["location"])  # fmt: skip
        return
    values, statements, constraints = _entry_values(entries, label, protocol, evidence["location"], findings)
    dropped: list[str] = []
    if summary["validation_state"] == "Invalid":  # an invalid manifest may reserve but never permit
        dropped = sorted(p.value for p, d in values.items() if d is Decision.ALLOWED)
        values = {p: d for p, d in values.items() if d is not Decision.ALLOWED}
    details = {**summary, "label": label, "entries": statements}
    if constraints:
        details["constraints"] = constraints
    if dropped:
        details["ignored_permissions"] = dropped
    rule = f"{label}: {', '.join(f'{k}={v}' for k, v in statements.items()) or 'no entries'}"
    rule += f" (manifest {_state_words(summary)})"
    if dropped:
        rule += "; permissions ignored because the manifest is Invalid"
    raw = json.dumps({"label": label, "data": data}, ensure_ascii=False, separators=(",", ":"), default=str)
    findings.signals.append(Signal(protocol=protocol, raw=raw, rule=rule, values=values, details=details,
                                   **evidence))  # fmt: skip


def _entry_values(
    entries: Mapping[str, Any], label: str, protocol: str, location: str, findings: Findings
) -> tuple[dict[Purpose, Decision], dict[str, str], dict[str, Any]]:
    """Per-purpose values (most restrictive per purpose), the entries as stated, and any constraint texts."""
    values: dict[Purpose, Decision] = {}
    statements: dict[str, str] = {}
    constraints: dict[str, Any] = {}
    for key, raw_entry in entries.items():
        purpose = _ENTRY_PURPOSES.get(str(key).rpartition(".")[2])
        entry: Mapping[str, Any] = raw_entry if isinstance(raw_entry, Mapping) else {}
        use = entry.get("use")
        statements[str(key)] = str(use)
        if purpose is None:
            findings.error("c2pa-unknown-entry", f"{label} entry {key!r} is not a known purpose; ignored",
                           protocol=protocol, location=location)  # fmt: skip
            continue
        decision = _USES.get(use.lower()) if isinstance(use, str) else None
        if decision is None or not isinstance(use, str):
            findings.error("c2pa-invalid-use", f"{label} entry {key!r} has use {use!r}, not allowed / notAllowed "
                           "/ constrained; treated as unset", protocol=protocol, location=location)  # fmt: skip
            continue
        if use.lower() == "constrained":
            constraints[str(key)] = {k: entry[k] for k in ("constraint_info", "constraints_info") if k in entry}
        if values.get(purpose) is not Decision.RESERVED:
            values[purpose] = decision
    return values, statements, constraints
