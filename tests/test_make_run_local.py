"""`make run` on the project-local cluster: a second run reuses the cluster and the data,
`make stop` stops it; and the container start script honours ``TUZHENG_LOAD_DEMO``."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from data.demo import generate
from spatial import localdb
from spatial.settings import DatabaseSettings

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A command that serves the app on ``port`` (in its own process group), with its log."""

    def __init__(self, cmd: list[str], env: dict[str, str], port: int, log: Path) -> None:
        self.log = log
        self.base = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log.open("w"),
                                     stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip

    def health(self, timeout_s: float = 300) -> dict:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            try:
                r = httpx.get(f"{self.base}/health", timeout=5)
                if r.status_code == 200:
                    return r.json()
            except httpx.TransportError:
                pass
            time.sleep(0.5)  # polling for the condition, not a timed assertion
        raise AssertionError("no /health: " + self.log.read_text()[-3000:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def _datasets(settings: DatabaseSettings) -> list[tuple]:
    with psycopg.connect(settings.url().replace("+psycopg", "")) as conn:
        rows = conn.execute("SELECT id, layer::text, status::text, row_count FROM datasets "
                            "ORDER BY id").fetchall()  # fmt: skip
        loads = conn.execute("SELECT count(*) FROM audit_log WHERE action = 'demo.load'").fetchone()
    return [*map(tuple, rows), ("demo.load audited", loads[0])]


@pytest.fixture
def cluster_dir() -> Iterator[Path]:
    """A directory for a throwaway cluster, outside pytest's temporary root.

    pytest makes ``/tmp/pytest-of-<user>`` private (0700) again whenever a session starts,
    and other sessions run on this machine: the ``postgres`` user would lose its way in.
    """
    path = Path(tempfile.mkdtemp(prefix="tz-makerun-", dir="/tmp"))
    path.chmod(0o711)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_make_run_twice_reuses_the_cluster_then_make_stop(tmp_path, cluster_dir, monkeypatch):
    port, api = _free_port(), _free_port()
    data = cluster_dir / "pgdata"
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("TUZHENG_PG_PORT", str(port))
    monkeypatch.setenv("TUZHENG_PG_DATA", str(data))
    settings = DatabaseSettings()
    assert settings.is_local and settings.port == port and settings.data == data
    env = {**os.environ, "TUZHENG_API_PORT": str(api)}
    make = ["make", "--no-print-directory"]
    n_parcels = len(generate().parcels)
    try:
        first = Server([*make, "run"], env, api, tmp_path / "run1.log")
        try:
            body = first.health()
        finally:
            first.stop()
        assert body["counts"]["parcels"] == n_parcels  # the demo, loaded on first start
        assert "initialised and started" in first.log.read_text()
        assert localdb.is_running(settings)  # stopping the server leaves the cluster up
        before = _datasets(settings)
        assert before[-1] == ("demo.load audited", 1) and len(before) == 6

        second = Server([*make, "run"], env, api, tmp_path / "run2.log")
        try:
            body = second.health()
        finally:
            second.stop()
        log = second.log.read_text()
        assert f"local PostGIS already running on 127.0.0.1:{port}" in log
        assert "示例数据未加载" in log  # not loaded again: the store is not empty
        assert body["counts"]["parcels"] == n_parcels
        assert _datasets(settings) == before  # the same datasets, the demo loaded once

        stop = subprocess.run([*make, "stop"], cwd=REPO, env=env, capture_output=True,
                              text=True, timeout=120)  # fmt: skip
        assert stop.returncode == 0, stop.stdout + stop.stderr
        assert not localdb.is_running(settings)
        assert not (data / "postmaster.pid").exists()
        assert (data / "PG_VERSION").exists()  # stopped, not removed: the data stays
    finally:
        if (data / "postmaster.pid").exists():
            localdb.stop(settings)


@pytest.mark.parametrize("load", ["0", "1"])
def test_container_start_script_honours_load_demo(pg_settings, tmp_path, load):
    name = f"tz_start_{uuid.uuid4().hex[:8]}"
    localdb.ensure_database(name, pg_settings)
    url = pg_settings.for_database(name).url()
    api = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "TUZHENG_LOAD_DEMO": load,
        "TUZHENG_API_HOST": "127.0.0.1",
        "TUZHENG_API_PORT": str(api),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    server = Server(["sh", "docker/start.sh"], env, api, tmp_path / "start.log")
    try:
        body = server.health()
    finally:
        server.stop()
        from spatial.db import dispose_engines

        dispose_engines()
        localdb.drop_database(name, pg_settings)
    assert body["status"] == "ok"
    expected = 0 if load == "0" else len(generate().parcels)
    assert body["counts"]["parcels"] == expected
