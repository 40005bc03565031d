"""Vector tile benchmark (not a test): tuzheng uncached and cached, tipg, raw ST_AsMVT.

Loads the demo district of all Shenzhen (adcode 440300) with 100,000 parcels into a fresh
database, picks the 100 z14 tiles holding the most parcels, and drives the same tiles for at
least 15 s each:

1. tuzheng ``/tiles/parcels/{z}/{x}/{y}.pbf`` with the tile cache off (every tile rendered);
2. tuzheng with the cache on (warmed once over the 100 tiles);
3. tipg (``/collections/public.parcels/tiles/WebMercatorQuad/{z}/{x}/{y}`` on the same table,
   reading the same indexed ``geom_3857`` column, three attributes);
4. raw PostGIS with ``pgbench``, running tuzheng's own tile statement (the ceiling for
   uncached tiles on this machine).

HTTP load comes from ``wrk`` (apt) at 16 connections; tipg runs from its own virtualenv
(default ``/tmp/tipg-venv``: ``python3 -m venv /tmp/tipg-venv && /tmp/tipg-venv/bin/pip
install tipg uvicorn``). Results are printed and written to ``artifacts/bench-tiles.json``.

Usage::

    .venv/bin/python bench/tiles.py [--parcels 100000] [--duration 15] [--workers 1]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import psycopg
from pyproj import Transformer

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from data.demo import generate, load_into_db  # noqa: E402
from spatial import localdb, migrate  # noqa: E402
from spatial.db import get_engine  # noqa: E402
from spatial.layers.registry import build_registry  # noqa: E402
from spatial.layers.tiles import TileAddress, tile_parameters, tile_statement  # noqa: E402
from spatial.settings import DatabaseSettings  # noqa: E402

DB_NAME = "tz_bench_tiles"
Z = 14
CONNECTIONS = 16


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare_database(n_parcels: int, rebuild: bool) -> DatabaseSettings:
    base = DatabaseSettings()
    if base.is_local:
        localdb.start(base)
    settings = base.for_database(DB_NAME)
    engine = None
    if not rebuild:
        try:
            engine = get_engine(settings.url())
            with engine.connect() as conn:
                n = conn.exec_driver_sql("SELECT count(*) FROM current_parcels").scalar()
            if n == n_parcels:
                print(f"reusing {DB_NAME} with {n} parcels")
                return settings
        except Exception:  # noqa: BLE001 - missing database: build it
            pass
    localdb.drop_database(DB_NAME, base)
    localdb.ensure_database(DB_NAME, base)
    migrate.upgrade(settings.url())
    t0 = time.monotonic()
    district = generate(n_parcels=n_parcels, adcode="440300")
    load_into_db(district, get_engine(settings.url()))
    with psycopg.connect(settings.url().replace("+psycopg", "")) as conn:
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    print(f"loaded {n_parcels} parcels in {time.monotonic() - t0:.0f} s")
    return settings


def busiest_tiles(settings: DatabaseSettings, n: int = 100) -> list[TileAddress]:
    """The ``n`` z14 tiles containing the most parcel centroids (deterministic)."""
    with psycopg.connect(settings.url().replace("+psycopg", "")) as conn:
        rows = conn.execute(
            "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_PointOnSurface(geom) AS c "
            "FROM current_parcels) x"
        ).fetchall()
    xy = np.array(rows)
    lon, lat = Transformer.from_crs(4547, 4326, always_xy=True).transform(xy[:, 0], xy[:, 1])
    scale = 2**Z
    tx = np.floor((np.asarray(lon) + 180) / 360 * scale).astype(int)
    lat_r = np.radians(lat)
    ty = np.floor((1 - np.arcsinh(np.tan(lat_r)) / math.pi) / 2 * scale).astype(int)
    keys, counts = np.unique(np.stack([tx, ty], axis=1), axis=0, return_counts=True)
    order = np.lexsort((keys[:, 1], keys[:, 0], -counts))[:n]
    tiles = [TileAddress(Z, int(keys[i, 0]), int(keys[i, 1])) for i in order]
    print(
        f"{len(tiles)} z{Z} tiles, parcels per tile (centroids): "
        f"max {counts[order].max()}, median {int(np.median(counts[order]))}, "
        f"min {counts[order].min()}"
    )
    return tiles


@contextmanager
def server(cmd: list[str], env: dict[str, str], health: str):  # noqa: ANN201
    proc = subprocess.Popen(
        cmd, env={**os.environ, **env}, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        for _ in range(600):
            if proc.poll() is not None:
                raise RuntimeError(f"{cmd[0]} exited: {proc.stderr.read().decode()[-2000:]}")
            try:
                if httpx.get(health, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError(f"{cmd} did not start")
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _ms(value: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", value)
    if not m:
        raise ValueError(value)
    return float(m[1]) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m[2]]


def run_wrk(base: str, paths: list[str], duration: int, label: str) -> dict[str, float]:
    """wrk at 16 connections cycling over ``paths``; req/s, p50, p99 (ms), non-2xx."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write("paths = {" + ",".join(json.dumps(p) for p in paths) + "}\n")
        f.write(
            "counter = 0\nrequest = function()\n  counter = counter + 1\n"
            '  return wrk.format("GET", paths[(counter % #paths) + 1])\nend\n'
        )
        script = f.name
    for p in paths:  # warm-up pass (fills caches where there are any)
        httpx.get(base + p, timeout=60)
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{CONNECTIONS}",
            f"-d{duration}s",
            "--timeout",
            "30s",
            "--latency",
            "-s",
            script,
            base,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(script)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out)[1])
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out)[1])
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: .*", out)
    result = {"req_s": rps, "p50_ms": p50, "p99_ms": p99, "non_2xx": int(bad[1]) if bad else 0}
    print(
        f"{label:28s} {rps:9.1f} req/s  p50 {p50:8.2f} ms  p99 {p99:8.2f} ms"
        + (f"  non-2xx {result['non_2xx']}" if bad else "")
        + (f"  {errors[0]}" if errors else "")
    )
    return result


