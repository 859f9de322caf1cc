"""``rightful tag`` with signing keys: a signed ``cawg.training-mining`` manifest next to the XMP statement."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from rightful.cli import app
from rightful.errors import ConfigError, InvalidInput, ProtectionError
from rightful.models import Decision, Purpose
from rightful.protect import containers
from rightful.protect.tag import TagStatus, tag_file
from rightful.protect.tagc2pa import C2paMode, reservation_uses, resolve_identity
from rightful.protect.terms import Reservation
from rightful.provenance.keys import KeyPaths, SigningIdentity, init_keys, load_signing_identity
from rightful.provenance.manifest import sign_bytes
from rightful.signals.c2pa_manifest import read_manifest_store
from rightful.signals.check import check_file
from tests.protect.protect_helpers import KINDS, jpeg_parts

SIGNABLE = [k for k in KINDS if k != "pdf"]
MEDIA = {"jpeg": "image/jpeg", "png": "image/png", "tiff": "image/tiff", "tiff16": "image/tiff"}
runner = CliRunner()


@pytest.fixture
def identity(tmp_home: Path) -> SigningIdentity:
    """Keys made by `rightful keys init` in the test's RIGHTFUL_HOME."""
    return load_signing_identity(init_keys(tmp_home / "keys").root)


def _pixels(data: bytes) -> np.ndarray[Any, Any]:
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        return np.asarray(img).copy()


def _store(path: Path, kind: str) -> dict[str, Any]:
    store = read_manifest_store(path.read_bytes(), media_type=MEDIA.get(kind, "image/webp"))
    assert store is not None
    return store


@pytest.mark.parametrize("kind", SIGNABLE)
def test_signed_tag_keeps_pixels_and_reads_back_from_xmp_and_c2pa(
    kind: str, sample: Callable[..., Path], reservation: Reservation, identity: SigningIdentity
) -> None:
    """Every signable format keeps its decoded pixels; check reports the reservation from XMP and a Valid manifest."""
    path = sample(kind)
    before = path.read_bytes()
    result = tag_file(path, reservation, identity=identity)
    assert result.status is TagStatus.TAGGED
    assert result.c2pa
    assert any(f.startswith("c2pa:cawg.training-mining") for f in result.fields)
    after = path.read_bytes()
    assert np.array_equal(_pixels(before), _pixels(after))
    store = _store(path, kind)
    assert store["validation_state"] == "Valid"
    checked = check_file(path)
    cawg = [s for s in checked.signals if s.protocol == "cawg"]
    assert len(cawg) == 1
    assert cawg[0].details["validation_state"] == "Valid"
    reserved = (Purpose.DATA_MINING, Purpose.AI_TRAINING, Purpose.GENAI_TRAINING, Purpose.AI_INFERENCE)
    assert cawg[0].values == dict.fromkeys(reserved, Decision.RESERVED)
    assert any(s.protocol == "iptc" for s in checked.signals)
    assert checked.verdicts[Purpose.AI_TRAINING].decision is Decision.RESERVED


def test_jpeg_scan_and_every_old_segment_survive_the_manifest(
    sample: Callable[..., Path], reservation: Reservation, identity: SigningIdentity
) -> None:
    """With the C2PA manifest in place, the JPEG's entropy-coded bytes and its earlier segments are unchanged."""
    path = sample("jpeg")
    before_segments, before_scan = jpeg_parts(path.read_bytes())
    tag_file(path, reservation, identity=identity)
    after_segments, after_scan = jpeg_parts(path.read_bytes())
    assert after_scan == before_scan
    assert [s for s in after_segments if s in before_segments] == before_segments
    added = {s[:2] for s in after_segments if s not in before_segments}
    assert added == {b"\xff\xe1", b"\xff\xeb"}  # the XMP APP1 and the C2PA APP11 segments


@pytest.mark.parametrize("kind", ["jpeg", "png", "webp-lossy", "tiff"])
def test_exiftool_reads_the_xmp_of_a_signed_file(
    kind: str, sample: Callable[..., Path], reservation: Reservation, identity: SigningIdentity,
    exiftool: Callable[..., dict[str, Any]],
) -> None:  # fmt: skip
    """An independent reader sees the XMP fields in every signed format (and the C2PA box where it parses one)."""
    path = sample(kind)
    tag_file(path, reservation, identity=identity)
    tags = exiftool(path, "-XMP:all", "-JUMBF:all")
    assert tags["XMP-plus:DataMining"] == "http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED"
    assert tags["XMP-xmpRights:WebStatement"] == "https://creativecommons.org/licenses/by-nc-nd/4.0/"
    if kind in ("jpeg", "png"):  # exiftool 12.57 parses JUMBF in these two; WebP and TIFF only for XMP
        assert "c2pa" in json.dumps(tags)


