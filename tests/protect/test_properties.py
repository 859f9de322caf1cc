"""Property tests for the container walkers and the XMP merger: any input gives a clean answer or a clear error."""

from __future__ import annotations

import string
from xml.sax.saxutils import escape

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rightful.errors import InvalidInput, ProtectionError
from rightful.protect import containers
from rightful.protect.terms import Reservation
from rightful.protect.xmpwrite import PLUS, merge_packet, rights_fields, states_fields
from rightful.signals.xmp import parse_packet
from tests.protect.protect_helpers import make_file

FILES = {kind: make_file(kind) for kind in ("jpeg", "png", "webp-lossless", "webp-extended", "tiff", "pdf")}
MAGIC = [b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"RIFF\x10\x00\x00\x00WEBPVP8X", b"II*\x00", b"MM\x00*", b"%PDF-1.7\n"]
FIELDS = rights_fields(Reservation.parse(["data-mining"]))
PACKET = merge_packet(None, FIELDS, padding=0)
_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _roundtrip(data: bytes) -> None:
    """Tag in memory: either a clean error, or a file whose XMP reads back as written."""
    try:
        kind = containers.media_kind(data)
        containers.read_xmp(kind, data)
        out = containers.write_xmp(kind, data, PACKET)
    except (InvalidInput, ProtectionError):
        return
    assert containers.read_xmp(kind, out) == PACKET
    assert states_fields(containers.read_xmp(kind, out), FIELDS)


@_SETTINGS
@given(magic=st.sampled_from(MAGIC), tail=st.binary(max_size=300))
def test_random_bytes_after_a_magic_number_never_crash(magic: bytes, tail: bytes) -> None:
    """Arbitrary bytes behind a format's magic number give an InvalidInput, never another exception."""
    _roundtrip(magic + tail)


@_SETTINGS
@given(kind=st.sampled_from(sorted(FILES)), data=st.data())
def test_truncated_files_never_crash(kind: str, data: st.DataObject) -> None:
    """A real file cut at any point is either tagged correctly or refused with a clear error."""
    original = FILES[kind]
    cut = data.draw(st.integers(min_value=0, max_value=len(original)))
    _roundtrip(original[:cut])


@_SETTINGS
@given(kind=st.sampled_from(sorted(FILES)), data=st.data())
def test_flipped_bytes_never_crash(kind: str, data: st.DataObject) -> None:
    """A real file with a few bytes changed is either tagged correctly or refused with a clear error."""
    original = bytearray(FILES[kind])
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        at = data.draw(st.integers(min_value=0, max_value=len(original) - 1))
        original[at] = data.draw(st.integers(min_value=0, max_value=255))
    _roundtrip(bytes(original))


_XML_TEXT = (
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"), min_size=1)
    .map(str.strip)
    .filter(bool)
)


@_SETTINGS
@given(name=_XML_TEXT.filter(lambda s: not set(s) & set('<>"\\')).map(lambda s: s[:200]))
def test_any_contact_name_reads_back_exactly(name: str) -> None:
    """A contact name with any characters XML allows is written escaped and read back exactly."""
    reservation = Reservation.parse(["all"], contacts=[f"{name} <ada@example.org>"])
    fields = rights_fields(reservation)
    packet = merge_packet(None, fields)
    assert states_fields(packet, fields)
    assert parse_packet(packet).first("LicensorName", PLUS) == reservation.contact.name


_LOCAL = st.text(alphabet=string.ascii_letters, min_size=1, max_size=10)


@_SETTINGS
@given(props=st.dictionaries(_LOCAL, _XML_TEXT.map(lambda s: s[:50]), min_size=1, max_size=6),
       as_attributes=st.booleans())  # fmt: skip
def test_merge_keeps_every_other_property(props: dict[str, str], as_attributes: bool) -> None:
    """Properties already in a packet (as elements or attributes) are all there, unchanged, after a merge."""
    ns = "http://example.com/ns/other/"
    if as_attributes:
        body = "".join(f' o:{k}="{escape(v, {chr(34): "&quot;"})}"' for k, v in props.items())
        description = f'<rdf:Description rdf:about="" xmlns:o="{ns}"{body}/>'
    else:
        body = "".join(f"<o:{k}>{escape(v)}</o:{k}>" for k, v in props.items())
        description = f'<rdf:Description rdf:about="" xmlns:o="{ns}">{body}</rdf:Description>'
    existing = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
                f"{description}</rdf:RDF></x:xmpmeta>").encode()  # fmt: skip
    merged = parse_packet(merge_packet(existing, FIELDS))
    before = parse_packet(existing)
    assert {k: v for k, v in merged.items() if k[0] == ns} == dict(before)
    assert states_fields(merge_packet(existing, FIELDS), FIELDS)
    assert b'xmlns:o="http://example.com/ns/other/"' in merge_packet(existing, FIELDS)  # the prefix is kept


@_SETTINGS
@given(value=st.text(max_size=120))
def test_contact_parser_accepts_or_says_why(value: str) -> None:
    """Any --contact text is either parsed into a safe contact or refused with InvalidInput."""
    from rightful.protect.terms import parse_contacts

    try:
        contact = parse_contacts([value])
    except InvalidInput:
        return
    for part in (contact.name, contact.email, contact.url, contact.telephone):
        assert part is None or not set(part) & set('<>"\\\n\r')


@_SETTINGS
@given(
    local=st.from_regex(r"[a-z0-9._-]{1,20}", fullmatch=True), domain=st.from_regex(r"[a-z0-9-]{1,15}", fullmatch=True)
)
def test_emails_round_trip_in_every_accepted_form(local: str, domain: str) -> None:
    """``a@b.org``, ``mailto:a@b.org`` and ``Name <a@b.org>`` all give the same email back."""
    from rightful.protect.terms import parse_contacts

    email = f"{local}@{domain}.org"
    for form in (email, f"mailto:{email}", f"Ada <{email}>"):
        assert parse_contacts([form]).email == email


@_SETTINGS
@given(words=st.lists(st.text(max_size=20), max_size=4))
def test_reserve_words_parse_or_are_refused(words: list[str]) -> None:
    """Any --reserve input is either a non-empty reservation or an InvalidInput."""
    try:
        reservation = Reservation.parse(words)
    except InvalidInput:
        return
    assert reservation.purposes
    assert reservation.label in ("genai-training", "ai-training", "data-mining", "all")
