"""Offline evidence from the log: proof bundles and consistency checks, as library verbs the CLI and the service
share.

A :class:`ProofBundle` is everything a third party needs to check that an entry is in the log, with nothing but
the log's public key: the entry, its inclusion proof and the signed checkpoint the proof leads to.
:func:`check_consistency` proves that the log only grew since a checkpoint someone saw before — the check that
exposes a forked or rewritten log.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from rightful.errors import InvalidInput, LedgerError
from rightful.provenance.ledger import ConsistencyProof, InclusionProof, Ledger
from rightful.provenance.note import Checkpoint, NoteVerifier

__all__ = ["ProofBundle", "check_consistency", "make_bundle", "verify_bundle"]


@dataclass(frozen=True, slots=True)
class ProofBundle:
    """An entry, its inclusion proof, and the signed checkpoint (C2SP note) of the proof's tree size."""

    entry: bytes
    proof: InclusionProof
    checkpoint: str

    def to_dict(self) -> dict[str, Any]:
        return {"entry": base64.b64encode(self.entry).decode(), "proof": self.proof.to_dict(),
                "checkpoint": self.checkpoint}  # fmt: skip

    @classmethod
    def from_dict(cls, data: Any) -> ProofBundle:
        if not isinstance(data, dict) or not isinstance(data.get("entry"), str):
            raise InvalidInput("a proof bundle is a JSON object with entry, proof and checkpoint")
        if not isinstance(data.get("checkpoint"), str):
            raise InvalidInput("the proof bundle has no signed checkpoint")
        try:
            entry = base64.b64decode(data["entry"], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidInput("the proof bundle's entry is not base64") from exc
        return cls(entry, InclusionProof.from_dict(data.get("proof")), data["checkpoint"])


def make_bundle(ledger: Ledger, index: int) -> ProofBundle:
    """The bundle for ``index`` at the log's latest checkpoint."""
    proof = ledger.prove_inclusion(index)
    return ProofBundle(ledger.entry(index), proof, ledger.checkpoint_note())


def verify_bundle(bundle: ProofBundle, verifier: NoteVerifier) -> Checkpoint:
    """Check the checkpoint signature, then the inclusion proof; returns the checkpoint, or raises."""
    checkpoint = Checkpoint.open(bundle.checkpoint, verifier)
    if not bundle.proof.verify(bundle.entry, checkpoint):
        raise LedgerError(
            f"the inclusion proof for entry {bundle.proof.index} does not lead to the signed checkpoint "
            f"(size {checkpoint.size}): wrong entry, wrong size or a forged proof"
        )
    return checkpoint


def check_consistency(ledger: Ledger, old_note: str) -> ConsistencyProof:
    """Prove the log extends the checkpoint ``old_note`` (signed by the log's key); raises on a fork."""
    old = Checkpoint.open(old_note, ledger.verifier)
    if old.size > ledger.size:
        raise LedgerError(f"the old checkpoint (size {old.size}) is larger than the log ({ledger.size}): "
                          "the log was truncated or forked")  # fmt: skip
    proof = ledger.prove_consistency(old.size)
    if not proof.verify(old, ledger.checkpoint):
        raise LedgerError(f"consistency proof {old.size} → {ledger.size} fails: the log was forked or rewritten")
    return proof
