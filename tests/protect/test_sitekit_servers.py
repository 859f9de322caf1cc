"""The kit's server snippets in the real servers: nginx and Caddy serve a kit that ``check_url`` reads in full,
and Apache accepts its snippet (skipped, with the reason, where a server is not installed)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from rightful.models import Decision, Purpose
from rightful.protect.sitekit import build_site_kit, write_site_kit
from rightful.protect.terms import Reservation
from rightful.signals.check import check_url

PROTOCOLS = {"robots.txt", "robots-ai-training", "aipref", "content-signal", "ai.txt", "x-robots-tag", "robots-meta",
             "tdmrep", "tdmrep-policy"}  # fmt: skip


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _kit_site(root: Path, port: int) -> None:
    reservation = Reservation.parse(["all"], contacts=["Ada Lovelace <ada@example.org>"])
    kit = build_site_kit(reservation, policy_url=f"http://127.0.0.1:{port}/.well-known/tdm-policy.json")
    write_site_kit(kit, root)
    head = "\n".join(kit.meta_tags)
    (root / "index.html").write_text(f"<!doctype html><html><head><title>Art</title>\n{head}\n</head><body>Art</body>"
                                     "</html>\n")  # fmt: skip


@contextmanager
def _running(args: list[str], port: int, *, env: dict[str, str] | None = None) -> Iterator[None]:
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                output = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
                pytest.fail(f"{args[0]} exited with {proc.returncode}: {output[-2000:]}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"{args[0]} did not start listening on port {port}")
            time.sleep(0.05)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def _assert_fully_reserved(url: str) -> None:
    result = check_url(url, allow_private=True, cache=False)
    for purpose in (Purpose.DATA_MINING, Purpose.AI_TRAINING, Purpose.GENAI_TRAINING, Purpose.AI_INFERENCE):
        assert result.decision(purpose) is Decision.RESERVED, purpose
    assert {s.protocol for s in result.signals} >= PROTOCOLS
    assert {s.details.get("place") for s in result.signals if s.protocol == "tdmrep"} == {
        "tdmrep.json", "header", "html-meta"}  # fmt: skip
    assert not result.errors, result.errors


def test_nginx_serves_the_kit_with_its_snippet(tmp_path: Path) -> None:
    """nginx with the kit's nginx.conf included serves a site on which every statement is found."""
    nginx = shutil.which("nginx")
    if nginx is None:
        pytest.skip("nginx is not installed (apt-get install nginx-light): snippet not served")
    port, root = _free_port(), tmp_path / "site"
    _kit_site(root, port)
    run = tmp_path / "nginx"
    run.mkdir()
    temp_paths = "".join(f"{name}_temp_path {run}/{name};\n" for name in ("client_body", "proxy", "fastcgi",
                                                                          "uwsgi", "scgi"))  # fmt: skip
    conf = run / "nginx.conf"
    conf.write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"daemon off;\nworker_processes 1;\npid {run}/nginx.pid;\nerror_log {run}/error.log;\nevents {{}}\n"
        "http {\n  types { text/html html; application/json json; text/plain txt; image/png png; }\n"
        f"  access_log off;\n  {temp_paths}"
        f"  server {{\n    listen 127.0.0.1:{port};\n    root {root};\n    index index.html;\n"
        f"    include {root}/server/nginx.conf;\n  }}\n}}\n"
    )
    with _running([nginx, "-p", str(run), "-c", str(conf), "-e", str(run / "error.log")], port):
        _assert_fully_reserved(f"http://127.0.0.1:{port}/")


def test_caddy_serves_the_kit_with_its_snippet(tmp_path: Path) -> None:
    """Caddy importing the kit's Caddyfile serves a site on which every statement is found."""
    caddy = shutil.which("caddy")
    if caddy is None:
        pytest.skip("caddy is not installed (apt-get install caddy): snippet not served")
    port, root = _free_port(), tmp_path / "site"
    _kit_site(root, port)
    config = tmp_path / "Caddyfile"
    config.write_text(
        "{\n  admin off\n  auto_https off\n}\n"
        f"http://127.0.0.1:{port} {{\n  root * {root}\n  import {root}/server/Caddyfile\n  file_server\n}}\n"
    )
    env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data"),
           "XDG_CONFIG_HOME": str(tmp_path / "config")}  # fmt: skip
    with _running([caddy, "run", "--config", str(config), "--adapter", "caddyfile"], port, env=env):
        _assert_fully_reserved(f"http://127.0.0.1:{port}/")


def test_apache_accepts_the_kit_snippet(tmp_path: Path) -> None:
    """Apache httpd's configuration test passes with the kit's apache.conf included (mod_headers loaded)."""
    apache = shutil.which("apache2") or shutil.which("httpd")
    modules = Path("/usr/lib/apache2/modules")
    if apache is None or not modules.is_dir():
        pytest.skip("Apache httpd (Debian apache2) is not installed: snippet not checked")
    root = tmp_path / "site"
    _kit_site(root, 8080)
    conf = tmp_path / "httpd.conf"
    loads = "".join(f"LoadModule {name}_module {modules}/mod_{name}.so\n"
                    for name in ("mpm_event", "headers", "authz_core", "dir", "mime"))  # fmt: skip
    conf.write_text(
        f"{loads}ServerName localhost\nListen 127.0.0.1:{_free_port()}\nPidFile {tmp_path}/httpd.pid\n"
        f"ErrorLog {tmp_path}/error.log\nDocumentRoot {root}\nInclude {root}/server/apache.conf\n"
    )
    done = subprocess.run([apache, "-t", "-f", str(conf)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "Syntax OK" in done.stderr + done.stdout