def test_the_manifest_states_each_cawg_entry() -> None:
    """notAllowed for what --reserve covers and no entry (no permission granted) for the rest, for every choice."""
    expected = {
        "genai-training": {"cawg.ai_generative_training"},
        "ai-training": {"cawg.ai_generative_training", "cawg.ai_training"},
        "data-mining": {"cawg.ai_generative_training", "cawg.ai_training", "cawg.data_mining"},
        "all": {"cawg.ai_generative_training", "cawg.ai_training", "cawg.data_mining", "cawg.ai_inference"},
    }
    for word, reserved in expected.items():
        uses = reservation_uses(Reservation.parse([word]))
        assert uses == dict.fromkeys(reserved, "notAllowed")


def test_a_rerun_is_unchanged_and_a_new_reservation_chains_the_manifest(
    sample: Callable[..., Path], identity: SigningIdentity
) -> None:
    """Tagging again the same way changes nothing; another reservation re-signs, keeping the first manifest."""
    path = sample("png")
    first = Reservation.parse(["genai-training"])
    tag_file(path, first, identity=identity)
    signed_once = path.read_bytes()
    assert tag_file(path, first, identity=identity).status is TagStatus.UNCHANGED
    assert path.read_bytes() == signed_once
    assert tag_file(path, Reservation.parse(["all"]), identity=identity).status is TagStatus.TAGGED
    store = _store(path, "png")
    assert store["validation_state"] == "Valid"
    assert len(store["manifests"]) == 2
    assert check_file(path).verdicts[Purpose.AI_INFERENCE].decision is Decision.RESERVED


def test_an_xmp_only_file_gets_its_manifest_once_keys_exist(
    sample: Callable[..., Path], reservation: Reservation, tmp_home: Path
) -> None:
    """A file tagged before `keys init` is signed on the next run; the XMP is not rewritten."""
    path = sample("jpeg")
    tag_file(path, reservation)
    xmp = containers.read_xmp("image/jpeg", path.read_bytes())
    identity = load_signing_identity(init_keys(tmp_home / "keys").root)
    assert tag_file(path, reservation, identity=identity).status is TagStatus.TAGGED
    assert containers.read_xmp("image/jpeg", path.read_bytes()) == xmp
    assert _store(path, "jpeg")["validation_state"] == "Valid"


def test_a_file_signed_by_someone_else_keeps_its_manifest_as_the_parent(
    sample: Callable[..., Path], reservation: Reservation, identity: SigningIdentity, tmp_path: Path
) -> None:
    """With keys, a signed file is tagged and its manifest carried forward; without, it is refused untouched."""
    other = load_signing_identity(init_keys(tmp_path / "other", organisation="Camera maker").root)
    path = sample("jpeg")
    path.write_bytes(sign_bytes(path.read_bytes(), [], identity=other, title="photo.jpg").data)
    original = path.read_bytes()
    with pytest.raises(ProtectionError, match="C2PA manifest"):
        tag_file(path, reservation)
    assert path.read_bytes() == original
    tag_file(path, reservation, identity=identity)
    store = _store(path, "jpeg")
    assert store["validation_state"] == "Valid"
    active = store["manifests"][store["active_manifest"]]
    (parent,) = [i for i in active["ingredients"] if i["relationship"] == "parentOf"]
    assert store["manifests"][parent["active_manifest"]]["signature_info"]["issuer"] == "Camera maker"


def test_pdf_keeps_the_xmp_statement_alone(
    sample: Callable[..., Path], reservation: Reservation, identity: SigningIdentity
) -> None:
    """PDF gets no manifest (c2pa-python would rewrite the whole file) and is tagged all the same."""
    path = sample("pdf")
    result = tag_file(path, reservation, identity=identity)
    assert result.status is TagStatus.TAGGED
    assert not result.c2pa
    assert not containers.has_c2pa(path.read_bytes())


def test_a_dry_run_signs_nothing(
    sample: Callable[..., Path], reservation: Reservation, identity: SigningIdentity
) -> None:
    """--dry-run reports that a manifest would be signed and leaves the file as it was."""
    path = sample("webp-lossy")
    before = path.read_bytes()
    result = tag_file(path, reservation, dry_run=True, identity=identity)
    assert result.status is TagStatus.WOULD_TAG
    assert result.c2pa
    assert path.read_bytes() == before


