"""The public summary of training content (EU AI Act, Art. 53(1)(d)), filled from one or more audits.

The structure follows the AI Office's *Template for the Public Summary of Training Content for general-purpose
AI models* (July 2025): 1 general information, 2 list of data sources (2.3: data crawled and scraped from online
sources), 3 data processing aspects (3.1: respect of reservations of rights from the text-and-data-mining
exception). What an audit can know is filled in (content types, opt-out protocols honoured and how, the
domains by volume, when the opt-outs were checked); what only the provider can write is left as a marked
placeholder, never guessed. Several audits (several datasets) merge into one summary.

Volume is measured in items (the audit does not see content sizes); the template asks for the top 10 % of
domains by volume, or for SMEs the top 5 % or 1,000 domains, whichever is lower.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rightful._version import __version__
from rightful.audit.shards import write_atomic
from rightful.models import utcnow

__all__ = ["PLACEHOLDER", "build_summary", "merge_summaries", "render_markdown", "write_training_summary"]

PLACEHOLDER = "[TO BE COMPLETED BY THE PROVIDER]"
TEMPLATE = "Template for the Public Summary of Training Content for general-purpose AI models (AI Office, July 2025)"

PROTOCOLS: Mapping[str, str] = {
    "robots.txt": "robots.txt (RFC 9309), groups for AI-training crawler tokens and our own token",
    "tdmrep": "TDMRep (W3C Community Group): /.well-known/tdmrep.json, TDM-Reservation headers and HTML meta",
    "tdmrep-policy": "TDMRep ODRL policies (who to ask for a licence)",
    "x-robots-tag": "X-Robots-Tag HTTP header (noai, noimageai)",
    "robots-meta": "robots meta tags in HTML (noai, noimageai)",
    "aipref": "IETF AI preferences (Content-Usage header and robots.txt field)",
    "content-signal": "Cloudflare Content-Signal (ai-train)",
    "ai.txt": "Spawning ai.txt",
    "iptc": "IPTC Photo Metadata plus:DataMining embedded in files (XMP)",
    "xmp": "XMP rights metadata embedded in files",
    "c2pa": "C2PA training-and-data-mining assertions in Content Credentials",
    "cawg": "CAWG training-and-data-mining assertions",
    "registry": "matches against the Rightful works registry (works registered with their terms)",
}


def _share(n_domains: int, *, sme: bool) -> tuple[int, str]:
    if sme:
        return min(math.ceil(n_domains * 0.05), 1000), "top 5% or 1,000 domains, whichever is lower (SME)"
    return math.ceil(n_domains * 0.10), "top 10% of domains"


def build_summary(
    audits: Sequence[Mapping[str, Any]],
    domains: Mapping[str, Sequence[int]],
    *,
    sme: bool = False,
    provider: str | None = None,
    model: str | None = None,
) -> dict[str, Any]:
    """The summary as data: one entry per audit in ``datasets``, the crawled-data and opt-out sections filled."""
    modalities: dict[str, int] = {}
    protocols: dict[str, int] = {}
    coverage: dict[str, int] = {}
    items = kept = excluded = 0
    first = [a["totals"].get("first_checked") for a in audits if a["totals"].get("first_checked")]
    last = [a["totals"].get("last_checked") for a in audits if a["totals"].get("last_checked")]
    for audit in audits:
        totals = audit["totals"]
        items, kept, excluded = items + totals["rows"], kept + totals["keep"], excluded + totals["exclude"]
        for source, target in ((totals["modalities"], modalities), (totals["exclusions_by_protocol"], protocols),
                               (totals["coverage"], coverage)):  # fmt: skip
            for key, value in source.items():
                target[key] = target.get(key, 0) + int(value)
    n_top, rule = _share(len(domains), sme=sme)
    ranked = sorted(domains.items(), key=lambda kv: (-kv[1][0], kv[0]))[:n_top]
    honoured = sorted((set(PROTOCOLS) - {"registry"}) | set(protocols) | set(coverage))
    return {
        "template": TEMPLATE,
        "generated_by": f"rightful {__version__}",
        "generated_at": utcnow().isoformat(),
        "general": {
            "provider": provider or PLACEHOLDER,
            "model": model or PLACEHOLDER,
            "modalities": modalities,
            "training_data_size": f"{kept:,} items kept after the opt-out audit ({items:,} audited, "
            f"{excluded:,} excluded); overall size in tokens/bytes: {PLACEHOLDER}",
        },
        "datasets": [
            {
                "name": a["dataset"],
                "kind": a["kind"],
                "source": a["source"],
                "items": a["totals"]["rows"],
                "kept": a["totals"]["keep"],
                "excluded": a["totals"]["exclude"],
                "policy": a["policy"],
            }
            for a in audits
        ],
        "crawled": {
            "crawler": PLACEHOLDER + " (name and user agent of the crawler that collected the data)",
            "opt_out_checker": ", ".join(sorted({a["user_agent"] for a in audits})),
            "purposes": PLACEHOLDER,
            "collection_period": PLACEHOLDER,
            "opt_outs_checked": {"from": min(first) if first else None, "to": max(last) if last else None},
            "content_types": modalities,
            "domains_total": len(domains),
            "top_domains_rule": f"{rule}, by number of items",
            "top_domains": [{"domain": d, "items": c[0], "excluded": c[1]} for d, c in ranked],
        },
        "opt_out_compliance": {
            "policy": sorted({a["policy"] for a in audits}),
            "protocols_honoured": [
                {
                    "protocol": p,
                    "description": PROTOCOLS.get(p, p),
                    "items_excluded": protocols.get(p, 0),
                    "items_present": coverage.get(p, 0),
                }
                for p in honoured
            ],
            "how": (
                "Every item was screened before training: its URL's origin (robots.txt, TDMRep, ai.txt), the "
                "item's HTTP response headers and HTML, and the metadata embedded in the file (IPTC, XMP, C2PA). "
                "An item was excluded when any of these reserved the stated purposes "
                f"({', '.join(sorted({p for a in audits for p in a['purposes']}))}); an unreachable robots.txt "
                "counts as a reservation. The exclusion list with per-item evidence is kept by the provider."
            ),
            "other_measures": PLACEHOLDER,
        },
        "other_sources": {
            "public_datasets": PLACEHOLDER,
            "licensed_data": PLACEHOLDER,
            "user_data": PLACEHOLDER,
            "synthetic_data": PLACEHOLDER,
            "illegal_content_removal": PLACEHOLDER,
        },
    }


def render_markdown(summary: Mapping[str, Any]) -> str:
    g, c, o = summary["general"], summary["crawled"], summary["opt_out_compliance"]
    lines = [
        "# Public summary of training content", "",
        f"*Following the {summary['template']}. Generated by {summary['generated_by']} on "
        f"{summary['generated_at']}. Parts marked {PLACEHOLDER} must be written by the provider.*", "",
        "## 1. General information", "", f"- **Provider:** {g['provider']}", f"- **Model:** {g['model']}",
        "- **Modalities and content types:** " + (", ".join(f"{k} ({v:,} items)" for k, v in
                                                            sorted(g["modalities"].items())) or "none"),
        f"- **Training data size:** {g['training_data_size']}", "",
        "## 2. List of data sources", "",
        "### 2.1 Publicly available datasets / 2.2 private datasets / 2.4 user data / 2.5 synthetic data", "",
        f"{PLACEHOLDER}", "", "Datasets audited for this summary:", "",
        "| dataset | kind | items | kept | excluded |", "|---|---|---:|---:|---:|",
        *[f"| {d['name']} | {d['kind']} | {d['items']:,} | {d['kept']:,} | {d['excluded']:,} |"
          for d in summary["datasets"]],
        "", "### 2.3 Data crawled and scraped from online sources", "",
        f"- **Crawler(s):** {c['crawler']}", f"- **Opt-outs checked by:** {c['opt_out_checker']}",
        f"- **Purposes of the crawler:** {c['purposes']}", f"- **Period of data collection:** {c['collection_period']}",
        f"- **Opt-outs checked between:** {c['opt_outs_checked']['from']} and {c['opt_outs_checked']['to']}",
        "- **Types of content:** " + (", ".join(sorted(c["content_types"])) or "none"),
        f"- **Domains:** {c['domains_total']:,} in total; below, the {c['top_domains_rule']}:", "",
        "| domain | items | excluded |", "|---|---:|---:|",
        *[f"| {d['domain']} | {d['items']:,} | {d['excluded']:,} |" for d in c["top_domains"]],
        "", "## 3. Data processing aspects", "",
        "### 3.1 Respect of reservations of rights from the text and data mining exception", "",
        o["how"], "", f"Policy: {', '.join(f'`{p}`' for p in o['policy'])}", "",
        "| protocol | honoured as | items present | items excluded |", "|---|---|---:|---:|",
        *[f"| {p['protocol']} | {p['description']} | {p['items_present']:,} | {p['items_excluded']:,} |"
          for p in o["protocols_honoured"]],
        "", f"Other measures: {o['other_measures']}", "",
        "### 3.2 Removal of illegal content", "", summary["other_sources"]["illegal_content_removal"], "",
    ]  # fmt: skip
    return "\n".join(lines)


def _domains_of(out: Path, info: Mapping[str, Any]) -> dict[str, list[int]]:
    try:
        data = json.loads((out / "domains.json").read_text(encoding="utf-8"))
        return {str(k): [int(v[0]), int(v[1])] for k, v in data.items()}
    except (OSError, ValueError):
        return {d: [i, e] for d, i, e in info.get("top_domains", [])}


def write_training_summary(
    out: Path, infos: Sequence[Mapping[str, Any]], *, dest: Path | None = None, sme: bool = False,
    provider: str | None = None, model: str | None = None, folders: Sequence[Path] | None = None,
) -> tuple[Path, Path]:  # fmt: skip
    """Write ``training-summary.md`` and ``.json`` (``dest`` without suffix; default ``out/training-summary``)."""
    domains: dict[str, list[int]] = {}
    for folder, info in zip(folders or [out] * len(infos), infos, strict=True):
        for host, (items, excluded) in _domains_of(folder, info).items():
            counts = domains.setdefault(host, [0, 0])
            counts[0] += items
            counts[1] += excluded
    summary = build_summary(infos, domains, sme=sme, provider=provider, model=model)
    base = dest or out / "training-summary"
    md, js = base.with_name(base.name + ".md"), base.with_name(base.name + ".json")
    write_atomic(js, json.dumps(summary, indent=1, ensure_ascii=False).encode("utf-8"))
    write_atomic(md, render_markdown(summary).encode("utf-8"))
    return md, js


def merge_summaries(
    folders: Sequence[Path], *, dest: Path, sme: bool = False, provider: str | None = None, model: str | None = None
) -> tuple[Path, Path]:
    """One summary for several audit folders (several datasets behind one model)."""
    from rightful.audit.pipeline import load_audit

    infos = [load_audit(f) for f in folders]
    return write_training_summary(dest.parent, infos, dest=dest, sme=sme, provider=provider, model=model,
                                  folders=list(folders))  # fmt: skip
