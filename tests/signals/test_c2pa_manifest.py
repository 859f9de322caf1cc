"""C2PA / CAWG training-mining assertions: pure interpretation of a manifest store, and real c2pa-python reads."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rightful.models import Decision, Purpose
from rightful.signals import c2pa_manifest
from rightful.signals.c2pa_manifest import (
    ManifestReadError,
    c2pa_findings,
    has_c2pa_marker,
    manifest_findings,
    read_manifest_store,
)
from rightful.signals.embedded import embedded_findings

R, A = Decision.RESERVED, Decision.ALLOWED


def store(*assertions: dict[str, Any], state: str = "Valid", failures: tuple[str, ...] = ()) -> dict[str, Any]:
    """A manifest-store JSON as ``c2pa.Reader.json()`` returns it, with one active manifest."""
    return {
        "active_manifest": "urn:c2pa:test",
        "manifests": {
            "urn:c2pa:test": {
                "claim_generator_info": [{"name": "Test Generator", "version": "1.0"}],
                "signature_info": {"issuer": "Test CA", "common_name": "Signer", "alg": "Es256"},
                "assertions": list(assertions),
            }
        },
        "validation_state": state,
        "validation_status": [{"code": c, "explanation": "x"} for c in failures],
    }


def training(label: str, **entries: Any) -> dict[str, Any]:
    return {"label": label, "data": {"entries": entries}}


def values(findings: Any) -> dict[str, str]:
    return {str(p): str(d) for s in findings.signals for p, d in s.values.items()}


# --- pure interpretation (SPEC vectors) -------------------------------------------------------------------


def test_c2pa_generative_training_not_allowed_reserves_genai() -> None:
    """SPEC vector: c2pa.ai_generative_training notAllowed → genai-training reserved, ai-training untouched."""
    found = manifest_findings(
        store(training("c2pa.training-mining", **{"c2pa.ai_generative_training": {"use": "notAllowed"}})),
        location="a.jpg",
    )
    [signal] = found.signals
    assert signal.protocol == "c2pa"
    assert dict(signal.values) == {Purpose.GENAI_TRAINING: R}
    assert signal.details["validation_state"] == "Valid"
    assert signal.details["claim_generator"] == "Test Generator 1.0"
    assert signal.details["signer"]["issuer"] == "Test CA"


def test_cawg_ai_training_constrained_reserves_and_keeps_constraint() -> None:
    """SPEC vector: cawg.ai_training constrained → reserved, with constraint_info in the details."""
    entry = {"use": "constrained", "constraint_info": "licence at https://l.example"}
    [signal] = manifest_findings(store(training("cawg.training-mining", **{"cawg.ai_training": entry})),
                                 location="a").signals  # fmt: skip
    assert signal.protocol == "cawg"
    assert signal.values[Purpose.AI_TRAINING] is R
    assert signal.details["constraints"] == {"cawg.ai_training": {"constraint_info": "licence at https://l.example"}}


def test_every_entry_key_maps_to_its_purpose() -> None:
    """data_mining, ai_inference, ai_generative_training and ai_training map onto our four purposes."""
    entries = {
        f"cawg.{k}": {"use": "allowed"}
        for k in ("data_mining", "ai_inference", "ai_generative_training", "ai_training")
    }
    found = manifest_findings(store(training("cawg.training-mining", **entries)), location="a")
    assert values(found) == {
        "data-mining": "allowed",
        "ai-inference": "allowed",
        "genai-training": "allowed",
        "ai-training": "allowed",
    }


def test_invalid_manifest_keeps_reservations_but_drops_permissions() -> None:
    """An Invalid manifest's notAllowed still counts; its allowed is dropped and the state is in the evidence."""
    entries = {"c2pa.ai_inference": {"use": "allowed"}, "c2pa.ai_training": {"use": "notAllowed"}}
    doc = store(training("c2pa.training-mining", **entries), state="Invalid", failures=("assertion.dataHash.mismatch",))
    [signal] = manifest_findings(doc, location="a").signals
    assert dict(signal.values) == {Purpose.AI_TRAINING: R, Purpose.GENAI_TRAINING: R}
    assert signal.details["validation_state"] == "Invalid"
    assert signal.details["validation_failures"] == ["assertion.dataHash.mismatch"]
    assert signal.details["ignored_permissions"] == ["ai-inference"]
    assert "Invalid" in signal.rule


