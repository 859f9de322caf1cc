"""Image factories for fingerprint tests: generated scenes, so no file is needed."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PIL import Image

from tests.images import encode
from tests.images import scene as make_scene


@pytest.fixture
def scene() -> Callable[..., Image.Image]:
    return make_scene


@pytest.fixture
def png() -> Callable[..., bytes]:
    return encode
