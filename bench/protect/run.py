"""Cloak benchmark: seconds per PGD step and per image at 512², fp32 (the baseline) vs bf16, and the self-check.

No weights are downloaded: timings use a *randomly initialised* ``AutoencoderKL`` with the Stable Diffusion VAE
architecture (block_out_channels 128/256/512/512, two layers per block, 32 norm groups, 4 latent channels), so
the arithmetic is that of the real encoder while the cloak's *effect* is meaningless on it. The effect figures
(the self-check) come from the tiny random model the tests use, at 64² and 60 steps. Same code path as
``rightful protect`` (``cloak_image``), on whatever ``--device`` is given (a GPU when a device machine is lent).

    .venv/bin/python bench/protect/run.py [--steps 3] [--device cpu] [--size 512]

Per image = measured time for ``--steps`` steps plus the self-check, and extrapolated to the default 100 steps
(overhead + 100 × seconds per step). Results: a table on stdout and ``bench/results/protect.json``.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results" / "protect.json"
DEFAULT_STEPS = 100


def _vae_folder(root: Path, *, tiny: bool) -> Path:
    import torch
    from diffusers import AutoencoderKL

    torch.manual_seed(0)
    if tiny:
        config: dict[str, Any] = {"block_out_channels": (8, 8, 16, 16), "layers_per_block": 1, "norm_num_groups": 4}
    else:
        config = {"block_out_channels": (128, 256, 512, 512), "layers_per_block": 2, "norm_num_groups": 32}
    model = AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
                          up_block_types=("UpDecoderBlock2D",) * 4, latent_channels=4, **config)  # fmt: skip
    folder = root / ("tiny" if tiny else "sd-architecture")
    model.save_pretrained(folder)
    return folder


def _image(size: int, seed: int = 0) -> bytes:
    """A smooth, natural-ish test picture (gradients and blobs), not noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    channels = [np.sin(2 * np.pi * (xx * rng.uniform(1, 3) + yy * rng.uniform(1, 3))) for _ in range(3)]
    array = ((np.stack(channels, axis=-1) * 0.4 + 0.5) * 255).clip(0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, "PNG")
    return buf.getvalue()


def _time(vae: Any, data: bytes, *, steps: int, precision: str) -> dict[str, Any]:
    from rightful.protect.cloak import CloakOptions, cloak_image

    marks: list[float] = []
    started = time.perf_counter()
    cloak_image(data, vae, options=CloakOptions(steps=1, precision=precision, self_check=False))  # warm-up
    warm = time.perf_counter() - started
    started = time.perf_counter()
    result = cloak_image(data, vae, options=CloakOptions(steps=steps, precision=precision),
                         progress=lambda p: marks.append(time.perf_counter()))  # fmt: skip
    total = time.perf_counter() - started
    per_step = [b - a for a, b in itertools.pairwise(marks)] or [marks[0] - started]
    step = float(np.median(per_step))
    overhead = total - step * steps
    return {
        "precision": precision,
        "steps": steps,
        "seconds_per_step": round(step, 3),
        "seconds_per_image": round(total, 2),
        "seconds_overhead": round(overhead, 2),
        f"seconds_per_image_at_{DEFAULT_STEPS}_steps": round(overhead + step * DEFAULT_STEPS, 1),
        "warmup_seconds": round(warm, 2),
        "linf_255": result.report["self_check"]["linf_255"],
    }


def _effect(vae: Any) -> dict[str, Any]:
    from rightful.protect.cloak import CloakOptions, cloak_image

    out: dict[str, Any] = {}
    for strength in (4, 8, 16):
        result = cloak_image(_image(64, seed=1), vae, options=CloakOptions(strength=strength, steps=60))
        out[f"strength-{strength}"] = result.report["self_check"]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="PGD steps timed per precision (after 1 warm-up)")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)

    import torch

    from rightful.protect.vae import load_vae

    with tempfile.TemporaryDirectory() as tmp:
        big = load_vae(_vae_folder(Path(tmp), tiny=False), device=args.device)
        tiny = load_vae(_vae_folder(Path(tmp), tiny=True), device=args.device)
        data = _image(args.size)
        precisions = ["fp32", "bf16"] + (["fp16"] if args.device != "cpu" else [])
        timings = [_time(big, data, steps=args.steps, precision=p) for p in precisions]
        effect = _effect(tiny)
    base = timings[0]["seconds_per_step"]
    for row in timings:
        row["step_ratio_vs_fp32"] = round(row["seconds_per_step"] / base, 2) if base else None
    results = {
        "machine": {
            "platform": platform.platform(),
            "python": sys.version.split()[0],
            "torch": torch.__version__,
            "cpus": os.cpu_count(),
            "threads": torch.get_num_threads(),
            "device": args.device,
            "gpu": torch.cuda.get_device_name(0) if args.device == "cuda" else None,
            "load_average": os.getloadavg(),
        },
        "size": args.size,
        "model": "random AutoencoderKL, Stable Diffusion VAE architecture (timings only)",
        "timings": timings,
        "self_check_model": "tiny random AutoencoderKL (8/8/16/16), 64x64, 60 steps",
        "self_check": effect,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"cloak at {args.size}x{args.size} on {args.device} (load average {os.getloadavg()[0]:.1f}):")
    print(f"{'precision':<10}{'s/step':>9}{'vs fp32':>9}{'s/image':>10}{f's/image@{DEFAULT_STEPS}':>14}")
    for row in timings:
        print(f"{row['precision']:<10}{row['seconds_per_step']:>9}{row['step_ratio_vs_fp32']:>9}"
              f"{row['seconds_per_image']:>10}{row[f'seconds_per_image_at_{DEFAULT_STEPS}_steps']:>14}")  # fmt: skip
    print("self-check, tiny model, 64x64, 60 steps (ratio_to_target: cloaked/original; 1 = no effect):")
    for name, check in effect.items():
        ratios = ", ".join(f"{k} {v['ratio_to_target']}" for k, v in check["latent"].items())
        print(f"  {name}: PSNR {check['psnr_db']} dB, SSIM {check['ssim']}; {ratios}")
    print(f"results: {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
