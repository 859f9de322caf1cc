"""Registering and matching: bands, evidence, de-duplication, terms, removal, texts and bad inputs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from rightful.config import Settings
from rightful.errors import InvalidInput, RegistryError
from rightful.fingerprints import MIN_SPAN
from rightful.models import MatchBand, Purpose, Terms, TermStatus
from rightful.registry import Registry, match, register_work
from rightful.registry.match import Thresholds

from .registry_helpers import RESERVED, encode, scene, words


def _add(reg: Registry, seed: int, **kw: object) -> int:
    item = reg.register_bytes(encode(scene(seed)), owner="ann", terms=RESERVED, title=f"s{seed}", **kw)  # type: ignore[arg-type]
    assert item.work is not None
    assert item.created
    return item.work.id


def test_same_bytes_is_an_exact_match(registry: Registry) -> None:
    """The registered file itself matches as exact by digest."""
    wid = _add(registry, 1)
    (m,) = registry.match(encode(scene(1))).matches
    assert (m.work.id, m.band, m.kind) == (wid, MatchBand.EXACT, "digest")


def test_same_pixels_in_another_format_is_exact(registry: Registry) -> None:
    """A BMP of the registered PNG's pixels is exact (identical pixels)."""
    wid = _add(registry, 2)
    (m,) = registry.match(encode(scene(2), "BMP")).matches
    assert (m.work.id, m.band) == (wid, MatchBand.EXACT)
    assert m.evidence["rule"] == "identical pixels"


def test_recompressed_resized_copy_is_near_duplicate(registry: Registry) -> None:
    """A half-size JPEG copy is a near-duplicate with a small PDQ distance and its evidence."""
    wid = _add(registry, 3)
    copy = scene(3).resize((160, 120))
    m = registry.match(encode(copy, "JPEG", quality=50)).matches[0]
    assert (m.work.id, m.band) == (wid, MatchBand.NEAR_DUPLICATE)
    assert m.distance is not None
    assert m.distance <= Thresholds().near
    assert m.evidence["work_region"] == "full"


def test_mirrored_copy_matches_through_dihedral_variant(registry: Registry) -> None:
    """A mirrored copy matches the work through one of the query's dihedral variants."""
    wid = _add(registry, 4)
    m = registry.match(encode(ImageOps.mirror(scene(4)), "JPEG", quality=80)).matches[0]
    assert m.work.id == wid
    assert m.band is MatchBand.NEAR_DUPLICATE
    assert m.evidence["query_region"] != "full"


def test_rotated_copy_matches_through_a_window(registry: Registry) -> None:
    """A copy rotated by 5° matches the work through a central or de-rotated window."""
    item = registry.register_bytes(encode(scene(5, (480, 360))), owner="bob", terms=Terms())
    assert item.work is not None
    rotated = scene(5, (480, 360)).rotate(5, resample=Image.Resampling.BICUBIC)
    m = registry.match(encode(rotated, "JPEG", quality=85)).matches[0]
    assert m.work.id == item.work.id
    assert m.evidence["query_region"] not in ("full", "mirror")


def test_framed_copy_matches_after_trimming(registry: Registry) -> None:
    """A copy inside a white mat matches the work (its border is trimmed before hashing)."""
    wid = _add(registry, 6)
    framed = ImageOps.expand(scene(6), border=40, fill=(255, 255, 255))
    m = registry.match(encode(framed, "JPEG", quality=85)).matches[0]
    assert m.work.id == wid
    assert m.band in (MatchBand.NEAR_DUPLICATE, MatchBand.PARTIAL)


def test_unrelated_image_matches_nothing(registry: Registry) -> None:
    """An unrelated picture gives no match at all."""
    for seed in range(10, 16):
        _add(registry, seed)
    assert registry.match(encode(scene(99), "JPEG", quality=80)).matches == ()


def test_flat_image_is_not_matched_blindly(registry: Registry) -> None:
    """Two different flat images never match each other; the query is flagged low quality."""
    registry.register_bytes(encode(Image.new("RGB", (200, 200), (250, 250, 250))), owner="a", terms=RESERVED)
    report = registry.match(encode(Image.new("RGB", (300, 300), (245, 245, 245)), "JPEG"))
    assert report.matches == ()
    assert any("low-quality" in n for n in report.notes)


