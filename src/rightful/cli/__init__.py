"""The ``rightful`` command line: a thin Typer layer over the library verbs.

Each command parses its options, calls one library verb, renders the result and maps errors to an exit code
through :func:`run_command`: one line on stderr, never a traceback.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from rightful._version import __version__
from rightful.cli import audit as _audit
from rightful.cli import check as _check
from rightful.cli import protect as _protect
from rightful.cli import provenance as _provenance
from rightful.cli import registry as _registry
from rightful.cli._common import err_console

__all__ = ["app", "main"]

app = typer.Typer(
    name="rightful",
    help="Copyright integrity for generative AI: read opt-outs, register works, label outputs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"rightful {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Rightful: copyright integrity for generative AI."""


app.command("check")(_check.check)
app.command("audit")(_audit.audit)
app.command("training-summary")(_audit.training_summary)
app.command("register")(_registry.register)
app.add_typer(_provenance.keys_app, name="keys")
app.command("sign")(_provenance.sign)
app.command("verify")(_provenance.verify)
app.add_typer(_provenance.log_app, name="log")
app.add_typer(_provenance.models_app, name="models")
app.command("match")(_registry.match)
app.add_typer(_registry.works_app)
app.add_typer(_registry.registry_app)
app.command("site-kit")(_protect.site_kit)
app.command("tag")(_protect.tag)
app.command("protect")(_protect.protect)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    try:
        app(args=argv, prog_name="rightful")
    except KeyboardInterrupt:
        err_console.print("rightful: interrupted")
        sys.exit(130)
