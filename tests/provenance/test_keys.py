"""Signing keys: the local CA chain c2pa-rs accepts, permissions, import, and clear refusals."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from rightful.errors import InvalidInput, ProvenanceError
from rightful.provenance.keys import (
    KeyPaths,
    import_chain,
    init_keys,
    load_log_signer,
    load_signing_identity,
    load_watermark_key,
)


def test_init_writes_private_files_and_a_c2pa_shaped_leaf(tmp_path: Path) -> None:
    """Every key file is 0600 in a 0700 folder; the leaf is CA:FALSE with digitalSignature, EKU, SKI and AKI."""
    paths = init_keys(tmp_path / "keys", organisation="Example Org")
    assert stat.S_IMODE(paths.root.stat().st_mode) == 0o700
    for f in paths.root.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f.name
    leaf, ca = x509.load_pem_x509_certificates(paths.signer_chain.read_bytes())
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert leaf.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    identity = load_signing_identity(paths.root)
    assert identity.alg == "es256"
    assert "Example Org" in identity.issuer
    assert load_log_signer(paths.root).name == "rightful.local/log"
    assert len(load_watermark_key(paths.root)) == 32


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    """A second init is refused (it would orphan the log); --force replaces the keys."""
    first = init_keys(tmp_path)
    before = first.log_key.read_bytes()
    with pytest.raises(InvalidInput, match="already exist"):
        init_keys(tmp_path)
    init_keys(tmp_path, force=True)
    assert first.log_key.read_bytes() != before


def test_missing_keys_say_what_to_run(tmp_path: Path) -> None:
    """Loading keys that were never created names the command that creates them."""
    with pytest.raises(ProvenanceError, match="rightful keys init"):
        load_signing_identity(tmp_path)


def _chain(tmp_path: Path, *, days: int = 30, start: timedelta = timedelta(days=-1), aki: bool = True,
           eku: bool = True) -> tuple[Path, Path]:  # fmt: skip
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Org CA")])
    now = datetime.now(UTC)
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(now - timedelta(days=400)).not_valid_after(now + timedelta(days=400))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))  # fmt: skip
    builder = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Org")]))
               .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
               .not_valid_before(now + start).not_valid_after(now + start + timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                              critical=True))  # fmt: skip
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
    if aki:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                                        critical=False)  # fmt: skip
    leaf = builder.sign(ca_key, hashes.SHA256())
    chain, pem = tmp_path / "chain.pem", tmp_path / "key.pem"
    chain.write_bytes(leaf.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))  # fmt: skip
    return chain, pem


def test_an_organisations_chain_is_imported(tmp_path: Path) -> None:
    """A well-formed chain and key are checked and installed (0600)."""
    chain, key = _chain(tmp_path)
    identity = import_chain(tmp_path / "keys", chain=chain, key=key)
    assert identity.subject == "CN=Org"
    assert stat.S_IMODE(KeyPaths(tmp_path / "keys").signer_key.stat().st_mode) == 0o600


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"start": timedelta(days=-40)}, "expired"),
    ({"start": timedelta(days=5)}, "not valid before"),
    ({"aki": False}, "authority key identifier"),
    ({"eku": False}, "extended key usage"),
])  # fmt: skip
def test_bad_certificates_are_refused_with_the_reason(tmp_path: Path, kwargs: dict[str, object], message: str) -> None:
    """Expired, not-yet-valid, AKI-less and EKU-less leaves are refused, saying which."""
    chain, key = _chain(tmp_path, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=message):
        import_chain(tmp_path / "keys", chain=chain, key=key)


def test_malformed_or_mismatched_inputs_are_refused(tmp_path: Path) -> None:
    """Garbage PEM, a key of another certificate, and a missing file are clear InvalidInput errors."""
    chain, key = _chain(tmp_path)
    junk = tmp_path / "junk.pem"
    junk.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    with pytest.raises(InvalidInput, match="PEM"):
        import_chain(tmp_path / "k", chain=junk, key=key)
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    _, other_key = _chain(other_dir)
    with pytest.raises(InvalidInput, match="does not belong"):
        import_chain(tmp_path / "k", chain=chain, key=other_key)
    with pytest.raises(InvalidInput, match="cannot read"):
        import_chain(tmp_path / "k", chain=tmp_path / "absent.pem", key=key)
