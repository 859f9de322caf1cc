"""Detached (``.c2pa``) manifests and the generic ``sign_assertions``: written, found beside the file, validated."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from rightful.errors import InvalidInput
from rightful.provenance.keys import KeyPaths, load_signing_identity
from rightful.provenance.manifest import Generator, ManifestOptions, sign_assertions, sign_manifest
from rightful.provenance.sign import SignOptions, sign_asset
from rightful.provenance.verify import sidecar_paths, verify_asset
from rightful.signals.c2pa_manifest import read_manifest_store

CUSTOM = {"label": "org.example.note", "data": {"note": "signed as it is"}}


def _sidecar_signed(tmp_path: Path, keys: KeyPaths, photo_png: bytes, name: str = "out.png") -> Path:
    out = tmp_path / name
    sign_manifest(photo_png, out, options=ManifestOptions(generator=Generator("m"), sidecar=True),
                  identity=load_signing_identity(keys.root), title="t")  # fmt: skip
    return out


def test_a_c2patool_style_sidecar_is_found(tmp_path: Path, keys: KeyPaths, photo_png: bytes) -> None:
    """``x.c2pa`` (the name c2patool gives a detached manifest) is read for ``x.png`` and validated against it."""
    out = _sidecar_signed(tmp_path, keys, photo_png)
    (tmp_path / "out.png.c2pa").rename(tmp_path / "out.c2pa")
    report = verify_asset(out).to_dict()["c2pa"]
    assert report["source"] == "sidecar out.c2pa"
    assert report["state"] == "Valid"
    assert report["ai_generated"]


def test_a_sidecar_does_not_vouch_for_a_changed_asset(tmp_path: Path, keys: KeyPaths, photo_png: bytes) -> None:
    """Re-encoding the asset after signing makes its sidecar manifest Invalid (data hash mismatch)."""
    out = _sidecar_signed(tmp_path, keys, photo_png)
    with Image.open(io.BytesIO(photo_png)) as img:
        img.rotate(180).save(out, "PNG")
    report = verify_asset(out).to_dict()["c2pa"]
    assert report["state"] == "Invalid"
    assert "assertion.dataHash.mismatch" in report["failures"]


def test_a_junk_sidecar_is_unreadable_not_a_crash(tmp_path: Path, keys: KeyPaths, photo_png: bytes) -> None:
    """A ``.c2pa`` file that is no manifest store is reported Unreadable with a code."""
    out = tmp_path / "plain.png"
    out.write_bytes(photo_png)
    (tmp_path / "plain.png.c2pa").write_bytes(b"\x00\x00\x00\x10jumbnot a manifest")
    report = verify_asset(out).to_dict()["c2pa"]
    assert report["state"] == "Unreadable"
    assert report["source"] == "sidecar plain.png.c2pa"
    assert report["failures"]


def test_an_embedded_manifest_wins_over_a_sidecar(tmp_path: Path, keys: KeyPaths, photo_png: bytes) -> None:
    """When the file carries its own manifest, a sidecar beside it is not consulted."""
    out = tmp_path / "both.png"
    sign_assertions(_write(tmp_path / "src.png", photo_png), out, [CUSTOM], identity=load_signing_identity(keys.root))
    (tmp_path / "both.png.c2pa").write_bytes(b"junk")
    assert verify_asset(out).to_dict()["c2pa"]["source"] == "embedded"


def test_sidecar_names_are_ordered_and_unique(tmp_path: Path) -> None:
    """``x.jpg.c2pa`` is tried before ``x.c2pa``; a file without a suffix has one candidate."""
    assert [p.name for p in sidecar_paths(tmp_path / "x.jpg")] == ["x.jpg.c2pa", "x.c2pa"]
    assert [p.name for p in sidecar_paths(tmp_path / "x")] == ["x.c2pa"]


def test_a_format_that_cannot_embed_gets_a_sidecar(tmp_path: Path, keys: KeyPaths, photo_png: bytes) -> None:
    """sign_asset on a JPEG 2000 output copies it unchanged and writes OUT.c2pa, which verify validates."""
    source = tmp_path / "gen.jp2"
    with Image.open(io.BytesIO(photo_png)) as img:
        img.save(source, "JPEG2000")
    signed = sign_asset(source, out=tmp_path / "out.jp2", options=SignOptions(model="m"))
    assert signed.path.read_bytes() == source.read_bytes()
    assert signed.sidecar == tmp_path / "out.jp2.c2pa"
    assert not signed.watermarked
    report = verify_asset(signed.path).to_dict()
    assert report["c2pa"]["state"] == "Valid"
    assert report["c2pa"]["source"] == "sidecar out.jp2.c2pa"
    assert report["ledger"]["digest_matches"]


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_sign_assertions_records_an_edit_of_the_file(tmp_path: Path, keys: KeyPaths, photo_png: bytes) -> None:
    """Any assertions sign into a file: the manifest says it was opened (parentOf itself) and is Valid."""
    out = tmp_path / "noted.png"
    signed = sign_assertions(_write(tmp_path / "in.png", photo_png), out, [CUSTOM],
                             identity=load_signing_identity(keys.root))  # fmt: skip
    assert signed.sidecar is None
    store = read_manifest_store(out.read_bytes(), media_type="image/png")
    assert store is not None
    assert store["validation_state"] == "Valid"
    manifest = store["manifests"][store["active_manifest"]]
    labels = {a["label"]: a["data"] for a in manifest["assertions"]}
    assert labels["org.example.note"] == {"note": "signed as it is"}
    assert [a["action"] for a in labels["c2pa.actions.v2"]["actions"]] == ["c2pa.opened"]
    assert [i["relationship"] for i in manifest["ingredients"]] == ["parentOf"]
    assert "thumbnail" not in json.dumps(manifest)  # no re-encoded copy of the picture unless asked


def test_sign_assertions_can_detach_and_refuses_junk(tmp_path: Path, keys: KeyPaths, photo_png: bytes) -> None:
    """sidecar=True leaves the asset byte for byte and writes the store beside it; bad assertions are refused."""
    identity = load_signing_identity(keys.root)
    source = _write(tmp_path / "in.png", photo_png)
    signed = sign_assertions(source, tmp_path / "d.png", [CUSTOM], identity=identity, sidecar=True)
    assert (tmp_path / "d.png").read_bytes() == photo_png
    assert signed.sidecar is not None
    assert verify_asset(tmp_path / "d.png").to_dict()["c2pa"]["state"] == "Valid"
    with pytest.raises(InvalidInput):
        sign_assertions(_write(tmp_path / "t.txt", b"text"), tmp_path / "t2.txt", [CUSTOM], identity=identity)
