"""The cloak's self-check: what the written file actually does, measured, with the known limits beside it.

Image fidelity: L∞ (in the file's own levels), PSNR and SSIM (luma, 11-pixel Gaussian window) between the
original and the written pixels. Effect on the encoder, on a centre crop of at most 512×512 pixels (the size the
encoder sees per tile), after each transformation a scraper or a trainer commonly applies:

* ``ratio_to_target`` = ‖μ(T(cloaked)) − μ_target‖ / ‖μ(T(original)) − μ_target‖ — below 1 the cloak still pulls
  the latent toward the decoy target; 1 means no effect left;
* ``shift_retained`` = ‖μ(T(cloaked)) − μ(T(original))‖ / ‖μ(cloaked) − μ(original)‖ — the share of the latent
  shift that survives T.

T is: nothing (the file as written, after quantisation), JPEG at quality 90 and 75, 2× down- then up-sampling
(bicubic), and Gaussian noise (σ = 4/255, seeded). The numbers are reported as measured; nothing here decides
that an image is "protected".
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    import torch

__all__ = ["LIMITS", "LatentCheck", "SelfCheck", "fidelity", "latent_checks", "psnr", "ssim"]

#: Stated in every report, the docs and the README: the known limits, in plain words.
LIMITS: Final = (
    "Adding noise and then upscaling (or other purification) removes perturbations of this kind "
    "(Hönig et al., 2024, 'Adversarial Perturbations Cannot Reliably Protect Artists From Generative AI').",
    "It targets Stable Diffusion 1.x/2.x-family image encoders; other models may not be affected at all.",
    "The numbers above are measured on this image with the VAE given; they do not predict what a future "
    "model, a fine-tuning recipe or a determined adversary will do.",
    "Keep your originals: the cloaked copy is a changed image, and a cloak cannot be undone.",
)
_NOISE_SIGMA: Final = 4.0 / 255.0
Floats = NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class LatentCheck:
    ratio_to_target: float
    shift_retained: float

    def to_dict(self) -> dict[str, float]:
        return {"ratio_to_target": round(self.ratio_to_target, 4), "shift_retained": round(self.shift_retained, 4)}


@dataclass(frozen=True, slots=True)
class SelfCheck:
    """The measured figures for one cloaked image (``psnr_db`` None when the pixels are identical)."""

    linf: int
    linf_255: float
    psnr_db: float | None
    ssim: float
    crop: tuple[int, int, int, int]
    latent: dict[str, LatentCheck] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "linf": self.linf,
            "linf_255": round(self.linf_255, 3),
            "psnr_db": None if self.psnr_db is None else round(self.psnr_db, 2),
            "ssim": round(self.ssim, 5),
            "crop": {"x": self.crop[0], "y": self.crop[1], "width": self.crop[2], "height": self.crop[3]},
            "latent": {name: check.to_dict() for name, check in self.latent.items()},
            "limits": list(LIMITS),
        }


def psnr(a: Floats, b: Floats) -> float | None:
    """Peak signal-to-noise ratio in dB for images in [0, 1]; None when they are identical."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return None if mse == 0 else 10.0 * math.log10(1.0 / mse)


def _luma(rgb: Floats) -> NDArray[np.float64]:
    return np.asarray(rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114, dtype=np.float64)


def _blur(img: NDArray[np.float64], kernel: NDArray[np.float64]) -> NDArray[np.float64]:
    """Separable 'valid' Gaussian filtering."""
    rows = np.apply_along_axis(lambda r: np.convolve(r, kernel, mode="valid"), 1, img)
    return np.apply_along_axis(lambda c: np.convolve(c, kernel, mode="valid"), 0, rows)


def ssim(a: Floats, b: Floats) -> float:
    """Mean SSIM of the luma of two RGB images in [0, 1] (Wang et al. 2004: 11-px Gaussian, σ 1.5)."""
    x, y = _luma(a), _luma(b)
    size = min(11, x.shape[0], x.shape[1])
    size -= 1 - size % 2  # odd
    offsets = np.arange(size, dtype=np.float64) - (size - 1) / 2
    kernel = np.exp(-(offsets**2) / (2 * 1.5**2))
    kernel /= kernel.sum()
    c1, c2 = 0.01**2, 0.03**2
    mx, my = _blur(x, kernel), _blur(y, kernel)
    sxx = _blur(x * x, kernel) - mx * mx
    syy = _blur(y * y, kernel) - my * my
    sxy = _blur(x * y, kernel) - mx * my
    index = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return float(index.mean())


def fidelity(original: Floats, written: Floats, *, linf: int, levels: int) -> tuple[int, float, float | None, float]:
    """(L∞ in file levels, L∞ in 8-bit levels, PSNR, SSIM)."""
    return linf, linf * 255.0 / levels, psnr(original, written), ssim(original, written)


# --- the encoder under common transformations ---------------------------------------------------------------


def _jpeg(rgb: Floats, quality: int) -> Floats:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.rint(rgb * 255).astype(np.uint8), "RGB").save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"), dtype=np.float32) / 255.0


def _resample(rgb: Floats) -> Floats:
    from PIL import Image

    h, w = rgb.shape[:2]
    img = Image.fromarray(np.rint(rgb * 255).astype(np.uint8), "RGB")
    small = img.resize((max(1, w // 2), max(1, h // 2)), Image.Resampling.BICUBIC)
    return np.asarray(small.resize((w, h), Image.Resampling.BICUBIC), dtype=np.float32) / 255.0


def _noise(seed: int) -> Callable[[Floats], Floats]:
    def apply(rgb: Floats) -> Floats:
        rng = np.random.default_rng(seed)
        return np.clip(rgb + rng.normal(0.0, _NOISE_SIGMA, size=rgb.shape), 0.0, 1.0).astype(np.float32)

    return apply


def transforms(seed: int) -> dict[str, Callable[[Floats], Floats]]:
    return {
        "as-written": lambda rgb: rgb,
        "jpeg-90": lambda rgb: _jpeg(rgb, 90),
        "jpeg-75": lambda rgb: _jpeg(rgb, 75),
        "resample-2x": _resample,
        "gaussian-noise": _noise(seed),
    }


def latent_checks(
    original: Floats,
    written: Floats,
    *,
    encode: Callable[[Floats], torch.Tensor],
    target: torch.Tensor,
    seed: int,
) -> dict[str, LatentCheck]:
    """Ratios for each transformation (see the module docstring); ``encode`` maps an RGB crop to its latent mean."""
    base_shift = float((encode(written) - encode(original)).norm())
    out: dict[str, LatentCheck] = {}
    for name, transform in transforms(seed).items():
        mu_adv, mu_clean = encode(transform(written)), encode(transform(original))
        clean_distance = float((mu_clean - target).norm())
        ratio = float((mu_adv - target).norm()) / clean_distance if clean_distance else 1.0
        retained = float((mu_adv - mu_clean).norm()) / base_shift if base_shift else 0.0
        out[name] = LatentCheck(ratio_to_target=ratio, shift_retained=retained)
    return out