def test_the_c2pa_mode_picks_the_keys(tmp_home: Path) -> None:
    """auto signs only with keys, always requires them (naming `rightful keys init`), never ignores them."""
    assert resolve_identity(C2paMode.AUTO) is None
    assert resolve_identity("never") is None
    with pytest.raises(ConfigError, match="rightful keys init"):
        resolve_identity("always")
    init_keys(tmp_home / "keys")
    assert resolve_identity("auto") is not None
    assert resolve_identity("always") is not None
    assert resolve_identity("never") is None
    with pytest.raises(InvalidInput, match="sometimes"):
        resolve_identity("sometimes")


def test_an_expired_certificate_is_an_error_even_in_auto_mode(tmp_home: Path) -> None:
    """Keys that exist but cannot sign are never skipped silently."""
    paths = KeyPaths(tmp_home / "keys")
    init_keys(paths.root)
    _expire(paths)
    with pytest.raises(InvalidInput, match="expired"):
        resolve_identity("auto")


def _expire(paths: KeyPaths) -> None:
    """Re-issue the leaf certificate with a validity that ended yesterday."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    leaf, ca = x509.load_pem_x509_certificates(paths.signer_chain.read_bytes())
    ca_key = serialization.load_pem_private_key(paths.ca_key.read_bytes(), password=None)
    now = datetime.now(UTC)
    builder = x509.CertificateBuilder().subject_name(leaf.subject).issuer_name(leaf.issuer) \
        .public_key(leaf.public_key()).serial_number(leaf.serial_number + 1) \
        .not_valid_before(now - timedelta(days=10)).not_valid_after(now - timedelta(days=1))  # fmt: skip
    for ext in leaf.extensions:
        builder = builder.add_extension(ext.value, ext.critical)
    expired = builder.sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    paths.signer_chain.write_bytes(expired.public_bytes(serialization.Encoding.PEM) +
                                   ca.public_bytes(serialization.Encoding.PEM))  # fmt: skip


def test_the_cli_signs_with_keys_and_refuses_always_without(sample: Callable[..., Path], tmp_home: Path) -> None:
    """`tag --c2pa always` fails with one line before keys exist; with keys, the JSON says c2pa and check finds it."""
    path = sample("jpeg")
    refused = runner.invoke(app, ["tag", str(path), "-r", "ai-training", "--c2pa", "always"])
    assert refused.exit_code == 2
    assert "rightful keys init" in refused.stderr
    plain = runner.invoke(app, ["tag", str(path), "-r", "ai-training", "--c2pa", "never", "--json"])
    assert json.loads(plain.stdout)["c2pa"] is False
    init_keys(tmp_home / "keys")
    signed = runner.invoke(app, ["tag", str(path), "-r", "ai-training", "--json"])
    assert signed.exit_code == 0, signed.output
    row = json.loads(signed.stdout)
    assert (row["status"], row["c2pa"]) == ("tagged", True)
    checked = runner.invoke(app, ["check", str(path), "--json"])
    assert '"cawg"' in checked.stdout
    assert "Valid" in checked.stdout


@pytest.mark.external
def test_a_real_signed_photo_is_tagged_with_its_manifest_carried_forward(
    external: Path, tmp_path: Path, reservation: Reservation, identity: SigningIdentity
) -> None:
    """A third-party signed JPEG (the C2PA sample C.jpg) is tagged; its manifest becomes the parent's, still there."""
    path = tmp_path / "C.jpg"
    path.write_bytes((external / "c2pa" / "C.jpg").read_bytes())
    before = read_manifest_store(path.read_bytes(), media_type="image/jpeg")
    assert before is not None
    assert tag_file(path, reservation, identity=identity).status is TagStatus.TAGGED
    after = _store(path, "jpeg")
    assert after["validation_state"] == "Valid"
    assert before["active_manifest"] in after["manifests"]
    assert after["active_manifest"] != before["active_manifest"]
    assert jpeg_parts(path.read_bytes())[1] == jpeg_parts((external / "c2pa" / "C.jpg").read_bytes())[1]


@pytest.mark.parametrize("kind", ["jpeg", "png", "webp-extended", "tiff"])
def test_exif_and_icc_survive_signing(
    kind: str, sample: Callable[..., Path], reservation: Reservation, identity: SigningIdentity
) -> None:
    """EXIF and the ICC profile read back unchanged once the manifest is in the file."""
    path = sample(kind)
    with Image.open(path) as img:
        exif, icc = dict(img.getexif()), img.info.get("icc_profile")
    tag_file(path, reservation, identity=identity)
    with Image.open(path) as img:
        after = dict(img.getexif())
        if kind == "tiff":  # in TIFF the XMP (700) and the C2PA manifest (0xCD41) are themselves IFD0 tags
            assert after.pop(700)
            assert after.pop(0xCD41)
        assert after == exif
        assert img.info.get("icc_profile") == icc
    assert exif
    assert icc
