"""One contract suite, run against each executor (a local process pool, a real local Ray cluster)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rightful.audit import (
    AuditOptions,
    AuditProgress,
    Executor,
    LocalExecutor,
    RayExecutor,
    SourceOptions,
    audit_dataset,
    screen_batch,
)
from rightful.config import Settings
from rightful.errors import ExecutorError, MissingDependency, ShardFailed
from rightful.testing.publisher import Resource, Site
from tests.audit.audit_helpers import DEMO_STATUS, driver_command, image_files, results, run_audit, write_csv

_PAGE = Resource(body=b"<!doctype html><title>x</title>", content_type="text/html")


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Any]:
    """One local Ray cluster for the module (two CPUs), started by the test and stopped at the end."""
    ray = pytest.importorskip("ray")
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


@pytest.fixture(params=["local", "local-fork", "ray"], scope="module")
def executor(request: pytest.FixtureRequest) -> Iterator[Executor]:
    """``local`` as this process starts it (threads run here, so from the fork server), ``local-fork`` with its
    workers forked from the driver (what a single-threaded driver such as the CLI gets), and Ray."""
    if request.param.startswith("local"):
        with LocalExecutor(workers=2, start_method="fork" if request.param == "local-fork" else "auto") as local:
            yield local
    else:
        request.getfixturevalue("ray_cluster")
        with RayExecutor() as ray_executor:
            assert not ray_executor.started_cluster  # it joined the module's cluster
            yield ray_executor


def test_url_decisions(tmp_path: Path, demo_urls: list[str], executor: Executor, settings: Settings) -> None:
    """Every demo page gets its expected status, in input order, with keep.csv matching."""
    src = write_csv(tmp_path / "in.csv", ["url"], [[u] for u in demo_urls])
    result = run_audit(src, tmp_path / "out", executor, settings, shard_size=2)
    assert [r["status"] for r in results(tmp_path / "out")] == list(DEMO_STATUS)
    assert result.shards_total == 5
    assert (tmp_path / "out" / "keep.csv").read_text().splitlines()[1:] == [
        u for u, s in zip(demo_urls, DEMO_STATUS, strict=True) if s != "reserved"
    ]


def test_file_decisions(tmp_path: Path, executor: Executor, settings: Settings) -> None:
    """Embedded metadata decides the same way on every executor."""
    expected = image_files(tmp_path / "data")
    run_audit(tmp_path / "data", tmp_path / "out", executor, settings, shard_size=2)
    assert {r["item"]: r["status"] for r in results(tmp_path / "out")} == expected


def test_failed_shard_is_retried_reported_and_resumable(
    tmp_path: Path, demo_urls: list[str], executor: Executor, settings: Settings
) -> None:
    """A shard whose output cannot be written fails after its retries without stopping the others; once the
    cause is gone, a rerun finishes only that shard."""
    src = write_csv(tmp_path / "in.csv", ["url"], [[u] for u in demo_urls[:6]])
    blocker = tmp_path / "out" / "parts" / "keep-000001.csv"
    blocker.mkdir(parents=True)
    with pytest.raises(ShardFailed, match=r"1 of 3 shards failed \(shard 000001: .*rerun the same command"):
        run_audit(src, tmp_path / "out", executor, settings, shard_size=2, retries=1)
    assert sorted(p.name for p in (tmp_path / "out" / "results").glob("*.done.json")) == [
        "shard-000000.done.json", "shard-000002.done.json"]  # fmt: skip
    blocker.rmdir()
    result = run_audit(src, tmp_path / "out", executor, settings, shard_size=2)
    assert (result.shards_run, result.shards_skipped, result.totals.rows) == (1, 2, 6)


def test_duplicates_across_shards(tmp_path: Path, demo_urls: list[str], executor: Executor, settings: Settings) -> None:
    """A page repeated in later shards is flagged on the same rows whatever the executor and finishing order."""
    rows = [[demo_urls[0]], [demo_urls[1]], [demo_urls[2]], [demo_urls[0]], [demo_urls[3]], [demo_urls[1] + "#x"]]
    result = run_audit(write_csv(tmp_path / "in.csv", ["url"], rows), tmp_path / "out", executor, settings,
                       shard_size=1)  # fmt: skip
    assert [r["duplicate"] for r in results(tmp_path / "out")] == [False, False, False, True, False, True]
    assert result.totals.duplicates == 2


def test_progress_counts_items_inside_shards(
    tmp_path: Path, publisher: Any, executor: Executor, settings: Settings
) -> None:
    """Progress moves item by item while a shard runs (not only when it ends), and counts every row once."""
    site = publisher(Site(robots_txt="User-agent: *\nAllow: /\n", default=_PAGE), latency=0.15)
    src = write_csv(tmp_path / "in.csv", ["url"], [[f"{site.origins[0]}/p/{i}"] for i in range(16)])
    seen: list[AuditProgress] = []
    audit_dataset(src, tmp_path / "out", settings=settings.replace(concurrency=1), executor=executor,
                  progress=seen.append, options=AuditOptions(source=SourceOptions(shard_size=8)))  # fmt: skip
    assert any(0 < p.items < 8 and p.shards_done == 0 for p in seen), [(p.items, p.shards_done) for p in seen]
    assert seen[-1].items == 16
    assert max(p.items for p in seen) == 16


def test_driver_screens_while_the_pool_starts(tmp_path: Path, demo_urls: list[str], settings: Settings) -> None:
    """Until the worker pool is up, shards run in the driver's thread; once it is, in the pool; same results."""
    release = threading.Event()
    local = LocalExecutor(workers=1, start_method="forkserver")
    start = local._new_pool

    def slow_start(**kwargs: Any) -> Any:
        release.wait(60)
        return start(**kwargs)

    local._new_pool = slow_start  # type: ignore[method-assign]
    with local:

        def on_progress(p: AuditProgress) -> None:
            if p.shards_done >= 2:
                release.set()

        src = write_csv(tmp_path / "in.csv", ["url"], [[u] for u in demo_urls])
        audit_dataset(src, tmp_path / "out", settings=settings, executor=local, progress=on_progress,
                      options=AuditOptions(source=SourceOptions(shard_size=2)))  # fmt: skip
        release.set()
        pids = {json.loads(m.read_text())["pid"] for m in (tmp_path / "out" / "results").glob("*.done.json")}
        assert os.getpid() in pids
        assert pids - {os.getpid()} <= set(local.worker_pids())
    assert [r["status"] for r in results(tmp_path / "out")] == list(DEMO_STATUS)