def test_conflicting_entries_for_one_purpose_take_the_reservation() -> None:
    """c2pa.ai_training allowed and cawg-style ai_training notAllowed in one assertion → reserved."""
    entries = {"c2pa.ai_training": {"use": "allowed"}, "ai_training": {"use": "notAllowed"}}
    assert (
        values(manifest_findings(store(training("c2pa.training-mining", **entries)), location="a"))["ai-training"]
        == "reserved"
    )


@pytest.mark.parametrize("use", ["maybe", None, 1])
def test_unknown_use_is_an_error_and_unset(use: Any) -> None:
    """A use other than allowed / notAllowed / constrained is a c2pa-invalid-use error and no value."""
    found = manifest_findings(
        store(training("c2pa.training-mining", **{"c2pa.ai_training": {"use": use}})), location="a"
    )
    assert values(found) == {}
    assert [e.code for e in found.errors] == ["c2pa-invalid-use"]


def test_unknown_entry_key_is_reported() -> None:
    """An entry that names no known purpose is a c2pa-unknown-entry error."""
    found = manifest_findings(
        store(training("cawg.training-mining", **{"cawg.music": {"use": "notAllowed"}})), location="a"
    )
    assert [e.code for e in found.errors] == ["c2pa-unknown-entry"]


def test_versioned_and_instanced_labels_are_recognised() -> None:
    """``cawg.training-mining.v2`` and ``c2pa.training-mining__1`` are training-mining assertions too."""
    doc = store(
        training("cawg.training-mining.v2", **{"cawg.data_mining": {"use": "notAllowed"}}),
        training("c2pa.training-mining__1", **{"c2pa.ai_inference": {"use": "notAllowed"}}),
    )
    assert [s.protocol for s in manifest_findings(doc, location="a").signals] == ["cawg", "c2pa"]


def test_manifest_without_training_mining_is_informational() -> None:
    """A manifest with no training-mining assertion still gives a value-less signal with state, generator, signer."""
    [signal] = manifest_findings(store({"label": "c2pa.actions.v2", "data": {}}), location="a").signals
    assert dict(signal.values) == {}
    assert signal.details["validation_state"] == "Valid"
    assert signal.details["signer"] == {"issuer": "Test CA", "common_name": "Signer", "alg": "Es256"}
    assert "no training-mining assertion" in signal.rule


@pytest.mark.parametrize(
    "doc",
    [{}, {"active_manifest": "x", "manifests": {}}, {"active_manifest": 3, "manifests": []}],
)
def test_store_without_active_manifest_is_an_error(doc: dict[str, Any]) -> None:
    """A store without a readable active manifest is a c2pa-corrupt-manifest error and no signal."""
    found = manifest_findings(doc, location="a")
    assert found.signals == []
    assert [e.code for e in found.errors] == ["c2pa-corrupt-manifest"]


def test_assertion_without_entries_is_an_error() -> None:
    """A training-mining assertion without an entries object is reported and gives no signal."""
    found = manifest_findings(store({"label": "c2pa.training-mining", "data": {"x": 1}}), location="a")
    assert found.signals == []
    assert [e.code for e in found.errors] == ["c2pa-invalid-assertion"]


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_JSON, _JSON, st.sampled_from(["Valid", "Invalid", "Trusted", None]))
def test_interpretation_never_raises(entries: Any, junk: Any, state: Any) -> None:
    """Any JSON shape in the assertion or the store never raises, and an Invalid store never yields allowed."""
    doc = store({"label": "cawg.training-mining", "data": {"entries": entries}}, state=state)
    doc["validation_results"] = junk
    found = manifest_findings(doc, location="a")
    if state == "Invalid":
        assert all(d is not A for s in found.signals for d in s.values.values())
    manifest_findings({"active_manifest": junk, "manifests": junk}, location="a")


