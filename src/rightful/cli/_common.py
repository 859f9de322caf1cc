"""What every command shares: the consoles and the one error handler."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from rightful.errors import RightfulError

__all__ = ["console", "err_console", "fail", "handle_errors"]

console = Console(highlight=False, soft_wrap=False)
err_console = Console(stderr=True, highlight=False)


def fail(message: str, *, code: int = 2) -> typer.Exit:
    """Print one line on stderr and return the exit to raise."""
    err_console.print(f"rightful: {message}", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


@contextmanager
def handle_errors() -> Iterator[None]:
    """Map :class:`RightfulError` (and a broken pipe) to one stderr line and the class's exit code."""
    try:
        yield
    except RightfulError as exc:
        raise fail(str(exc), code=exc.exit_code) from None
    except BrokenPipeError:
        sys.stderr.close()
        raise typer.Exit(0) from None
