"""``rightful protect``: cloak an image against style mimicry by attacking a Stable Diffusion image encoder.

The attack (a targeted encoder attack in the style of PhotoGuard/Mist):

* the image is cut into tiles of at most 512×512 pixels, each padded by reflection to a multiple of the
  encoder's downsampling factor (the padding follows the perturbed pixels, so tile borders are attacked too);
* a fixed, procedurally generated decoy image (:func:`decoy`, the same for every run) gives each tile a target
  latent ``μ_target``;
* L∞ projected gradient descent on ``‖μ(x + δ) − μ_target‖²``: a seeded uniform random start in [−ε, ε], then
  ``steps`` signed-gradient steps whose size decays geometrically from ε/8 to ε/80, each followed by projection
  onto the ε-ball, the valid pixel range and the mask;
* the result is quantised to the file's own levels (8 or 16 bits), the budget is checked again on the integers
  (never written if it fails), and the file is written as a lossless PNG with its alpha, ICC profile and EXIF;
* a self-check (:mod:`rightful.protect.selfcheck`) measures what the written pixels do, under JPEG, resampling and
  noise, and states the known limits.

ε is ``strength``/255 (4, 8 or 16 levels). The encoder runs under bf16 autocast on CPU and fp16 on a GPU by
default (``precision``); the same seed, options, model and device give byte-identical output.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
from numpy.typing import NDArray

from rightful._version import __version__
from rightful.errors import InvalidInput, ProtectionError, RightfulError
from rightful.media import DEFAULT_MAX_PIXELS, iter_files, open_image, read_capped
from rightful.protect import selfcheck
from rightful.protect.picture import Picture, decode_picture, encode_png, load_mask
from rightful.protect.vae import PRECISIONS, Vae, autocast, effective_precision, load_vae, require_torch

if TYPE_CHECKING:
    import torch

__all__ = [
    "STRENGTHS",
    "CloakOptions",
    "CloakOutcome",
    "CloakProgress",
    "CloakResult",
    "cloak_files",
    "cloak_image",
    "decoy",
    "iter_images",
    "load_vae",
]

STRENGTHS: Final = (4, 8, 16)
MAX_STEPS: Final = 10_000
_CHECK_CROP: Final = 512
_SUFFIX: Final = ".cloaked.png"
#: Images picked up in folders (named files are tried whatever their name).
IMAGE_SUFFIXES: Final = frozenset({".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp"})


@dataclass(frozen=True, slots=True)
class CloakOptions:
    """``strength`` is ε in 8-bit levels; ``tile`` the largest square the encoder sees at once."""

    strength: int = 8
    steps: int = 100
    seed: int = 0
    precision: str = "auto"
    tile: int = 512
    self_check: bool = True

    def __post_init__(self) -> None:
        if self.strength not in STRENGTHS:
            raise InvalidInput(f"--strength must be one of {', '.join(map(str, STRENGTHS))} (levels of 255)")
        if not 1 <= self.steps <= MAX_STEPS:
            raise InvalidInput(f"--steps must be between 1 and {MAX_STEPS}")
        if self.precision not in PRECISIONS:
            raise InvalidInput(f"--precision must be one of {', '.join(PRECISIONS)}")
        if not 64 <= self.tile <= 2048 or self.tile % 8:
            raise InvalidInput("tile must be a multiple of 8 between 64 and 2048")


@dataclass(frozen=True, slots=True)
class CloakProgress:
    """Steps done and to do over all tiles of the current image."""

    step: int
    total: int
    image: Path | None = None


@dataclass(frozen=True, slots=True)
class CloakResult:
    """The cloaked PNG and its report (``report`` is what is written as ``<name>.cloaked.json``)."""

    png: bytes
    report: dict[str, Any]
    check: selfcheck.SelfCheck | None = None


# --- the decoy target ---------------------------------------------------------------------------------------


def decoy(height: int, width: int, *, top: int = 0, left: int = 0) -> NDArray[np.float32]:
    """The fixed decoy image (H×W×3 in [0, 1]) at a position of the picture: interfering gratings and a
    checkerboard, chosen to be far from natural-image statistics. Position-aware so tiles join seamlessly."""
    yy, xx = np.mgrid[top : top + height, left : left + width].astype(np.float32)
    red = 0.5 + 0.5 * np.sin(2 * np.pi * xx / 13.0) * np.cos(2 * np.pi * yy / 17.0)
    green = 0.5 + 0.5 * np.sin(2 * np.pi * (xx + 2 * yy) / 29.0)
    blue = ((xx // 8 + yy // 8) % 2).astype(np.float32)
    return np.stack([red, green, blue], axis=-1).astype(np.float32)


# --- PGD on one tile ------------------------------------------------------------------------------------------


def _pad_to(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Pad the bottom/right by reflection (replication where the tile is too small to reflect)."""
    import torch.nn.functional as F

    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if not ph and not pw:
        return x
    mode = "reflect" if ph < h and pw < w else "replicate"
    padded: torch.Tensor = F.pad(x, (0, pw, 0, ph), mode=mode)
    return padded


