"""C2PA manifests written with c2pa-python and read back through the signals reader."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from rightful.errors import InvalidInput
from rightful.models import Decision, Purpose
from rightful.provenance.keys import KeyPaths, load_signing_identity
from rightful.provenance.manifest import (
    TRAINED_ALGORITHMIC_MEDIA,
    Generator,
    ManifestOptions,
    build_manifest,
    sign_manifest,
)
from rightful.provenance.verify import _c2pa_section, summarise_store
from rightful.signals.c2pa_manifest import manifest_findings, read_manifest_store

OPTIONS = ManifestOptions(generator=Generator("tiny-diffusion", "1.0", "sha256:" + "ab" * 32), licence="CC-BY-4.0",
                          attributions=("work:42",), watermark_payload="00000000002a", ledger_origin="ex/log",
                          ledger_index=42)  # fmt: skip


def test_the_definition_marks_ai_generation() -> None:
    """The manifest states c2pa.created with trainedAlgorithmicMedia, the generator and the training terms."""
    definition = build_manifest(OPTIONS, media_type="image/png", title="x.png")
    actions = definition["assertions"][0]["data"]["actions"]
    assert actions[0]["action"] == "c2pa.created"
    assert actions[0]["digitalSourceType"] == TRAINED_ALGORITHMIC_MEDIA
    assert actions[0]["softwareAgent"] == {"name": "tiny-diffusion", "version": "1.0"}
    labels = [a["label"] for a in definition["assertions"]]
    assert labels == ["c2pa.actions.v2", "cawg.training-mining", "c2pa.soft-binding", "org.rightful.provenance"]


def test_bad_options_are_refused() -> None:
    """Unknown training-mining keys or uses, and an empty model name, are InvalidInput."""
    for options in (ManifestOptions(generator=Generator(" ")),
                    ManifestOptions(generator=Generator("m"), training_mining={"cawg.ai_training": "maybe"}),
                    ManifestOptions(generator=Generator("m"), training_mining={"c2pa.other": "allowed"})):  # fmt: skip
        with pytest.raises(InvalidInput):
            build_manifest(options, media_type="image/png", title="x")


@pytest.mark.parametrize(("fmt", "media_type"), [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")])
def test_signed_files_read_back_valid_with_our_terms(tmp_path: Path, keys: KeyPaths, photo_as: Callable[[str], bytes],
                                                     fmt: str, media_type: str) -> None:  # fmt: skip
    """JPEG, PNG and WebP read back Valid (signer untrusted) and the reader turns our terms into reservations."""
    out = tmp_path / f"out.{fmt.lower()}"
    sign_manifest(photo_as(fmt), out, options=OPTIONS, identity=load_signing_identity(keys.root), title="t")
    store = read_manifest_store(out.read_bytes(), media_type=media_type)
    assert store is not None
    summary = summarise_store(store)
    assert summary["state"] == "Valid"
    assert summary["failures"] == ["signingCredential.untrusted"]
    assert summary["ai_generated"]
    assert summary["licence"] == "CC-BY-4.0"
    assert summary["attributions"] == ["work:42"]
    assert summary["soft_binding"] == {
        "ledger_index": 42,
        "ledger_origin": "ex/log",
        "watermark_payload": "00000000002a",
    }
    signal = manifest_findings(store, location=str(out)).signals[0]
    assert signal.protocol == "cawg"
    assert signal.values[Purpose.GENAI_TRAINING] is Decision.RESERVED


def test_sidecar_manifest_leaves_the_asset_unchanged(tmp_path: Path, keys: KeyPaths, photo_png: bytes) -> None:
    """With sidecar=True the asset is copied as is and OUT.c2pa holds the manifest, which verify reads."""
    out = tmp_path / "out.png"
    options = ManifestOptions(generator=Generator("m"), sidecar=True)
    signed = sign_manifest(photo_png, out, options=options, identity=load_signing_identity(keys.root), title="t")
    assert out.read_bytes() == photo_png
    assert signed.sidecar == tmp_path / "out.png.c2pa"
    section = _c2pa_section(out, photo_png, "image/png")
    assert section["present"]
    assert section["source"] == "sidecar out.png.c2pa"
    assert section["state"] == "Valid"


def test_ingredients_are_recorded(tmp_path: Path, keys: KeyPaths, photo_png: bytes) -> None:
    """An input file becomes an inputTo ingredient of the manifest."""
    source = tmp_path / "input.png"
    source.write_bytes(photo_png)
    out = tmp_path / "out.png"
    options = ManifestOptions(generator=Generator("m"), ingredients=(source,))
    sign_manifest(photo_png, out, options=options, identity=load_signing_identity(keys.root), title="t")
    store = read_manifest_store(out.read_bytes(), media_type="image/png")
    assert store is not None
    manifest = store["manifests"][store["active_manifest"]]
    assert [i["relationship"] for i in manifest["ingredients"]] == ["inputTo"]


def _signed(tmp_path: Path, keys: KeyPaths, jpeg: bytes) -> bytes:
    out = tmp_path / "signed.jpg"
    sign_manifest(jpeg, out, options=OPTIONS, identity=load_signing_identity(keys.root),
                  title="t")  # fmt: skip
    return out.read_bytes()


def test_tampered_pixels_make_the_manifest_invalid(
    tmp_path: Path, keys: KeyPaths, photo_as: Callable[[str], bytes]
) -> None:
    """Changing image bytes after signing gives Invalid with a data-hash mismatch."""
    data = bytearray(_signed(tmp_path, keys, photo_as("JPEG")))
    data[-200] ^= 0xFF  # inside the entropy-coded image data, before EOI
    store = read_manifest_store(bytes(data), media_type="image/jpeg")
    assert store is not None
    summary = summarise_store(store)
    assert summary["state"] == "Invalid"
    assert "assertion.dataHash.mismatch" in summary["failures"]


def test_tampered_manifest_or_signature_is_detected(
    tmp_path: Path, keys: KeyPaths, photo_as: Callable[[str], bytes]
) -> None:
    """Editing a signed assertion or the signature bytes makes the manifest Invalid or unreadable."""
    data = _signed(tmp_path, keys, photo_as("JPEG"))
    for original, forged in ((b"CC-BY-4.0", b"CC0-1.0.."), (b"tiny-diffusion", b"huge-diffusion")):
        section = _c2pa_section(tmp_path / "x.jpg", data.replace(original, forged), "image/jpeg")
        assert section["state"] in ("Invalid", "Unreadable"), original
        assert section["failures"]
    start = data.index(b"c2pa.signature")
    sig = bytearray(data)
    sig[start + 400] ^= 0x01
    section = _c2pa_section(tmp_path / "x.jpg", bytes(sig), "image/jpeg")
    assert section["state"] in ("Invalid", "Unreadable")


def test_unsupported_formats_are_refused(tmp_path: Path, keys: KeyPaths) -> None:
    """Bytes that are no known media type cannot be signed."""
    with pytest.raises(InvalidInput, match="unsupported format"):
        sign_manifest(b"plain text", tmp_path / "x", options=OPTIONS, identity=load_signing_identity(keys.root),
                      title="t")  # fmt: skip
