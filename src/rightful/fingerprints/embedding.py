"""Optional learned image descriptors from a model file the user gives (ONNX, or TorchScript when torch is there).

Copy-detection models such as SSCD, or a CLIP image tower, survive crops and rotations that defeat PDQ. Rightful
never downloads weights: the user exports a model to a local file and names it. The model must take one
``N×3×H×W`` float tensor (ImageNet-normalised RGB) and return ``N×D`` descriptors; the result is L2-normalised
so an inner product is a cosine similarity. The fingerprint kind is ``embedding:<name>``.
"""

from __future__ import annotations

import hashlib
import importlib
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from rightful.errors import ConfigError, InvalidInput, MissingDependency
from rightful.models import Fingerprint

__all__ = ["Embedder", "load_embedder"]

_MEAN = np.asarray([0.485, 0.456, 0.406], dtype=np.float32)
_STD = np.asarray([0.229, 0.224, 0.225], dtype=np.float32)


@dataclass(slots=True)
class Embedder:
    """A loaded descriptor model: ``embed(image)`` gives an L2-normalised float32 vector."""

    name: str
    path: Path
    size: int
    runtime: str
    _run: Any = field(repr=False)

    @property
    def kind(self) -> str:
        return f"embedding:{self.name}"

    def embed(self, img: Image.Image) -> NDArray[np.float32]:
        batch = _prepare(img, self.size)
        out = np.asarray(self._run(batch), dtype=np.float32).reshape(1, -1)[0]
        if not np.all(np.isfinite(out)):
            raise InvalidInput(f"model {self.name} returned non-finite values")
        norm = float(np.linalg.norm(out))
        normalised: NDArray[np.float32] = out / np.float32(norm) if norm > 0 else out
        return normalised

    def fingerprint(self, img: Image.Image) -> Fingerprint:
        return Fingerprint(self.kind, self.embed(img).astype("<f4").tobytes())


def _prepare(img: Image.Image, size: int) -> NDArray[np.float32]:
    resized = img.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
    arr = (np.asarray(resized, dtype=np.float32) / 255.0 - _MEAN) / _STD
    return np.ascontiguousarray(arr.transpose(2, 0, 1)[None, ...])


def load_embedder(path: str | Path, *, name: str | None = None, size: int = 224) -> Embedder:
    """Load a local ``.onnx`` (onnxruntime) or TorchScript ``.pt``/``.pth`` file (torch) as an embedder.

    ``name`` defaults to the file stem plus the first 8 hex digits of the file's SHA-256, so two different
    models never share an index by accident.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise ConfigError(f"embedding model {p}: no such file")
    if not 32 <= size <= 1024:
        raise ConfigError("embedding input size must be between 32 and 1024 pixels")
    digest = hashlib.sha256(p.read_bytes()).hexdigest()[:8]
    label = name or f"{p.stem}-{digest}"
    if not all(c.isalnum() or c in "-_." for c in label):
        raise ConfigError(f"embedding name {label!r}: letters, digits, '-', '_' and '.' only")
    if p.suffix.lower() == ".onnx":
        return Embedder(label, p, size, "onnxruntime", _onnx_runner(p))
    if p.suffix.lower() in {".pt", ".pth", ".torchscript"}:
        return Embedder(label, p, size, "torch", _torch_runner(p))
    raise ConfigError(f"embedding model {p}: expected a .onnx or TorchScript .pt file")


def _onnx_runner(path: Path) -> Any:
    try:
        ort = importlib.import_module("onnxruntime")
    except ImportError as exc:
        raise MissingDependency("onnxruntime", extra="ml") from exc
    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime's pybind errors (InvalidProtobuf, Fail) derive from Exception itself
        raise InvalidInput(f"cannot load ONNX model {path}: {exc}") from exc
    input_name = session.get_inputs()[0].name

    def run(batch: NDArray[np.float32]) -> Any:
        return session.run(None, {input_name: batch})[0]

    return run


def _torch_runner(path: Path) -> Any:
    try:
        torch = importlib.import_module("torch")
    except ImportError as exc:
        raise MissingDependency("torch", extra="ml") from exc
    try:
        with warnings.catch_warnings():  # torch ≥ 2.10 deprecates TorchScript; existing exports still load
            warnings.simplefilter("ignore", DeprecationWarning)
            module = torch.jit.load(str(path), map_location="cpu").eval()
    except (RuntimeError, ValueError, OSError) as exc:
        raise InvalidInput(f"cannot load TorchScript model {path}: {exc}") from exc

    def run(batch: NDArray[np.float32]) -> Any:
        with torch.no_grad():
            return module(torch.from_numpy(batch)).numpy()

    return run
