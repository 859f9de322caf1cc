"""``tag_file`` / ``tag_files``: the reservation is written into each format, pixels and other metadata kept."""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from rightful.errors import ProtectionError
from rightful.models import Decision, Purpose
from rightful.protect import containers
from rightful.protect.tag import TagProgress, TagStatus, tag_file, tag_files
from rightful.protect.terms import Reservation
from rightful.signals.check import check_file
from rightful.signals.xmp import find_packets
from tests.protect.protect_helpers import KINDS, jpeg_parts

IMAGE_KINDS = [k for k in KINDS if k != "pdf"]
DMI = "http://ns.useplus.org/ldf/vocab/DMI-"


def _pixels(data: bytes) -> np.ndarray[Any, Any]:
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        return np.asarray(img).copy()


@pytest.mark.parametrize("kind", IMAGE_KINDS)
def test_pixels_are_not_re_encoded(kind: str, sample: Callable[..., Path], reservation: Reservation) -> None:
    """Decoded pixels are identical before and after tagging, for every image format."""
    path = sample(kind)
    before = path.read_bytes()
    assert tag_file(path, reservation).status is TagStatus.TAGGED
    after = path.read_bytes()
    assert after != before
    assert np.array_equal(_pixels(before), _pixels(after))


def test_jpeg_scan_and_segments_are_byte_identical(sample: Callable[..., Path], reservation: Reservation) -> None:
    """In a JPEG only an APP1 XMP segment is added: every other segment and the entropy-coded scan are kept."""
    path = sample("jpeg")
    before_segments, before_scan = jpeg_parts(path.read_bytes())
    tag_file(path, reservation)
    after_segments, after_scan = jpeg_parts(path.read_bytes())
    assert after_scan == before_scan
    added = [s for s in after_segments if s not in before_segments]
    assert len(added) == 1
    assert added[0][:2] == b"\xff\xe1"
    assert added[0][4:33] == b"http://ns.adobe.com/xap/1.0/\x00"
    assert [s for s in after_segments if s in before_segments] == before_segments
    exif_at = next(i for i, s in enumerate(after_segments) if s[4:10] == b"Exif\x00\x00")
    assert after_segments.index(added[0]) == exif_at + 1  # XMP right after Exif, as readers expect


@pytest.mark.parametrize("kind", ["jpeg", "png", "webp-extended", "tiff"])
def test_existing_exif_and_icc_are_kept(kind: str, sample: Callable[..., Path], reservation: Reservation) -> None:
    """EXIF and the ICC profile read back unchanged after tagging."""
    path = sample(kind)
    with Image.open(path) as img:
        exif, icc = dict(img.getexif()), img.info.get("icc_profile")
    tag_file(path, reservation)
    with Image.open(path) as img:
        after = dict(img.getexif())
        assert after.pop(700, None) is not None or kind != "tiff"  # in TIFF the XMP is itself an IFD0 tag
        assert after == exif
        assert img.info.get("icc_profile") == icc
    assert exif
    assert icc


@pytest.mark.parametrize("kind", KINDS)
def test_check_file_reports_the_reservation(kind: str, sample: Callable[..., Path], reservation: Reservation) -> None:
    """``rightful check`` reads the written file as reserved, with the IPTC statement and the licence."""
    path = sample(kind)
    tag_file(path, reservation)
    result = check_file(path)
    for purpose in (Purpose.DATA_MINING, Purpose.AI_TRAINING, Purpose.GENAI_TRAINING):
        assert result.decision(purpose) is Decision.RESERVED
    iptc = [s for s in result.signals if s.protocol == "iptc"]
    assert [s.details["code"] for s in iptc] == ["DMI-PROHIBITED"]
    assert iptc[0].details["other_constraints"][0].startswith("Use as input to AI systems")
    assert result.licence[0].licence == "https://creativecommons.org/licenses/by-nc-nd/4.0/"
    assert set(result.licence[0].flags) == {"by", "nc", "nd", "marked"}
    assert not result.errors
    tdm = [s for s in result.signals if s.protocol == "tdmrep"]
    assert [s.details["place"] for s in tdm] == (["pdf-xmp"] if kind == "pdf" else [])


