"""Signing keys: a local CA and an ES256 C2PA signing certificate, the log's Ed25519 key, the watermark key.

``init_keys`` writes everything to ``RIGHTFUL_HOME/keys/`` (directory 0700, files 0600). The leaf certificate
is shaped the way c2pa-rs insists on: not a CA, ``digitalSignature`` key usage, the ``emailProtection``
extended key usage, a subject key identifier and an authority key identifier (c2pa-rs rejects a leaf without
AKI). A manifest signed with it reads as *Valid* everywhere and *Trusted* nowhere: the local CA is on no trust
list. An organisation with a certificate from a C2PA-trusted issuer installs it with :func:`import_chain`.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from rightful.errors import InvalidInput, ProvenanceError
from rightful.provenance.note import NoteSigner, NoteVerifier, generate_signer

__all__ = [
    "DEFAULT_ORIGIN",
    "KeyPaths",
    "SigningIdentity",
    "import_chain",
    "init_keys",
    "load_log_signer",
    "load_log_verifier",
    "load_signing_identity",
    "load_watermark_key",
]

DEFAULT_ORIGIN = "rightful.local/log"
#: Extended key usages c2pa-rs accepts for a claim signer.
_C2PA_EKUS = {
    ExtendedKeyUsageOID.EMAIL_PROTECTION,
    x509.ObjectIdentifier("1.3.6.1.4.1.311.76.59.1.9"),  # document signing (Microsoft)
    x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36"),  # id-kp-documentSigning
    ExtendedKeyUsageOID.TIME_STAMPING,
    ExtendedKeyUsageOID.OCSP_SIGNING,
}


@dataclass(frozen=True, slots=True)
class KeyPaths:
    """Where each key lives inside one keys directory."""

    root: Path

    @property
    def ca_cert(self) -> Path:
        return self.root / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.root / "ca.key"

    @property
    def signer_chain(self) -> Path:
        return self.root / "signer.pem"

    @property
    def signer_key(self) -> Path:
        return self.root / "signer.key"

    @property
    def log_key(self) -> Path:
        return self.root / "log.key"

    @property
    def log_pub(self) -> Path:
        return self.root / "log.pub"

    @property
    def watermark_key(self) -> Path:
        return self.root / "watermark.key"


@dataclass(frozen=True, slots=True)
class SigningIdentity:
    """A C2PA signing certificate chain (leaf first, PEM) and its private key, already checked."""

    chain_pem: bytes
    key_pem: bytes
    alg: str
    subject: str
    issuer: str
    not_after: datetime


def _write_secret(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, 0o600)


def _name(common_name: str, organisation: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
    ])  # fmt: skip


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())  # fmt: skip


def _make_chain(organisation: str, days: int) -> tuple[bytes, bytes, bytes, bytes]:
    """(CA cert PEM, CA key PEM, leaf + CA chain PEM, leaf key PEM)."""
    now = datetime.now(UTC) - timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(f"{organisation} Root CA", organisation)
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder().subject_name(_name(f"{organisation} C2PA signer", organisation))
        .issuer_name(ca_name).public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    chain = leaf.public_bytes(serialization.Encoding.PEM) + ca_pem
    return ca_pem, _pem(ca_key), chain, _pem(leaf_key)


def init_keys(
    directory: str | Path,
    *,
    organisation: str = "Rightful local signer",
    origin: str = DEFAULT_ORIGIN,
    days: int = 825,
    force: bool = False,
) -> KeyPaths:
    """Create the CA, the C2PA signer, the log key and the watermark key; refuses to overwrite unless ``force``."""
    paths = KeyPaths(Path(directory))
    if not organisation.strip() or days < 1:
        raise InvalidInput("organisation must be non-empty and days at least 1")
    existing = [p for p in (paths.signer_chain, paths.log_key, paths.watermark_key) if p.exists()]
    if existing and not force:
        raise InvalidInput(f"keys already exist in {paths.root} (use --force to replace them; "
                           "replacing the log key orphans the existing log)", path=str(paths.root))  # fmt: skip
    ca_pem, ca_key, chain, leaf_key = _make_chain(organisation.strip(), days)
    _write_secret(paths.ca_cert, ca_pem)
    _write_secret(paths.ca_key, ca_key)
    _write_secret(paths.signer_chain, chain)
    _write_secret(paths.signer_key, leaf_key)
    log = generate_signer(origin)
    _write_secret(paths.log_key, (log.encode() + "\n").encode())
    _write_secret(paths.log_pub, (log.verifier.encode() + "\n").encode())
    _write_secret(paths.watermark_key, (secrets.token_hex(32) + "\n").encode())
    return paths


def import_chain(directory: str | Path, *, chain: str | Path, key: str | Path) -> SigningIdentity:
    """Install an organisation's own C2PA certificate chain (leaf first) and key, after checking them."""
    try:
        chain_pem, key_pem = Path(chain).read_bytes(), Path(key).read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read the certificate chain or key: {exc.strerror or exc}") from exc
    identity = check_identity(chain_pem, key_pem, where=str(chain))
    paths = KeyPaths(Path(directory))
    _write_secret(paths.signer_chain, chain_pem)
    _write_secret(paths.signer_key, key_pem)
    return identity