def test_registration_deduplicates_by_digest(registry: Registry) -> None:
    """Registering the same bytes again returns the existing work, not a new one."""
    wid = _add(registry, 20)
    again = registry.register_bytes(encode(scene(20)), owner="ann", terms=RESERVED)
    assert again.work is not None
    assert again.work.id == wid
    assert not again.created


def test_set_terms_shows_in_matches(registry: Registry) -> None:
    """New terms are reported by the next match."""
    wid = _add(registry, 21)
    registry.set_terms(wid, Terms({Purpose.SEARCH: TermStatus.ALLOWED}))
    (m,) = registry.match(encode(scene(21))).matches
    assert m.work.terms.purposes == {Purpose.SEARCH: TermStatus.ALLOWED}


def test_removed_work_no_longer_matches(registry: Registry) -> None:
    """A removed work disappears from the results at once."""
    wid = _add(registry, 22)
    registry.remove(wid)
    assert registry.match(encode(scene(22), "JPEG", quality=80)).matches == ()


def test_min_band_and_top_k_filter_results(registry: Registry) -> None:
    """min_band drops weaker bands and top_k caps the list."""
    for owner in ("a", "b", "c"):
        registry.register_bytes(encode(scene(23)), owner=owner, terms=RESERVED)
    assert len(registry.match(encode(scene(23)), top_k=2).matches) == 2
    jpeg = encode(scene(23), "JPEG", quality=60)
    assert registry.match(jpeg, min_band=MatchBand.EXACT).matches == ()


def test_text_verbatim_span_is_found_and_reported(registry: Registry) -> None:
    """A 60-token passage copied into new text is a partial match with its span offsets."""
    source = words(1, 2000)
    item = registry.register_text(source, owner="poet", terms=RESERVED, title="poem")
    assert item.work is not None
    copied = " ".join(source.split()[500:560])
    query = f"{words(2, 100)} {copied.upper()}, {words(3, 100)}"
    (m,) = registry.match_text(query).matches
    assert m.band is MatchBand.PARTIAL
    assert m.work.id == item.work.id
    (span,) = m.evidence["spans"]
    assert span["tokens"] == 60
    assert span["work_start"] == 500
    assert span["query_start"] == 100
    assert query[span["char_start"] : span["char_end"]] == copied.upper()


def test_text_span_shorter_than_threshold_is_not_reported(registry: Registry) -> None:
    """A 40-token copy is below the 50-token span threshold and gives no span."""
    source = words(4, 2000)
    registry.register_text(source, owner="poet", terms=RESERVED)
    query = f"{words(5, 100)} {' '.join(source.split()[100:140])} {words(6, 100)}"
    assert not [m for m in registry.match_text(query).matches if m.kind == "text-winnow"]
    assert MIN_SPAN == 50


def test_whole_text_copy_is_exact_and_near_copy_is_near_duplicate(registry: Registry) -> None:
    """The same text reformatted is exact; the text with a sentence changed is a near-duplicate."""
    source = words(7, 800)
    item = registry.register_text(source, owner="poet", terms=RESERVED)
    assert item.work is not None
    assert registry.match_text(source.upper().replace(" ", "  ")).matches[0].band is MatchBand.EXACT
    edited = source.split()
    edited[400:405] = ["changed"] * 5
    m = registry.match_text(" ".join(edited)).matches[0]
    assert m.band is MatchBand.NEAR_DUPLICATE
    assert m.work.id == item.work.id


def test_text_bytes_are_routed_to_text_matching(registry: Registry) -> None:
    """Plain-text bytes given to match() are matched as text."""
    source = words(8, 300)
    registry.register_bytes(source.encode(), owner="poet", terms=RESERVED, source="poem.txt")
    report = registry.match(source.encode(), media_type="text/plain")
    assert report.media_type == "text/plain"
    assert report.matches[0].band is MatchBand.EXACT


def test_huge_text_file_is_streamed(registry: Registry, tmp_path: Path) -> None:
    """A multi-megabyte text file registers through the streaming path and its spans are found."""
    path = tmp_path / "book.txt"
    body = words(9, 400_000)
    path.write_text(body, encoding="utf-8")
    item = registry.register_file(path, owner="author", terms=RESERVED)
    assert item.work is not None
    assert item.work.size == 400_000
    tail = " ".join(body.split()[-70:])
    assert registry.match_text(f"{words(10, 30)} {tail}").matches[0].work.id == item.work.id


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\x00\x01\x02\x03binary\x00", "images and plain text only|binary"),
        (b"\xff\xd8\xff\xe0truncated jpeg", "corrupt|truncated|identify"),
        (b"%PDF-1.7 not supported", "images and plain text only"),
    ],
)
def test_bad_inputs_are_invalid_input(registry: Registry, data: bytes, message: str) -> None:
    """Empty, binary, corrupt and unsupported queries raise InvalidInput with a reason."""
    with pytest.raises(InvalidInput, match=message):
        registry.match(data)


