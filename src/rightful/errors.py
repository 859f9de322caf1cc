"""The one exception tree of Rightful.

"Reserved", "no watermark" and "not registered" are *results*, never exceptions. An exception means no
decision could be reached at all::

    RightfulError
    ├── ConfigError(ValueError)          ├── RegistryError ── WorkNotFound(KeyError), AlreadyRegistered
    ├── InvalidInput(ValueError)         ├── AuditError ── ShardFailed, ExecutorError
    ├── MissingDependency(ImportError)   ├── ProvenanceError ── ManifestNotFound, SignatureInvalid, LedgerError
    ├── FetchError (carries .url)        └── ProtectionError
    │   └── BlockedAddress (SSRF guard refused the target)

Each class carries ``exit_code`` (CLI) and ``status_code`` (HTTP). The CLI and the service each have a single
handler that maps them; :meth:`RightfulError.to_dict` is the one pinned JSON error shape.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "AlreadyRegistered",
    "AuditError",
    "BlockedAddress",
    "ConfigError",
    "ExecutorError",
    "FetchError",
    "InvalidInput",
    "LedgerError",
    "ManifestNotFound",
    "MissingDependency",
    "ProtectionError",
    "ProvenanceError",
    "RegistryError",
    "RightfulError",
    "ShardFailed",
    "SignatureInvalid",
    "WorkNotFound",
]


class RightfulError(Exception):
    """Base class: no decision could be reached."""

    exit_code: ClassVar[int] = 1
    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "error"

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.context: dict[str, Any] = {k: v for k, v in context.items() if v is not None}

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, Any]:
        """The pinned JSON error shape: ``{"error": {"code", "type", "message", "context"}}``."""
        return {
            "error": {
                "code": self.code,
                "type": type(self).__name__,
                "message": self.message,
                "context": {k: str(v) for k, v in self.context.items()},
            }
        }


class ConfigError(RightfulError, ValueError):
    """A setting (environment, ``rightful.toml`` or argument) is invalid."""

    exit_code = 2
    status_code = 500
    code = "config"


class InvalidInput(RightfulError, ValueError):
    """The caller gave something that cannot be checked (bad URL, unreadable file, wrong type)."""

    exit_code = 2
    status_code = 422
    code = "invalid-input"


class MissingDependency(RightfulError, ImportError):
    """An optional extra is not installed; the message names the ``pip install`` line."""

    exit_code = 3
    status_code = 501
    code = "missing-dependency"

    def __init__(self, package: str, *, extra: str) -> None:
        super().__init__(f"{package} is not installed: pip install 'rightful[{extra}]'", package=package, extra=extra)


class FetchError(RightfulError):
    """A network fetch failed before any protocol could interpret the outcome."""

    exit_code = 4
    status_code = 502
    code = "fetch"

    def __init__(self, message: str, *, url: str, **context: Any) -> None:
        super().__init__(message, url=url, **context)
        self.url = url


class BlockedAddress(FetchError):
    """The SSRF guard refused the target (loopback, private, link-local, multicast or reserved address)."""

    code = "blocked-address"
    status_code = 403


class RegistryError(RightfulError):
    """The works registry could not complete the operation."""

    code = "registry"


class WorkNotFound(RegistryError, KeyError):
    """No registered work has this id."""

    status_code = 404
    code = "work-not-found"

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.message


class AlreadyRegistered(RegistryError):
    """The work (same owner and content digest) is already registered."""

    status_code = 409
    code = "already-registered"


class AuditError(RightfulError):
    """A dataset audit could not run."""

    code = "audit"


class ShardFailed(AuditError):
    """One shard of an audit failed; the audit can be resumed."""

    code = "shard-failed"


class ExecutorError(AuditError):
    """The executor (local pool or Ray) failed."""

    code = "executor"


class ProvenanceError(RightfulError):
    """Signing, watermarking or the transparency log failed."""

    code = "provenance"


class ManifestNotFound(ProvenanceError):
    """The asset carries no C2PA manifest."""

    status_code = 404
    code = "manifest-not-found"


class SignatureInvalid(ProvenanceError):
    """A signature did not verify."""

    status_code = 422
    code = "signature-invalid"


class LedgerError(ProvenanceError):
    """The transparency log is inconsistent or a proof does not verify."""

    code = "ledger"


class ProtectionError(RightfulError):
    """Tagging or cloaking a file failed."""

    code = "protection"