def test_single_shard_runs_in_the_driver_without_a_pool(
    tmp_path: Path, demo_urls: list[str], settings: Settings
) -> None:
    """A run of one shard is screened by the driver itself: no worker pool is started for it."""
    src = write_csv(tmp_path / "in.csv", ["url"], [[u] for u in demo_urls])
    with LocalExecutor(workers=2) as local:
        run_audit(src, tmp_path / "out", local, settings, shard_size=100)
        assert local._pool is None
    marker = json.loads((tmp_path / "out" / "results" / "shard-000000.done.json").read_text())
    assert marker["pid"] == os.getpid()
    assert [r["status"] for r in results(tmp_path / "out")] == list(DEMO_STATUS)


def test_screen_batch_rows_and_columns(demo_urls: list[str], settings: Settings) -> None:
    """screen_batch answers a list of dicts with a list of rows and a columnar batch with columns."""
    rows = screen_batch([{"url": u, "caption": "c"} for u in demo_urls[:3]], settings=settings)
    assert [r["decision"] for r in rows] == ["exclude", "exclude", "exclude"]
    assert rows[0]["carried"] == '{"caption": "c"}'
    cols = screen_batch({"url": demo_urls[3:6]}, settings=settings)
    assert cols["decision"] == ["keep", "keep", "keep"]
    assert cols["item"] == demo_urls[3:6]


