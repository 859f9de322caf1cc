"""Packages depend downward only (DESIGN.md's package map): a new upward import fails here, not in review."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "rightful"

#: Modules every package may use: the shared vocabulary, errors, settings and safe decoding.
CORE = {"_presence", "_version", "config", "errors", "media", "models"}
BASE = {"config", "errors", "media", "models"}

#: package → the packages above core it may import (DESIGN.md, "Package map"). ``protect`` signs the CAWG
#: training-mining assertion of ``rightful tag`` with ``provenance``'s keys and signer; ``audit``'s demo builds its
#: loopback sites with ``testing``.
ALLOWED: dict[str, set[str]] = {
    "_version": set(),
    "config": {"_version", "errors"},
    "errors": set(),
    "media": {"errors"},
    "models": {"errors"},
    "signals": set(),
    "fingerprints": set(),
    "testing": {"signals"},
    "registry": {"fingerprints", "signals"},
    "audit": {"signals", "registry", "fingerprints", "testing"},
    "provenance": {"registry", "fingerprints", "signals"},
    "protect": {"signals", "provenance"},
    "cli": {"signals", "fingerprints", "registry", "audit", "provenance", "protect"},
    "service": {"signals", "fingerprints", "registry", "audit", "provenance", "protect"},
    "__init__": {"signals", "registry"},
    "__main__": {"cli"},
    "_presence": set(),
}


def _package(path: Path) -> str:
    first = path.relative_to(SRC).parts[0]
    return first.removesuffix(".py")


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, imported rightful sub-package) for every absolute import of ``rightful.*`` in ``path``."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "rightful" and len(parts) > 1:
                yield node.lineno, parts[1]


def test_every_package_is_in_the_table() -> None:
    """A new top-level package or module must be placed in the dependency table before it can land."""
    found = {_package(p) for p in SRC.rglob("*.py")}
    assert found <= set(ALLOWED), sorted(found - set(ALLOWED))


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_point_downward(package: str) -> None:
    """Each package imports only core modules and the packages below it."""
    allowed = ALLOWED[package] | (set() if package in BASE else CORE)
    wrong = [
        f"{path.relative_to(SRC)}:{line} imports rightful.{target}"
        for path in SRC.rglob("*.py")
        if _package(path) == package
        for line, target in _imports(path)
        if target != package and target not in allowed
    ]
    assert not wrong, "\n".join(wrong)


def test_the_checker_sees_an_upward_import(tmp_path: Path) -> None:
    """The import scanner itself finds ``from rightful.cli import …`` inside a function (lazy imports count too)."""
    module = tmp_path / "lazy.py"
    module.write_text("def f():\n    from rightful.cli import app\n    import rightful.audit.task\n", encoding="utf-8")
    assert list(_imports(module)) == [(2, "cli"), (3, "audit")]
