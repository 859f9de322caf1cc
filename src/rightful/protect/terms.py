"""What an artist reserves, whom to ask, and which statement each protocol can make of it.

``rightful tag`` and ``rightful site-kit`` take the same ``--reserve`` words. They are purposes of our
vocabulary (SPEC-signals.md) plus ``all``; a reservation of a broader purpose reserves the narrower ones
(``data-mining`` ⊇ ``ai-training`` ⊇ ``genai-training``), and ``all`` adds ``ai-inference`` (use as model input:
retrieval, grounding). :class:`Reservation` holds the expanded set, so each writer asks one question — "is this
purpose reserved?" — and never re-derives the hierarchy.

Protocols differ in what they can say. IPTC has one code per level; TDMRep has a single switch that covers all
text and data mining; robots.txt, ai.txt, ``noai`` and aipref speak of AI training as a whole. Where a protocol
cannot express a reservation without claiming more than the artist asked for, the writers leave it out and say
so (see :attr:`Reservation.tdmrep`), rather than over- or under-state it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

from rightful.errors import InvalidInput
from rightful.models import Purpose

__all__ = [
    "IPTC_VOCAB",
    "RESERVE_CHOICES",
    "Contact",
    "Reservation",
    "check_url",
    "parse_contacts",
]

#: The ``--reserve`` words, narrowest first.
RESERVE_CHOICES: Final = ("genai-training", "ai-training", "data-mining", "all")
#: Where the IPTC Data Mining codes live (``plus:DataMining`` takes the full URI).
IPTC_VOCAB: Final = "http://ns.useplus.org/ldf/vocab/"

_EXPANSION: Final[dict[str, frozenset[Purpose]]] = {
    "genai-training": frozenset({Purpose.GENAI_TRAINING}),
    "ai-training": frozenset({Purpose.AI_TRAINING, Purpose.GENAI_TRAINING}),
    "data-mining": frozenset({Purpose.DATA_MINING, Purpose.AI_TRAINING, Purpose.GENAI_TRAINING}),
    "all": frozenset({Purpose.DATA_MINING, Purpose.AI_TRAINING, Purpose.GENAI_TRAINING, Purpose.AI_INFERENCE}),
}
_MAX_URL: Final = 2000
# Characters that would break out of a header value, an HTML attribute, a server config or an XML attribute.
_UNSAFE_URL: Final = re.compile(r"[\s\"'<>\\`{}|^\x00-\x1f\x7f]")
_EMAIL: Final = re.compile(r"^[A-Za-z0-9.!#$%&*+/=?_~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_TEL: Final = re.compile(r"^\+?[0-9][0-9 ().-]{3,30}$")
_NAMED: Final = re.compile(r"^(?P<name>[^<>]+?)\s*<(?P<address>[^<>]+)>$")
_NAME_CHARS: Final = re.compile(r"^[^\x00-\x1f\x7f<>\"\\\ud800-\udfff\ufffe\uffff]{1,200}$")


def check_url(value: str, *, what: str) -> str:
    """An absolute ``http(s)`` URL safe to write into headers, HTML, XML and server configs; else InvalidInput."""
    text = value.strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput(f"{what} must be an absolute http:// or https:// URL, not {value!r}")
    if len(text) > _MAX_URL or _UNSAFE_URL.search(text):
        raise InvalidInput(f"{what} {value!r} has spaces, quotes or other characters that cannot be written safely")
    return text


@dataclass(frozen=True, slots=True)
class Contact:
    """Whom a builder asks for a licence: any of a name, an email, a web page and a telephone number."""

    name: str | None = None
    email: str | None = None
    url: str | None = None
    telephone: str | None = None

    def __bool__(self) -> bool:
        return any((self.name, self.email, self.url, self.telephone))

    @property
    def mailto(self) -> str | None:
        return f"mailto:{self.email}" if self.email else None

    @property
    def tel(self) -> str | None:
        return "tel:" + re.sub(r"[ ().]", "", self.telephone) if self.telephone else None

    def words(self) -> str:
        """One line for comments and reports: ``Ada <ada@example.org>, https://ada.example/licensing``."""
        head = f"{self.name} <{self.email}>" if self.name and self.email else (self.name or self.email)
        return ", ".join(x for x in (head, self.url, self.telephone) if x)