# --- reading with c2pa-python -----------------------------------------------------------------------------


def read(external: Path, name: str) -> Any:
    data = (external / "c2pa" / name).read_bytes()
    media_type = "image/png" if name.endswith(".png") else "image/jpeg"
    return c2pa_findings(data, media_type=media_type, location=name)


def test_datadiligence_png_reserves_everything(external: Path) -> None:
    """Spawning's sample PNG: c2pa.training-mining with all four entries notAllowed, manifest Valid."""
    found = read(external, "datadiligence_sample_c2pa.png")
    [signal] = found.signals
    assert signal.protocol == "c2pa"
    assert values(found) == {p: "reserved" for p in ("data-mining", "ai-training", "genai-training", "ai-inference")}
    assert signal.details["validation_state"] == "Valid"
    assert signal.details["claim_generator"] == "Example Signer/1.0 c2pa-rs/0.28.4"


def test_cawg_fixture_reserves_inference_and_genai(external: Path) -> None:
    """C_with_CAWG_data.jpg: cawg.ai_inference and cawg.ai_generative_training notAllowed; ai-training unset."""
    found = read(external, "C_with_CAWG_data.jpg")
    [signal] = found.signals
    assert signal.protocol == "cawg"
    assert values(found) == {"ai-inference": "reserved", "genai-training": "reserved"}
    assert signal.details["validation_state"] == "Valid"
    assert "cawg.x509.credential.untrusted" in signal.details["validation_failures"]


def test_adobe_invalid_manifest_permissions_do_not_count(external: Path) -> None:
    """adobe_connected_identities.jpg is Invalid offline: its allowed entries are dropped (never allowed)."""
    found = read(external, "adobe_connected_identities.jpg")
    assert sorted(s.protocol for s in found.signals) == ["c2pa", "cawg"]
    for signal in found.signals:
        assert dict(signal.values) == {}
        assert signal.details["validation_state"] == "Invalid"
        assert "cawg.ica.did_unavailable" in signal.details["validation_failures"]
        assert signal.details["ignored_permissions"] == ["ai-inference", "genai-training"]
        assert signal.details["signer"]["common_name"] == "Adobe C2PA Stage"


@pytest.mark.parametrize(
    ("name", "state", "failure"),
    [
        ("C.jpg", "Valid", None),
        ("firefly_thirdparty_gemini.png", "Valid", None),
        ("XCA.jpg", "Invalid", "assertion.dataHash.mismatch"),
        ("E-sig-CA.jpg", "Invalid", "claimSignature.mismatch"),
        ("adobe-20220124-E-uri-CA.jpg", "Invalid", "assertion.hashedURI.mismatch"),
    ],
)
def test_manifests_without_training_mining(external: Path, name: str, state: str, failure: str | None) -> None:
    """Manifests with no training-mining assertion give an informational signal with the observed state."""
    [signal] = read(external, name).signals
    assert dict(signal.values) == {}
    assert signal.details["validation_state"] == state
    assert "signingCredential.untrusted" in signal.details["validation_failures"]
    if failure is not None:
        assert failure in signal.details["validation_failures"]


@pytest.mark.parametrize(
    ("name", "message"), [("no_alg.jpg", "unknown algorithm"), ("prerelease.jpg", "prerelease content detected")]
)
def test_corrupt_manifest_is_an_error_and_no_signal(external: Path, name: str, message: str) -> None:
    """SPEC vector: a manifest the reader rejects → c2pa-corrupt-manifest error, no signal (verdict unknown)."""
    found = read(external, name)
    assert found.signals == []
    [error] = found.errors
    assert error.code == "c2pa-corrupt-manifest"
    assert message in error.message


