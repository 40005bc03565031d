"""End to end: `make run` on an empty database migrates, loads the demo and serves the app."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from data.demo import generate
from spatial import localdb

REPO = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.e2e
def test_make_run_serves_landing_map_and_health(pg_settings, tmp_path):
    name = f"tz_run_{uuid.uuid4().hex[:8]}"
    localdb.ensure_database(name, pg_settings)  # empty: PostGIS only, no tables
    url = pg_settings.for_database(name).url()
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": url, "TUZHENG_API_PORT": str(port)}
    log = (tmp_path / "make-run.log").open("w")
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        health = None
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "make-run.log").read_text()[-3000:]
            try:
                health = httpx.get(f"{base}/health", timeout=5)
                if health.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(1)
        assert health is not None and health.status_code == 200
        body = health.json()
        assert body["status"] == "ok"
        # the demo district was loaded on first start: exactly the generator's layers
        demo = generate()
        assert body["counts"]["parcels"] == len(demo.parcels)
        assert body["counts"]["projects"] == len(demo.projects)

        landing = httpx.get(f"{base}/", headers={"Accept": "text/html"}, timeout=30)
        assert landing.status_code == 200
        assert "土整" in landing.text and "/map" in landing.text

        page = httpx.get(f"{base}/map", timeout=60)
        assert page.status_code == 200
        assert "/vendor/leaflet/leaflet.js" in page.text
        assert "cdn.jsdelivr" not in page.text and "unpkg.com" not in page.text
        js = httpx.get(f"{base}/vendor/leaflet/leaflet.js", timeout=30)
        assert js.status_code == 200 and "Leaflet" in js.text[:400]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
        from spatial.db import dispose_engines

        dispose_engines()
        localdb.drop_database(name, pg_settings)


def test_health_reports_counts(demo_client):
    r = demo_client.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["postgis_version"].startswith("3.")
    demo = generate()
    assert body["counts"]["parcels"] == len(demo.parcels)
    assert body["counts"]["projects"] == len(demo.projects)
