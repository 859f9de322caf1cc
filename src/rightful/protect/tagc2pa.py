"""The C2PA half of ``rightful tag``: a signed ``cawg.training-mining`` assertion next to the XMP statement.

The manifest says what happened, and nothing more: the artist's file was opened (``c2pa.opened``, the file as
it was before tagging recorded as the ``parentOf`` ingredient — with its own manifest, if it had one, so an
earlier signature is carried forward rather than broken) and its metadata edited (``c2pa.edited.metadata``).
It makes no claim about how the picture was made: no ``c2pa.created``, no digital source type.

Assertions: ``cawg.training-mining`` with a ``notAllowed`` entry for each CAWG purpose the reservation covers —
and nothing for the others: an absent entry states nothing, exactly like the XMP statement beside it, so tagging
never grants a permission the artist did not give — and
``cawg.metadata`` repeating the IPTC Data Mining code, the licence and the licensor in XMP terms.

Signed with the keys ``rightful keys init`` made (:func:`resolve_identity`); JPEG, PNG, WebP and TIFF carry the
manifest inside the file (c2pa-rs adds its own segment, chunk or tag: the image data is copied as it was).
PDF keeps the XMP statement alone: c2pa-python (0.38) can sign a PDF, but it rewrites the whole file instead of
appending an incremental update, which would re-serialise the document and break any earlier PDF signature.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from rightful.config import Settings
from rightful.errors import ConfigError, InvalidInput, ProtectionError
from rightful.models import Decision, Purpose
from rightful.protect.terms import IPTC_VOCAB, Reservation

if TYPE_CHECKING:
    from rightful.provenance.keys import SigningIdentity

__all__ = [
    "SIGNABLE_TYPES",
    "C2paMode",
    "describe_manifest",
    "manifest_states",
    "reservation_assertions",
    "reservation_uses",
    "resolve_identity",
    "sign_tagged",
]

#: Formats whose files get an embedded C2PA manifest (the others keep the XMP statement alone).
SIGNABLE_TYPES: Final = frozenset({"image/jpeg", "image/png", "image/webp", "image/tiff"})
_ENTRIES: Final = {
    "cawg.data_mining": Purpose.DATA_MINING,
    "cawg.ai_training": Purpose.AI_TRAINING,
    "cawg.ai_generative_training": Purpose.GENAI_TRAINING,
    "cawg.ai_inference": Purpose.AI_INFERENCE,
}
_CONTEXT: Final = {"plus": "http://ns.useplus.org/ldf/xmp/1.0/", "xmpRights": "http://ns.adobe.com/xap/1.0/rights/"}


class C2paMode(StrEnum):
    """``auto``: sign when keys exist; ``always``: signing is required; ``never``: XMP only."""

    AUTO = "auto"
    ALWAYS = "always"
    NEVER = "never"


def resolve_identity(mode: C2paMode | str, *, settings: Settings | None = None) -> SigningIdentity | None:
    """The signing identity ``mode`` asks for, or None (XMP only); a clear error when ``always`` cannot sign."""
    from rightful.provenance.keys import KeyPaths, load_signing_identity

    try:
        chosen = C2paMode(mode)
    except ValueError:
        raise InvalidInput(f"--c2pa {mode!r} is not one of {', '.join(C2paMode)}") from None
    if chosen is C2paMode.NEVER:
        return None
    directory = (settings or Settings.load()).home / "keys"
    if chosen is C2paMode.AUTO and not KeyPaths(directory).signer_chain.exists():
        return None
    if not KeyPaths(directory).signer_chain.exists():
        raise ConfigError(f"--c2pa always needs a signing certificate, and {directory} has none: run "
                              "'rightful keys init' (or 'rightful keys init --import CHAIN --key KEY')")  # fmt: skip
    return load_signing_identity(directory)  # an expired or malformed certificate is an error in every mode


def reservation_uses(reservation: Reservation) -> dict[str, str]:
    """The CAWG entry → ``use`` mapping stating ``reservation``."""
    return {key: "notAllowed" for key, p in _ENTRIES.items() if reservation.reserves(p)}


def reservation_assertions(reservation: Reservation) -> list[dict[str, Any]]:
    """``cawg.training-mining`` (the reservation) and ``cawg.metadata`` (IPTC code, licence, licensor)."""
    from rightful.provenance.manifest import training_mining_assertion

    metadata: dict[str, Any] = {"@context": dict(_CONTEXT), "plus:DataMining": IPTC_VOCAB + reservation.iptc_code}
    if reservation.other_constraints:
        metadata["plus:OtherConstraints"] = reservation.other_constraints
    if reservation.licence:
        metadata["xmpRights:WebStatement"] = reservation.licence
        metadata["xmpRights:Marked"] = "/publicdomain/" not in reservation.licence.lower()
    contact = reservation.contact
    licensor = {f"plus:{name}": value for name, value in (("LicensorName", contact.name),
                ("LicensorEmail", contact.email), ("LicensorURL", contact.url),
                ("LicensorTelephone1", contact.telephone)) if value}  # fmt: skip
    if licensor:
        metadata["plus:Licensor"] = [licensor]
    return [training_mining_assertion(reservation_uses(reservation)), {"label": "cawg.metadata", "data": metadata}]


def describe_manifest(reservation: Reservation) -> str:
    """One report line: ``c2pa:cawg.training-mining cawg.data_mining=notAllowed, …``."""
    uses = reservation_uses(reservation)
    return "c2pa:cawg.training-mining " + ", ".join(f"{k}={v}" for k, v in uses.items())


def _store(data: bytes, media_type: str) -> Mapping[str, Any] | None:
    from rightful.signals.c2pa_manifest import ManifestReadError, read_manifest_store

    try:
        return read_manifest_store(data, media_type=media_type)
    except ManifestReadError:
        return None


def manifest_states(data: bytes, media_type: str, reservation: Reservation) -> bool:
    """Whether the file's active manifest is not Invalid and its training-mining terms are exactly these."""
    from rightful.signals.c2pa_manifest import manifest_findings

    store = _store(data, media_type) if media_type in SIGNABLE_TYPES else None
    if store is None or store.get("validation_state") == "Invalid":
        return False
    wanted = {p: Decision.RESERVED for p in _ENTRIES.values() if reservation.reserves(p)}
    signals = [s for s in manifest_findings(store, location="-").signals if s.protocol == "cawg"]
    return len(signals) == 1 and dict(signals[0].values) == wanted


def sign_tagged(original: bytes, updated: bytes, reservation: Reservation, *, identity: SigningIdentity,
                name: str, media_type: str) -> bytes:  # fmt: skip
    """``updated`` (``original`` plus our XMP) with a signed manifest stating ``reservation``, read back."""
    from rightful.errors import ProvenanceError
    from rightful.provenance.manifest import sign_bytes

    try:
        signed = sign_bytes(updated, reservation_assertions(reservation), identity=identity,
                            title=Path(name).name, parent=original)  # fmt: skip
    except ProvenanceError as exc:
        raise ProtectionError(f"{name}: {exc}; file left unchanged", path=name) from exc
    if not signed.embedded or not manifest_states(signed.data, media_type, reservation):
        raise ProtectionError(f"{name}: the signed C2PA manifest did not read back as intended; file left unchanged",
                              path=name)  # fmt: skip
    return signed.data