@pytest.mark.ray
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Ray Data's own deprecations, not ours
def test_screen_batch_inside_ray_data(ray_cluster: Any, demo_urls: list[str], settings: Settings) -> None:
    """The same function runs inside a user's Ray Data pipeline (map_batches)."""
    ds = ray_cluster.data.from_items([{"url": u} for u in demo_urls])

    def screen(batch: dict[str, Any]) -> dict[str, Any]:
        return screen_batch(batch, settings=settings)

    out = ds.map_batches(screen, batch_size=4).take_all()
    assert sorted(r["status"] for r in out) == sorted(DEMO_STATUS)


def test_missing_ray_names_the_install_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without Ray the Ray executor refuses loudly, naming the pip line (never a silent local run)."""
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(MissingDependency, match=r"pip install 'rightful\[ray\]'"), RayExecutor():
        pass


@pytest.mark.ray
def test_cli_attaches_to_a_cluster_and_leaves_it_running(
    ray_cluster: Any, tmp_path: Path, demo_urls: list[str], settings: Settings
) -> None:
    """`rightful audit --executor ray --address A` uses the running cluster and does not stop it."""
    address = ray_cluster.get_runtime_context().gcs_address
    src = write_csv(tmp_path / "in.csv", ["url"], [[u] for u in demo_urls])
    env = dict(os.environ, RIGHTFUL_HOME=str(settings.home))
    command = [sys.executable, "-m", "rightful", "audit", str(src), "--out", str(tmp_path / "out"), "--executor",
               "ray", "--address", address, "--allow-private", "--shard-size", "3", "--no-progress"]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert [r["status"] for r in results(tmp_path / "out")] == list(DEMO_STATUS)
    assert ray_cluster.is_initialized()
    assert ray_cluster.get(ray_cluster.put(41)) + 1 == 42  # the cluster still answers


def test_workers_preload_the_registry_only_where_one_exists(tmp_home: Path) -> None:
    """Without a registry a worker never imports FAISS/SQLAlchemy; once one is created, workers preload it."""
    from rightful.audit.executors import _preload
    from rightful.registry import Registry

    settings = Settings.load()
    assert "rightful.registry.findings" not in _preload(settings)
    with Registry.open(settings):
        pass
    assert "rightful.registry.findings" in _preload(settings)


# --- how local workers start -----------------------------------------------------------------------------


def test_unknown_start_method_is_refused() -> None:
    with pytest.raises(ExecutorError, match="unknown start method 'spawn'"):
        LocalExecutor(start_method="spawn")


_PROBE = """
import sys, threading
from rightful.audit.executors import fork_is_safe
answers = [fork_is_safe(), fork_is_safe(("rightful.registry.findings",))]
sys.modules["faiss"] = object()
answers.append(fork_is_safe())
del sys.modules["faiss"]
stop = threading.Event()
thread = threading.Thread(target=stop.wait)
thread.start()
answers.append(fork_is_safe())
stop.set()
thread.join()
answers.append(fork_is_safe())
print(answers)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="workers are forked from the driver on Linux only")
def test_fork_only_where_it_is_safe() -> None:
    """A fresh single-threaded process may fork; not with the registry (FAISS) to load, FAISS loaded, or a
    second thread running; again once that thread has ended."""
    done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[True, False, False, False, True]"


@pytest.mark.skipif(sys.platform != "linux", reason="workers are forked from the driver on Linux only")
@pytest.mark.parametrize(("thread", "method"), [(False, "fork"), (True, "forkserver")])
def test_auto_start_method(tmp_path: Path, settings: Settings, thread: bool, method: str) -> None:
    """A single-threaded driver forks its workers; one with another thread running uses the fork server. Both
    screen the same way."""
    expected = image_files(tmp_path / "data")
    command = driver_command(tmp_path, tmp_path / "data", tmp_path / "out", start_method="auto", shard_size=1,
                             thread=thread)  # fmt: skip
    env = dict(os.environ, RIGHTFUL_HOME=str(settings.home))
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"method": method}
    assert {r["item"]: r["status"] for r in results(tmp_path / "out")} == expected


