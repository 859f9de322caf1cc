"""Rightful: copyright integrity for generative AI.

The public API is curated here; everything else lives in private or sub-modules.
"""

from rightful._presence import registry_absent
from rightful._version import __version__
from rightful.config import Settings
from rightful.errors import (
    ConfigError,
    FetchError,
    InvalidInput,
    MissingDependency,
    RightfulError,
)
from rightful.models import CheckResult, Decision, ItemError, LicenceConstraint, Purpose, Signal, Verdict
from rightful.signals.base import Findings as _Findings
from rightful.signals.check import (
    acheck_url,
    acheck_urls,
    check_bytes,
    check_file,
    check_response,
    check_url,
    check_urls,
)
from rightful.signals.check import (
    add_item_source as _add_item_source,
)


def _registry_source(data: bytes, *, location: str, media_type: str | None, settings: Settings) -> _Findings:
    """Registry matches as signals; the registry (FAISS, SQLAlchemy) is imported only once one exists."""
    if registry_absent(settings):
        return _Findings()
    from rightful.registry.findings import registry_findings

    return registry_findings(data, location=location, media_type=media_type, settings=settings)


_add_item_source(_registry_source)

__all__ = [
    "CheckResult",
    "ConfigError",
    "Decision",
    "FetchError",
    "InvalidInput",
    "ItemError",
    "LicenceConstraint",
    "MissingDependency",
    "Purpose",
    "RightfulError",
    "Settings",
    "Signal",
    "Verdict",
    "__version__",
    "acheck_url",
    "acheck_urls",
    "check_bytes",
    "check_file",
    "check_response",
    "check_url",
    "check_urls",
]