def _encoder(vae: Vae, precision: str) -> Callable[[torch.Tensor], torch.Tensor]:
    def encode(x: torch.Tensor) -> torch.Tensor:
        rgb = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
        with autocast(vae.device, precision):
            return vae.encode_mean(_pad_to(rgb, vae.downsample)).float()

    return encode


def _pgd(
    encode: Callable[[torch.Tensor], torch.Tensor],
    x0: torch.Tensor,
    free: torch.Tensor,
    target: torch.Tensor,
    *,
    eps: float,
    steps: int,
    generator: torch.Generator,
    tick: Callable[[], None],
) -> torch.Tensor:
    """The perturbation δ (same shape as ``x0``) after ``steps`` projected signed-gradient steps."""
    th = require_torch()
    start = (th.rand(x0.shape, generator=generator, dtype=th.float32) * 2 - 1) * eps
    delta = ((x0 + start.to(x0.device) * free).clamp(0, 1) - x0).detach()
    for k in range(steps):
        alpha = eps / 8 * (0.1 ** (k / (steps - 1))) if steps > 1 else eps / 8
        delta.requires_grad_(True)
        loss = th.nn.functional.mse_loss(encode(x0 + delta), target)
        (grad,) = th.autograd.grad(loss, delta)
        with th.no_grad():
            delta = (delta - alpha * grad.sign()).clamp(-eps, eps) * free
            delta = (x0 + delta).clamp(0, 1) - x0
        tick()
    result: torch.Tensor = delta.detach()
    return result


# --- the verb -----------------------------------------------------------------------------------------------


def _tiles(height: int, width: int, size: int) -> list[tuple[int, int, int, int]]:
    return [(top, left, min(size, height - top), min(size, width - left))
            for top in range(0, height, size) for left in range(0, width, size)]  # fmt: skip


