"""What the transparency log records: work registrations, model registrations and output records.

Each entry is canonical JSON (sorted keys, no spaces, UTF-8) so the same record always hashes the same. The
``kind`` field tells them apart; :func:`parse_record` reads any of them back and refuses anything else.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from rightful.errors import InvalidInput
from rightful.models import utcnow

__all__ = ["RECORD_KINDS", "check_digest", "model_record", "output_record", "parse_record", "work_record"]

RECORD_KINDS = ("model", "output", "work")
_VERSION = 1


def _encode(record: Mapping[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def check_digest(value: str, what: str) -> str:
    """``value`` when it reads ``sha256:<64 lowercase hex>``; :class:`InvalidInput` naming ``what`` otherwise."""
    algorithm, _, hexpart = value.partition(":")
    if algorithm != "sha256" or len(hexpart) != 64 or any(c not in "0123456789abcdef" for c in hexpart):
        raise InvalidInput(f"{what} must read sha256:<64 lowercase hex digits>, not {value!r}")
    return value


def output_record(
    *,
    digest: str,
    model: str,
    model_digest: str | None = None,
    licence: str | None = None,
    attributions: Sequence[str] = (),
    watermark_payload: str | None = None,
    media_type: str | None = None,
) -> bytes:
    """A generated output: its content digest, the model, the licence, the works it credits."""
    record = {"v": _VERSION, "kind": "output", "digest": check_digest(digest, "output digest"), "model": model,
              "model_digest": model_digest, "licence": licence, "attributions": list(attributions),
              "watermark_payload": watermark_payload, "media_type": media_type,
              "time": utcnow().isoformat(timespec="seconds")}  # fmt: skip
    return _encode({k: v for k, v in record.items() if v is not None})


def model_record(*, name: str, weights_digest: str, training_summary_digest: str, consent_basis: str) -> bytes:
    """A model: its weights digest, the digest of its training-content summary, the consent basis claimed."""
    record = {"v": _VERSION, "kind": "model", "name": name,
              "weights_digest": check_digest(weights_digest, "weights digest"),
              "training_summary_digest": check_digest(training_summary_digest, "training summary digest"),
              "consent_basis": consent_basis, "time": utcnow().isoformat(timespec="seconds")}  # fmt: skip
    return _encode(record)


def work_record(*, digest: str, owner: str, terms: Mapping[str, str]) -> bytes:
    """A registered work: its content digest, its owner and its terms per purpose."""
    record = {"v": _VERSION, "kind": "work", "digest": check_digest(digest, "work digest"), "owner": owner,
              "terms": dict(terms), "time": utcnow().isoformat(timespec="seconds")}  # fmt: skip
    return _encode(record)


def parse_record(entry: bytes) -> dict[str, Any]:
    """A log entry as a dict; :class:`InvalidInput` unless it is one of our record kinds."""
    try:
        record = json.loads(entry.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput(f"log entry is not UTF-8 JSON: {exc}") from exc
    if not isinstance(record, dict) or record.get("kind") not in RECORD_KINDS:
        raise InvalidInput("log entry is not a Rightful record (no known 'kind')")
    return record