def parse_contacts(values: Iterable[str]) -> Contact:
    """Merge ``--contact`` values into one :class:`Contact`.

    Each value is an email (``ada@example.org``, ``mailto:…``, ``Ada Lovelace <ada@example.org>``), a web page
    (``https://…``) or a telephone number (``tel:+44 …``). Two values of the same kind are an error: the
    reservation must name one address to ask, not leave the reader to choose.
    """
    found: dict[str, str] = {}
    for raw in values:
        text = raw.strip()
        if not text:
            continue
        for kind, value in _contact_parts(text):
            if kind in found and found[kind] != value:
                raise InvalidInput(f"two contact {kind}s given ({found[kind]!r} and {value!r}); give one of each")
            found[kind] = value
    return Contact(name=found.get("name"), email=found.get("email"), url=found.get("url"),
                   telephone=found.get("telephone"))  # fmt: skip


def _contact_parts(text: str) -> list[tuple[str, str]]:
    named = _NAMED.match(text)
    if named is not None:
        name = named.group("name").strip()
        if not _NAME_CHARS.match(name):
            raise InvalidInput(f"contact name {name!r} has characters that cannot be written safely")
        return [("name", name), *_contact_parts(named.group("address").strip())]
    lower = text.lower()
    if lower.startswith(("http://", "https://")):
        return [("url", check_url(text, what="--contact"))]
    if lower.startswith("mailto:"):
        text = text[len("mailto:") :]
    if _EMAIL.match(text):
        return [("email", text)]
    if lower.startswith("tel:") and _TEL.match(text[4:].strip()):
        return [("telephone", text[4:].strip())]
    raise InvalidInput(
        f"--contact {text!r} is not an email, an http(s) URL or a tel: number "
        "(forms: ada@example.org, 'Ada Lovelace <ada@example.org>', https://…, tel:+44 20 7946 0000)"
    )


@dataclass(frozen=True, slots=True)
class Reservation:
    """The purposes reserved (expanded), the licence offered and whom to ask."""

    purposes: frozenset[Purpose]
    licence: str | None = None
    contact: Contact = field(default_factory=Contact)

    @classmethod
    def parse(cls, reserve: Sequence[str], *, licence: str | None = None, contacts: Iterable[str] = ()) -> Reservation:
        """From CLI words: ``reserve`` values may repeat or be comma lists; unknown words raise InvalidInput."""
        purposes: set[Purpose] = set()
        words = [w.strip().lower() for value in reserve for w in value.split(",") if w.strip()]
        if not words:
            raise InvalidInput(f"nothing to reserve: give --reserve {'|'.join(RESERVE_CHOICES)}")
        for word in words:
            expanded = _EXPANSION.get(word)
            if expanded is None:
                raise InvalidInput(f"--reserve {word!r} is not one of {', '.join(RESERVE_CHOICES)}")
            purposes |= expanded
        checked = check_url(licence, what="--licence") if licence is not None else None
        return cls(purposes=frozenset(purposes), licence=checked, contact=parse_contacts(contacts))

    def reserves(self, purpose: Purpose) -> bool:
        return purpose in self.purposes

    @property
    def label(self) -> str:
        """The broadest ``--reserve`` word this reservation amounts to."""
        for word in reversed(RESERVE_CHOICES):
            if _EXPANSION[word] <= self.purposes:
                return word
        return "none"

    @property
    def tdmrep(self) -> bool:
        """TDMRep has one switch for all text and data mining: set it only when data mining is reserved."""
        return Purpose.DATA_MINING in self.purposes

    @property
    def ai_training(self) -> bool:
        """robots.txt, ai.txt, ``noai`` and aipref speak of AI training as a whole (generative or not)."""
        return Purpose.AI_TRAINING in self.purposes

    @property
    def iptc_code(self) -> str:
        """The IPTC Data Mining code that states exactly this reservation (without the ``DMI-`` URI prefix)."""
        if Purpose.DATA_MINING in self.purposes:
            return "DMI-PROHIBITED"
        if Purpose.AI_TRAINING in self.purposes:
            return "DMI-PROHIBITED-AIMLTRAINING"
        return "DMI-PROHIBITED-GENAIMLTRAINING"

    @property
    def other_constraints(self) -> str | None:
        """``plus:OtherConstraints`` text for what no IPTC code covers (use as AI input), else None."""
        if Purpose.AI_INFERENCE not in self.purposes:
            return None
        text = ("Use as input to AI systems (inference, retrieval-augmented generation, grounding) is prohibited, "
                "as are data mining and AI/ML training.")  # fmt: skip
        ask = self.contact.words()
        return text + (f" Licensing: {ask}." if ask else "")