@pytest.mark.parametrize(
    ("reserve", "code", "reserved"),
    [
        ("genai-training", "DMI-PROHIBITED-GENAIMLTRAINING", {Purpose.GENAI_TRAINING}),
        ("ai-training", "DMI-PROHIBITED-AIMLTRAINING", {Purpose.AI_TRAINING, Purpose.GENAI_TRAINING}),
        ("data-mining", "DMI-PROHIBITED", {Purpose.DATA_MINING, Purpose.AI_TRAINING, Purpose.GENAI_TRAINING}),
    ],
)
def test_each_reserve_word_writes_its_iptc_code(
    reserve: str, code: str, reserved: set[Purpose], sample: Callable[..., Path]
) -> None:
    """Each --reserve word writes the IPTC code that states exactly it, and the checker reads just that back."""
    path = sample("png")
    tag_file(path, Reservation.parse([reserve]))
    result = check_file(path)
    assert {p for p, v in result.verdicts.items() if v.decision is Decision.RESERVED} == reserved
    assert next(s for s in result.signals if s.protocol == "iptc").details["code"] == code
    assert not [s for s in result.signals if s.details.get("other_constraints")]


@pytest.mark.parametrize("kind", KINDS)
def test_exiftool_reads_the_written_fields(
    kind: str, sample: Callable[..., Path], reservation: Reservation, exiftool: Callable[..., dict[str, Any]]
) -> None:
    """An independent reader (exiftool) sees every field written, in every format."""
    path = sample(kind)
    tag_file(path, reservation)
    tags = exiftool(path)
    assert tags["XMP-plus:DataMining"] == DMI + "PROHIBITED"
    assert tags["XMP-plus:OtherConstraints"].startswith("Use as input to AI systems")
    assert tags["XMP-plus:Licensor"] == [
        {
            "LicensorName": "Ada Lovelace",
            "LicensorEmail": "ada@example.org",
            "LicensorURL": "https://ada.example/licensing",
        }
    ]
    assert tags["XMP-xmpRights:Marked"] is True
    assert tags["XMP-xmpRights:WebStatement"] == "https://creativecommons.org/licenses/by-nc-nd/4.0/"
    assert tags["XMP-cc:License"] == "https://creativecommons.org/licenses/by-nc-nd/4.0/"
    assert ("XMP-tdm:Reservation" in tags) == (kind == "pdf")
    if kind == "pdf":
        assert tags["XMP-tdm:Reservation"] == 1


@pytest.mark.parametrize("kind", KINDS)
def test_exiftool_finds_no_structural_problem(
    kind: str, sample: Callable[..., Path], reservation: Reservation, exiftool: Callable[..., dict[str, Any]]
) -> None:
    """exiftool's validator reports no new warning or error after tagging."""
    path = sample(kind)
    before = exiftool(path, "-validate", "-warning", "-error", "-a")
    tag_file(path, reservation)
    after = exiftool(path, "-validate", "-warning", "-error", "-a")
    strip = {"SourceFile"}
    assert {k: v for k, v in after.items() if k not in strip} == {k: v for k, v in before.items() if k not in strip}


def test_simple_webp_gets_a_correct_vp8x_header(sample: Callable[..., Path], reservation: Reservation) -> None:
    """A simple lossless WebP with alpha becomes extended: canvas size and alpha flag read from the bitstream."""
    path = sample("webp-lossless", width=301, height=7)
    assert path.read_bytes()[12:16] == b"VP8L"
    tag_file(path, reservation)
    data = path.read_bytes()
    assert data[12:16] == b"VP8X"
    flags = data[20]
    assert flags & 0x04  # XMP
    assert flags & 0x10  # alpha
    assert int.from_bytes(data[24:27], "little") + 1 == 301
    assert int.from_bytes(data[27:30], "little") + 1 == 7
    assert int.from_bytes(data[4:8], "little") + 8 == len(data)


def test_pdf_is_updated_incrementally(sample: Callable[..., Path], reservation: Reservation) -> None:
    """A tagged PDF begins with the original bytes unchanged: the metadata is an appended update."""
    from pypdf import PdfReader

    path = sample("pdf")
    before = path.read_bytes()
    tag_file(path, reservation)
    after = path.read_bytes()
    assert after.startswith(before)
    reader = PdfReader(path)
    assert len(reader.pages) == 1
    assert reader.metadata is not None
    assert reader.metadata.title == "A test document"
    assert b"tdm:reservation>1<" in reader.trailer["/Root"]["/Metadata"].get_object().get_data()