@pytest.mark.parametrize("name", ["no_manifest.jpg", "libpng-test.png", "test.webp"])
def test_no_manifest_is_nothing(external: Path, name: str) -> None:
    """A file without a manifest gives no signal and no error."""
    media_type = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}[name.rpartition(".")[2]]
    found = c2pa_findings((external / "c2pa" / name).read_bytes(), media_type=media_type, location=name)
    assert (found.signals, found.errors) == ([], [])


def test_remote_manifest_is_never_fetched(external: Path) -> None:
    """cloud.jpg points to a remote manifest: the offline reader refuses at once instead of fetching it."""
    start = time.perf_counter()
    with pytest.raises(ManifestReadError) as info:
        read_manifest_store((external / "c2pa" / "cloud.jpg").read_bytes(), media_type="image/jpeg")
    assert time.perf_counter() - start < 2
    assert info.value.code == "c2pa-remote-manifest"
    assert "must fetch" in str(info.value)  # "could not fetch" would mean a network attempt was made


def test_remote_manifest_pointer_is_noted_by_embedded_findings(external: Path) -> None:
    """embedded_findings on cloud.jpg notes the remote manifest (from XMP dcterms:provenance) and states nothing."""
    found = embedded_findings((external / "c2pa" / "cloud.jpg").read_bytes(), location="cloud.jpg")
    assert found.signals == []
    assert [e.code for e in found.errors] == ["c2pa-remote-manifest"]


def test_reader_is_skipped_without_a_marker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bytes with no JUMBF/C2PA marker never reach the (compiled, slower) reader."""

    def boom(data: bytes, *, media_type: str) -> None:
        raise AssertionError("reader called")

    monkeypatch.setattr(c2pa_manifest, "read_manifest_store", boom)
    assert not has_c2pa_marker(b"\xff\xd8\xff" + b"\x00" * 1000)
    assert c2pa_findings(b"\xff\xd8\xff" + b"\x00" * 1000, media_type="image/jpeg", location="a").errors == []
    assert has_c2pa_marker(b"..jumb..")
    assert has_c2pa_marker(b"..c2pa..")


def test_reader_errors_never_escape(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any C2paError from the library becomes an error entry, never an exception."""
    import c2pa

    class Exploding:
        def __init__(self, *args: Any) -> None:
            raise c2pa.C2paError("Other: boom")

    monkeypatch.setattr(c2pa, "Reader", Exploding)
    found = c2pa_findings(b"\xff\xd8\xff jumb", media_type="image/jpeg", location="a")
    assert [e.code for e in found.errors] == ["c2pa-corrupt-manifest"]


def test_garbage_with_marker_is_handled(external: Path) -> None:
    """Garbage carrying a JUMBF marker, and a truncated signed PNG, never raise."""
    data = (external / "c2pa" / "datadiligence_sample_c2pa.png").read_bytes()
    for blob in (b"\xff\xd8\xffjumbc2pa" * 50, data[: len(data) // 2], data[:1000]):
        c2pa_findings(blob, media_type="image/jpeg", location="x")
        c2pa_findings(blob, media_type="image/png", location="x")


@pytest.mark.parametrize("name", ["no_alg.jpg", "prerelease.jpg", "adobe_connected_identities.jpg"])
def test_corrupt_or_invalid_manifests_never_give_allowed(external: Path, name: str) -> None:
    """Combined into verdicts, a corrupt or Invalid manifest leaves every purpose unknown — never allowed."""
    from rightful.signals.policy import combine

    found = embedded_findings((external / "c2pa" / name).read_bytes(), location=name)
    assert {v.decision for v in combine(found.signals).values()} == {Decision.UNKNOWN}
