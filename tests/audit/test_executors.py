"""One contract suite, run against each executor (a local process pool, a real local Ray cluster)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
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
from rightful.errors import MissingDependency, ShardFailed
from rightful.testing.publisher import Resource, Site
from tests.audit.audit_helpers import DEMO_STATUS, image_files, results, run_audit, write_csv

_PAGE = Resource(body=b"<!doctype html><title>x</title>", content_type="text/html")


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Any]:
    """One local Ray cluster for the module (two CPUs), started by the test and stopped at the end."""
    ray = pytest.importorskip("ray")
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


@pytest.fixture(params=["local", "ray"], scope="module")
def executor(request: pytest.FixtureRequest) -> Iterator[Executor]:
    if request.param == "local":
        with LocalExecutor(workers=2) as local:
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
    local = LocalExecutor(workers=1)
    start = local._new_pool

    def slow_start() -> Any:
        release.wait(60)
        return start()

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
