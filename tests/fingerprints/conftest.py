"""Image factories for fingerprint tests: generated scenes, so no file is needed."""

from __future__ import annotations

import io
import random
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image, ImageDraw


def make_scene(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A textured picture with shapes: high PDQ quality, distinct per seed."""
    rng = random.Random(seed)
    arr = np.random.default_rng(seed).normal(128, 30, (size[1], size[0], 3)).clip(0, 255).astype(np.uint8)
    img = Image.fromarray(arr)
    draw = ImageDraw.Draw(img)
    for _ in range(12):
        x0, y0 = rng.randrange(size[0]), rng.randrange(size[1])
        box = (x0, y0, x0 + rng.randint(20, size[0] // 2), y0 + rng.randint(20, size[1] // 2))
        fill = tuple(rng.randrange(256) for _ in range(3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=fill)
    return img


def encode(img: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **options)
    return buf.getvalue()


@pytest.fixture
def scene() -> Callable[..., Image.Image]:
    return make_scene


@pytest.fixture
def png() -> Callable[..., bytes]:
    return encode
