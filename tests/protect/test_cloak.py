"""``cloak_image`` / ``cloak_files`` / ``rightful protect`` on CPU with a tiny random AutoencoderKL."""

from __future__ import annotations

import io
import json
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageCms
from typer.testing import CliRunner

pytest.importorskip("torch", reason="the [protect] extra (torch) is not installed")
pytest.importorskip("diffusers", reason="the [protect] extra (diffusers) is not installed")

from rightful.cli import app
from rightful.errors import InvalidInput, MissingDependency
from rightful.protect.cloak import CloakOptions, cloak_files, cloak_image, decoy
from rightful.protect.vae import Vae, load_vae, require_torch

runner = CliRunner()
ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
FAST = CloakOptions(steps=2, self_check=False)


def _save_tiny_vae(folder: Path, *, latent_channels: int = 4) -> Path:
    import torch
    from diffusers import AutoencoderKL

    torch.manual_seed(0)
    model = AutoencoderKL(
        in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4, block_out_channels=(8, 8, 16, 16), layers_per_block=1,
        latent_channels=latent_channels, norm_num_groups=4, sample_size=64,
    )  # fmt: skip
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def vae_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _save_tiny_vae(tmp_path_factory.mktemp("tiny-vae"))


@pytest.fixture(scope="module")
def vae(vae_dir: Path) -> Vae:
    return load_vae(vae_dir)


def _png(array: np.ndarray[Any, Any], mode: str | None = None, **options: Any) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array, mode).save(buf, "PNG", **options)
    return buf.getvalue()


def _random(height: int, width: int, channels: int = 3, seed: int = 0) -> np.ndarray[Any, Any]:
    shape = (height, width, channels) if channels > 1 else (height, width)
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


def _decode(png: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(png))
    img.load()
    return img


@pytest.mark.parametrize("strength", [4, 8, 16])
def test_budget_is_respected_exactly(strength: int, vae: Vae) -> None:
    """No pixel moves by more than ε levels, and the budget is used up to ε."""
    original = _random(24, 40)
    result = cloak_image(_png(original), vae, options=CloakOptions(strength=strength, steps=3, self_check=False))
    written = np.asarray(_decode(result.png)).astype(int)
    assert np.abs(written - original.astype(int)).max() == strength
    assert result.report["strength"] == strength


def test_masked_pixels_are_unchanged(vae: Vae) -> None:
    """White mask pixels keep their exact values; the rest is cloaked."""
    original = _random(32, 32)
    mask = np.zeros((32, 32), dtype=np.uint8)
    mask[4:20, 8:30] = 255
    result = cloak_image(_png(original), vae, options=FAST, mask=_png(mask, "L"))
    written = np.asarray(_decode(result.png))
    kept = mask == 255
    assert np.array_equal(written[kept], original[kept])
    assert not np.array_equal(written[~kept], original[~kept])
    assert result.report["masked_pixels"] == int(kept.sum())


@pytest.mark.slow
def test_latent_moves_toward_the_decoy(vae: Vae) -> None:
    """After 60 steps at 64² the written image's latent is much closer to the decoy target (ratio < 0.8)."""
    result = cloak_image(_png(_random(64, 64, seed=7)), vae, options=CloakOptions(steps=60))
    assert result.check is not None
    assert result.check.latent["as-written"].ratio_to_target < 0.8
    assert set(result.check.latent) == {"as-written", "jpeg-90", "jpeg-75", "resample-2x", "gaussian-noise"}
    assert result.check.linf == 8
    assert result.check.psnr_db is not None
    assert 25 < result.check.psnr_db < 60
    assert 0 < result.check.ssim < 1
    assert any("Hönig" in limit for limit in result.report["limits"])


def test_same_seed_gives_identical_bytes(vae: Vae) -> None:
    """The same seed and options give byte-identical PNGs; another seed gives different ones."""
    data = _png(_random(20, 28, seed=3))
    first = cloak_image(data, vae, options=FAST).png
    assert cloak_image(data, vae, options=FAST).png == first
    assert cloak_image(data, vae, options=CloakOptions(steps=2, seed=1, self_check=False)).png != first


