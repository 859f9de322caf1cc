"""The registry commands: register, match, works …, registry …: output shapes, exit codes, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from rightful.cli import app
from rightful.fingerprints.image import REGISTER_WINDOWS

from .registry_helpers import encode, scene, words

runner = CliRunner()


def _files(tmp_path: Path) -> tuple[Path, Path]:
    image, text = tmp_path / "sunset.png", tmp_path / "poem.txt"
    image.write_bytes(encode(scene(1)))
    text.write_text(words(1, 600), encoding="utf-8")
    return image, text


def _json_lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_register_then_match_json(tmp_path: Path) -> None:
    """register prints one JSON object per file; match prints the documented matches shape."""
    image, text = _files(tmp_path)
    out = runner.invoke(app, ["register", str(image), "--text", str(text), "--owner", "Ann", "--licence",
                              "https://l.test", "--terms", "licensed", "--json"])  # fmt: skip
    assert out.exit_code == 0, out.output
    rows = _json_lines(out.output)
    assert [r["created"] for r in rows] == [True, True]
    assert all(r["work_id"] for r in rows)
    query = tmp_path / "copy.jpg"
    query.write_bytes(encode(scene(1), "JPEG", quality=60))
    out = runner.invoke(app, ["match", str(query), "--json", "--top-k", "3"])
    assert out.exit_code == 0, out.output
    (doc,) = _json_lines(out.output)
    (m,) = doc["matches"]  # type: ignore[misc]
    assert set(m) >= {"work_id", "band", "distance", "evidence"}
    assert m["band"] == "near-duplicate"
    assert m["terms"]["purposes"]["ai-training"] == "licensed"
    out = runner.invoke(app, ["match", "--text", str(text), "--json"])
    assert _json_lines(out.output)[0]["matches"][0]["band"] == "exact"  # type: ignore[index]


def test_register_is_idempotent_and_human_output(tmp_path: Path) -> None:
    """A second register of the same file says it is already registered; exit 0."""
    image, _ = _files(tmp_path)
    first = runner.invoke(app, ["register", str(image), "--owner", "Ann", "--title", "Sunset"])
    assert first.exit_code == 0
    assert "registered work 1" in first.output
    again = runner.invoke(app, ["register", str(image), "--owner", "Ann"])
    assert again.exit_code == 0
    assert "already registered work 1" in again.output


def test_register_folder_with_bad_file_exits_1(tmp_path: Path) -> None:
    """Bulk registration keeps going past a broken file, reports it, and exits 1."""
    folder = tmp_path / "works"
    folder.mkdir()
    (folder / "a.png").write_bytes(encode(scene(2)))
    (folder / "b.jpg").write_bytes(b"\xff\xd8\xff broken")
    out = runner.invoke(app, ["register", str(folder), "--owner", "Ann", "--json", "--no-progress"])
    assert out.exit_code == 1
    rows = _json_lines(out.output)
    assert sorted(r["error"] is None for r in rows) == [False, True]


def test_register_usage_errors(tmp_path: Path) -> None:
    """Missing owner, nothing to register, bad terms, licensed without licence: one line, exit 2."""
    image, _ = _files(tmp_path)
    cases = [
        (["register", str(image)], "--owner is required"),
        (["register", "--owner", "A"], "nothing to register"),
        (["register", str(image), "--owner", "A", "--terms", "maybe"], "--terms must be"),
        (["register", str(image), "--owner", "A", "--terms", "licensed"], "needs --licence"),
        (["register", str(image), "--owner", "A", "-p", "nonsense"], "purpose"),
        (["register", str(tmp_path), "--owner", "A", "--title", "T"], "--title names one work"),
    ]
    for argv, message in cases:
        out = runner.invoke(app, argv)
        assert out.exit_code == 2, (argv, out.output)
        assert message in out.output, (argv, out.output)


def test_match_usage_and_missing_registry(tmp_path: Path) -> None:
    """match needs exactly one target; with no registry it says so (exit 2)."""
    image, text = _files(tmp_path)
    assert runner.invoke(app, ["match"]).exit_code == 2
    assert runner.invoke(app, ["match", str(image), "--text", str(text)]).exit_code == 2
    out = runner.invoke(app, ["match", str(image)])
    assert out.exit_code == 2
    assert "no works registry" in out.output
    out = runner.invoke(app, ["match", str(image), "--min-band", "close"])
    assert out.exit_code == 2
    assert "--min-band" in out.output


def test_match_fail_on_match_and_no_match(tmp_path: Path) -> None:
    """--fail-on-match exits 1 on a match; an unrelated image prints 'no registered work matches'."""
    image, _ = _files(tmp_path)
    runner.invoke(app, ["register", str(image), "--owner", "Ann"])
    assert runner.invoke(app, ["match", str(image), "--fail-on-match"]).exit_code == 1
    other = tmp_path / "other.png"
    other.write_bytes(encode(scene(77)))
    out = runner.invoke(app, ["match", str(other), "--fail-on-match"])
    assert out.exit_code == 0
    assert "no registered work matches" in out.output


def test_works_list_show_set_terms_remove(tmp_path: Path) -> None:
    """The works sub-commands list, show, re-term and remove; an unknown id exits 1 with one line."""
    image, text = _files(tmp_path)
    runner.invoke(app, ["register", str(image), "--text", str(text), "--owner", "Ann"])
    listed = _json_lines(runner.invoke(app, ["works", "list", "--json"]).output)
    assert [w["id"] for w in listed] == [1, 2]
    assert "sunset.png" in runner.invoke(app, ["works", "list"]).output
    assert "sunset.png" in runner.invoke(app, ["works", "show", "2"]).output
    shown = _json_lines(runner.invoke(app, ["works", "show", "2", "--json"]).output)[0]  # texts register first
    assert {f["kind"] for f in shown["fingerprints"]} >= {"pdq", "phash"}  # type: ignore[union-attr]
    out = runner.invoke(app, ["works", "set-terms", "1", "--terms", "allowed", "-p", "search", "--json"])
    assert _json_lines(out.output)[0]["terms"]["purposes"] == {"search": "allowed"}  # type: ignore[index]
    assert runner.invoke(app, ["works", "remove", "1"]).exit_code == 0
    gone = runner.invoke(app, ["works", "show", "1"])
    assert gone.exit_code == 1
    assert "no registered work has id 1" in gone.output
    assert len(_json_lines(runner.invoke(app, ["works", "list", "--json", "--owner", "Ann"]).output)) == 1


def test_registry_stats_and_reindex(tmp_path: Path) -> None:
    """stats counts works and index entries; reindex rebuilds them."""
    image, text = _files(tmp_path)
    runner.invoke(app, ["register", str(image), "--text", str(text), "--owner", "Ann"])
    stats = _json_lines(runner.invoke(app, ["registry", "stats", "--json"]).output)[0]
    assert stats["works"] == 2
    assert stats["index"]["texts"] == 1
    out = runner.invoke(app, ["registry", "reindex"])
    assert out.exit_code == 0
    assert "index rebuilt" in out.output
    rebuilt = _json_lines(runner.invoke(app, ["registry", "reindex", "--json"]).output)[0]
    assert rebuilt["pdq_hashes"] == 1 + len(REGISTER_WINDOWS)  # the frame and each window
