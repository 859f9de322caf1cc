"""Provenance fixtures: initialised keys in the test's RIGHTFUL_HOME and a real photograph to sign."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rightful.provenance.keys import KeyPaths, init_keys


@pytest.fixture
def keys(tmp_home: Path) -> KeyPaths:
    """Fresh keys in RIGHTFUL_HOME/keys."""
    return init_keys(tmp_home / "keys")


def _photo() -> bytes:
    skimage_data = pytest.importorskip("skimage.data")
    buf = io.BytesIO()
    Image.fromarray(np.asarray(skimage_data.astronaut())[64:448, 64:448]).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="session")
def photo_png() -> bytes:
    """A 384x384 crop of a real photograph (scikit-image's astronaut) as PNG bytes."""
    return _photo()


def _encode(data: bytes, fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.open(io.BytesIO(data)).convert("RGB").save(buf, fmt, **({"quality": 92} if fmt != "PNG" else {}))
    return buf.getvalue()


@pytest.fixture(scope="session")
def photo_as() -> Callable[[str], bytes]:
    """The photograph re-encoded as JPEG, PNG or WEBP."""
    cache: dict[str, bytes] = {}

    def get(fmt: str) -> bytes:
        if fmt not in cache:
            cache[fmt] = _encode(_photo(), fmt)
        return cache[fmt]

    return get
