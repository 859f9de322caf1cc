"""The curated public names of rightful.registry and rightful.fingerprints."""

from __future__ import annotations

import rightful.fingerprints
import rightful.registry


def test_registry_and_fingerprint_names_are_pinned_and_sorted() -> None:
    """Every exported name is importable; the registry's list is sorted and pinned (ruff sorts the rest)."""
    for module in (rightful.registry, rightful.fingerprints):
        for name in module.__all__:
            assert getattr(module, name) is not None
    assert rightful.registry.__all__ == sorted(rightful.registry.__all__)
    assert rightful.registry.__all__ == [
        "MatchReport", "NewWork", "Registered", "Registry", "RegistryStore", "SqlRegistryStore", "Thresholds",
        "database_url", "match", "register_work", "registry_findings",
    ]  # fmt: skip
