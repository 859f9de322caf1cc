"""The exception tree: one base, exit and status codes, the pinned JSON shape."""

from __future__ import annotations

import pytest

from rightful import errors


def test_every_error_is_a_rightful_error_with_codes() -> None:
    """Each public class derives from RightfulError and carries an exit code and an HTTP status."""
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.RightfulError)
        assert isinstance(cls.exit_code, int)
        assert 400 <= cls.status_code < 600


def test_builtin_bases_let_callers_catch_familiar_types() -> None:
    """ConfigError/InvalidInput are ValueErrors, MissingDependency an ImportError, WorkNotFound a KeyError."""
    assert issubclass(errors.InvalidInput, ValueError)
    assert issubclass(errors.ConfigError, ValueError)
    assert issubclass(errors.MissingDependency, ImportError)
    assert issubclass(errors.WorkNotFound, KeyError)
    assert str(errors.WorkNotFound("no work w1")) == "no work w1"


def test_json_shape_is_pinned() -> None:
    """The error body has exactly one shape, with context values as strings."""
    exc = errors.FetchError("timed out", url="https://example.org/", attempt=2)
    assert exc.url == "https://example.org/"
    assert exc.to_dict() == {
        "error": {
            "code": "fetch",
            "type": "FetchError",
            "message": "timed out",
            "context": {"url": "https://example.org/", "attempt": "2"},
        }
    }


def test_missing_dependency_names_the_install_line() -> None:
    """A missing extra tells the user exactly what to install."""
    with pytest.raises(ImportError, match=r"pip install 'rightful\[ray\]'"):
        raise errors.MissingDependency("ray", extra="ray")
