"""Log records: canonical JSON, digest validation, strict parsing."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rightful.errors import InvalidInput
from rightful.provenance.ledger import ConsistencyProof, InclusionProof
from rightful.provenance.records import model_record, output_record, parse_record, work_record

DIGEST = "sha256:" + "ab" * 32


def test_records_are_canonical_json() -> None:
    """Keys are sorted, there are no spaces, and each kind reads back with its fields."""
    entry = output_record(digest=DIGEST, model="m", licence="CC0-1.0", attributions=["w1", "w2"])
    assert b" " not in entry
    record = parse_record(entry)
    assert list(record) == sorted(record)
    assert record["kind"] == "output"
    assert record["attributions"] == ["w1", "w2"]
    model = parse_record(model_record(name="m", weights_digest=DIGEST, training_summary_digest=DIGEST,
                                      consent_basis="licensed"))  # fmt: skip
    assert model["consent_basis"] == "licensed"
    assert parse_record(work_record(digest=DIGEST, owner="o", terms={"genai-training": "reserved"}))["owner"] == "o"


@pytest.mark.parametrize("digest", ["sha256:abc", "md5:" + "0" * 32, "sha256:" + "G" * 64, "sha256:" + "AB" * 32])
def test_malformed_digests_are_refused(digest: str) -> None:
    """Digests must read sha256:<64 lowercase hex>."""
    with pytest.raises(InvalidInput, match="sha256"):
        output_record(digest=digest, model="m")


@given(st.binary(max_size=200))
def test_parse_record_accepts_only_records(junk: bytes) -> None:
    """Arbitrary bytes either parse as a record with a known kind or raise InvalidInput."""
    try:
        record = parse_record(junk)
    except InvalidInput:
        return
    assert record["kind"] in ("model", "output", "work")


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=10))  # fmt: skip
def test_proof_parsers_refuse_junk_cleanly(junk: object) -> None:
    """Any JSON value either is a well-formed proof or raises InvalidInput, never another exception."""
    for parser in (InclusionProof.from_dict, ConsistencyProof.from_dict):
        try:
            proof = parser(junk)
        except InvalidInput:
            continue
        assert json.loads(json.dumps(proof.to_dict())) == proof.to_dict()