def run_pgbench(settings: DatabaseSettings, tiles: list[TileAddress], duration: int) -> dict:
    """pgbench with tuzheng's tile statement for the same tiles (one script per tile)."""
    col = build_registry().get("parcels")
    conninfo = settings.url().replace("+psycopg", "")
    with tempfile.TemporaryDirectory() as tmp, psycopg.connect(conninfo) as conn:
        cur = psycopg.ClientCursor(conn)
        files = []
        for i, t in enumerate(tiles):
            path = Path(tmp) / f"tile{i}.sql"
            sql_text = cur.mogrify(tile_statement(col), tile_parameters(t))
            path.write_text(" ".join(sql_text.split()) + ";\n")
            files += ["-f", str(path)]
        log_prefix = Path(tmp) / "pgb"
        cmd = [
            localdb.pg_bin("pgbench"),
            "-n",
            "-c",
            str(CONNECTIONS),
            "-j",
            "2",
            "-T",
            str(duration),
            "-M",
            "prepared",
            "-l",
            f"--log-prefix={log_prefix}",
            *files,
            conninfo,
        ]
        # The same session settings as tuzheng's tile pool (JIT off).
        env = {**os.environ, "PGOPTIONS": "-c jit=off"}
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout
        lat = []
        for log in Path(tmp).glob("pgb*"):
            for line in log.read_text().splitlines():
                lat.append(int(line.split()[2]) / 1000.0)
    tps = float(re.search(r"tps = ([\d.]+)", out)[1])
    lat.sort()
    p50 = statistics.median(lat)
    p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))]
    print(f"{'raw ST_AsMVT (pgbench)':28s} {tps:9.1f} tps    p50 {p50:8.2f} ms  p99 {p99:8.2f} ms")
    return {"req_s": tps, "p50_ms": p50, "p99_ms": p99}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--parcels", type=int, default=100_000)
    ap.add_argument("--duration", type=int, default=15)
    ap.add_argument("--workers", type=int, default=1, help="uvicorn workers for each server")
    ap.add_argument("--tipg-venv", default="/tmp/tipg-venv")
    ap.add_argument("--rebuild", action="store_true", help="reload the benchmark database")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")

    settings = prepare_database(args.parcels, args.rebuild)
    tiles = busiest_tiles(settings)
    db_url = settings.url()
    results: dict[str, dict] = {}
    uvicorn = [sys.executable, "-m", "uvicorn", "--no-access-log", "--log-level", "warning"]
    tz_paths = [f"/tiles/parcels/{t.z}/{t.x}/{t.y}.pbf" for t in tiles]

    for label, cache_bytes in [("tuzheng uncached", "0"), ("tuzheng cached", str(1 << 30))]:
        port = free_port()
        env = {"DATABASE_URL": db_url, "TUZHENG_API_TILE_CACHE_BYTES": cache_bytes}
        cmd = [
            *uvicorn,
            "--factory",
            "api.app:app_factory",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
        ]
        with server(cmd, env, f"http://127.0.0.1:{port}/health"):
            results[label] = run_wrk(f"http://127.0.0.1:{port}", tz_paths, args.duration, label)

    tipg_python = Path(args.tipg_venv) / "bin" / "python"
    if tipg_python.exists():
        port = free_port()
        env = {
            "DATABASE_URL": db_url.replace("postgresql+psycopg://", "postgresql://"),
            "TIPG_DB_TABLES": '["public.parcels"]',
            "TIPG_DB_SPATIAL_EXTENT": "false",
            "TIPG_DB_DATETIME_EXTENT": "false",
        }
        cmd = [
            str(tipg_python),
            "-m",
            "uvicorn",
            "tipg.main:app",
            "--no-access-log",
            "--log-level",
            "warning",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
        ]
        paths = [
            f"/collections/public.parcels/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}"
            "?geom-column=geom_3857&properties=code,category,project_code"
            for t in tiles
        ]
        with server(cmd, env, f"http://127.0.0.1:{port}/collections"):
            results["tipg"] = run_wrk(f"http://127.0.0.1:{port}", paths, args.duration, "tipg")
    else:
        print(f"tipg not found in {args.tipg_venv}; skipped")

    results["pgbench"] = run_pgbench(settings, tiles, args.duration)

    ratios: dict[str, float] = {}
    unc, cached, raw = results["tuzheng uncached"], results["tuzheng cached"], results["pgbench"]
    ratios["uncached / raw pgbench (target >= 0.8)"] = unc["req_s"] / raw["req_s"]
    if "tipg" in results:
        tipg = results["tipg"]
        ratios["uncached / tipg req/s (target >= 1.2)"] = unc["req_s"] / tipg["req_s"]
        ratios["uncached p99 / tipg p99 (target < 1)"] = unc["p99_ms"] / tipg["p99_ms"]
        ratios["cached / tipg req/s (target >= 20)"] = cached["req_s"] / tipg["req_s"]
    print()
    for k, v in ratios.items():
        print(f"{k:45s} {v:7.2f}")
    print(f"{'cached p99 ms (target < 20)':45s} {cached['p99_ms']:7.2f}")
    out = REPO / "artifacts" / "bench-tiles.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "parcels": args.parcels,
                "tiles": [[t.z, t.x, t.y] for t in tiles],
                "duration_s": args.duration,
                "connections": CONNECTIONS,
                "workers": args.workers,
                "cpus": os.cpu_count(),
                "results": results,
                "ratios": ratios,
            },
            indent=2,
        )
    )
    print(f"written {out}")


if __name__ == "__main__":
    main()
