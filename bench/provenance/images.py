"""The benchmark's photographs: every real photograph scikit-image ships, plus crops and tiles of them.

No downloads: only the images bundled in the scikit-image wheel are used (``skimage.data`` functions that read
a file inside the package). Photographs smaller than the watermark's minimum are left out; larger ones
contribute their full frame, a ×0.7 downscale and 384-pixel tiles (stride 128), round-robin across sources so that no
single photograph dominates the set. Deterministic: same list on every run.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from numpy.typing import NDArray

Image8 = NDArray[np.uint8]

#: skimage.data loaders that are real photographs (or photomicrographs / telescope images) bundled as files.
PHOTOS = ("astronaut", "camera", "coffee", "chelsea", "rocket", "hubble_deep_field", "retina", "moon", "coins",
          "brick", "grass", "gravel", "immunohistochemistry", "cell", "page")  # fmt: skip
MIN_SIDE = 256
TILE = 384
STRIDE = 128


def _rgb(array: NDArray[np.generic]) -> Image8:
    a = np.asarray(array)
    if a.dtype != np.uint8:
        a = (255 * (a.astype(np.float64) / max(float(a.max()), 1e-9))).astype(np.uint8)
    if a.ndim == 2:
        a = np.stack([a] * 3, axis=-1)
    return np.ascontiguousarray(a[..., :3])


def _sources() -> Iterator[tuple[str, Image8]]:
    import skimage.data as data

    for name in PHOTOS:
        yield name, _rgb(getattr(data, name)())
    left, right, _ = data.stereo_motorcycle()
    yield "motorcycle_left", _rgb(left)
    yield "motorcycle_right", _rgb(right)


def _variants(name: str, image: Image8) -> Iterator[tuple[str, Image8]]:
    from PIL import Image

    h, w = image.shape[:2]
    if min(h, w) >= MIN_SIDE:
        yield name, image
    if min(h, w) * 0.7 >= MIN_SIDE:
        small = Image.fromarray(image).resize((int(w * 0.7), int(h * 0.7)), Image.Resampling.LANCZOS)
        yield f"{name}@0.7", np.asarray(small)
    for top in range(0, h - TILE + 1, STRIDE):
        for left in range(0, w - TILE + 1, STRIDE):
            yield f"{name}[{top}:{left}]", image[top : top + TILE, left : left + TILE]


def photographs(limit: int) -> list[tuple[str, Image8]]:
    """Up to ``limit`` (name, RGB uint8 array) pairs, round-robin across the source photographs."""
    queues = [list(_variants(name, image)) for name, image in _sources()]
    out: list[tuple[str, Image8]] = []
    while len(out) < limit and any(queues):
        for queue in queues:
            if queue and len(out) < limit:
                out.append(queue.pop(0))
    return out
