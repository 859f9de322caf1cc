"""C2SP signed notes and checkpoints: byte-exact with the Go reference, strict parsing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rightful.errors import InvalidInput, SignatureInvalid
from rightful.provenance.note import Checkpoint, NoteSigner, NoteVerifier, generate_signer, open_note, sign_note

VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
NOTE = (
    TEXT
    + "\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def test_signing_reproduces_the_go_reference_note() -> None:
    """The golang.org/x/mod/sumdb/note example key signs the example text to the published note, byte for byte."""
    signer = NoteSigner.parse(SKEY)
    assert signer.encode() == SKEY
    assert signer.verifier.encode() == VKEY
    assert sign_note(TEXT, signer) == NOTE
    assert open_note(NOTE, NoteVerifier.parse(VKEY)) == TEXT


def test_a_changed_text_fails() -> None:
    """Changing one letter of the signed text fails verification."""
    with pytest.raises(SignatureInvalid, match="altered"):
        open_note(NOTE.replace("cryptography", "cryptographY"), NoteVerifier.parse(VKEY))


def test_a_note_by_another_key_fails() -> None:
    """A note signed by another key (same name) is refused."""
    other = generate_signer("PeterNeumann")
    with pytest.raises(SignatureInvalid, match="not signed by"):
        open_note(sign_note(TEXT, other), NoteVerifier.parse(VKEY))


@pytest.mark.parametrize("mangled", [VKEY[:-1], VKEY.replace("c74f20a3", "c74f20a4"), "PeterNeumann+c74f20a3",
                                     VKEY.replace("+A", "+B", 1), "+c74f20a3+ARpc"])  # fmt: skip
def test_mangled_verifier_keys_are_refused(mangled: str) -> None:
    """Truncated, re-hashed or re-typed verifier keys are refused."""
    with pytest.raises(InvalidInput):
        NoteVerifier.parse(mangled)


@given(st.text(max_size=300))
def test_open_note_never_crashes_on_junk(junk: str) -> None:
    """Arbitrary text is refused with SignatureInvalid, never another exception."""
    with pytest.raises(SignatureInvalid):
        open_note(junk, NoteVerifier.parse(VKEY))


@given(st.text(max_size=200))
def test_checkpoint_parser_refuses_junk_cleanly(junk: str) -> None:
    """Arbitrary bodies either parse into a checkpoint or raise InvalidInput."""
    try:
        checkpoint = Checkpoint.parse_body(junk)
    except InvalidInput:
        return
    assert checkpoint.body() == junk


def test_checkpoint_round_trip_and_origin_check() -> None:
    """A signed checkpoint opens with its key; its origin must be the key's name."""
    signer = generate_signer("example.org/log")
    checkpoint = Checkpoint("example.org/log", 42, b"\x01" * 32, ("ext line",))
    assert Checkpoint.open(checkpoint.sign(signer), signer.verifier) == checkpoint
    wrong = Checkpoint("other.org/log", 42, b"\x01" * 32)
    with pytest.raises(SignatureInvalid, match="origin"):
        Checkpoint.open(wrong.sign(signer), signer.verifier)
