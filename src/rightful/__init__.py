"""Rightful: copyright integrity for generative AI.

The public API is curated here; everything else lives in private or sub-modules.
"""

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
from rightful.signals.check import (
    acheck_url,
    acheck_urls,
    check_bytes,
    check_file,
    check_response,
    check_url,
    check_urls,
)

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