def cloak_image(
    data: bytes,
    vae: Vae,
    *,
    options: CloakOptions | None = None,
    mask: bytes | None = None,
    progress: Callable[[CloakProgress], None] | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> CloakResult:
    """Cloak one image (any format Pillow reads) and return a lossless PNG with its self-check report.

    ``mask``: an image of the same size whose white pixels (grey level ≥ 128) are left exactly as they are.
    """
    torch = require_torch()
    opts = options or CloakOptions()
    started = time.perf_counter()
    picture = decode_picture(open_image(data, max_pixels=max_pixels), data)
    keep = load_mask(mask, picture.height, picture.width, max_pixels=max_pixels) if mask is not None else None
    encode = _encoder(vae, opts.precision)
    eps = opts.strength / 255.0
    x_all = torch.from_numpy(picture.unit()).permute(2, 0, 1).unsqueeze(0)  # 1×C×H×W in [0, 1]
    free_all = torch.ones((1, 1, picture.height, picture.width), dtype=torch.float32)
    if keep is not None:
        free_all[0, 0, torch.from_numpy(keep)] = 0.0
    delta_all = torch.zeros_like(x_all)
    tiles = _tiles(picture.height, picture.width, opts.tile)
    done, total = 0, len(tiles) * opts.steps

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(CloakProgress(step=done, total=total))

    for index, (top, left, h, w) in enumerate(tiles):
        x0 = x_all[..., top : top + h, left : left + w].to(vae.device)
        free = free_all[..., top : top + h, left : left + w].to(vae.device)
        target = _target(vae, encode, top, left, h, w)
        generator = torch.Generator().manual_seed(opts.seed * 1_000_003 + index)
        delta = _pgd(encode, x0, free, target, eps=eps, steps=opts.steps, generator=generator, tick=tick)
        delta_all[..., top : top + h, left : left + w] = delta.cpu()
    written = picture.quantise((x_all + delta_all)[0].permute(1, 2, 0).numpy(), strength=opts.strength, keep=keep)
    png = encode_png(written)
    check = _self_check(picture, written, vae, encode, opts) if opts.self_check else None
    masked = int(keep.sum()) if keep is not None else 0
    report = _report(picture, vae, opts, check, seconds=time.perf_counter() - started, tiles=len(tiles),
                     masked=masked)  # fmt: skip
    return CloakResult(png=png, report=report, check=check)


def _target(vae: Vae, encode: Callable[[torch.Tensor], torch.Tensor], top: int, left: int, h: int, w: int) -> Any:
    torch = require_torch()
    image = torch.from_numpy(decoy(h, w, top=top, left=left)).permute(2, 0, 1).unsqueeze(0).to(vae.device)
    with torch.no_grad():
        return encode(image)


def _self_check(
    picture: Picture, written: Picture, vae: Vae, encode: Callable[[torch.Tensor], torch.Tensor], opts: CloakOptions
) -> selfcheck.SelfCheck:
    th = require_torch()
    original, cloaked = picture.rgb_unit(), written.rgb_unit()
    linf = int(np.abs(written.levels.astype(np.int64) - picture.levels.astype(np.int64)).max(initial=0))
    _, linf_255, psnr_db, ssim = selfcheck.fidelity(original, cloaked, linf=linf, levels=picture.max_level)
    h, w = min(_CHECK_CROP, picture.height), min(_CHECK_CROP, picture.width)
    top, left = (picture.height - h) // 2, (picture.width - w) // 2

    def crop_encode(rgb: NDArray[np.float32]) -> torch.Tensor:
        tensor = th.from_numpy(np.ascontiguousarray(rgb[top : top + h, left : left + w]))
        with th.no_grad():
            return encode(tensor.permute(2, 0, 1).unsqueeze(0).to(vae.device)).cpu()

    target = _target(vae, encode, top, left, h, w).cpu()
    latent = selfcheck.latent_checks(original, cloaked, encode=crop_encode, target=target, seed=opts.seed)
    return selfcheck.SelfCheck(linf=linf, linf_255=linf_255, psnr_db=psnr_db, ssim=ssim, crop=(left, top, w, h),
                               latent=latent)  # fmt: skip


def _report(
    picture: Picture, vae: Vae, opts: CloakOptions, check: selfcheck.SelfCheck | None,
    *, seconds: float, tiles: int, masked: int,
) -> dict[str, Any]:  # fmt: skip
    return {
        "tool": f"rightful {__version__}",
        "method": "targeted L-inf PGD on the VAE encoder's latent mean toward a fixed procedural decoy",
        "strength": opts.strength,
        "epsilon": round(opts.strength / 255.0, 6),
        "steps": opts.steps,
        "seed": opts.seed,
        "precision": effective_precision(vae.device, opts.precision),
        "device": str(vae.device),
        "tiles": tiles,
        "tile_size": opts.tile,
        "vae": {"path": str(vae.path), "config": vae.config_digest},
        "image": {"width": picture.width, "height": picture.height, "mode": picture.mode, "bits": picture.bits,
                  "alpha": picture.alpha is not None, "icc": picture.icc is not None, "exif": picture.exif is not None},
        "masked_pixels": masked,
        "seconds": round(seconds, 3),
        "self_check": check.to_dict() if check else None,
        "limits": list(selfcheck.LIMITS),
        "notes": list(picture.notes),
    }  # fmt: skip


# --- files ----------------------------------------------------------------------------------------------------


def output_paths(source: Path, out_dir: Path | None) -> tuple[Path, Path]:
    """``<stem>.cloaked.png`` and ``<stem>.cloaked.json``, next to the source or in ``out_dir``."""
    folder = out_dir if out_dir is not None else source.parent
    png = folder / (source.stem + _SUFFIX)
    return png, png.with_suffix(".json")


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".rightful-tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True, slots=True)
class CloakOutcome:
    """One file of a batch: ``status`` is ``cloaked``, ``unchanged`` (same output already there) or ``failed``."""

    source: Path
    status: str
    output: Path | None = None
    report: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def cloak_files(
    paths: Iterable[str | Path],
    *,
    vae: Vae | str | Path,
    options: CloakOptions | None = None,
    out_dir: str | Path | None = None,
    mask: str | Path | None = None,
    progress: Callable[[CloakProgress], None] | None = None,
) -> Iterator[CloakOutcome]:
    """Cloak many images; a file whose output already exists for the same source and options is skipped."""
    opts = options or CloakOptions()
    model = vae if isinstance(vae, Vae) else load_vae(vae)
    mask_bytes = read_capped(Path(mask))[0] if mask is not None else None
    folder = Path(out_dir) if out_dir is not None else None
    for source in iter_images(paths):
        try:
            yield _cloak_one(source, model, opts, folder, mask_bytes, progress)
        except RightfulError as exc:
            yield CloakOutcome(source=source, status="failed", error=str(exc))


def iter_images(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Files named, and images in folders (recursively, sorted; hidden files and earlier outputs skipped)."""
    return iter_files(
        paths, accept=lambda name: not name.endswith(_SUFFIX) and Path(name).suffix.lower() in IMAGE_SUFFIXES
    )


def _cloak_one(
    source: Path, vae: Vae, opts: CloakOptions, folder: Path | None, mask: bytes | None,
    progress: Callable[[CloakProgress], None] | None,
) -> CloakOutcome:  # fmt: skip
    data, truncated = read_capped(source, max_bytes=512 * 1024 * 1024)
    if truncated:
        raise InvalidInput(f"{source} is larger than 512 MiB; not cloaked")
    png_path, report_path = output_paths(source, folder)
    key = _run_key(data, vae, opts, mask)
    if png_path.is_file() and report_path.is_file() and _previous_key(report_path) == key:
        return CloakOutcome(source=source, status="unchanged", output=png_path)

    def forward(p: CloakProgress) -> None:
        if progress is not None:
            progress(CloakProgress(step=p.step, total=p.total, image=source))

    result = cloak_image(data, vae, options=opts, mask=mask, progress=forward)
    report = {"source": str(source), "output": str(png_path), "run": key, **result.report}
    try:
        _write_atomic(png_path, result.png)
        _write_atomic(report_path, (json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode())
    except OSError as exc:
        raise ProtectionError(f"cannot write {png_path}: {exc.strerror or exc}", path=str(png_path)) from exc
    return CloakOutcome(source=source, status="cloaked", output=png_path, report=report)


def _run_key(data: bytes, vae: Vae, opts: CloakOptions, mask: bytes | None) -> str:
    parts = [hashlib.sha256(data).hexdigest(), vae.config_digest, str(vae.device), __version__,
             json.dumps([opts.strength, opts.steps, opts.seed, opts.precision, opts.tile]),
             hashlib.sha256(mask).hexdigest() if mask is not None else "-"]  # fmt: skip
    return "sha256:" + hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _previous_key(report: Path) -> str | None:
    try:
        found = json.loads(report.read_text(encoding="utf-8")).get("run")
    except (OSError, ValueError, AttributeError):
        return None
    return found if isinstance(found, str) else None
