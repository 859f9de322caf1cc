"""tlog-tiles paths and entry bundles."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rightful.errors import LedgerError
from rightful.provenance.tiles import decode_bundle, encode_bundle, entries_path, index_path, tile_path


@pytest.mark.parametrize(("n", "path"), [(0, "000"), (5, "005"), (999, "999"), (1000, "x001/000"),
                                         (1234067, "x001/x234/067")])  # fmt: skip
def test_index_paths_follow_the_spec(n: int, path: str) -> None:
    """Tile indices are written in three-digit groups, all but the last prefixed with x."""
    assert index_path(n) == path


def test_tile_and_entry_paths() -> None:
    """Full tiles have no suffix, partial tiles .p/<width>."""
    assert tile_path(0, 1234067) == "tile/0/x001/x234/067"
    assert tile_path(1, 3, 7) == "tile/1/003.p/7"
    assert entries_path(0, 255) == "tile/entries/000.p/255"


@given(st.lists(st.binary(max_size=300), max_size=20))
def test_bundles_round_trip(entries: list[bytes]) -> None:
    """Any list of entries survives encoding and decoding."""
    assert decode_bundle(encode_bundle(entries)) == entries


@given(st.lists(st.binary(min_size=1, max_size=50), min_size=1, max_size=10), st.data())
def test_a_truncated_bundle_is_an_error(entries: list[bytes], data: st.DataObject) -> None:
    """Cutting a bundle anywhere inside an entry raises LedgerError, never returns a short list silently."""
    blob = encode_bundle(entries)
    cut = data.draw(st.integers(1, len(blob) - 1))
    boundaries = {sum(2 + len(e) for e in entries[:i]) for i in range(len(entries) + 1)}
    if cut in boundaries:
        assert len(decode_bundle(blob[:cut])) < len(entries)
    else:
        with pytest.raises(LedgerError, match="truncated"):
            decode_bundle(blob[:cut])


def test_oversized_entries_are_refused() -> None:
    """An entry longer than 65535 bytes cannot be encoded."""
    with pytest.raises(LedgerError):
        encode_bundle([b"x" * 65536])
