"""The CLI reference in docs/cli.md matches the real commands and options."""

from __future__ import annotations

import re
from pathlib import Path

import typer
from typer.core import TyperGroup

from rightful.cli import app

DOC = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text(encoding="utf-8")


def test_every_command_and_option_is_documented() -> None:
    """Each command has a section and each of its options (every spelling) appears in docs/cli.md."""
    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    for name, command in root.commands.items():
        assert f"## `rightful {name}" in DOC, name
        assert command.help, f"{name} has no help text"
        for param in command.params:
            for flag in [*param.opts, *param.secondary_opts]:
                if flag.startswith("-"):
                    assert f"`{flag}" in DOC or f" {flag}`" in DOC or f"{flag} " in DOC, f"{name} {flag}"


def test_documented_options_exist() -> None:
    """No option is documented that the command does not have."""
    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    real = {flag for command in root.commands.values() for p in command.params for flag in [*p.opts, *p.secondary_opts]}
    real |= {"--version", "--help", "-h"}
    for flag in set(re.findall(r"`(--?[a-z][a-z0-9-]*)", DOC)):
        assert flag in real, flag
