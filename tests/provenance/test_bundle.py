"""Proof bundles and consistency checks: what a third party verifies with only the public key."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rightful.errors import InvalidInput, LedgerError, SignatureInvalid
from rightful.provenance.bundle import ProofBundle, check_consistency, make_bundle, verify_bundle
from rightful.provenance.ledger import Ledger
from rightful.provenance.note import generate_signer


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    """A writable log of 40 entries."""
    with Ledger.open(tmp_path / "log", signer=generate_signer("example.org/log")) as log:
        log.append([f"entry-{i}".encode() for i in range(40)])
        yield log


def test_a_bundle_verifies_with_only_the_public_key(ledger: Ledger) -> None:
    """A bundle survives JSON and verifies against the log's verifier key."""
    bundle = ProofBundle.from_dict(make_bundle(ledger, 17).to_dict())
    assert verify_bundle(bundle, ledger.verifier).size == 40


def test_a_changed_entry_or_foreign_key_is_refused(ledger: Ledger) -> None:
    """Swapping the entry fails the proof; another key fails the checkpoint signature."""
    bundle = make_bundle(ledger, 17)
    forged = ProofBundle(b"entry-99", bundle.proof, bundle.checkpoint)
    with pytest.raises(LedgerError, match="does not lead"):
        verify_bundle(forged, ledger.verifier)
    with pytest.raises(SignatureInvalid):
        verify_bundle(bundle, generate_signer("example.org/log").verifier)


def test_consistency_with_an_earlier_checkpoint_and_a_fork(ledger: Ledger, tmp_path: Path) -> None:
    """The grown log proves consistency with its old checkpoint; an unrelated log of the same key does not."""
    old = ledger.checkpoint_note()
    ledger.append([b"later"])
    assert check_consistency(ledger, old).old_size == 40
    assert ledger.signer is not None
    with Ledger.open(tmp_path / "fork", signer=ledger.signer) as fork:
        fork.append([f"other-{i}".encode() for i in range(50)])
        with pytest.raises(LedgerError, match="forked"):
            check_consistency(fork, old)
    with Ledger.open(tmp_path / "short", signer=ledger.signer) as short:
        short.append([b"x"])
        with pytest.raises(LedgerError, match="truncated"):
            check_consistency(short, old)


@given(st.dictionaries(st.sampled_from(["entry", "proof", "checkpoint", "x"]),
                       st.none() | st.text(max_size=20) | st.integers(), max_size=4))  # fmt: skip
def test_bundle_parser_refuses_junk_cleanly(junk: dict[str, object]) -> None:
    """Arbitrary objects parse into a bundle or raise InvalidInput."""
    try:
        bundle = ProofBundle.from_dict(junk)
    except InvalidInput:
        return
    assert base64.b64encode(bundle.entry).decode() == junk["entry"]
