"""Registry fixtures: a store per backend (SQLite file, throwaway PostgreSQL cluster) and an open registry.

The PostgreSQL cluster is started here, on loopback, from the Debian ``postgresql`` package's binaries
(``initdb`` + ``pg_ctl`` under /usr/lib/postgresql/*/bin; as the ``postgres`` user when run as root).
``RIGHTFUL_TEST_DATABASE_URL`` points the suite at an existing server instead. Without either, the
PostgreSQL half of the contract suite is skipped with the reason.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from rightful.config import Settings
from rightful.registry import Registry, SqlRegistryStore
from rightful.registry.findings import close_cached
from rightful.registry.store import engine_url

_counter = itertools.count()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    if shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: cannot start PostgreSQL as an unprivileged user")
    return ["runuser", "-u", "postgres", "--", *cmd]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A server URL without a database name: an external one, or a throwaway cluster on a free loopback port."""
    external = os.environ.get("RIGHTFUL_TEST_DATABASE_URL")
    if external:
        yield external.rsplit("/", 1)[0]
        return
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not bins:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql): the store suite ran on SQLite only")
    bindir = Path(bins[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="rightful-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
    port = _free_port()
    run = {"check": True, "capture_output": True, "timeout": 120}
    subprocess.run(_as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "rightful", "--auth=trust",
                                 "--no-sync", "-E", "UTF8"]), **run)  # type: ignore[call-overload]  # fmt: skip
    opts = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
    subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "log"),
                                 "-w", "start"]), **run)  # type: ignore[call-overload]  # fmt: skip
    try:
        yield f"postgresql://rightful@127.0.0.1:{port}"
    finally:
        subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True, timeout=60, check=False)  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database on the test server (dropped afterwards)."""
    name = f"rightful_test_{os.getpid()}_{next(_counter)}"
    admin = create_engine(engine_url(f"{postgres_server}/postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{postgres_server}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL for each backend the contract suite runs on."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(store_url: str) -> Iterator[SqlRegistryStore]:
    s = SqlRegistryStore(store_url, busy_timeout=2.0)
    yield s
    s.close()


@pytest.fixture
def settings(tmp_home: Path) -> Settings:
    return Settings.load()


@pytest.fixture
def registry(settings: Settings) -> Iterator[Registry]:
    """An empty registry in the test's private RIGHTFUL_HOME."""
    reg = Registry.open(settings)
    yield reg
    reg.close()
    close_cached()


@pytest.fixture
def open_registry(settings: Settings) -> Iterator[Callable[..., Registry]]:
    """Factory: more registries on the same home (another 'process' view of one database)."""
    opened: list[Registry] = []

    def make(**kwargs: object) -> Registry:
        reg = Registry.open(settings, **kwargs)  # type: ignore[arg-type]
        opened.append(reg)
        return reg

    yield make
    for reg in opened:
        reg.close()
