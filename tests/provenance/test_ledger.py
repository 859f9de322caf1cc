"""The transparency log on disk: appends, proofs, crash recovery, tampering and forks."""

from __future__ import annotations

from pathlib import Path

import pytest

from rightful.errors import InvalidInput, LedgerError, SignatureInvalid
from rightful.provenance import merkle
from rightful.provenance.ledger import ConsistencyProof, InclusionProof, Ledger
from rightful.provenance.note import Checkpoint, NoteSigner, generate_signer
from rightful.provenance.tiles import entries_path, tile_path

ORIGIN = "example.org/log"


@pytest.fixture
def signer() -> NoteSigner:
    return generate_signer(ORIGIN)


def _entries(n: int, start: int = 0) -> list[bytes]:
    return [f"entry-{i}".encode() for i in range(start, start + n)]


def _fill(path: Path, signer: NoteSigner, sizes: list[int]) -> list[bytes]:
    written: list[bytes] = []
    with Ledger.open(path, signer=signer) as ledger:
        for size in sizes:
            batch = _entries(size, len(written))
            ledger.append(batch)
            written += batch
    return written


def test_appends_hash_like_the_reference_tree(tmp_path: Path, signer: NoteSigner) -> None:
    """After batches that cross tile boundaries, the checkpoint root is the RFC 9162 root of all entries."""
    written = _fill(tmp_path / "log", signer, [1, 254, 2, 300, 70_000 - 557])
    ledger = Ledger(tmp_path / "log", verifier=signer.verifier)
    assert ledger.size == 70_000
    assert ledger.checkpoint.root == merkle.root_of([merkle.hash_leaf(e) for e in written])
    assert (tmp_path / "log" / tile_path(1, 0)).is_file()  # a full level-1 tile: 65,536 leaves
    assert ledger.entry(65_537) == written[65_537]


def test_every_kind_of_proof_verifies_from_the_tiles(tmp_path: Path, signer: NoteSigner) -> None:
    """Inclusion and consistency proofs computed from the tiles verify, at the latest and at older sizes."""
    written = _fill(tmp_path / "log", signer, [700])
    ledger = Ledger(tmp_path / "log", verifier=signer.verifier)
    for index in (0, 255, 256, 511, 699):
        proof = ledger.prove_inclusion(index)
        assert proof.verify(written[index], ledger.checkpoint)
        assert not proof.verify(written[index - 1], ledger.checkpoint)
    old = Checkpoint(ORIGIN, 300, ledger.root_at(300))
    assert old.root == merkle.root_of([merkle.hash_leaf(e) for e in written[:300]])
    assert ledger.prove_consistency(300).verify(old, ledger.checkpoint)


def test_a_proof_for_another_tree_size_does_not_verify(tmp_path: Path, signer: NoteSigner) -> None:
    """A proof made for size 500 does not verify against the checkpoint of size 700 (or its JSON twin)."""
    written = _fill(tmp_path / "log", signer, [700])
    ledger = Ledger(tmp_path / "log", verifier=signer.verifier)
    proof = ledger.prove_inclusion(10, size=500)
    assert not proof.verify(written[10], ledger.checkpoint)
    forged = InclusionProof.from_dict({**proof.to_dict(), "size": 700})
    assert not forged.verify(written[10], ledger.checkpoint)
    with pytest.raises(InvalidInput):
        ledger.prove_inclusion(700)


def test_proof_json_round_trips_and_refuses_junk() -> None:
    """Proofs survive JSON; malformed proof objects are InvalidInput."""
    proof = InclusionProof(3, 9, (b"\x01" * 32,))
    assert InclusionProof.from_dict(proof.to_dict()) == proof
    consistency = ConsistencyProof(3, 9, (b"\x02" * 32,))
    assert ConsistencyProof.from_dict(consistency.to_dict()) == consistency
    for junk in ([], {"index": -1, "size": 3, "hashes": []}, {"index": 1, "size": 3, "hashes": ["!!"]}):
        with pytest.raises(InvalidInput):
            InclusionProof.from_dict(junk)