def test_bulk_folder_registration_is_resumable(registry: Registry, tmp_path: Path) -> None:
    """A folder registers every image, records bad files as errors, and a re-run skips what is done."""
    folder = tmp_path / "works"
    (folder / "sub").mkdir(parents=True)
    for seed in range(3):
        (folder / f"{seed}.png").write_bytes(encode(scene(30 + seed)))
    (folder / "sub" / "broken.jpg").write_bytes(b"\xff\xd8\xff" + b"\x00" * 20)
    (folder / ".hidden.png").write_bytes(encode(scene(40)))
    seen: list[tuple[int, int]] = []
    first = list(
        registry.register_paths([folder], owner="ann", terms=RESERVED, progress=lambda d, t: seen.append((d, t)))
    )
    assert sum(r.created for r in first) == 3
    assert sum(r.error is not None for r in first) == 1
    assert seen[-1] == (4, 4)
    again = list(registry.register_paths([folder], owner="ann", terms=RESERVED))
    assert sum(r.created for r in again) == 0
    assert sum(r.work is not None for r in again) == 3


def test_locked_database_is_a_clear_registry_error(settings: Settings, tmp_home: Path) -> None:
    """A registry database locked by another process gives RegistryError after the busy timeout."""
    reg = Registry.open(settings, busy_timeout=0.2)
    blocker = sqlite3.connect(tmp_home / "rightful.db", timeout=0.1)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(RegistryError, match="locked by another process"):
            reg.register_bytes(encode(scene(50)), owner="ann", terms=RESERVED)
    finally:
        blocker.rollback()
        blocker.close()
        reg.close()


def test_module_verbs_register_and_match(settings: Settings, tmp_path: Path) -> None:
    """register_work and match work on paths, bytes and text strings."""
    path = tmp_path / "w.png"
    path.write_bytes(encode(scene(60)))
    item = register_work(path, owner="ann", terms=RESERVED, settings=settings)
    assert item.work is not None
    assert match(path, settings=settings)[0].work.id == item.work.id
    assert match(encode(scene(60), "JPEG"), settings=settings)[0].work.id == item.work.id
    assert match("no such text is registered here at all", settings=settings) == []


def test_match_without_registry_says_so(settings: Settings, tmp_home: Path) -> None:
    """Matching when nothing was ever registered is InvalidInput, and creates no database."""
    with pytest.raises(InvalidInput, match="no works registry"):
        match(encode(scene(61)), settings=settings)
    assert not (tmp_home / "rightful.db").exists()


@pytest.mark.postgres
def test_registry_works_on_postgresql(postgres_url: str, tmp_home: Path) -> None:
    """The whole register → match → remove cycle runs on PostgreSQL too."""
    settings = Settings.load(database_url=postgres_url)
    with Registry.open(settings) as reg:
        wid = _add(reg, 70)
        assert reg.match(encode(scene(70), "JPEG", quality=70)).matches[0].work.id == wid
        text = reg.register_text(words(11, 500), owner="poet", terms=RESERVED)
        assert text.work is not None
        assert reg.match_text(words(11, 500)).matches[0].work.id == text.work.id
        reg.remove(wid)
        assert reg.match(encode(scene(70))).matches == ()
    assert not (tmp_home / "rightful.db").exists()


def test_phash_thresholds_shrink_as_the_registry_grows() -> None:
    """pHash thresholds keep chance collisions under 1e-4 per query: unchanged when small, lower when huge."""
    from rightful.registry.match import scale_phash

    base = Thresholds()
    assert scale_phash(base, works=1000, frame_queries=3, other_queries=3) is base
    big = scale_phash(base, works=1_000_000, frame_queries=3, other_queries=3)
    huge = scale_phash(base, works=10_000_000, frame_queries=3, other_queries=3)
    assert big.phash_frame < base.phash_frame
    assert huge.phash_frame <= big.phash_frame
    assert huge.phash_window < base.phash_window
    assert big.near == base.near  # PDQ thresholds never move
