"""C2SP signed notes (Ed25519) and tlog-checkpoint bodies.

A signed note is UTF-8 text ending in a newline, a blank line, then one or more signature lines
``— <key name> <base64(key id || signature)>``. The key id of an Ed25519 key is the first four bytes of
``SHA-256(name || "\\n" || 0x01 || public key)``. Verifier keys are written ``<name>+<hex id>+<base64(0x01 ||
public key)>`` and signer keys ``PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>`` — the same strings the Go
``golang.org/x/mod/sumdb/note`` package reads, so any C2SP witness or verifier can check our checkpoints.

A checkpoint's body is ``<origin>\\n<tree size>\\n<base64 root hash>\\n`` followed by optional extension lines.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from rightful.errors import InvalidInput, SignatureInvalid

__all__ = [
    "Checkpoint",
    "NoteSigner",
    "NoteVerifier",
    "generate_signer",
    "open_note",
    "sign_note",
]

_ALG_ED25519 = 0x01
_SIG_PREFIX = "— "  # EM DASH, SPACE
_MAX_SIGNATURES = 100


def _key_id(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([_ALG_ED25519]) + public).digest()[:4]


def _check_name(name: str) -> None:
    if not name or any(c in name for c in "+ \n\t") or not name.isprintable():
        raise InvalidInput(f"note key name {name!r} must be non-empty printable text without '+' or spaces")


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput(f"{what} is not valid base64") from exc


@dataclass(frozen=True, slots=True)
class NoteVerifier:
    """An Ed25519 verifier key with its name (the log's origin, by convention)."""

    name: str
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        return _key_id(self.name, self.public_key)

    def encode(self) -> str:
        material = base64.b64encode(bytes([_ALG_ED25519]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{material}"

    @classmethod
    def parse(cls, text: str) -> NoteVerifier:
        """Read ``name+hexid+base64``; the id must match the key, or the string was mangled."""
        name, sep, rest = text.strip().partition("+")
        key_hash, sep2, material = rest.partition("+")
        if not sep or not sep2:
            raise InvalidInput("a verifier key reads <name>+<8 hex digits>+<base64 key>")
        _check_name(name)
        raw = _b64(material, "verifier key material")
        if len(raw) != 33 or raw[0] != _ALG_ED25519:
            raise InvalidInput("verifier key is not an Ed25519 key (algorithm byte 0x01 and 32 bytes)")
        verifier = cls(name, raw[1:])
        if key_hash != verifier.key_id.hex():
            raise InvalidInput(f"verifier key id {key_hash!r} does not match its key material")
        return verifier

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True, slots=True)
class NoteSigner:
    """An Ed25519 signer key (the 32-byte seed) with its name."""

    name: str
    seed: bytes

    @property
    def verifier(self) -> NoteVerifier:
        public = Ed25519PrivateKey.from_private_bytes(self.seed).public_key().public_bytes_raw()
        return NoteVerifier(self.name, public)

    def encode(self) -> str:
        material = base64.b64encode(bytes([_ALG_ED25519]) + self.seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.verifier.key_id.hex()}+{material}"

    @classmethod
    def parse(cls, text: str) -> NoteSigner:
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise InvalidInput("a signer key reads PRIVATE+KEY+<name>+<8 hex digits>+<base64 key>")
        _check_name(parts[2])
        raw = _b64(parts[4], "signer key material")
        if len(raw) != 33 or raw[0] != _ALG_ED25519:
            raise InvalidInput("signer key is not an Ed25519 key (algorithm byte 0x01 and 32 bytes)")
        signer = cls(parts[2], raw[1:])
        if parts[3] != signer.verifier.key_id.hex():
            raise InvalidInput("signer key id does not match its key material")
        return signer

    def sign(self, message: bytes) -> bytes:
        return Ed25519PrivateKey.from_private_bytes(self.seed).sign(message)


def generate_signer(name: str) -> NoteSigner:
    _check_name(name)
    seed = Ed25519PrivateKey.generate().private_bytes_raw()
    return NoteSigner(name, seed)


def sign_note(text: str, signer: NoteSigner) -> str:
    """The signed note: text, a blank line, one signature line."""
    if not text.endswith("\n") or "\n\n" in text:
        raise InvalidInput("note text must end with a newline and contain no blank line")
    signature = signer.sign(text.encode())
    blob = base64.b64encode(signer.verifier.key_id + signature).decode()
    return f"{text}\n{_SIG_PREFIX}{signer.name} {blob}\n"


def open_note(note: str, verifier: NoteVerifier) -> str:
    """The note's text when ``verifier`` signed it; :class:`SignatureInvalid` otherwise (other signers ignored)."""
    text, sep, sigs = note.rpartition("\n\n")
    if not sep or not sigs.endswith("\n"):
        raise SignatureInvalid("not a signed note: no blank line before the signatures")
    text += "\n"
    lines = sigs[:-1].split("\n")
    if len(lines) > _MAX_SIGNATURES:
        raise SignatureInvalid(f"signed note carries more than {_MAX_SIGNATURES} signatures")
    for line in lines:
        if not line.startswith(_SIG_PREFIX):
            raise SignatureInvalid(f"malformed signature line {line[:60]!r}")
        name, _, blob = line[len(_SIG_PREFIX) :].rpartition(" ")
        try:
            raw = base64.b64decode(blob, validate=True)
        except (binascii.Error, ValueError):
            raise SignatureInvalid(f"signature line for {name!r} is not base64") from None
        if name != verifier.name or raw[:4] != verifier.key_id:
            continue
        if len(raw) == 68 and verifier.verify(text.encode(), raw[4:]):
            return text
        raise SignatureInvalid(f"the signature by {name} does not verify: the note was altered")
    raise SignatureInvalid(f"the note is not signed by {verifier.name}+{verifier.key_id.hex()} (wrong key?)")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed tree head: origin, tree size, root hash, optional extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode(), *self.extensions]
        return "\n".join(lines) + "\n"

    def sign(self, signer: NoteSigner) -> str:
        return sign_note(self.body(), signer)

    @classmethod
    def parse_body(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise InvalidInput("a checkpoint has an origin, a size and a root hash, one per line")
        origin, size_text, root_text, *extensions = lines[:-1]
        if not size_text.isdigit() or (size_text.startswith("0") and size_text != "0"):
            raise InvalidInput(f"checkpoint tree size {size_text!r} is not a decimal number")
        root = _b64(root_text, "checkpoint root hash")
        if len(root) != 32:
            raise InvalidInput("checkpoint root hash is not 32 bytes")
        return cls(origin, int(size_text), root, tuple(extensions))

    @classmethod
    def open(cls, note: str, verifier: NoteVerifier) -> Checkpoint:
        """Verify the signature, then parse; the origin must be the verifier's name."""
        checkpoint = cls.parse_body(open_note(note, verifier))
        if checkpoint.origin != verifier.name:
            raise SignatureInvalid(f"checkpoint origin {checkpoint.origin!r} is not the key's log {verifier.name!r}")
        return checkpoint