def test_an_interrupted_batch_leaves_the_last_checkpoint_in_force(tmp_path: Path, signer: NoteSigner) -> None:
    """Tiles written without a new checkpoint (a crash mid-commit) are ignored and later overwritten."""
    written = _fill(tmp_path / "log", signer, [300])
    with Ledger.open(tmp_path / "log", signer=signer) as ledger:
        for entry in _entries(100, 300):
            ledger.add(entry)
        ledger.checkpoint.sign(signer)  # simulate: tiles written, then the process dies before the checkpoint
        (tmp_path / "log" / entries_path(1, 144)).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "log" / entries_path(1, 144)).write_bytes(b"\x00\x05torn")
    reopened = Ledger.open(tmp_path / "log", signer=signer)
    assert reopened.size == 300
    reopened.append(_entries(10, 300))
    assert reopened.checkpoint.root == merkle.root_of([merkle.hash_leaf(e) for e in written + _entries(10, 300)])
    reopened.close()


def test_a_truncated_hash_tile_is_rebuilt_from_the_entries(tmp_path: Path, signer: NoteSigner) -> None:
    """A truncated last hash tile is recomputed from its entry bundle, checked against the root and rewritten."""
    _fill(tmp_path / "log", signer, [300])
    tile = tmp_path / "log" / tile_path(0, 1, 44)
    tile.write_bytes(tile.read_bytes()[:100])
    ledger = Ledger(tmp_path / "log", verifier=signer.verifier)
    assert ledger.repaired == [tile_path(0, 1, 44)]
    assert len(tile.read_bytes()) == 44 * 32


def test_a_truncated_entry_bundle_is_a_clear_error(tmp_path: Path, signer: NoteSigner) -> None:
    """When the entries themselves are cut, the log refuses to open rather than guess."""
    _fill(tmp_path / "log", signer, [300])
    bundle = tmp_path / "log" / entries_path(1, 44)
    bundle.write_bytes(bundle.read_bytes()[:-3])
    (tmp_path / "log" / tile_path(0, 1, 44)).unlink()
    with pytest.raises(LedgerError, match="truncated"):
        Ledger(tmp_path / "log", verifier=signer.verifier)


def test_a_checkpoint_signed_by_another_key_is_refused(tmp_path: Path, signer: NoteSigner) -> None:
    """Opening a log with a different key (same origin) fails on the checkpoint signature."""
    _fill(tmp_path / "log", signer, [5])
    with pytest.raises(SignatureInvalid):
        Ledger(tmp_path / "log", verifier=generate_signer(ORIGIN).verifier)


def test_a_rewritten_entry_is_detected(tmp_path: Path, signer: NoteSigner) -> None:
    """Changing an entry (and re-hashing its tile) no longer matches the signed root."""
    _fill(tmp_path / "log", signer, [300])
    bundle = tmp_path / "log" / entries_path(0)
    bundle.write_bytes(bundle.read_bytes().replace(b"entry-7", b"entry-X"))
    ledger = Ledger(tmp_path / "log", verifier=signer.verifier)
    with pytest.raises(LedgerError, match="rewritten"):
        ledger.audit()


def test_a_forked_log_fails_the_consistency_proof(tmp_path: Path, signer: NoteSigner) -> None:
    """A log rebuilt with a different history cannot prove consistency with a checkpoint a client saw."""
    _fill(tmp_path / "a", signer, [50])
    seen = Ledger(tmp_path / "a", verifier=signer.verifier).checkpoint
    with Ledger.open(tmp_path / "b", signer=signer) as fork:
        fork.append([b"forged", *_entries(80, 1)])
        proof = fork.prove_consistency(50)
        assert not proof.verify(seen, fork.checkpoint)
    with Ledger.open(tmp_path / "a", signer=signer) as honest:
        honest.append(_entries(30, 50))
        assert honest.prove_consistency(50).verify(seen, honest.checkpoint)


def test_read_only_logs_refuse_appends(tmp_path: Path, signer: NoteSigner) -> None:
    """Without the signing key the log can be read and proven, not written."""
    _fill(tmp_path / "log", signer, [3])
    ledger = Ledger(tmp_path / "log", verifier=signer.verifier)
    with pytest.raises(LedgerError, match="read-only"):
        ledger.add(b"x")
    with pytest.raises(LedgerError, match="not a log"):
        Ledger(tmp_path / "nothing", verifier=signer.verifier)


def test_pending_entries_can_be_rolled_back(tmp_path: Path, signer: NoteSigner) -> None:
    """Entries added but not committed vanish on rollback; the next index is reused."""
    with Ledger.open(tmp_path / "log", signer=signer) as ledger:
        ledger.append([b"a"])
        assert ledger.add(b"b") == 1
        ledger.rollback()
        assert ledger.next_index == 1
        assert ledger.add(b"c") == 1
        ledger.commit()
        assert ledger.entry(1) == b"c"
