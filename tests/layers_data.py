"""A tiny, exact district for the map-layer tests (EPSG:4547, areas known to the m²).

Layout (eastings from X0, northings from Y0, metres):

- project P1 光明科学城启动区: square 0..1000 × 0..1000; P2 轨道6号线: 2000..3000 × 0..1000;
- parcels: a 10 × 10 grid of 100 m squares in P1 (10,000 m² each), categories cycling through
  the four codes, owners in Chinese; 5 parcels in P2;
- retained land R1 (M1) 0..300 × 0..100 in P1, R2 (R2) 2000..2100 × 0..100 in P2;
- state reserve S1 260..400 × 0..100 (occupies 40 × 100 = 4,000 m² of R1 → city route),
  S2 2080..2200 × 0..100 (occupies 20 × 100 = 2,000 m² of R2 → district);
- statutory zones Z1 class M0 covering 0..200 × 0..1000 (R1 is M1: conflict on 20,000 m²),
  Z2 class R2 covering 2000..3000 × 0..1000; R1's part 200..300 (10,000 m²) is uncovered.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import httpx
import pytest
import shapely
from sqlalchemy import Engine

from spatial.datasets import copy_rows, new_dataset, publish
from spatial.models import Layer
from spatial.settings import REPO_ROOT

X0, Y0 = 500_000.0, 2_510_000.0
CATEGORIES = ["collective", "state_farm", "incomplete_acquisition", "state_owned"]


def box(x1: float, y1: float, x2: float, y2: float) -> shapely.MultiPolygon:
    return shapely.MultiPolygon([shapely.box(X0 + x1, Y0 + y1, X0 + x2, Y0 + y2)])


def frame(rows: list[dict]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=4547)


def parcel_rows() -> list[dict]:
    rows = []
    for i in range(10):
        for j in range(10):
            n = i * 10 + j
            rows.append(
                {
                    "code": f"P1-{n:03d}",
                    "category": CATEGORIES[n % 4],
                    "project_code": "P1",
                    "owner": "凤凰社区股份合作公司" if n % 2 else "玉塘街道",
                    "geometry": box(j * 100, i * 100, j * 100 + 100, i * 100 + 100),
                }
            )
    for k in range(5):
        rows.append(
            {
                "code": f"P2-{k:03d}",
                "category": "state_owned",
                "project_code": "P2",
                "owner": "深圳市土地储备中心",
                "geometry": box(2000 + k * 200, 0, 2000 + k * 200 + 200, 200),
            }
        )
    return rows


LAYERS: dict[Layer, list[dict]] = {
    Layer.projects: [
        {
            "code": "P1",
            "name": "光明科学城启动区",
            "district": "光明区",
            "stage": "签约",
            "geometry": box(0, 0, 1000, 1000),
        },
        {
            "code": "P2",
            "name": "轨道6号线",
            "district": "光明区",
            "stage": "权属核查",
            "geometry": box(2000, 0, 3000, 1000),
        },
    ],
    Layer.retained_land: [
        {
            "code": "R1",
            "project_code": "P1",
            "name": "凤凰社区留用地",
            "land_use": "M1",
            "geometry": box(0, 0, 300, 100),
        },
        {
            "code": "R2",
            "project_code": "P2",
            "name": "玉塘留用地",
            "land_use": "R2",
            "geometry": box(2000, 0, 2100, 100),
        },
    ],
    Layer.state_reserve_land: [
        {"code": "S1", "name": "储备地一", "geometry": box(260, 0, 400, 100)},
        {"code": "S2", "name": "储备地二", "geometry": box(2080, 0, 2200, 100)},
    ],
    Layer.statutory_plans: [
        {
            "plan_code": "GM-01",
            "zone_code": "GM-01-01",
            "plan_name": "光明凤凰城法定图则",
            "land_use_class": "M0",
            "geometry": box(0, 0, 200, 1000),
        },
        {
            "plan_code": "GM-02",
            "zone_code": "GM-02-01",
            "plan_name": "光明玉塘法定图则",
            "land_use_class": "R2",
            "geometry": box(2000, 0, 3000, 1000),
        },
    ],
}


def load_layer(engine: Engine, layer: Layer, rows: list[dict], mode: str = "replace") -> int:
    """Stage and publish ``rows`` as a new dataset of ``layer``; returns the dataset id."""
    with engine.begin() as conn:
        ds = new_dataset(conn, layer, f"{layer.value}.test", "tester")
        copy_rows(conn, layer, ds, frame(rows))
        publish(conn, layer, ds, mode=mode)
    return ds


def load_small(engine: Engine) -> None:
    """Load every layer of the tiny district."""
    load_layer(engine, Layer.parcels, parcel_rows())
    for layer, rows in LAYERS.items():
        load_layer(engine, layer, rows)


@pytest.fixture(scope="module")
def small_db(pg_settings, template_db):  # noqa: ANN001, ANN201
    """A database with the tiny district, shared read-only by one test module."""
    from conftest import _drop, _make_db

    name = f"tz_small_{uuid.uuid4().hex[:10]}"
    test_db = _make_db(pg_settings, name, template=template_db.name)
    load_small(test_db.engine)
    yield test_db
    _drop(pg_settings, test_db)


@pytest.fixture(scope="module")
def small_client(small_db):  # noqa: ANN001, ANN201
    """A TestClient of the app on :func:`small_db`."""
    from conftest import make_client

    with make_client(small_db) as c:
        yield c


@contextmanager
def running_server(database_url: str, log_path: Path | None = None, **env: str) -> Iterator[str]:
    """Run the app with uvicorn on a free 127.0.0.1 port; yields its base URL.

    With ``log_path``, uvicorn's access log (one line per request, with its query string) is
    written there, so a test can check what a client really asked the server.
    """
    with server_process(database_url, log_path=log_path, **env) as (base, _proc):
        yield base


@contextmanager
def server_process(
    database_url: str, ready_path: str = "/health", log_path: Path | None = None, **env: str
) -> Iterator[tuple[str, subprocess.Popen]]:
    """Run the app with uvicorn on a free 127.0.0.1 port; yields its base URL and process."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc_env = {**os.environ, "DATABASE_URL": database_url, **env}
    if log_path is not None:
        proc_env["PYTHONUNBUFFERED"] = "1"
    log_file = open(log_path, "w") if log_path is not None else None  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "api.app:app_factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "info" if log_path else "warning",
        ],
        cwd=REPO_ROOT,
        env=proc_env,
        stdout=log_file,
        stderr=subprocess.STDOUT if log_file else None,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            if proc.poll() is not None:
                raise RuntimeError(f"uvicorn exited with {proc.returncode}")
            try:
                if httpx.get(f"{base}{ready_path}", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError("uvicorn did not start")
        yield base, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log_file is not None:
            log_file.close()
