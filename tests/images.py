"""Generated test pictures shared by the fingerprint and registry tests: no file is needed."""

from __future__ import annotations

import io
import random

import numpy as np
from PIL import Image, ImageDraw


def scene(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A textured picture with shapes: high PDQ quality, distinct per seed."""
    rng = random.Random(seed)
    arr = np.random.default_rng(seed).normal(128, 30, (size[1], size[0], 3)).clip(0, 255).astype(np.uint8)
    img = Image.fromarray(arr)
    draw = ImageDraw.Draw(img)
    for _ in range(12):
        x0, y0 = rng.randrange(size[0]), rng.randrange(size[1])
        box = (x0, y0, x0 + rng.randint(20, size[0] // 2), y0 + rng.randint(20, size[1] // 2))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=tuple(rng.randrange(256) for _ in range(3)))
    return img


def encode(img: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **options)
    return buf.getvalue()
