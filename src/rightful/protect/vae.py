"""The encoder the cloak attacks: a Stable Diffusion ``AutoencoderKL`` loaded from a folder the user already has.

Nothing is downloaded, ever: diffusers is asked with ``local_files_only=True`` and given a local path. The
folder is either a VAE folder (``config.json`` + weights) or a whole pipeline folder with a ``vae/`` subfolder.
The cloak targets the SD 1.x/2.x family (and encoders shaped like them, such as SDXL's): 4 latent channels, an
8× downsampling. A VAE with another latent width (SD3, FLUX: 16) is refused with that reason.

torch and diffusers are the ``[protect]`` extra, imported only here and in :mod:`rightful.protect.cloak`;
without them :class:`~rightful.errors.MissingDependency` names the install line.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from rightful.errors import InvalidInput, MissingDependency

if TYPE_CHECKING:
    import torch

__all__ = ["LATENT_CHANNELS", "PRECISIONS", "Vae", "autocast", "load_vae", "require_torch", "resolve_device"]

#: The latent width of the SD 1.x/2.x-family encoders the cloak is built for.
LATENT_CHANNELS: Final = 4
PRECISIONS: Final = ("auto", "fp32", "bf16", "fp16")
DEVICES: Final = ("cpu", "cuda", "mps")


def require_torch() -> Any:
    """``torch``, or MissingDependency naming the ``[protect]`` extra."""
    try:
        import diffusers  # noqa: F401  (checked together: one install line brings both)
        import torch
    except ImportError as exc:
        raise MissingDependency("torch and diffusers", extra="protect") from exc
    return torch


@dataclass(frozen=True, slots=True)
class Vae:
    """A loaded encoder: the diffusers model, where it came from, how much it downsamples."""

    model: Any
    path: Path
    device: torch.device
    downsample: int
    config_digest: str

    def encode_mean(self, pixels: torch.Tensor) -> torch.Tensor:
        """The latent mean for pixels in [0, 1] (N×3×H×W, H and W multiples of :attr:`downsample`)."""
        result: torch.Tensor = self.model.encode(pixels * 2.0 - 1.0).latent_dist.mean
        return result


def resolve_device(device: str) -> torch.device:
    th = require_torch()
    if device not in DEVICES:
        raise InvalidInput(f"--device must be one of {', '.join(DEVICES)}, not {device!r}")
    if device == "cuda" and not th.cuda.is_available():
        raise InvalidInput("--device cuda: no CUDA device is available to torch here")
    if device == "mps" and not th.backends.mps.is_available():
        raise InvalidInput("--device mps: no Apple MPS device is available to torch here")
    found: torch.device = th.device(device)
    return found


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager[Any]:
    """The mixed-precision context for ``precision`` (``auto``: bf16 on CPU, fp16 on a GPU)."""
    torch = require_torch()
    if precision not in PRECISIONS:
        raise InvalidInput(f"--precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if precision == "auto":
        precision = "bf16" if device.type == "cpu" else "fp16"
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    ctx: contextlib.AbstractContextManager[Any] = torch.autocast(device_type=device.type, dtype=dtype)
    return ctx


def effective_precision(device: torch.device, precision: str) -> str:
    if precision == "auto":
        return "bf16" if device.type == "cpu" else "fp16"
    return precision


def load_vae(path: str | Path, *, device: str = "cpu") -> Vae:
    """Load an ``AutoencoderKL`` from a local folder (never the network); InvalidInput says what is wrong."""
    require_torch()
    from diffusers import AutoencoderKL

    folder = Path(path).expanduser()
    if not folder.exists():
        raise InvalidInput(f"--vae {folder}: no such folder")
    if not folder.is_dir():
        raise InvalidInput(f"--vae {folder}: not a folder (give the folder holding the VAE's config.json)")
    if not (folder / "config.json").is_file() and (folder / "vae" / "config.json").is_file():
        folder = folder / "vae"
    config = folder / "config.json"
    if not config.is_file():
        raise InvalidInput(f"--vae {folder}: no config.json, so not a diffusers AutoencoderKL folder")
    target = resolve_device(device)
    try:
        model = AutoencoderKL.from_pretrained(  # type: ignore[no-untyped-call]
            folder, local_files_only=True, low_cpu_mem_usage=False
        )
    except (OSError, ValueError, TypeError, KeyError, RuntimeError) as exc:
        raise InvalidInput(f"--vae {folder}: not a loadable AutoencoderKL ({exc})") from exc
    channels = int(model.config.latent_channels)
    if channels != LATENT_CHANNELS:
        raise InvalidInput(f"--vae {folder}: the VAE has {channels} latent channels; the cloak targets Stable "
                           f"Diffusion 1.x/2.x-family encoders ({LATENT_CHANNELS} channels)")  # fmt: skip
    model.requires_grad_(False)
    model.eval()
    model.to(target)
    downsample = 2 ** (len(model.config.block_out_channels) - 1)
    digest = "sha256:" + hashlib.sha256(config.read_bytes()).hexdigest()
    return Vae(model=model, path=folder, device=target, downsample=downsample, config_digest=digest)
