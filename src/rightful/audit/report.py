"""``report.html``: one self-contained page (inline SVG charts, inline CSS and a few lines of inline JS, no CDN).

Charts are drawn here as SVG, so they render with scripts disabled and print as they look. The table of
excluded items (the first :data:`MAX_ROWS`, read from the result files) is searchable: the inline script filters
rows as you type, and a ``#q=term`` fragment in the URL pre-fills the search (handy for links and for tests).
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from rightful.audit.shards import AuditPaths, write_atomic
from rightful.audit.stats import AuditTotals

__all__ = ["MAX_ROWS", "excluded_rows", "write_report"]

MAX_ROWS = 5000
_COLORS = {"reserved": "#c0392b", "allowed": "#27ae60", "unknown": "#95a5a6"}
_BAR = "#2c6fbb"
_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2430;background:#f6f7f9}
header{background:#1d2430;color:#fff;padding:18px 28px}header h1{margin:0 0 4px;font-size:22px}
header p{margin:0;color:#c9d1dc}main{padding:20px 28px;max-width:1280px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin-bottom:18px}
.card{background:#fff;border-radius:8px;padding:12px 16px;min-width:130px;box-shadow:0 1px 2px #0001}
.card b{display:block;font-size:22px}.card span{color:#5b6574}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:16px}
figure.chart{background:#fff;border-radius:8px;margin:0;padding:12px 16px;box-shadow:0 1px 2px #0001}
figcaption{font-weight:600;margin-bottom:6px}svg text{font-size:12px;fill:#1d2430}
section{margin-top:22px}table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #e3e6ea;vertical-align:top}
th{background:#eef1f4;position:sticky;top:0}td.item{word-break:break-all;max-width:420px}
input#q{font-size:15px;padding:7px 10px;width:360px;border:1px solid #b8c0cc;border-radius:6px}
details pre{white-space:pre-wrap;word-break:break-all;max-height:320px;overflow:auto;background:#f4f5f7;padding:8px}
.muted{color:#5b6574}.legend span{display:inline-block;margin-right:12px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
"""
_JS = """
(function(){
  var q=document.getElementById('q'),rows=[].slice.call(document.querySelectorAll('#excluded tbody tr')),
      shown=document.getElementById('shown');
  function apply(){var t=q.value.trim().toLowerCase(),n=0;
    rows.forEach(function(r){var hit=!t||r.textContent.toLowerCase().indexOf(t)>=0;r.hidden=!hit;n+=hit;});
    shown.textContent=n;}
  q.addEventListener('input',apply);
  var m=/[#&]q=([^&]*)/.exec(location.hash);if(m){q.value=decodeURIComponent(m[1]);}
  document.getElementById('excluded').addEventListener('toggle',function(ev){var p=ev.target.querySelector('pre');
    if(ev.target.open&&p&&!p.dataset.pretty){p.dataset.pretty='1';
      try{p.textContent=JSON.stringify(JSON.parse(p.textContent),null,1);}catch(e){}}},true);
  apply();document.body.setAttribute('data-ready','1');
})();
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _bars(title: str, chart_id: str, items: Sequence[tuple[str, float, str]], *, unit: str = "") -> str:
    """A horizontal bar chart: ``(label, value, annotation)`` per bar, scaled to the largest value."""
    if not items:
        return (f'<figure class="chart" id="{chart_id}"><figcaption>{_e(title)}</figcaption>'
                '<p class="muted">nothing to show</p></figure>')  # fmt: skip
    width, label_w, row_h = 520, 190, 22
    top = max(v for _, v, _ in items) or 1
    parts = []
    for i, (label, value, note) in enumerate(items):
        y = i * row_h
        w = max(1.0, (width - label_w - 90) * value / top)
        short = label if len(label) <= 28 else label[:27] + "…"
        parts.append(
            f'<g class="bar"><title>{_e(label)}: {_e(note)}</title>'
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">{_e(short)}</text>'
            f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}" fill="{_BAR}" rx="2"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 15}">{_e(note)}{unit}</text></g>'
        )
    height = len(items) * row_h + 4
    return (f'<figure class="chart" id="{chart_id}"><figcaption>{_e(title)}</figcaption>'
            f'<svg role="img" aria-label="{_e(title)}" width="100%" viewBox="0 0 {width} {height}">'
            f'{"".join(parts)}</svg></figure>')  # fmt: skip


def _stacked(title: str, chart_id: str, verdicts: Mapping[str, Mapping[str, int]]) -> str:
    """One 100 % bar per purpose, split into reserved / allowed / unknown."""
    width, label_w, row_h = 520, 120, 26
    parts = []
    for i, (purpose, counts) in enumerate(sorted(verdicts.items())):
        total = sum(counts.values()) or 1
        x, y = float(label_w), i * row_h
        parts.append(f'<text x="{label_w - 6}" y="{y + 17}" text-anchor="end">{_e(purpose)}</text>')
        for decision in ("reserved", "allowed", "unknown"):
            n = counts.get(decision, 0)
            w = (width - label_w - 10) * n / total
            if n:
                parts.append(f'<rect class="seg seg-{decision}" x="{x:.1f}" y="{y + 4}" width="{w:.1f}" '
                             f'height="{row_h - 8}" fill="{_COLORS[decision]}"><title>{_e(purpose)} {decision}: '
                             f'{n} ({100 * n / total:.1f}%)</title></rect>')  # fmt: skip
            x += w
    legend = "".join(f'<span><i style="background:{c}"></i>{d}</span>' for d, c in _COLORS.items())
    height = max(1, len(verdicts)) * row_h + 4
    return (f'<figure class="chart" id="{chart_id}"><figcaption>{_e(title)}</figcaption>'
            f'<svg role="img" aria-label="{_e(title)}" width="100%" viewBox="0 0 {width} {height}">'
            f'{"".join(parts)}</svg><div class="legend">{legend}</div></figure>')  # fmt: skip


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "0%"


def excluded_rows(results: Path, *, limit: int = MAX_ROWS) -> Iterator[dict[str, Any]]:
    """The first ``limit`` excluded rows, in shard order, read one result file at a time.

    Each run of consecutive excluded rows is a zero-copy slice: no Arrow filter kernel, whose Python-scalar
    argument makes pyarrow import pandas (and ``pq.read_table`` its datasets layer), ~0.25 s for a report."""
    columns = ["row", "item", "status", "reasons", "exclusion_protocols", "domain", "evidence", "decision"]
    left = limit
    for path in sorted(results.glob("shard-*.parquet")):
        with pq.ParquetFile(path) as parquet:
            table = parquet.read(columns=columns)
        at = 0
        for excluded, run in itertools.groupby(table.column("decision").to_pylist(), key="exclude".__eq__):
            n = sum(1 for _ in run)
            if excluded:
                for row in table.slice(at, min(n, left)).to_pylist():
                    left -= 1
                    yield row
                if left <= 0:
                    return
            at += n


def _table(rows: list[dict[str, Any]], total: int) -> str:
    body = []
    for row in rows:
        evidence = row["evidence"] or ""  # compact; the page indents it when opened (5,000 rows cost no time)
        reasons = "<br>".join(_e(r) for r in row["reasons"] or [])
        body.append(
            f"<tr><td>{row['row']}</td><td class=item>{_e(row['item'])}</td><td>{_e(row['status'])}</td>"
            f"<td>{_e(', '.join(row['exclusion_protocols'] or []))}</td><td>{reasons}</td>"
            f"<td><details><summary>evidence</summary><pre>{_e(evidence)}</pre></details></td></tr>"
        )
    note = f" (the first {len(rows)} of {total}; all are in the result files)" if total > len(rows) else ""
    return (
        f'<section id="excluded-section"><h2>Excluded items</h2><p><input id="q" type="search" '
        f'placeholder="search items, reasons, protocols…" aria-label="search excluded items"> '
        f'<span class="muted">showing <b id="shown">{len(rows)}</b> of {len(rows)}{note}</span></p>'
        '<table id="excluded"><thead><tr><th>row</th><th>item</th><th>status</th><th>protocols</th>'
        f"<th>reasons</th><th>evidence</th></tr></thead><tbody>{''.join(body)}</tbody></table></section>"
    )


def _cards(info: Mapping[str, Any], totals: AuditTotals) -> str:
    cards = [
        ("items", totals.rows), ("kept", totals.keep), ("excluded", totals.exclude),
        ("reserved", totals.status.get("reserved", 0)), ("unknown", totals.status.get("unknown", 0)),
        ("with errors", totals.with_errors), ("duplicates", totals.duplicates),
        ("malformed", totals.malformed), ("domains", len(totals.domains)),
    ]  # fmt: skip
    return '<div class="cards">' + "".join(f'<div class="card"><b>{v:,}</b><span>{k}</span></div>'
                                           for k, v in cards) + "</div>"  # fmt: skip


def render_report(info: Mapping[str, Any], totals: AuditTotals, rows: list[dict[str, Any]]) -> str:
    """The whole page as a string."""
    n = totals.rows
    top = totals.top_domains(15)
    share = sorted(
        ((h, c[1] / c[0], f"{_pct(c[1], c[0])} of {c[0]}") for h, c in totals.domains.items() if c[1]),
        key=lambda t: (-t[1], t[0]),
    )[:15]
    charts = [
        _stacked("Verdicts by purpose", "chart-verdicts", totals.verdicts),
        _bars("Exclusions by protocol", "chart-protocols",
              [(p, c, f"{c:,}") for p, c in totals.exclusions_by_protocol.most_common(15)]),
        _bars("Top domains by volume", "chart-domains", [(h, i, f"{i:,} items") for h, i, _ in top]),
        _bars("Top domains by exclusion share", "chart-domain-share", [(h, s, note) for h, s, note in share]),
        _bars("Signal coverage (share of items where the protocol was present)", "chart-coverage",
              [(p, c, _pct(c, n)) for p, c in totals.coverage.most_common(15)]),
        _bars("Errors by kind", "chart-errors", [(k, c, f"{c:,}") for k, c in totals.errors.most_common(15)]),
    ]  # fmt: skip
    warnings = "".join(f"<li>{_e(w)}</li>" for w in info.get("warnings", []))
    meta = (f"{_e(info['dataset'])} · {_e(info['kind'])} · policy <code>{_e(info['policy'])}</code> · "
            f"{_e(info['finished_at'])} · rightful {_e(info['rightful_version'])}")  # fmt: skip
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>Rightful audit: {_e(info['dataset'])}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>Rightful audit — {_e(info['dataset'])}</h1><p>{meta}</p></header><main>"
        f"{_cards(info, totals)}<div class=grid>{''.join(charts)}</div>"
        + (f"<section><h2>Warnings</h2><ul>{warnings}</ul></section>" if warnings else "")
        + f"{_table(rows, totals.exclude)}<p class=muted>Source: {_e(info['source'])}. Checked as "
        f"{_e(info['user_agent'])}.</p></main><script>{_JS}</script></body></html>"
    )


def write_report(paths: AuditPaths, info: Mapping[str, Any], totals: AuditTotals) -> Path:
    rows = list(excluded_rows(paths.results))
    write_atomic(paths.report, render_report(info, totals, rows).encode("utf-8"))
    return paths.report
