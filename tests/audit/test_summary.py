"""The EU training-content summary: filled from the audit where it can be, placeholders elsewhere, mergeable."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from rightful.audit.summary import PLACEHOLDER, build_summary
from rightful.cli import app
from tests.audit.audit_helpers import write_csv


def _info(name: str, domains: dict[str, list[int]]) -> dict[str, object]:
    rows = sum(v[0] for v in domains.values())
    excluded = sum(v[1] for v in domains.values())
    return {
        "dataset": name, "kind": "csv", "source": f"/data/{name}.csv", "policy": "p", "purposes": ["genai-training"],
        "user_agent": "rightfulbot/1", "top_domains": [[d, v[0], v[1]] for d, v in domains.items()],
        "totals": {"rows": rows, "keep": rows - excluded, "exclude": excluded, "modalities": {"image": rows},
                   "exclusions_by_protocol": {"robots.txt": excluded}, "coverage": {"robots.txt": rows},
                   "first_checked": "2025-01-01T00:00:00", "last_checked": "2025-01-02T00:00:00"},
    }  # fmt: skip


def test_top_ten_percent_of_domains_by_volume() -> None:
    """The domain list is the top 10 % by items (rounded up), largest first; SMEs get 5 % or 1,000."""
    domains = {f"d{i}.example": [i + 1, 0] for i in range(30)}
    summary = build_summary([_info("a", domains)], domains)
    assert [d["domain"] for d in summary["crawled"]["top_domains"]] == ["d29.example", "d28.example", "d27.example"]
    sme = build_summary([_info("a", domains)], domains, sme=True)
    assert [d["domain"] for d in sme["crawled"]["top_domains"]] == ["d29.example", "d28.example"]


def test_provider_parts_are_placeholders() -> None:
    """What only the provider knows is a marked placeholder; what the audit knows is filled."""
    summary = build_summary([_info("a", {"x.example": [3, 1]})], {"x.example": [3, 1]}, provider="ACME")
    assert summary["general"]["provider"] == "ACME"
    assert summary["general"]["model"] == PLACEHOLDER
    assert summary["crawled"]["collection_period"] == PLACEHOLDER
    assert summary["crawled"]["opt_outs_checked"] == {"from": "2025-01-01T00:00:00", "to": "2025-01-02T00:00:00"}
    honoured = {p["protocol"]: p for p in summary["opt_out_compliance"]["protocols_honoured"]}
    assert honoured["robots.txt"]["items_excluded"] == 1
    assert "registry" not in honoured


def test_merge_adds_datasets_and_domains() -> None:
    """Two audits merge: both datasets listed, domain volumes summed before ranking."""
    a, b = {"x.example": [3, 1], "y.example": [1, 0]}, {"y.example": [5, 5]}
    merged = {"x.example": [3, 1], "y.example": [6, 5]}
    summary = build_summary([_info("a", a), _info("b", b)], merged)
    assert [d["name"] for d in summary["datasets"]] == ["a", "b"]
    assert summary["crawled"]["top_domains"] == [{"domain": "y.example", "items": 6, "excluded": 5}]
    assert summary["general"]["modalities"] == {"image": 9}


def test_cli_merges_two_audits(tmp_path: Path, demo_urls: list[str]) -> None:
    """`rightful training-summary A B --out S` writes S.md and S.json covering both audits."""
    runner = CliRunner()
    for name, urls in (("one", demo_urls[:3]), ("two", demo_urls[3:6])):
        src = write_csv(tmp_path / f"{name}.csv", ["url"], [[u] for u in urls])
        done = runner.invoke(app, ["audit", str(src), "--out", str(tmp_path / name), "--allow-private",
                                   "--workers", "1", "--no-progress"])  # fmt: skip
        assert done.exit_code == 0, done.output
        assert (tmp_path / name / "training-summary.md").read_text().startswith("# Public summary of training content")
    done = runner.invoke(app, ["training-summary", str(tmp_path / "one"), str(tmp_path / "two"), "--out",
                               str(tmp_path / "all"), "--provider", "ACME"])  # fmt: skip
    assert done.exit_code == 0, done.output
    data = json.loads((tmp_path / "all.json").read_text())
    assert [d["items"] for d in data["datasets"]] == [3, 3]
    text = (tmp_path / "all.md").read_text()
    assert "ACME" in text
    assert "2.3 Data crawled and scraped from online sources" in text


def test_cli_refuses_an_unfinished_audit(tmp_path: Path) -> None:
    """Merging a folder that holds no finished audit is a one-line error."""
    done = CliRunner().invoke(app, ["training-summary", str(tmp_path), "--out", str(tmp_path / "s")])
    assert done.exit_code == 1
    assert "not an audit folder" in done.output
