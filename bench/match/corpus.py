"""Images and transforms for the matching benchmark: scikit-image's sample photographs, generated scenes, and
the query transforms named in issue #5 (each deterministic given its random generator)."""

from __future__ import annotations

import io
import random
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

# scikit-image ships these; 'chelsea' is the same cat as 'cat' and 'horse'/'binary_blobs' are binary masks.
REAL = ("astronaut", "brick", "camera", "cat", "cell", "clock", "coffee", "coins", "colorwheel", "grass", "gravel",
        "hubble_deep_field", "immunohistochemistry", "logo", "moon", "page", "retina", "rocket", "text", "horse",
        "shepp_logan_phantom", "binary_blobs")  # fmt: skip


def real_images() -> list[tuple[str, Image.Image]]:
    from skimage import data

    out = []
    for name in REAL:
        arr = np.asarray(getattr(data, name)())
        if arr.dtype == bool:
            arr = arr.astype(np.uint8) * 255
        elif arr.dtype != np.uint8:
            arr = (255 * (arr - arr.min()) / max(float(arr.max() - arr.min()), 1e-9)).astype(np.uint8)
        img = Image.fromarray(arr)
        if img.mode == "RGBA":
            bg = Image.new("RGBA", img.size, (255, 255, 255, 255))
            bg.alpha_composite(img)
            img = bg
        out.append((name, img.convert("RGB")))
    return out