@pytest.mark.parametrize(("height", "width"), [(37, 23), (3, 5), (9, 130)])
def test_odd_sizes_keep_their_size(height: int, width: int, vae: Vae) -> None:
    """Sizes that are not multiples of 8 (even smaller than the padding) come out at their own size."""
    original = _random(height, width)
    written = _decode(cloak_image(_png(original), vae, options=FAST).png)
    assert written.size == (width, height)
    assert np.abs(np.asarray(written).astype(int) - original.astype(int)).max() <= 8


def test_large_images_are_tiled(vae: Vae) -> None:
    """An image larger than the tile is cut into tiles, and the budget holds across all of them."""
    original = _random(70, 100)
    result = cloak_image(_png(original), vae, options=CloakOptions(steps=2, tile=64, self_check=False))
    assert result.report["tiles"] == 4
    written = np.asarray(_decode(result.png)).astype(int)
    assert np.abs(written - original.astype(int)).max() <= 8


def test_rgba_alpha_is_copied_exactly(vae: Vae) -> None:
    """Alpha is never perturbed; colour is."""
    original = _random(16, 24, channels=4)
    written = np.asarray(_decode(cloak_image(_png(original, "RGBA"), vae, options=FAST).png))
    assert written.shape == (16, 24, 4)
    assert np.array_equal(written[..., 3], original[..., 3])
    assert not np.array_equal(written[..., :3], original[..., :3])


def test_sixteen_bit_grey_stays_sixteen_bit(vae: Vae) -> None:
    """16-bit greyscale stays 16-bit, with ε scaled to 16-bit levels (257 per 8-bit level)."""
    original = (np.random.default_rng(2).integers(0, 65536, size=(16, 20))).astype(np.uint16)
    written_img = _decode(cloak_image(_png(original), vae, options=FAST).png)
    assert written_img.mode.startswith("I")
    written = np.asarray(written_img).astype(int)
    assert np.abs(written - original.astype(int)).max() <= 8 * 257
    assert np.abs(written - original.astype(int)).max() > 255  # really changed at 16-bit precision


def _png16(array: np.ndarray[Any, Any], *, icc: bytes | None = None, exif: bytes | None = None) -> bytes:
    """A 16-bit PNG written by OpenCV (RGB(A) given, BGR(A) stored), with iCCP/eXIf chunks spliced in after IHDR."""
    import struct
    import zlib

    cv2 = pytest.importorskip("cv2")

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    order = [2, 1, 0, 3][: array.shape[2]]
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(array[..., order]))
    assert ok
    data = encoded.tobytes()
    extra = (chunk(b"iCCP", b"p\x00\x00" + zlib.compress(icc)) if icc else b"") + (
        chunk(b"eXIf", exif) if exif else b""
    )
    return data[:33] + extra + data[33:]


def _read16(png: bytes) -> np.ndarray[Any, Any]:
    cv2 = pytest.importorskip("cv2")
    array = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    assert array.dtype == np.uint16
    return np.asarray(array[..., [2, 1, 0, 3][: array.shape[2]]])


@pytest.mark.parametrize("channels", [3, 4])
def test_sixteen_bit_colour_stays_sixteen_bit(channels: int, vae: Vae) -> None:
    """48-bit RGB and 64-bit RGBA PNGs come out 16-bit: ε in 16-bit levels, alpha exact, ICC and EXIF kept."""
    original = np.random.default_rng(5).integers(0, 65536, size=(18, 22, channels), dtype=np.uint16)
    exif = Image.Exif()
    exif[0x013B] = "Ada Lovelace"
    result = cloak_image(_png16(original, icc=ICC, exif=exif.tobytes()), vae, options=FAST)
    written = _read16(result.png)
    assert written.shape == original.shape
    change = np.abs(written.astype(int) - original.astype(int))
    assert change[..., :3].max() <= 8 * 257
    assert change[..., :3].max() > 255  # really changed at 16-bit precision, not 8-bit steps
    if channels == 4:
        assert np.array_equal(written[..., 3], original[..., 3])
    assert result.report["image"]["bits"] == 16
    with Image.open(io.BytesIO(result.png)) as img:  # an ordinary PNG to every reader
        assert img.size == (22, 18)
        assert img.info.get("icc_profile") == ICC
        assert img.getexif()[0x013B] == "Ada Lovelace"


