"""RFC 9162 hashing and proofs against the Certificate Transparency reference vectors, plus properties."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rightful.provenance import merkle

DATA = [bytes.fromhex(h) for h in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                     "606162636465666768696a6b6c6d6e6f"]]  # fmt: skip
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
LEAVES = [merkle.hash_leaf(d) for d in DATA]
RANGE = merkle.list_range_hash(LEAVES)


def _hex(hashes: list[bytes]) -> list[str]:
    return [h.hex() for h in hashes]


def test_roots_match_the_reference_tree_heads() -> None:
    """Every tree size 0..8 hashes to the published RFC 6962/9162 root."""
    for size in range(9):
        assert merkle.root_of(LEAVES[:size]).hex() == ROOTS[size]


def test_inclusion_proofs_match_the_reference() -> None:
    """The audit paths for leaves 0 and 5 of 8 are the published ones."""
    assert _hex(merkle.inclusion_proof(0, 8, RANGE)) == [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ]
    assert _hex(merkle.inclusion_proof(5, 8, RANGE)) == [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ]


def test_consistency_proofs_match_the_reference() -> None:
    """The consistency proofs 2→5 and 6→8 are the published ones."""
    assert _hex(merkle.consistency_proof(2, 5, RANGE)) == [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ]
    proof = _hex(merkle.consistency_proof(6, 8, RANGE))
    assert proof[1:] == [
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ]
    root6, root8 = bytes.fromhex(ROOTS[6]), bytes.fromhex(ROOTS[8])
    assert merkle.verify_consistency(6, 8, root6, root8, [bytes.fromhex(h) for h in proof])


def test_degenerate_consistency_cases() -> None:
    """Equal sizes need an empty proof and equal roots; an empty old tree needs the empty root."""
    root4, root5 = bytes.fromhex(ROOTS[4]), bytes.fromhex(ROOTS[5])
    assert merkle.verify_consistency(4, 4, root4, root4, [])
    assert not merkle.verify_consistency(4, 4, root4, root5, [])
    assert merkle.verify_consistency(0, 5, merkle.EMPTY_ROOT, root5, [])
    assert not merkle.verify_consistency(3, 5, bytes.fromhex(ROOTS[3]), root5, [])
    assert not merkle.verify_consistency(5, 4, root5, root4, [])


@given(st.integers(1, 300), st.data())
def test_every_inclusion_proof_verifies_and_a_mangled_one_does_not(size: int, data: st.DataObject) -> None:
    """Inclusion proofs verify for any leaf of any tree; flipping a bit, dropping or adding a hash breaks them."""
    leaves = [merkle.hash_leaf(i.to_bytes(4, "big")) for i in range(size)]
    root = merkle.root_of(leaves)
    index = data.draw(st.integers(0, size - 1))
    proof = merkle.inclusion_proof(index, size, merkle.list_range_hash(leaves))
    assert merkle.verify_inclusion(leaves[index], index, size, proof, root)
    if proof:
        bad = [*proof[:-1], bytes([proof[-1][0] ^ 1]) + proof[-1][1:]]
        assert not merkle.verify_inclusion(leaves[index], index, size, bad, root)
        assert not merkle.verify_inclusion(leaves[index], index, size, proof[:-1], root)
    assert not merkle.verify_inclusion(leaves[index], index, size, [*proof, b"\xab" * 32], root)
    assert not merkle.verify_inclusion(leaves[index], index, size, proof, merkle.root_of([*leaves, leaves[0]]))


@given(st.integers(1, 300), st.data())
def test_every_consistency_proof_verifies_and_a_mangled_one_does_not(size: int, data: st.DataObject) -> None:
    """Consistency proofs verify between any two sizes; a changed hash or a changed old root breaks them."""
    leaves = [merkle.hash_leaf(i.to_bytes(4, "big")) for i in range(size)]
    old = data.draw(st.integers(1, size))
    proof = merkle.consistency_proof(old, size, merkle.list_range_hash(leaves))
    old_root, new_root = merkle.root_of(leaves[:old]), merkle.root_of(leaves)
    assert merkle.verify_consistency(old, size, old_root, new_root, proof)
    if proof:
        bad = [bytes([proof[0][0] ^ 0x80]) + proof[0][1:], *proof[1:]]
        assert not merkle.verify_consistency(old, size, old_root, new_root, bad)
    if old < size:
        forked = merkle.root_of([merkle.hash_leaf(b"forged"), *leaves[1:old]])
        assert not merkle.verify_consistency(old, size, forked, new_root, proof)


def test_short_hashes_never_verify() -> None:
    """A 31-byte hash anywhere makes verification fail instead of raising."""
    proof = merkle.inclusion_proof(5, 8, RANGE)
    root = bytes.fromhex(ROOTS[8])
    assert not merkle.verify_inclusion(b"\x00" * 31, 5, 8, proof, root)
    assert not merkle.verify_inclusion(LEAVES[5], 5, 8, [b"\x00" * 31, *proof[1:]], root)
