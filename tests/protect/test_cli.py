"""The ``rightful site-kit`` and ``rightful tag`` commands: files written, output, exit codes, one-line errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from rightful.cli import app
from rightful.models import Decision, Purpose
from rightful.signals.check import check_file

runner = CliRunner()


def test_site_kit_writes_the_kit_and_prints_its_notes(tmp_path: Path) -> None:
    """site-kit writes every kit file and says on stderr what the kit leaves out."""
    out = tmp_path / "kit"
    result = runner.invoke(app, ["site-kit", "--reserve", "ai-training", "--out", str(out), "--contact",
                                 "ada@example.org"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (out / "robots.txt").is_file()
    assert (out / "server" / "nginx.conf").is_file()
    assert not (out / ".well-known").exists()
    assert "TDMRep" in result.stderr
    assert "robots.txt" in result.stdout


def test_site_kit_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    """A second site-kit into the same folder fails with one line unless --force is given."""
    args = ["site-kit", "-r", "all", "-o", str(tmp_path), "--policy-url", "https://a.example/.well-known/p.json"]
    assert runner.invoke(app, args).exit_code == 0
    again = runner.invoke(app, args)
    assert again.exit_code == 2
    assert again.stderr.startswith("rightful: ")
    assert "--force" in again.stderr
    assert runner.invoke(app, [*args, "--force"]).exit_code == 0


def test_site_kit_bad_reserve_word_is_a_usage_error(tmp_path: Path) -> None:
    """An unknown --reserve word exits 2 with a one-line message listing the choices."""
    result = runner.invoke(app, ["site-kit", "--reserve", "everything", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "genai-training, ai-training, data-mining, all" in result.stderr
    assert "Traceback" not in result.output


def test_tag_tags_a_folder_and_reports_json(tmp_path: Path, sample: Callable[..., Path]) -> None:
    """tag over a folder writes every file and prints one JSON line per file with --json."""
    paths = [sample("jpeg"), sample("png")]
    licence = "https://creativecommons.org/licenses/by/4.0/"
    args = ["tag", str(tmp_path), "--reserve", "ai-training", "--licence", licence, "--json", "--no-progress"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert {line["status"] for line in lines} == {"tagged"}
    assert {Path(line["path"]).name for line in lines} == {p.name for p in paths}
    assert "2 tagged" in result.stderr
    assert check_file(paths[0]).decision(Purpose.AI_TRAINING) is Decision.RESERVED


def test_tag_dry_run_changes_nothing_and_lists_fields(sample: Callable[..., Path]) -> None:
    """--dry-run lists the fields it would write and leaves the file as it was."""
    path = sample("webp-lossy")
    before = path.read_bytes()
    result = runner.invoke(app, ["tag", str(path), "-r", "data-mining", "--dry-run", "--license",
                                 "https://example.org/licence"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "would-tag" in result.stdout
    assert "plus:DataMining=" in result.stdout
    assert path.read_bytes() == before


def test_tag_exits_1_when_a_file_fails_and_tags_the_rest(tmp_path: Path, sample: Callable[..., Path]) -> None:
    """A failing file gives exit code 1 after the other files were tagged."""
    good = sample("png")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    result = runner.invoke(app, ["tag", str(bad), str(good), "-r", "ai-training", "--no-progress"])
    assert result.exit_code == 1
    assert "failed" in result.stdout
    assert "1 tagged, 1 failed" in result.stderr
    assert check_file(good).decision(Purpose.AI_TRAINING) is Decision.RESERVED


def test_tag_bad_licence_url_is_a_usage_error(sample: Callable[..., Path]) -> None:
    """A licence that is not an absolute http(s) URL exits 2 before any file is touched."""
    path = sample("png")
    before = path.read_bytes()
    result = runner.invoke(app, ["tag", str(path), "-r", "all", "--licence", "CC-BY-4.0"])
    assert result.exit_code == 2
    assert "--licence must be an absolute" in result.stderr
    assert path.read_bytes() == before


def test_tag_with_no_taggable_file_is_an_error(tmp_path: Path) -> None:
    """A folder without any taggable file is a usage error, not a silent success."""
    (tmp_path / "readme.txt").write_text("nothing to tag")
    result = runner.invoke(app, ["tag", str(tmp_path), "-r", "ai-training"])
    assert result.exit_code == 2
    assert "no taggable files" in result.stderr