def _alg(key: object) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        algs = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}
        if key.curve.name in algs:
            return algs[key.curve.name]
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    raise InvalidInput("the signing key must be EC P-256/P-384/P-521 or Ed25519 (what C2PA accepts)")


def check_identity(chain_pem: bytes, key_pem: bytes, *, where: str) -> SigningIdentity:
    """Parse and check a chain and key the way c2pa-rs will, with errors that say what to fix."""
    try:
        certs = x509.load_pem_x509_certificates(chain_pem)
    except ValueError as exc:
        raise InvalidInput(f"{where}: not a PEM certificate chain ({exc})", path=where) from exc
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"{where}: the private key is not an unencrypted PEM key ({exc})", path=where) from exc
    leaf = certs[0]
    alg = _alg(key)
    if leaf.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) \
            != key.public_key().public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo):  # fmt: skip
        raise InvalidInput(f"{where}: the private key does not belong to the first (leaf) certificate", path=where)
    now = datetime.now(UTC)
    if leaf.not_valid_after_utc < now:
        raise InvalidInput(f"{where}: the signing certificate expired on {leaf.not_valid_after_utc:%Y-%m-%d}; "
                           "renew it (rightful keys init --force, or import a new chain)", path=where)  # fmt: skip
    if leaf.not_valid_before_utc > now:
        raise InvalidInput(f"{where}: the signing certificate is not valid before "
                           f"{leaf.not_valid_before_utc:%Y-%m-%d}", path=where)  # fmt: skip
    _check_leaf(leaf, where)
    return SigningIdentity(chain_pem, key_pem, alg, leaf.subject.rfc4514_string(), leaf.issuer.rfc4514_string(),
                           leaf.not_valid_after_utc)  # fmt: skip


def _check_leaf(leaf: x509.Certificate, where: str) -> None:
    def ext(kind: type[x509.ExtensionType]) -> x509.ExtensionType | None:
        try:
            return leaf.extensions.get_extension_for_class(kind).value
        except x509.ExtensionNotFound:
            return None

    if leaf.issuer == leaf.subject:
        raise InvalidInput(f"{where}: the leaf certificate is self-signed; C2PA needs a CA-issued signer", path=where)
    basic = ext(x509.BasicConstraints)
    if isinstance(basic, x509.BasicConstraints) and basic.ca:
        raise InvalidInput(f"{where}: the leaf certificate is a CA (basicConstraints CA:TRUE)", path=where)
    usage = ext(x509.KeyUsage)
    if not isinstance(usage, x509.KeyUsage) or not usage.digital_signature:
        raise InvalidInput(f"{where}: the leaf certificate lacks the digitalSignature key usage", path=where)
    eku = ext(x509.ExtendedKeyUsage)
    if not isinstance(eku, x509.ExtendedKeyUsage) or not set(eku) & _C2PA_EKUS:
        raise InvalidInput(f"{where}: the leaf certificate needs an extended key usage C2PA accepts "
                           "(emailProtection or documentSigning)", path=where)  # fmt: skip
    if ext(x509.AuthorityKeyIdentifier) is None:
        raise InvalidInput(f"{where}: the leaf certificate has no authority key identifier (c2pa-rs rejects it)",
                           path=where)  # fmt: skip


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ProvenanceError(f"no {what} at {path}: run 'rightful keys init' first", path=str(path)) from None
    except OSError as exc:
        raise ProvenanceError(f"cannot read {path}: {exc.strerror or exc}", path=str(path)) from exc


def load_signing_identity(directory: str | Path) -> SigningIdentity:
    paths = KeyPaths(Path(directory))
    chain = _read(paths.signer_chain, "C2PA signing certificate")
    key = _read(paths.signer_key, "C2PA signing key")
    return check_identity(chain, key, where=str(paths.signer_chain))


def load_log_signer(directory: str | Path) -> NoteSigner:
    return NoteSigner.parse(_read(KeyPaths(Path(directory)).log_key, "log signing key").decode())


def load_log_verifier(directory: str | Path) -> NoteVerifier:
    return NoteVerifier.parse(_read(KeyPaths(Path(directory)).log_pub, "log public key").decode())


def load_watermark_key(directory: str | Path) -> bytes:
    text = _read(KeyPaths(Path(directory)).watermark_key, "watermark key").decode().strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise ProvenanceError("the watermark key is not 64 hex digits")
    return key