def test_sixteen_bit_grey_with_alpha_stays_grey(vae: Vae) -> None:
    """A 16-bit grey + alpha PNG (which Pillow would read as 8-bit RGBA) stays one grey channel plus alpha."""
    import struct
    import zlib

    original = np.random.default_rng(6).integers(0, 65536, size=(10, 12, 2), dtype=np.uint16)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in original)
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 12, 10, 16, 4, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))  # fmt: skip
    written_png = cloak_image(png, vae, options=FAST).png
    assert written_png[24:26] == bytes([16, 4])  # IHDR: bit depth 16, colour type 4 (grey + alpha)
    written = _read16(written_png)
    assert np.array_equal(written[..., 3], original[..., 1])
    assert np.abs(written[..., 0].astype(int) - original[..., 0].astype(int)).max() <= 8 * 257


def test_sixteen_bit_colour_without_opencv_is_refused(vae: Vae, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without OpenCV a 16-bit colour PNG is refused (naming the package) rather than silently made 8-bit."""
    png = _png16(np.zeros((4, 4, 3), np.uint16))
    monkeypatch.setitem(sys.modules, "cv2", None)
    with pytest.raises(MissingDependency, match="opencv"):
        cloak_image(png, vae, options=FAST)


def test_exif_and_icc_are_kept(vae: Vae) -> None:
    """The ICC profile and EXIF of the source are in the written PNG."""
    exif = Image.Exif()
    exif[0x013B] = "Ada Lovelace"
    buf = io.BytesIO()
    Image.fromarray(_random(16, 16)).save(buf, "JPEG", quality=95, exif=exif.tobytes(), icc_profile=ICC)
    written = _decode(cloak_image(buf.getvalue(), vae, options=FAST).png)
    assert written.format == "PNG"
    assert written.info.get("icc_profile") == ICC
    assert written.getexif()[0x013B] == "Ada Lovelace"


def test_palette_image_is_converted_with_a_note(vae: Vae) -> None:
    """A palette image becomes RGB (a palette cannot hold a cloak) and the report says so."""
    buf = io.BytesIO()
    Image.fromarray(_random(12, 12)).convert("P").save(buf, "PNG")
    result = cloak_image(buf.getvalue(), vae, options=FAST)
    assert _decode(result.png).mode == "RGB"
    assert any("palette" in note for note in result.report["notes"])


def test_decoy_tiles_join_seamlessly() -> None:
    """The decoy at an offset equals the same region of a larger decoy (tiles see one continuous target)."""
    assert np.array_equal(decoy(8, 8, top=16, left=24), decoy(32, 40)[16:24, 24:32])


def test_vae_loads_from_a_pipeline_folder_with_no_network(
    vae_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pipeline folder with a vae/ subfolder loads and cloaks with every network connection refused."""
    import shutil

    shutil.copytree(vae_dir, tmp_path / "pipeline" / "vae")

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    loaded = load_vae(tmp_path / "pipeline")
    assert loaded.path == tmp_path / "pipeline" / "vae"
    assert loaded.downsample == 8
    cloak_image(_png(_random(8, 8)), loaded, options=FAST)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda p: p / "missing", "no such folder"),
        (lambda p: (p / "file.bin").write_bytes(b"x") and p / "file.bin", "not a folder"),
        (lambda p: p, "no config.json"),
    ],
)
def test_wrong_vae_path_is_a_clear_error(make: Callable[[Path], Path], match: str, tmp_path: Path) -> None:
    """A missing path, a file or a folder without a model is an InvalidInput saying which."""
    with pytest.raises(InvalidInput, match=match):
        load_vae(make(tmp_path))


