"""The provenance commands end to end through the CLI, and their documentation."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from rightful.cli import app

runner = CliRunner()
DOC = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text(encoding="utf-8")


def _ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_keys_sign_verify_round_trip(tmp_path: Path, tmp_home: Path, photo_png: bytes) -> None:
    """keys init, sign a folder, verify --json: the JSON has the five documented sections."""
    assert "log public key: rightful.local/log+" in _ok("keys", "init")
    assert "valid until" in _ok("keys", "show")
    folder = tmp_path / "gen"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        (folder / name).write_bytes(photo_png)
    out = _ok("sign", str(folder), "--out", str(tmp_path / "signed"), "--model", "tiny", "--licence", "CC0-1.0",
              "--attribute", "work:1", "--json", "--no-progress")  # fmt: skip
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["ledger_index"] for line in lines] == [0, 1]
    report = json.loads(_ok("verify", str(tmp_path / "signed" / "b.png"), "--json"))
    assert set(report) >= {"c2pa", "watermark", "ledger", "signals", "matches"}
    assert report["ledger"]["index"] == 1
    assert report["ledger"]["inclusion_verified"]
    human = _ok("verify", str(tmp_path / "signed" / "a.png"))
    assert "C2PA: Valid" in human
    assert "ledger: entry 0" in human


def test_log_commands(tmp_path: Path, tmp_home: Path) -> None:
    """append, checkpoint, prove, verify --proof and consistency --old work on one log."""
    _ok("keys", "init")
    record = json.dumps({"kind": "work", "digest": "sha256:" + "0" * 64, "owner": "a", "terms": {}})
    assert "appended 1 entries at 0..0" in _ok("log", "append", record)
    old = tmp_path / "old.checkpoint"
    old.write_text(_ok("log", "checkpoint"))
    jsonl = tmp_path / "records.jsonl"
    jsonl.write_text("\n".join([record] * 5) + "\n")
    _ok("log", "append", "--file", str(jsonl))
    bundle = tmp_path / "proof.json"
    bundle.write_text(_ok("log", "prove", "3"))
    assert "entry 3 is included" in _ok("log", "verify", "--proof", str(bundle))
    assert "6 entries" in _ok("log", "verify")
    assert json.loads(_ok("log", "consistency", "--old", str(old)))["consistent"] is True


def test_log_refuses_bad_records_and_forged_checkpoints(tmp_path: Path, tmp_home: Path) -> None:
    """A record without a known kind is exit 2; a checkpoint from another key is refused."""
    _ok("keys", "init")
    result = runner.invoke(app, ["log", "append", '{"kind": "poem"}'])
    assert result.exit_code == 2
    assert "not a Rightful record" in result.output
    _ok("log", "append", json.dumps({"kind": "model"}))
    forged = tmp_path / "forged"
    forged.write_text(_ok("log", "checkpoint").replace("rightful.local/log\n1\n", "rightful.local/log\n9\n"))
    result = runner.invoke(app, ["log", "consistency", "--old", str(forged)])
    assert result.exit_code != 0
    assert "altered" in result.output


def test_models_register(tmp_path: Path, tmp_home: Path) -> None:
    """models register logs the weights and training-summary digests."""
    _ok("keys", "init")
    weights, summary = tmp_path / "w.safetensors", tmp_path / "summary.json"
    weights.write_bytes(b"\x00" * 1000)
    summary.write_text("{}")
    assert "logged at index 0" in _ok("models", "register", str(weights), "--training-summary", str(summary))
    bundle = json.loads(_ok("log", "prove", "0"))
    assert bundle["proof"]["size"] == 1


def test_sign_errors_are_one_line(tmp_path: Path, tmp_home: Path) -> None:
    """Signing before keys exist, or a missing file, is one stderr line and a non-zero exit."""
    result = runner.invoke(app, ["sign", str(tmp_path / "absent.png"), "--out", str(tmp_path / "o"), "--model", "m"])
    assert result.exit_code == 2
    assert "no such file" in result.output


GROUPS = ("keys", "log", "models")


@pytest.mark.parametrize("group", GROUPS)
def test_subcommands_and_options_are_documented(group: str) -> None:
    """Every subcommand of keys/log/models has a docs heading and each of its options is in docs/cli.md."""
    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    command = root.commands[group]
    assert isinstance(command, TyperGroup)
    for name, sub in command.commands.items():
        assert f"### `rightful {group} {name}" in DOC, f"{group} {name}"
        assert sub.help
        for param in sub.params:
            for flag in param.opts:
                if flag.startswith("--"):
                    assert re.search(rf"`{group} {name}[^`]*{re.escape(flag)}\b", DOC), f"{group} {name} {flag}"


def test_keys_init_imports_an_organisation_chain(tmp_path: Path, tmp_home: Path) -> None:
    """--import with --key installs a checked chain and still creates the log and watermark keys."""
    from rightful.provenance.keys import init_keys

    source = init_keys(tmp_path / "elsewhere", organisation="Org Inc")
    out = _ok("keys", "init", "--import", str(source.signer_chain), "--key", str(source.signer_key))
    assert "imported C2PA signer" in out
    assert (tmp_home / "keys" / "log.key").is_file()
    assert (tmp_home / "keys" / "watermark.key").is_file()
    result = runner.invoke(app, ["keys", "init", "--import", str(source.signer_chain)])
    assert result.exit_code == 2
    assert "--key" in result.output