def scene(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A generated 'photograph': a gradient sky, ground, shapes, lines and a few words."""
    rng = random.Random(seed)
    w, h = size
    top = np.array([rng.randrange(256) for _ in range(3)], dtype=np.float32)
    bottom = np.array([rng.randrange(256) for _ in range(3)], dtype=np.float32)
    ramp = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    arr = (top * (1 - ramp) + bottom * ramp) * np.ones((1, w, 1), dtype=np.float32)
    arr += np.random.default_rng(seed).normal(0, 6, arr.shape).astype(np.float32)
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(rng.randint(6, 16)):
        colour = tuple(rng.randrange(256) for _ in range(3))
        x0, y0 = rng.randrange(w), rng.randrange(h)
        x1, y1 = x0 + rng.randint(20, w // 2), y0 + rng.randint(20, h // 2)
        shape = rng.choice(("ellipse", "rectangle", "polygon", "line"))
        if shape == "ellipse":
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        elif shape == "rectangle":
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        elif shape == "polygon":
            draw.polygon([(rng.randrange(w), rng.randrange(h)) for _ in range(rng.randint(3, 6))], fill=colour)
        else:
            draw.line((x0, y0, x1, y1), fill=colour, width=rng.randint(2, 12))
    font = ImageFont.load_default(size=rng.randint(18, 40))
    draw.text((rng.randrange(w // 2), rng.randrange(h // 2)), f"scene {seed}", fill=(255, 255, 255), font=font)
    return img.filter(ImageFilter.GaussianBlur(0.6))


def encode(img: Image.Image, fmt: str = "JPEG", quality: int = 95) -> bytes:
    buf = io.BytesIO()
    if fmt == "JPEG":
        img.convert("RGB").save(buf, "JPEG", quality=quality)
    else:
        img.save(buf, fmt)
    return buf.getvalue()


def _crop(frac: float) -> Callable[[Image.Image, random.Random], Image.Image]:
    def run(img: Image.Image, rng: random.Random) -> Image.Image:
        w, h = img.size
        kw, kh = round(w * (1 - frac)), round(h * (1 - frac))
        x, y = rng.randint(0, w - kw), rng.randint(0, h - kh)
        return img.crop((x, y, x + kw, y + kh))

    return run


def _resize(f: float) -> Callable[[Image.Image, random.Random], Image.Image]:
    return lambda img, rng: img.resize((max(1, round(img.width * f)), max(1, round(img.height * f))),
                                       Image.Resampling.LANCZOS)  # fmt: skip


def _rotate(deg: float) -> Callable[[Image.Image, random.Random], Image.Image]:
    return lambda img, rng: img.rotate(deg * rng.choice((-1, 1)), resample=Image.Resampling.BICUBIC)


def _noise(img: Image.Image, rng: random.Random) -> Image.Image:
    arr = np.asarray(img, dtype=np.float32)
    arr += np.random.default_rng(rng.randrange(1 << 30)).normal(0, 12, arr.shape).astype(np.float32)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def _overlay(img: Image.Image, rng: random.Random) -> Image.Image:
    out = img.copy()
    draw = ImageDraw.Draw(out)
    font = ImageFont.load_default(size=max(12, img.height // 12))
    draw.text((img.width // 20, img.height * 3 // 4), "when the model hits different", fill=(255, 255, 255),
              font=font, stroke_width=2, stroke_fill=(0, 0, 0))  # fmt: skip
    return out


def _border(img: Image.Image, rng: random.Random) -> Image.Image:
    return ImageOps.expand(img, border=max(4, img.width // 10), fill=(255, 255, 255))


def _screenshot(img: Image.Image, rng: random.Random) -> Image.Image:
    """The image inside a fake app window: title bar, side panel, caption text."""
    w, h = img.size
    canvas = Image.new("RGB", (round(w * 1.4), round(h * 1.35)), (242, 242, 242))
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((0, 0, canvas.width, round(h * 0.08)), fill=(40, 44, 52))
    draw.rectangle((0, 0, round(w * 0.25), canvas.height), fill=(225, 228, 232))
    for i in range(8):
        draw.text((10, round(h * 0.12) + 24 * i), f"item {i}", fill=(30, 30, 30))
    canvas.paste(img, (round(w * 0.3), round(h * 0.15)))
    draw.text((round(w * 0.3), round(h * 1.2)), "Posted by someone · 3 h ago", fill=(60, 60, 60))
    return canvas


def _jitter(img: Image.Image, rng: random.Random) -> Image.Image:
    img = ImageEnhance.Color(img).enhance(rng.uniform(0.6, 1.4))
    img = ImageEnhance.Brightness(img).enhance(rng.uniform(0.8, 1.2))
    return ImageEnhance.Contrast(img).enhance(rng.uniform(0.8, 1.2))


Transform = Callable[[Image.Image, random.Random], Image.Image]

#: name -> (transform, JPEG quality of the encoded query); quality None means lossless PNG.
TRANSFORMS: dict[str, tuple[Transform, int | None]] = {
    "jpeg-q30": (lambda i, r: i, 30), "jpeg-q50": (lambda i, r: i, 50), "jpeg-q70": (lambda i, r: i, 70),
    "jpeg-q90": (lambda i, r: i, 90),
    "resize-0.25": (_resize(0.25), 90), "resize-0.5": (_resize(0.5), 90), "resize-1.5": (_resize(1.5), 90),
    "resize-2": (_resize(2.0), 90),
    "crop-5": (_crop(0.05), 90), "crop-10": (_crop(0.10), 90), "crop-20": (_crop(0.20), 90),
    "crop-30": (_crop(0.30), 90),
    "rotate-2": (_rotate(2), 90), "rotate-5": (_rotate(5), 90), "rotate-10": (_rotate(10), 90),
    "flip": (lambda i, r: ImageOps.mirror(i), 90),
    "colour-jitter": (_jitter, 90),
    "brightness+20": (lambda i, r: ImageEnhance.Brightness(i).enhance(1.2), 90),
    "contrast-20": (lambda i, r: ImageEnhance.Contrast(i).enhance(0.8), 90),
    "grayscale": (lambda i, r: ImageOps.grayscale(i).convert("RGB"), 90),
    "blur-1": (lambda i, r: i.filter(ImageFilter.GaussianBlur(1)), 90),
    "blur-2": (lambda i, r: i.filter(ImageFilter.GaussianBlur(2)), 90),
    "noise-12": (_noise, 90),
    "text-overlay": (_overlay, 90),
    "border-10": (_border, 90),
    "screenshot": (_screenshot, 90),
}  # fmt: skip

#: The issue's targets: recall floor per transform family.
TARGETS = {"jpeg": 0.99, "resize": 0.99, "colour": 0.99, "brightness": 0.99, "contrast": 0.99, "grayscale": 0.99,
           "blur": 0.99, "noise": 0.99, "flip": 0.99, "crop-5": 0.95, "crop-10": 0.95, "crop-20": 0.95,
           "rotate-2": 0.95, "rotate-5": 0.95}  # fmt: skip


def target_for(name: str) -> float | None:
    for prefix, floor in TARGETS.items():
        if name.startswith(prefix):
            return floor
    return None
