"""Learned descriptors from a local model file: a tiny random ONNX model built here (never downloaded)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rightful.config import Settings
from rightful.errors import ConfigError, InvalidInput
from rightful.fingerprints import load_embedder
from rightful.models import Terms
from rightful.registry import Registry

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


def _tiny_onnx(path: Path, *, dim: int = 16, seed: int = 0) -> Path:
    """Input N×3×H×W → 4×4 average pooling → flatten → random projection to ``dim``."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    weights = numpy_helper.from_array(rng.normal(size=(3 * 4 * 4, dim)).astype(np.float32), "W")
    nodes = [
        helper.make_node("AveragePool", ["x"], ["p"], kernel_shape=[16, 16], strides=[16, 16]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("MatMul", ["f", "W"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3, 64, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, dim])], initializer=[weights],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_onnx_embedding_is_l2_normalised(tmp_path: Path, scene: Callable[..., Image.Image]) -> None:
    """The descriptor of an image has unit length and the model's output size."""
    embedder = load_embedder(_tiny_onnx(tmp_path / "tiny.onnx"), size=64)
    vec = embedder.embed(scene(1))
    assert vec.shape == (16,)
    assert abs(float(np.linalg.norm(vec)) - 1.0) < 1e-5
    assert embedder.kind.startswith("embedding:tiny-")
    assert embedder.runtime == "onnxruntime"


def test_embedding_name_depends_on_the_weights(tmp_path: Path) -> None:
    """Two different model files never share an index: the name carries the file's hash."""
    (tmp_path / "other").mkdir()
    a = load_embedder(_tiny_onnx(tmp_path / "m.onnx", seed=1), size=64)
    b = load_embedder(_tiny_onnx(tmp_path / "other" / "m.onnx", seed=2), size=64)
    assert a.kind != b.kind
    assert a.kind.split("-")[0] == b.kind.split("-")[0] == "embedding:m"


def test_registry_matches_through_embeddings(
    tmp_path: Path, scene: Callable[..., Image.Image], png: Callable[..., bytes]
) -> None:
    """With a model, registration stores a descriptor and a close copy matches on cosine similarity."""
    embedder = load_embedder(_tiny_onnx(tmp_path / "tiny.onnx"), size=64)
    with Registry.open(Settings.load(), embedder=embedder) as reg:
        item = reg.register_bytes(png(scene(2)), owner="ann", terms=Terms())
        assert item.work is not None
        assert any(f.kind == embedder.kind for f in reg.get(item.work.id, fingerprints=True).fingerprints)
        matches = reg.match(png(scene(2).resize((200, 150)), "JPEG", quality=70)).matches
        assert any(m.work.id == item.work.id for m in matches)
        assert len(reg.index.vectors[embedder.kind]) == 1
        reg.index.save()
    with Registry.open(Settings.load(), embedder=embedder) as again:  # reloads emb-*.idx from disk
        assert len(again.index.vectors[embedder.kind]) == 1
        hit = again.index.vectors[embedder.kind].search(embedder.embed(scene(2)), k=1)
        assert hit[0].tolist() == [item.work.id]
        assert hit[1][0] > 0.99


def test_missing_or_wrong_model_files_are_refused(tmp_path: Path) -> None:
    """A missing file is a ConfigError; garbage in a .onnx file is InvalidInput; other suffixes are refused."""
    with pytest.raises(ConfigError, match="no such file"):
        load_embedder(tmp_path / "absent.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(InvalidInput, match="cannot load ONNX"):
        load_embedder(bad)
    other = tmp_path / "m.bin"
    other.write_bytes(b"x")
    with pytest.raises(ConfigError, match=r"expected a \.onnx"):
        load_embedder(other)


def test_torchscript_model_when_torch_is_installed(tmp_path: Path, scene: Callable[..., Image.Image]) -> None:
    """A tiny random TorchScript model exported here embeds like the ONNX one."""
    torch = pytest.importorskip("torch")
    module = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(4), torch.nn.Flatten(), torch.nn.Linear(48, 8))
    path = tmp_path / "tiny.pt"
    with warnings.catch_warnings():  # torch 2.13 deprecates TorchScript export; users' existing files still load
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.script(module).save(str(path))
    embedder = load_embedder(path, size=64)
    assert embedder.runtime == "torch"
    assert embedder.embed(scene(3)).shape == (8,)
