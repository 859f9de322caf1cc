"""Crop windows: the query grid covers every crop it is built for, coarse hashes, refinement, embedded pictures."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from rightful.fingerprints import fingerprint_image, hamming, load_image
from rightful.fingerprints.image import window_fingerprints
from rightful.fingerprints.windows import (
    ANCHOR,
    ANCHOR_NAME,
    QUERY_BOXES,
    WINDOW_MIN_QUALITY,
    coarse_hashes,
    content_boxes,
    grey_copy,
    query_boxes,
    refine_boxes,
    sample_grids,
    window_pdq,
)

Scene = Callable[..., Image.Image]
Png = Callable[..., bytes]


def _inside(box: tuple[float, float, float, float]) -> bool:
    return -1e-9 <= box[0] < box[2] <= 1 + 1e-9 and -1e-9 <= box[1] < box[3] <= 1 + 1e-9


def test_query_grid_boxes_lie_inside_the_frame() -> None:
    """Every grid window is a square fraction inside the query, from the anchor's size up to 0.9."""
    assert 300 <= len(QUERY_BOXES) <= 600
    for box in QUERY_BOXES:
        assert _inside(box)
        assert box[2] - box[0] == pytest.approx(box[3] - box[1])
        assert 0.6 - 1e-9 <= box[2] - box[0] <= 0.9 + 1e-9


@settings(max_examples=200, deadline=None)
@given(keep=st.floats(0.8, 1.0), fx=st.floats(0.0, 1.0), fy=st.floats(0.0, 1.0))
def test_query_grid_covers_every_crop_up_to_20_percent(keep: float, fx: float, fy: float) -> None:
    """For any crop keeping ≥ 80 % of each side, some grid window sits within 1.5 % and 2 % scale of the anchor."""
    x0, y0 = fx * (1 - keep), fy * (1 - keep)  # the crop's offset in the work
    s = (ANCHOR[2] - ANCHOR[0]) / keep
    want = ((ANCHOR[0] - x0) / keep, (ANCHOR[1] - y0) / keep)
    grid = np.asarray(QUERY_BOXES)
    near = (np.abs(grid[:, 0] - want[0]) <= 0.0151) & (np.abs(grid[:, 1] - want[1]) <= 0.0151)
    near &= np.abs(np.log((grid[:, 2] - grid[:, 0]) / s)) <= np.log(1.04) / 2 + 1e-9
    assert near.any()


def test_a_coarser_grid_has_fewer_windows() -> None:
    """The grid's density is a parameter: a 6 % step needs fewer windows than the default 3 %."""
    assert 0 < len(query_boxes(step=0.06)) < len(QUERY_BOXES)


def test_coarse_hash_is_deterministic_and_shift_tolerant(scene: Scene) -> None:
    """The same window hashes identically; a window 1 % off stays within a few of the 64 bits."""
    grey = grey_copy(scene(3, size=(640, 480)))
    shifted = (ANCHOR[0] + 0.01, ANCHOR[1], ANCHOR[2] + 0.01, ANCHOR[3])
    codes = coarse_hashes(sample_grids(grey, [ANCHOR, ANCHOR, shifted]))
    assert codes.shape == (3, 8)
    assert codes[0].tobytes() == codes[1].tobytes()
    assert hamming(codes[0].tobytes(), codes[2].tobytes()) <= 8
    assert coarse_hashes(np.empty((0, 32, 32), dtype=np.float32)).shape == (0, 8)


def test_refined_windows_stay_inside_and_include_the_start() -> None:
    """Refinement tries the start window itself and never a window that leaves the frame."""
    for start in (ANCHOR, (0.0, 0.0, 0.75, 0.75), (0.25, 0.25, 1.0, 1.0)):
        boxes = refine_boxes(start, step=0.012)
        assert all(_inside(b) for b in boxes)
        assert any(np.allclose(b, start) for b in boxes)
        assert len(boxes) <= 27


def test_work_stores_a_coarse_and_a_pdq_anchor_hash(scene: Scene, png: Png) -> None:
    """A registered image carries the anchor's 8-byte coarse hash and 32-byte PDQ, with the window's quality."""
    fps = fingerprint_image(png(scene(4)))
    by_kind = {fp.kind: fp for fp in fps.variants if fp.region == ANCHOR_NAME}
    assert len(by_kind["window"].value) == 8
    assert len(by_kind["window-pdq"].value) == 32
    assert by_kind["window"].quality == by_kind["window-pdq"].quality
    assert (by_kind["window-pdq"].quality or 0) >= WINDOW_MIN_QUALITY


def test_cropped_copy_contains_the_anchor_at_a_grid_window(scene: Scene, png: Png) -> None:
    """A 20 % crop's grid holds a window whose PDQ, refined, lies within 31 bits of the work's anchor PDQ."""
    work, _ = load_image(png(scene(5, size=(640, 480))))
    anchor = next(fp for fp in window_fingerprints(work) if fp.kind == "window-pdq")
    crop, _ = load_image(png(scene(5, size=(640, 480)).crop((100, 20, 612, 404)), "JPEG", quality=85))
    keep_x, keep_y = 512 / 640, 384 / 480
    want = ((ANCHOR[0] * 640 - 100) / 512, (ANCHOR[1] * 480 - 20) / 384, 0.6 / keep_x, 0.6 / keep_y)
    box = (want[0], want[1], want[0] + want[2], want[1] + want[3])
    best = min(hamming(code, anchor.value) for code, _ in window_pdq(crop, refine_boxes(box, step=0.005)))
    assert best <= 31


def _screenshot(picture: Image.Image) -> tuple[Image.Image, tuple[float, float, float, float]]:
    w, h = picture.size
    canvas = Image.new("RGB", (round(w * 1.4), round(h * 1.35)), (242, 242, 242))
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((0, 0, canvas.width, round(h * 0.08)), fill=(40, 44, 52))
    draw.rectangle((0, 0, round(w * 0.25), canvas.height), fill=(225, 228, 232))
    for i in range(6):
        draw.text((10, round(h * 0.12) + 20 * i), f"item {i}", fill=(30, 30, 30))
    at = (round(w * 0.3), round(h * 0.15))
    canvas.paste(picture, at)
    box = (at[0] / canvas.width, at[1] / canvas.height, (at[0] + w) / canvas.width, (at[1] + h) / canvas.height)
    return canvas, box


def test_picture_inside_a_screenshot_is_found(scene: Scene) -> None:
    """The dominant embedded rectangle of a fake app window is the pasted picture, to within 1 %."""
    canvas, want = _screenshot(scene(6, size=(320, 240)))
    boxes = content_boxes(canvas)
    assert boxes
    assert np.allclose(boxes[0], want, atol=0.01)


def test_no_embedded_rectangle_in_a_plain_gradient() -> None:
    """A smooth picture without straight edges has no content box; tiny images are not searched."""
    ramp = np.tile(np.linspace(0, 255, 200, dtype=np.uint8), (150, 1))
    assert content_boxes(Image.fromarray(ramp).convert("RGB")) == []
    assert content_boxes(Image.new("RGB", (20, 20), (9, 9, 9))) == []


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), w=st.integers(1, 120), h=st.integers(1, 120))
def test_content_boxes_never_fail_on_arbitrary_pixels(seed: int, w: int, h: int) -> None:
    """Random pixels of any size give boxes that are ordered fractions inside the frame, or none."""
    arr = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    arr[h // 4 : h // 2] = 0  # some straight edges as well
    for box in content_boxes(Image.fromarray(arr)):
        assert _inside(box)
