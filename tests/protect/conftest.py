"""Fixtures: small files in every format the tagger writes, a reservation, and an exiftool runner."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rightful.protect.terms import Reservation
from tests.protect.protect_helpers import SUFFIX, make_file


@pytest.fixture
def sample(tmp_path: Path) -> Callable[..., Path]:
    """``sample("png")`` writes a fresh file of that kind and returns its path."""
    counter = iter(range(1_000_000))

    def make(kind: str, **kwargs: Any) -> Path:
        suffix = SUFFIX.get(kind, ".webp")
        path = tmp_path / f"{kind}-{next(counter)}{suffix}"
        path.write_bytes(make_file(kind, **kwargs))
        return path

    return make


@pytest.fixture
def reservation() -> Reservation:
    return Reservation.parse(
        ["all"], licence="https://creativecommons.org/licenses/by-nc-nd/4.0/",
        contacts=["Ada Lovelace <ada@example.org>", "https://ada.example/licensing"],
    )  # fmt: skip


@pytest.fixture(scope="session")
def exiftool() -> Callable[..., dict[str, Any]]:
    """Read a file's tags with exiftool (Debian libimage-exiftool-perl), an independent reader."""
    binary = shutil.which("exiftool")
    if binary is None:
        pytest.skip("exiftool is not installed (apt-get install libimage-exiftool-perl): independent read-back skipped")

    def read(path: Path, *groups: str) -> dict[str, Any]:
        args = [binary, "-j", "-struct", "-G1", *(groups or ("-XMP:all",)), str(path)]
        done = subprocess.run(args, capture_output=True, check=True, text=True, timeout=60)
        data: dict[str, Any] = json.loads(done.stdout)[0]
        return data

    return read
