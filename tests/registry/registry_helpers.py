"""Small builders shared by the registry tests."""

from __future__ import annotations

import io
import random

import numpy as np
from PIL import Image, ImageDraw

from rightful.models import Purpose, Terms, TermStatus

RESERVED = Terms({Purpose.AI_TRAINING: TermStatus.RESERVED, Purpose.DATA_MINING: TermStatus.RESERVED},
                 licence="https://example.org/licence", contact="rights@example.org")  # fmt: skip
VOCAB = [f"tok{i}" for i in range(3000)]


def scene(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
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


def words(seed: int, n: int) -> str:
    return " ".join(random.Random(seed).choices(VOCAB, k=n))
