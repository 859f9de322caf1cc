"""Resumability and faults: reruns skip finished shards, a killed worker or driver loses and duplicates nothing."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from rightful.audit import AuditOptions, AuditPolicy, AuditProgress, LocalExecutor, SourceOptions, audit_dataset
from rightful.config import Settings
from rightful.errors import AuditError, InvalidInput
from rightful.testing.publisher import Publisher, Resource, Site
from tests.audit.audit_helpers import driver_command, results, run_audit, write_csv

_PAGE = Resource(body=b"<!doctype html><title>x</title>", content_type="text/html")


@pytest.fixture
def slow_site(publisher) -> Publisher:  # type: ignore[no-untyped-def]
    """One origin whose every page takes 0.2 s, so shards last long enough to be interrupted."""
    return publisher(Site(robots_txt="User-agent: *\nAllow: /\n", default=_PAGE), latency=0.2)


def _urls_csv(path: Path, origin: str, n: int) -> Path:
    return write_csv(path, ["url", "i"], [[f"{origin}/p/{i}.html", i] for i in range(n)])


def _assert_complete(out: Path, n: int) -> None:
    rows = results(out)
    assert Counter(r["row"] for r in rows) == Counter(range(n))  # nothing lost, nothing twice
    keep = (out / "keep.csv").read_text().splitlines()
    assert len(keep) == n + 1


def test_rerun_skips_finished_shards(
    tmp_path: Path, slow_site: Publisher, local_executor: LocalExecutor, settings: Settings
) -> None:
    """A second run over a finished audit fetches nothing and gives the same totals."""
    slow_site.latency = 0.0
    src = _urls_csv(tmp_path / "in.csv", slow_site.origins[0], 10)
    first = run_audit(src, tmp_path / "out", local_executor, settings, shard_size=3)
    before = slow_site.total_requests()
    second = run_audit(src, tmp_path / "out", local_executor, settings, shard_size=3)
    assert slow_site.total_requests() == before
    assert (second.shards_skipped, second.shards_run) == (4, 0)
    assert second.totals.to_dict() == first.totals.to_dict()
    _assert_complete(tmp_path / "out", 10)


def test_changed_input_or_policy_is_refused(
    tmp_path: Path, slow_site: Publisher, local_executor: LocalExecutor, settings: Settings
) -> None:
    """Resuming over a changed input or another policy is refused; --restart starts over."""
    slow_site.latency = 0.0
    src = _urls_csv(tmp_path / "in.csv", slow_site.origins[0], 4)
    run_audit(src, tmp_path / "out", local_executor, settings)
    _urls_csv(src, slow_site.origins[0], 5)
    with pytest.raises(AuditError, match="input or options changed"):
        run_audit(src, tmp_path / "out", local_executor, settings)
    result = run_audit(src, tmp_path / "out2", local_executor, settings)
    assert result.totals.rows == 5
    result = run_audit(src, tmp_path / "out", local_executor, settings, restart=True)
    assert (result.totals.rows, result.shards_skipped) == (5, 0)
    with pytest.raises(AuditError, match="audited under"):
        run_audit(src, tmp_path / "out", local_executor, settings, policy=AuditPolicy.from_names(["search"]))


def test_worker_killed_mid_shard_loses_nothing(tmp_path: Path, slow_site: Publisher, settings: Settings) -> None:
    """SIGKILL of a worker while it screens a shard: the pool is rebuilt, the shard redone, every row once."""
    src = _urls_csv(tmp_path / "in.csv", slow_site.origins[0], 24)
    killed: list[int] = []
    with LocalExecutor(workers=2) as executor:
        executor.worker_pids()  # waits for the pool: no shard runs in the driver while it starts

        def on_progress(p: AuditProgress) -> None:
            if p.items and not killed and p.shards_done == 0:
                pid = executor.worker_pids()[0]
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

        result = audit_dataset(src, tmp_path / "out", settings=settings, executor=executor, progress=on_progress,
                               options=AuditOptions(source=SourceOptions(shard_size=4)))  # fmt: skip
        assert killed
        assert killed[0] not in executor.worker_pids()
    assert result.totals.rows == 24
    _assert_complete(tmp_path / "out", 24)


def _wait_for(predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_driver_killed_then_rerun_completes(
    tmp_path: Path, slow_site: Publisher, local_executor: LocalExecutor, settings: Settings
) -> None:
    """kill -9 of the whole `rightful audit` process group mid-run; the same command again finishes the job,
    keeping the shards finished before the kill and duplicating nothing."""
    src = _urls_csv(tmp_path / "in.csv", slow_site.origins[0], 40)
    out = tmp_path / "out"
    env = dict(os.environ, RIGHTFUL_HOME=str(settings.home))
    command = [sys.executable, "-m", "rightful", "audit", str(src), "--out", str(out), "--allow-private",
               "--shard-size", "4", "--workers", "2", "--no-progress"]  # fmt: skip
    proc = subprocess.Popen(command, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)  # fmt: skip
    try:
        assert _wait_for(lambda: len(list((out / "results").glob("*.done.json"))) >= 2, 60), proc.stderr
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        assert proc.stderr is not None
        proc.stderr.close()
    finished = {p.name: p.stat().st_mtime_ns for p in (out / "results").glob("*.done.json")}
    assert 2 <= len(finished) < 10
    slow_site.latency = 0.0
    result = run_audit(src, out, local_executor, settings, shard_size=4)
    assert result.shards_skipped == len(finished)
    assert {
        p.name: p.stat().st_mtime_ns for p in (out / "results").glob("*.done.json") if p.name in finished
    } == finished
    _assert_complete(out, 40)


def _descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (children, and a fork server's workers below it)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _running(pid: int) -> bool:
    """Alive and not a zombie (a container's init may leave orphans unreaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process tree from /proc")
@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_workers_end_with_a_killed_driver(
    tmp_path: Path, slow_site: Publisher, settings: Settings, method: str
) -> None:
    """kill -9 of the driver alone (not its group): its workers, and a fork server, end within seconds instead
    of waiting for work forever."""
    src = _urls_csv(tmp_path / "in.csv", slow_site.origins[0], 40)
    out = tmp_path / "out"
    command = driver_command(tmp_path, src, out, start_method=method, shard_size=4)
    env = dict(os.environ, RIGHTFUL_HOME=str(settings.home))
    proc = subprocess.Popen(command, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        assert _wait_for(lambda: any((out / "results").glob("*.done.json")), 60)
        below = _descendants(proc.pid)
        assert len(below) >= 2  # the two workers (and, from a fork server, the server itself)
        proc.kill()
        proc.wait(10)
        assert _wait_for(lambda: not any(_running(pid) for pid in below), 15), [p for p in below if _running(p)]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def test_duplicates_are_counted_and_checked_once(
    tmp_path: Path, slow_site: Publisher, local_executor: LocalExecutor, settings: Settings
) -> None:
    """The same URL twice in a shard: both rows kept in results, the second flagged, the page fetched once."""
    slow_site.latency = 0.0
    url = slow_site.origins[0] + "/p/dup.html"
    src = write_csv(tmp_path / "in.csv", ["url"], [[url], [url], [url + "?x"]])
    result = run_audit(src, tmp_path / "out", local_executor, settings, shard_size=10)
    assert [r["duplicate"] for r in results(tmp_path / "out")] == [False, True, False]
    assert result.totals.duplicates == 1
    assert slow_site.requests[(slow_site.origins[0], "GET", "/p/dup.html")] == 1


def test_unreadable_and_missing_files_are_errors_not_failures(
    tmp_path: Path, local_executor: LocalExecutor, settings: Settings
) -> None:
    """Paths to a missing file or a folder become unreadable-file errors; the audit finishes."""
    (tmp_path / "adir").mkdir()
    src = write_csv(tmp_path / "in.csv", ["path"], [["missing.jpg"], ["adir"]])
    result = run_audit(src, tmp_path / "out", local_executor, settings)
    assert result.totals.errors == Counter({"unreadable-file": 2})
    assert [r["decision"] for r in results(tmp_path / "out")] == ["keep", "keep"]


def test_huge_file_is_read_only_up_to_the_cap(
    tmp_path: Path, local_executor: LocalExecutor, settings: Settings
) -> None:
    """A file over media_max_bytes is read capped: its leading XMP still counts, and the cut is recorded."""
    from rightful.testing.sites import jpeg_bytes, xmp_packet

    data = tmp_path / "data"
    data.mkdir()
    (data / "big.jpg").write_bytes(jpeg_bytes(xmp=xmp_packet(data_mining="PROHIBITED")) + b"\0" * 3_000_000)
    result = run_audit(data, tmp_path / "out", local_executor, settings.replace(media_max_bytes=1_000_000))
    assert result.totals.exclude == 1
    assert "embedded-truncated" in result.totals.errors


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs (needs root and mount; skipped where unavailable)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True,
                          check=False)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_full_disk_is_a_clear_error_and_resumable(
    tmp_path: Path, tiny_disk: Path, local_executor: LocalExecutor, settings: Settings
) -> None:
    """A full output disk stops the audit with a message naming the cause and the fix; after freeing space the
    same command completes with every row once."""
    src = write_csv(tmp_path / "in.csv", ["path", "pad"], [[f"missing-{i}.jpg", "x" * 50] for i in range(800)])
    filler = tiny_disk / "filler"
    filler.write_bytes(b"\0" * 950_000)
    with pytest.raises(AuditError, match=r"No space left on device.*rerun the same command to resume"):
        run_audit(src, tiny_disk / "out", local_executor, settings, shard_size=200)
    filler.unlink()
    result = run_audit(src, tiny_disk / "out", local_executor, settings, shard_size=200)
    assert result.totals.rows == 800
    _assert_complete(tiny_disk / "out", 800)


def test_input_error_reaches_the_caller(tmp_path: Path, local_executor: LocalExecutor, settings: Settings) -> None:
    """A bad input fails before any shard runs, with InvalidInput (exit code 2 in the CLI)."""
    (tmp_path / "in.csv").write_text("name\nx\n")
    with pytest.raises(InvalidInput):
        run_audit(tmp_path / "in.csv", tmp_path / "out", local_executor, settings)