def test_pdf_tagged_twice_keeps_one_current_packet(sample: Callable[..., Path]) -> None:
    """A second, different tagging of a PDF is what readers see (its catalog points to the newest stream)."""
    path = sample("pdf")
    tag_file(path, Reservation.parse(["ai-training"]))
    tag_file(path, Reservation.parse(["data-mining"]))
    packet = containers.read_xmp("application/pdf", path.read_bytes())
    assert packet is not None
    assert b"DMI-PROHIBITED<" in packet
    assert b"tdm:reservation>1<" in packet


def test_rerun_leaves_a_tagged_file_untouched(sample: Callable[..., Path], reservation: Reservation) -> None:
    """Tagging a file that already states the reservation changes nothing (reruns only do remaining work)."""
    path = sample("jpeg")
    tag_file(path, reservation)
    tagged = path.read_bytes()
    mtime = path.stat().st_mtime_ns
    assert tag_file(path, reservation).status is TagStatus.UNCHANGED
    assert path.read_bytes() == tagged
    assert path.stat().st_mtime_ns == mtime


def test_a_different_reservation_replaces_the_old_one(sample: Callable[..., Path]) -> None:
    """Tagging again with another reservation replaces the IPTC value: one statement, no contradiction."""
    path = sample("webp-lossy")
    tag_file(path, Reservation.parse(["data-mining"]))
    tag_file(path, Reservation.parse(["genai-training"]))
    packets = find_packets(path.read_bytes())
    assert len(packets) == 1
    assert b"DMI-PROHIBITED-GENAIMLTRAINING" in packets[0]
    assert b"DMI-PROHIBITED<" not in packets[0]


def test_dry_run_writes_nothing(sample: Callable[..., Path], reservation: Reservation) -> None:
    """``dry_run`` reports the fields it would write and leaves the file byte-identical."""
    path = sample("tiff")
    before = path.read_bytes()
    result = tag_file(path, reservation, dry_run=True)
    assert result.status is TagStatus.WOULD_TAG
    assert any(f.startswith("plus:DataMining=") for f in result.fields)
    assert result.size_after is not None
    assert result.size_after > len(before)
    assert path.read_bytes() == before


def test_file_mode_is_kept_and_no_temporary_file_is_left(sample: Callable[..., Path], reservation: Reservation) -> None:
    """The replaced file keeps its permission bits, and the folder holds no leftover temporary file."""
    path = sample("png")
    path.chmod(0o640)
    tag_file(path, reservation)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_symlink_tags_its_target_and_stays_a_link(sample: Callable[..., Path], reservation: Reservation) -> None:
    """Tagging through a symlink writes the target file and keeps the link."""
    target = sample("png")
    link = target.with_name("link.png")
    link.symlink_to(target)
    tag_file(link, reservation)
    assert link.is_symlink()
    assert check_file(target).decision(Purpose.AI_TRAINING) is Decision.RESERVED


def test_failed_rename_leaves_the_original_intact(
    sample: Callable[..., Path], reservation: Reservation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the final rename fails, the original file is unchanged and the temporary file is removed."""
    path = sample("jpeg")
    before = path.read_bytes()

    def refuse(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(ProtectionError, match="original left as it was"):
        tag_file(path, reservation)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_batch_over_a_folder_reports_progress_and_goes_on_after_a_failure(
    tmp_path: Path, sample: Callable[..., Path], reservation: Reservation
) -> None:
    """A folder is walked recursively; a bad file fails alone, the others are tagged, progress counts all."""
    good = [sample("jpeg"), sample("png"), sample("pdf")]
    nested = tmp_path / "sub" / "deeper"
    nested.mkdir(parents=True)
    moved = nested / "nested.webp"
    sample("webp-lossy").rename(moved)
    (tmp_path / "sub" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    (tmp_path / "notes.txt").write_text("not an image")  # not a taggable suffix: skipped in a folder
    (tmp_path / ".hidden.jpg").write_bytes(b"ignored")
    seen: list[TagProgress] = []
    results = list(tag_files([tmp_path], reservation, progress=seen.append))
    by_name = {r.path.name: r for r in results}
    assert set(by_name) == {*(p.name for p in good), "nested.webp", "broken.png"}
    assert by_name["broken.png"].status is TagStatus.FAILED
    assert "corrupt PNG" in (by_name["broken.png"].error or "")
    assert all(r.status is TagStatus.TAGGED for n, r in by_name.items() if n != "broken.png")
    assert seen[-1] == TagProgress(done=5, total=5, failed=1)
    assert [p.done for p in seen] == [0, 1, 2, 3, 4, 5]