def test_broken_vae_folder_is_a_clear_error(tmp_path: Path) -> None:
    """A config.json without weights is an InvalidInput, not a traceback."""
    (tmp_path / "config.json").write_text('{"_class_name": "AutoencoderKL"}')
    with pytest.raises(InvalidInput, match="not a loadable AutoencoderKL"):
        load_vae(tmp_path)


def test_vae_with_other_latent_channels_is_refused(tmp_path: Path) -> None:
    """A VAE with 16 latent channels (SD3/FLUX-like) is refused with the reason."""
    with pytest.raises(InvalidInput, match="16 latent channels"):
        load_vae(_save_tiny_vae(tmp_path, latent_channels=16))


def test_unavailable_device_is_a_clear_error(vae_dir: Path) -> None:
    """Asking for CUDA where torch sees none is an InvalidInput."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is available here")
    with pytest.raises(InvalidInput, match="no CUDA device"):
        load_vae(vae_dir, device="cuda")


@pytest.mark.parametrize(("field", "value"), [("strength", 5), ("steps", 0), ("precision", "int8"), ("tile", 100)])
def test_bad_options_are_refused(field: str, value: object) -> None:
    """Strength outside 4/8/16, zero steps, unknown precision or a bad tile size is an InvalidInput."""
    with pytest.raises(InvalidInput):
        CloakOptions(**{field: value})  # type: ignore[arg-type]


def test_missing_extra_names_the_install_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without diffusers, the cloak raises MissingDependency naming rightful[protect]."""
    monkeypatch.setitem(sys.modules, "diffusers", None)
    with pytest.raises(MissingDependency, match=r"rightful\[protect\]"):
        require_torch()


def test_batch_skips_outputs_it_already_wrote(vae: Vae, tmp_path: Path) -> None:
    """A rerun over a folder skips images whose output exists for the same options, and never cloaks outputs."""
    (tmp_path / "a.png").write_bytes(_png(_random(16, 16)))
    (tmp_path / "b.png").write_bytes(b"not an image")
    first = list(cloak_files([tmp_path], vae=vae, options=FAST))
    assert [(o.source.name, o.status) for o in first] == [("a.png", "cloaked"), ("b.png", "failed")]
    report = json.loads((tmp_path / "a.cloaked.json").read_text())
    assert report["source"].endswith("a.png")
    again = list(cloak_files([tmp_path], vae=vae, options=FAST))
    assert [(o.source.name, o.status) for o in again] == [("a.png", "unchanged"), ("b.png", "failed")]
    changed = list(cloak_files([tmp_path / "a.png"], vae=vae, options=CloakOptions(steps=3, self_check=False)))
    assert changed[0].status == "cloaked"


def test_cli_end_to_end(vae_dir: Path, tmp_path: Path) -> None:
    """``rightful protect`` writes the PNG and report, prints the figures and the limits, exit 0."""
    source = tmp_path / "art.png"
    source.write_bytes(_png(_random(24, 24)))
    out = tmp_path / "out"
    result = runner.invoke(app, ["protect", str(source), "--vae", str(vae_dir), "--steps", "2", "--out", str(out),
                                 "--strength", "4", "--precision", "fp32", "--no-progress"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (out / "art.cloaked.png").is_file()
    report = json.loads((out / "art.cloaked.json").read_text())
    assert report["self_check"]["linf"] == 4
    assert report["precision"] == "fp32"
    assert "Known limits" in result.stdout
    assert "PSNR" in result.stdout
    for word in ("invisible", "AI-proof", "unlearnable"):
        assert word.lower() not in result.stdout.lower()


def test_cli_wrong_vae_path_is_one_line(tmp_path: Path) -> None:
    """A wrong --vae path is one stderr line and exit 2."""
    source = tmp_path / "art.png"
    source.write_bytes(_png(_random(8, 8)))
    result = runner.invoke(app, ["protect", str(source), "--vae", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0
    assert "no such folder" in result.stderr
