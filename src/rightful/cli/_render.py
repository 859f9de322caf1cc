"""Human rendering of check results: one table per item, the deciding evidence beside each verdict."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rightful.models import CheckResult, Decision, Purpose, Signal

__all__ = ["render_result"]

_STYLE = {Decision.RESERVED: "bold red", Decision.ALLOWED: "green", Decision.UNKNOWN: "dim"}
_MAX_EVIDENCE = 3


def _evidence(signal: Signal) -> str:
    where = signal.location + (f":{signal.line}" if signal.line else "")
    return f"[bold]{escape(signal.protocol)}[/] {escape(signal.rule)} [dim]({escape(where)})[/]"


def render_result(console: Console, result: CheckResult, *, purposes: Sequence[Purpose]) -> None:
    """Print one item: its verdict table, licence constraints and non-fatal errors."""
    table = Table(title=escape(result.item), title_justify="left", show_lines=False, expand=False)
    table.add_column("purpose", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    table.add_column("deciding evidence", overflow="fold")
    for purpose in purposes:
        verdict = result.verdicts.get(purpose)
        if verdict is None:
            continue
        lines = [_evidence(s) for s in verdict.deciding[:_MAX_EVIDENCE]]
        if len(verdict.deciding) > _MAX_EVIDENCE:
            lines.append(f"[dim]… and {len(verdict.deciding) - _MAX_EVIDENCE} more (use --json)[/]")
        table.add_row(
            purpose.value,
            f"[{_STYLE[verdict.decision]}]{verdict.decision.value}[/]",
            "\n".join(lines) or "[dim]no signal expresses this purpose[/]",
        )
    console.print(table)
    if result.crawl_allowed is False:
        console.print("  [dim]robots.txt disallows rightfulbot here: the item itself was not fetched[/]")
    for constraint in result.licence:
        flags = f" [{', '.join(constraint.flags)}]" if constraint.flags else ""
        console.print(f"  licence ({escape(constraint.source)}): {escape(constraint.licence or constraint.terms or '')}"
                      f"{escape(flags)}")  # fmt: skip
    for error in result.errors:
        where = f" ({escape(error.location)})" if error.location else ""
        console.print(f"  [yellow]error[/] {escape(error.code)}: {escape(error.message)}{where}")
    console.print()
