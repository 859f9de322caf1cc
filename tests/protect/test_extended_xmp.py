"""JPEG Extended XMP (XMP Part 3): packets over 64 KiB are split, existing extended parts are read and merged."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rightful.errors import InvalidInput, ProtectionError
from rightful.protect import containers
from rightful.protect.tag import TagStatus, tag_file
from rightful.protect.terms import Reservation
from rightful.protect.xmpwrite import PLUS, combine_packets, split_packet
from rightful.signals.xmp import parse_packet

EXT = b"http://ns.adobe.com/xmp/extension/\x00"
STD = b"http://ns.adobe.com/xap/1.0/\x00"
DC = "http://purl.org/dc/elements/1.1/"
RDF_OPEN = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'


def _packet(props: dict[str, bytes], extra_attrs: bytes = b"") -> bytes:
    body = b"".join(b"<dc:%s>%s</dc:%s>" % (k.encode(), v, k.encode()) for k, v in props.items())
    return (RDF_OPEN + b'<rdf:Description rdf:about="" xmlns:dc="' + DC.encode() + b'"' + extra_attrs + b">" + body
            + b"</rdf:Description></rdf:RDF></x:xmpmeta>")  # fmt: skip


def _app1(payload: bytes) -> bytes:
    return b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload


def _segments(data: bytes) -> list[bytes]:
    out, pos = [], 2
    while data[pos + 1] != 0xDA:
        end = pos + 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
        out.append(data[pos:end])
        pos = end
    return out


def _with_big_xmp(path: Path, size: int = 64_900) -> None:
    """Put a standard packet of about ``size`` bytes (one big dc:source) into a JPEG."""
    data = path.read_bytes()
    packet = _packet({"source": b"x" * size, "title": b"kept title"})
    path.write_bytes(data[:2] + _app1(STD + packet) + data[2:])


def test_a_packet_over_64k_is_split_into_extended_xmp(sample: Callable[..., Path]) -> None:
    """The big property moves to Extended XMP segments (GUID = MD5); our fields and small ones stay standard."""
    path = sample("jpeg")
    _with_big_xmp(path)
    big = Reservation.parse(["all"], contacts=["Ada Lovelace <ada@example.org>", "https://ada.example/l"])
    assert tag_file(path, big).status is TagStatus.TAGGED
    segments = _segments(path.read_bytes())
    standard = next(s[4 + len(STD) :] for s in segments if s[4:].startswith(STD))
    extension = [s[4:] for s in segments if s[4:].startswith(EXT)]
    assert len(extension) == 1
    guid = extension[0][len(EXT) : len(EXT) + 32]
    whole = extension[0][len(EXT) + 40 :]
    assert hashlib.md5(whole).hexdigest().upper().encode() == guid
    assert int.from_bytes(extension[0][len(EXT) + 32 : len(EXT) + 36], "big") == len(whole)
    assert b'HasExtendedXMP="' + guid in standard
    data = parse_packet(standard)
    assert data[(PLUS, "DataMining")] == ("http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED",)
    assert data[(DC, "title")] == ("kept title",)
    assert (DC, "source") not in data
    assert parse_packet(whole)[(DC, "source")] == ("x" * 64_900,)
    assert tag_file(path, big).status is TagStatus.UNCHANGED  # the joined packet already says it all


def test_exiftool_joins_the_extended_part(
    sample: Callable[..., Path], reservation: Reservation, exiftool: Callable[..., dict[str, Any]]
) -> None:
    """An independent reader reassembles the Extended XMP we write: every property is there."""
    path = sample("jpeg")
    _with_big_xmp(path)
    tag_file(path, reservation)
    tags = exiftool(path)
    assert tags["XMP-dc:Source"] == "x" * 64_900
    assert tags["XMP-dc:Title"] == "kept title"
    assert tags["XMP-plus:DataMining"] == "http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED"
    assert "Warning" not in exiftool(path, "-warning", "-a")


def test_an_existing_extended_part_is_merged_and_rewritten(
    sample: Callable[..., Path], reservation: Reservation
) -> None:
    """A file with a 100 KB Extended XMP part in two segments keeps it all; the segments are rewritten, not doubled."""
    path = sample("jpeg")
    ext = _packet({"source": b"s" * 100_000})
    guid = hashlib.md5(ext).hexdigest().upper().encode()
    std = _packet({"title": b"kept title"}, b' xmlns:xmpNote="http://ns.adobe.com/xmp/note/" xmpNote:HasExtendedXMP="'
                  + guid + b'"')  # fmt: skip
    parts = [_app1(EXT + guid + len(ext).to_bytes(4, "big") + at.to_bytes(4, "big") + ext[at : at + 60_000])
             for at in (0, 60_000)]  # fmt: skip
    data = path.read_bytes()
    path.write_bytes(data[:2] + _app1(STD + std) + parts[1] + parts[0] + data[2:])  # any order is allowed
    assert tag_file(path, reservation).status is TagStatus.TAGGED
    extension = [s[4:] for s in _segments(path.read_bytes()) if s[4:].startswith(EXT)]
    assert len(extension) == 2
    offsets = [int.from_bytes(e[len(EXT) + 36 : len(EXT) + 40], "big") for e in extension]
    assert offsets == [0, len(extension[0]) - len(EXT) - 40]
    joined = containers.read_xmp("image/jpeg", path.read_bytes())
    assert joined is not None
    merged = parse_packet(joined)
    assert merged[(DC, "source")] == ("s" * 100_000,)
    assert merged[(DC, "title")] == ("kept title",)
    assert merged[(PLUS, "DataMining")] == ("http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED",)


def test_a_corrupt_extended_part_is_refused(sample: Callable[..., Path], reservation: Reservation) -> None:
    """An Extended XMP part that does not match its GUID is refused, the file untouched."""
    path = sample("jpeg")
    _with_big_xmp(path)
    tag_file(path, reservation)
    data = bytearray(path.read_bytes())
    at = data.index(EXT) + len(EXT) + 40 + 100
    data[at] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(InvalidInput, match="Extended XMP"):
        tag_file(path, Reservation.parse(["genai-training"]))
    assert path.read_bytes() == bytes(data)


def test_rights_properties_too_big_for_the_standard_part_are_refused(sample: Callable[..., Path]) -> None:
    """When our own namespaces alone pass 64 KiB (they never move to Extended XMP), the file is refused untouched."""
    path = sample("jpeg")
    data = path.read_bytes()
    terms = b"<xmpRights:UsageTerms>" + b"y" * 65_000 + b"</xmpRights:UsageTerms>"
    packet = (RDF_OPEN + b'<rdf:Description rdf:about="" xmlns:xmpRights="http://ns.adobe.com/xap/1.0/rights/">'
              + terms + b"</rdf:Description></rdf:RDF></x:xmpmeta>")  # fmt: skip
    path.write_bytes(data[:2] + _app1(STD + packet) + data[2:])
    before = path.read_bytes()
    with pytest.raises(ProtectionError, match="Extended XMP"):
        tag_file(path, Reservation.parse(["all"], licence="https://creativecommons.org/licenses/by-nc/4.0/"))
    assert path.read_bytes() == before


_NAMES = st.sampled_from(["title", "source", "creator", "rights", "coverage", "relation", "format"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(props=st.dictionaries(_NAMES, st.integers(min_value=1, max_value=3000), min_size=1),
       limit=st.integers(min_value=2500, max_value=9000))  # fmt: skip
def test_split_then_combine_keeps_every_property(props: dict[str, int], limit: int) -> None:
    """Whatever the sizes and the limit, the standard part fits and the two parts join back to the same data."""
    packet = _packet({k: b"v" * n for k, n in props.items()})
    standard, extended, guid = split_packet(packet, limit=limit)
    assert len(standard) <= limit
    assert hashlib.md5(extended).hexdigest().upper() == guid
    joined = parse_packet(combine_packets(standard, extended))
    assert {k: v for k, v in joined.items() if k[0] == DC} == {(DC, k): ("v" * n,) for k, n in props.items()}


_JPEG = b"\xff\xd8" + _app1(STD + _packet({"title": b"t"}, b' xmlns:xmpNote="http://ns.adobe.com/xmp/note/" '
                                          b'xmpNote:HasExtendedXMP="' + b"A" * 32 + b'"'))  # fmt: skip


@settings(max_examples=80, deadline=None)
@given(chunks=st.lists(st.tuples(st.binary(max_size=40), st.integers(0, 200), st.integers(0, 200)), max_size=4))
def test_junk_extension_segments_are_refused_never_crash(chunks: list[tuple[bytes, int, int]]) -> None:
    """Whatever extension segments claim (lengths, offsets, bytes), reading is the joined packet or InvalidInput."""
    segments = b"".join(_app1(EXT + b"A" * 32 + total.to_bytes(4, "big") + offset.to_bytes(4, "big") + body)
                        for body, total, offset in chunks)  # fmt: skip
    data = _JPEG + segments + b"\xff\xda\x00\x02\x00\xff\xd9"
    try:
        packet = containers.read_xmp("image/jpeg", data)
    except InvalidInput:
        return
    assert packet is not None
