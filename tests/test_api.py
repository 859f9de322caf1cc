"""The curated public API."""

from __future__ import annotations

import rightful


def test_public_names_are_pinned_and_sorted() -> None:
    """__all__ is the contract: sorted, and every name importable."""
    assert rightful.__all__ == sorted(rightful.__all__)
    assert rightful.__all__ == [
        "CheckResult", "ConfigError", "Decision", "FetchError", "InvalidInput", "ItemError", "LicenceConstraint",
        "MissingDependency", "Purpose", "RightfulError", "Settings", "Signal", "Verdict", "__version__",
        "acheck_url", "acheck_urls", "check_bytes", "check_file", "check_response", "check_url", "check_urls",
    ]  # fmt: skip
    for name in rightful.__all__:
        assert getattr(rightful, name) is not None
