"""sign_asset then verify_asset, end to end: embedded, stripped, tampered and foreign files."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rightful.errors import InvalidInput, ProvenanceError
from rightful.provenance.keys import KeyPaths
from rightful.provenance.ledger import Ledger
from rightful.provenance.note import NoteVerifier
from rightful.provenance.sign import SignOptions, sign_asset, sign_many
from rightful.provenance.verify import verify_asset

OPTIONS = SignOptions(model="tiny-diffusion", model_digest="sha256:" + "cd" * 32, licence="CC-BY-4.0",
                      attributions=("work:7",))  # fmt: skip


def _source(tmp_path: Path, photo_png: bytes, name: str = "gen.png") -> Path:
    path = tmp_path / name
    path.write_bytes(photo_png)
    return path


def test_signed_output_verifies_on_every_count(tmp_path: Path, keys: KeyPaths, photo_png: bytes) -> None:
    """A signed file reports a Valid AI manifest, its watermark, its proven ledger entry and its signals."""
    signed = sign_asset(_source(tmp_path, photo_png), out=tmp_path / "out.png", options=OPTIONS)
    assert signed.ledger_index == 0
    assert signed.watermarked
    report = verify_asset(signed.path).to_dict()
    assert set(report) >= {"c2pa", "watermark", "ledger", "signals", "matches"}
    assert report["c2pa"]["state"] == "Valid"
    assert report["c2pa"]["ai_generated"]
    assert report["c2pa"]["generator"]["name"] == "tiny-diffusion"
    assert report["watermark"]["found"]
    assert report["watermark"]["payload"] == "000000000000"
    ledger = report["ledger"]
    assert ledger["found"]
    assert ledger["inclusion_verified"]
    assert ledger["digest_matches"]
    assert ledger["record"]["attributions"] == ["work:7"]
    assert report["signals"]["verdicts"]["genai-training"] == "reserved"
    json.dumps(report)


def test_stripped_copy_is_found_by_its_watermark(tmp_path: Path, keys: KeyPaths, photo_png: bytes) -> None:
    """Re-encoding drops the manifest; the watermark still leads to the ledger entry (digest differs)."""
    sign_asset(_source(tmp_path, photo_png, "a.png"), out=tmp_path / "a-out.png", options=OPTIONS)
    signed = sign_asset(_source(tmp_path, photo_png, "b.png"), out=tmp_path / "b-out.png", options=OPTIONS)
    stripped = tmp_path / "stripped.jpg"
    with Image.open(signed.path) as img:
        img.convert("RGB").save(stripped, "JPEG", quality=85)
    report = verify_asset(stripped).to_dict()
    assert not report["c2pa"]["present"]
    assert report["watermark"]["payload"] == "000000000001"
    assert report["ledger"]["via"] == "watermark"
    assert report["ledger"]["index"] == 1
    assert report["ledger"]["inclusion_verified"]
    assert not report["ledger"]["digest_matches"]


def test_folder_batch_commits_once(tmp_path: Path, keys: KeyPaths, photo_png: bytes) -> None:
    """Signing three files appends three entries under one checkpoint, in order."""
    pairs = [(_source(tmp_path, photo_png, f"{i}.png"), tmp_path / "out" / f"{i}.png") for i in range(3)]
    results = list(sign_many(pairs, options=SignOptions(model="m", watermark=False)))
    assert [r.ledger_index for r in results] == [0, 1, 2]
    ledger = Ledger(keys.root.parent / "ledger", verifier=NoteVerifier.parse(keys.log_pub.read_text()))
    assert ledger.size == 3


def test_a_failed_file_does_not_consume_an_index(tmp_path: Path, keys: KeyPaths, photo_png: bytes) -> None:
    """A file that cannot be signed raises, and the next file still gets the next index."""
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(InvalidInput):
        sign_asset(bad, out=tmp_path / "bad-out.png", options=OPTIONS)
    assert not (tmp_path / "bad-out.png").exists()
    signed = sign_asset(_source(tmp_path, photo_png), out=tmp_path / "ok.png", options=OPTIONS)
    assert signed.ledger_index == 0


def test_signing_without_keys_names_the_fix(tmp_path: Path, photo_png: bytes) -> None:
    """Before `rightful keys init`, signing fails with a message that says to run it."""
    with pytest.raises(ProvenanceError, match="rightful keys init"):
        sign_asset(_source(tmp_path, photo_png), out=tmp_path / "o.png", options=OPTIONS)


def test_images_too_small_to_watermark_are_refused(tmp_path: Path, keys: KeyPaths) -> None:
    """A 100x100 output cannot carry the watermark: a clear refusal, unless --no-watermark is asked."""
    small = tmp_path / "small.png"
    Image.new("RGB", (100, 100), "gray").save(small)
    with pytest.raises(InvalidInput, match="too small"):
        sign_asset(small, out=tmp_path / "s.png", options=OPTIONS)
    signed = sign_asset(small, out=tmp_path / "s.png", options=SignOptions(model="m", watermark=False))
    assert not signed.watermarked


def test_unmarked_unsigned_files_report_absence_not_errors(tmp_path: Path, keys: KeyPaths, photo_png: bytes) -> None:
    """A plain photograph: no manifest, no watermark, no ledger entry — all results, no exception."""
    report = verify_asset(_source(tmp_path, photo_png)).to_dict()
    assert report["c2pa"] == {"present": False}
    assert report["watermark"]["found"] is False
    assert report["ledger"]["found"] is False


@pytest.mark.external
@pytest.mark.parametrize(("name", "state", "code"), [
    ("C.jpg", "Valid", "signingCredential.untrusted"),
    ("XCA.jpg", "Invalid", "assertion.dataHash.mismatch"),
    ("E-sig-CA.jpg", "Invalid", "claimSignature.mismatch"),
    ("adobe-20220124-E-uri-CA.jpg", "Invalid", "assertion.hashedURI.mismatch"),
])  # fmt: skip
def test_foreign_manifests_report_state_and_codes(external: Path, name: str, state: str, code: str) -> None:
    """Real third-party files report Valid / Invalid with their failure codes."""
    report = verify_asset(external / "c2pa" / name).to_dict()
    assert report["c2pa"]["state"] == state
    assert code in report["c2pa"]["failures"]
    assert report["watermark"]["checked"] is False  # no key here: skipped, not failed


@pytest.mark.external
def test_malformed_foreign_manifest_is_unreadable_not_a_crash(external: Path) -> None:
    """A manifest the SDK cannot parse is reported as Unreadable with a code."""
    report = verify_asset(external / "c2pa" / "no_alg.jpg").to_dict()
    assert report["c2pa"]["state"] == "Unreadable"
    assert report["c2pa"]["failures"]


def test_unsupported_input_is_reported(tmp_path: Path, keys: KeyPaths) -> None:
    """A text file has no manifest and no watermark to check; verify still answers."""
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    report = verify_asset(path).to_dict()
    assert report["c2pa"]["present"] is False
    assert report["watermark"]["checked"] is False
    buf = io.BytesIO()
    assert buf.getvalue() == b""


@pytest.mark.parametrize(("mode", "fmt", "suffix"), [("RGBA", "PNG", "png"), ("CMYK", "JPEG", "jpg"),
                                                     ("I;16", "PNG", "png")])  # fmt: skip
def test_alpha_cmyk_and_16_bit_outputs_are_signed_and_found(tmp_path: Path, keys: KeyPaths, photo_png: bytes,
                                                            mode: str, fmt: str, suffix: str) -> None:  # fmt: skip
    """Alpha, CMYK and 16-bit outputs keep their mode through sign and verify, watermark included."""
    img = Image.open(io.BytesIO(photo_png))
    img = Image.fromarray(np.asarray(img.convert("L")).astype(np.uint16) * 257) if mode == "I;16" else img.convert(mode)
    source = tmp_path / f"in.{suffix}"
    img.save(source, fmt)
    signed = sign_asset(source, out=tmp_path / f"out.{suffix}", options=OPTIONS)
    with Image.open(signed.path) as result:
        assert result.mode == mode
    report = verify_asset(signed.path).to_dict()
    assert report["c2pa"]["state"] == "Valid"
    assert report["watermark"]["found"]
    assert report["ledger"]["digest_matches"]


def test_bad_sign_options_are_refused_before_any_work() -> None:
    """An empty model name or a malformed weights digest is InvalidInput at once."""
    with pytest.raises(InvalidInput, match="--model"):
        SignOptions(model=" ")
    with pytest.raises(InvalidInput, match="--model-digest"):
        SignOptions(model="m", model_digest="md5:abc")


def test_a_signed_output_with_changed_pixels_fails_every_binding(
    tmp_path: Path, keys: KeyPaths, photo_as: Callable[[str], bytes]
) -> None:
    """Pixels changed after signing: manifest Invalid (data hash), ledger entry found but its digest differs."""
    source = tmp_path / "gen.jpg"
    source.write_bytes(photo_as("JPEG"))
    signed = sign_asset(source, out=tmp_path / "signed.jpg", options=OPTIONS)
    data = bytearray(signed.path.read_bytes())
    data[-300] ^= 0x10  # inside the entropy-coded image data
    signed.path.write_bytes(bytes(data))
    report = verify_asset(signed.path).to_dict()
    assert report["c2pa"]["state"] == "Invalid"
    assert "assertion.dataHash.mismatch" in report["c2pa"]["failures"]
    assert report["ledger"]["found"]
    assert report["ledger"]["inclusion_verified"]
    assert not report["ledger"]["digest_matches"]