def _in_a_fork(check: Any) -> int:
    """Fork, run ``check()`` in the child (exit 0 when it returns True), and return the child's exit code."""
    with warnings.catch_warnings():  # Python 3.12+ warns about forking with the publisher's threads running
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os._exit(0 if check() else 1)
        except BaseException:
            os._exit(2)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def test_a_forked_worker_builds_its_own_engine(tmp_path: Path, settings: Settings) -> None:
    """The driver's checker (event loop, sockets, cache connection) is set aside in a forked child, which
    screens with an engine of its own."""
    from rightful.audit import task

    image_files(tmp_path / "data")
    screen_batch([{"path": str(tmp_path / "data" / "b" / "allowed.jpg")}], settings=settings)
    parent = set(map(id, task._engines.values()))
    assert parent

    def child() -> bool:
        if task._engines or not parent <= set(map(id, task._inherited)):
            return False
        rows = screen_batch([{"path": str(tmp_path / "data" / "a" / "reserved-ai.jpg")}], settings=settings)
        return rows[0]["decision"] == "exclude" and not parent & set(map(id, task._engines.values()))

    assert _in_a_fork(child) == 0
    assert set(map(id, task._engines.values())) == parent  # the driver's own engine is untouched


def test_a_forked_worker_drops_the_open_registries() -> None:
    from rightful.registry import findings

    sentinel: Any = object()
    findings._OPEN["sqlite:///nowhere"] = sentinel
    try:
        assert _in_a_fork(lambda: not findings._OPEN and findings._inherited[-1] is sentinel) == 0
        assert findings._OPEN["sqlite:///nowhere"] is sentinel
    finally:
        findings._OPEN.pop("sqlite:///nowhere", None)


def test_the_folder_lock_ends_with_the_driver(tmp_path: Path) -> None:
    """A forked worker that outlives the audit does not keep its folder locked (an flock lives as long as any
    copy of its descriptor): the next audit of the folder can start."""
    from rightful.audit.pipeline import _locked
    from rightful.audit.shards import AuditPaths

    paths = AuditPaths(tmp_path / "out")
    ready_r, ready_w = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with _locked(paths):
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child lingers a while, as a busy worker would
                os.write(ready_w, b"!")  # fork() has returned here: the at-fork hooks have run
                time.sleep(30)
                os._exit(0)
            assert os.read(ready_r, 1) == b"!"
    os.close(ready_r)
    os.close(ready_w)
    try:
        with _locked(paths):  # raises "another audit is running" if the child still held the lock
            pass
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def test_the_progress_bar_starts_no_thread() -> None:
    """The CLI's progress bar is redrawn by the audit's progress calls, so the driver stays single-threaded and
    can fork its workers."""
    from rightful.cli.audit import _progress_bar

    before = threading.active_count()
    with _progress_bar(True) as update:
        assert update is not None
        update(AuditProgress(items=5, total_items=10, shards_done=1, shards_total=2, shards_skipped=0,
                             shards_failed=0, elapsed=1.0))  # fmt: skip
        assert threading.active_count() == before


@pytest.mark.skipif(sys.platform != "linux", reason="workers are forked from the driver on Linux only")
def test_the_cli_can_fork_its_workers() -> None:
    """Loading the CLI loads nothing that rules out forking (the registry's FAISS is imported by the registry
    commands themselves), so `rightful audit` gets the fast pool."""
    probe = "import sys, rightful.cli; from rightful.audit.executors import fork_is_safe; print(fork_is_safe())"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "True"
