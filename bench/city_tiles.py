"""Cold-tile sweep of the city demo (not a test): every layer, z11–z16 over the projects.

Serves the city-scale database of ``bench/analysis.py --keep`` (1,019,198 parcels, 205
projects, 20,000 sites) with uvicorn (cache on, warming off), and requests every tile of every
collection that covers a project's extent at zooms 11–16, each tile twice: first request
(cold: rendered) and second (cached). Then every tile of zooms 0–10 over the whole city, for
sizes. Prints per layer the cold p50/p99/max, the cached p99, the largest tile, and how many
tiles were empty and how many of those took over 20 ms; then the table of issue #16 with its
figures next to today's, and the load average before and after. Results go to
``artifacts/bench-city-tiles.json``.

Usage::

    .venv/bin/python bench/analysis.py --keep --no-baseline   # once: builds tz_bench_analysis
    .venv/bin/python bench/city_tiles.py [--projects 205] [--zooms 11 16]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from spatial import localdb  # noqa: E402
from spatial.layers.registry import build_registry  # noqa: E402
from spatial.layers.tiles import TileAddress  # noqa: E402
from spatial.layers.tilewarm import EXTENTS_SQL, tiles_of  # noqa: E402
from spatial.settings import DatabaseSettings  # noqa: E402

DB_NAME = "tz_bench_analysis"

ISSUE_TABLE = [
    # layer, zoom, old cold ms, old cached ms, old size (KB); from issue #16
    ("uncovered", 12, 1918, 2, 0.0),
    ("uncovered", 14, 2020, 2, 0.0),
    ("conflicts", 12, 1514, 1, 12.6),
    ("conflicts", 14, 1387, 1, 0.0),
    ("reserve_overlaps", 12, 533, 1, 4.0),
    ("reserve_overlaps", 14, 493, 1, 0.0),
    ("retained_land", 12, 546, 1, 47.0),
    ("parcels", 12, 316, 10, 1490.0),
    ("parcels", 14, 56, 2, 184.0),
]
OLD_WORST = {
    "projects": 2479,
    "uncovered": 1879,
    "conflicts": 1820,
    "retained_land": 911,
    "parcels": 801,
    "reserve_overlaps": 579,
}
"""The issue's worst cold tile per layer (ms), from a sweep of z11–z16 over three points."""


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


@contextmanager
def serve(database_url: str):  # noqa: ANN201
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "TUZHENG_API_TILE_WARM_TILES": "0",
        "TUZHENG_API_TILE_CACHE_BYTES": str(2 << 30),
        "PYTHONPATH": str(REPO),
    }
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "api.app:app_factory", "--port", str(port)]
    proc = subprocess.Popen([*cmd, "--log-level", "warning", "--no-access-log"], cwd=REPO, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def sweep(client: httpx.Client, cols: list[str], tiles: list[TileAddress]) -> dict[str, list]:
    """Each tile of each collection twice; per collection the (tile, status, bytes, cold ms,
    cached ms) records."""
    out: dict[str, list] = {c: [] for c in cols}
    for c in cols:
        for t in tiles:
            path = f"/tiles/{c}/{t.z}/{t.x}/{t.y}.pbf"
            t0 = time.perf_counter()
            r = client.get(path)
            cold = (time.perf_counter() - t0) * 1000
            t0 = time.perf_counter()
            again = client.get(path)
            cached = (time.perf_counter() - t0) * 1000
            assert r.status_code in (200, 204), (path, r.status_code)
            assert again.headers["x-tile-cache"] == "hit", path
            out[c].append(((t.z, t.x, t.y), r.status_code, len(r.content), cold, cached))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--projects", type=int, default=None, help="first N projects only")
    ap.add_argument("--zooms", type=int, nargs=2, default=(11, 16))
    args = ap.parse_args()
    settings = DatabaseSettings()
    if settings.is_local:
        localdb.start(settings)
    url = settings.for_database(DB_NAME).url()
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        extents = [tuple(r) for r in conn.execute(EXTENTS_SQL).fetchall()]
        city = conn.execute(
            "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM "
            "(SELECT ST_Extent(geom_3857)::box2d AS b FROM current_projects) x"
        ).fetchone()
    extents = extents[: args.projects] if args.projects else extents
    z0, z1 = args.zooms
    tiles: list[TileAddress] = []
    seen: set[TileAddress] = set()
    for z in range(z0, z1 + 1):
        for e in extents:
            for t in tiles_of(e, z):  # type: ignore[arg-type]
                if t not in seen:
                    seen.add(t)
                    tiles.append(t)
    low = [t for z in range(0, z0) for t in tiles_of(city, z)]  # type: ignore[arg-type]
    cols = build_registry().ids()
    print(f"{len(extents)} projects: {len(tiles)} tiles at z{z0}–z{z1}, {len(low)} at z0–z{z0 - 1}")
    print(f"{len(cols)} collections: {', '.join(cols)}")
    load_before = load()
    print(f"load average before: {load_before}")
    t_start = time.perf_counter()
    with serve(url) as base, httpx.Client(base_url=base, timeout=120) as client:
        client.headers["Accept-Encoding"] = "identity"  # sizes of the tiles themselves
        items = []
        for _ in range(2):
            t0 = time.perf_counter()
            r = client.get("/collections/uncovered/items", params={"limit": 10})
            items.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200
        main_sweep = sweep(client, cols, tiles)
        low_sweep = sweep(client, cols, low)
    took = time.perf_counter() - t_start
    load_after = load()

    print()
    head = (
        f"{'layer':<20}{'tiles':>6}{'empty':>6}{'>20ms':>6}{'cold p50':>10}{'p99':>8}"
        f"{'max':>8}{'cached p99':>11}{'largest':>10}{'z0-10 max':>10}"
    )
    print(head)
    summary: dict[str, dict] = {}
    for c in cols:
        recs = main_sweep[c]
        cold = [r[3] for r in recs]
        empty = [r for r in recs if r[1] == 204]
        slow_empty = [r for r in empty if r[3] > 20]
        largest = max(recs, key=lambda r: r[2])
        low_largest = max(low_sweep[c], key=lambda r: r[2])
        s = {
            "tiles": len(recs),
            "empty": len(empty),
            "empty_over_20ms": len(slow_empty),
            "empty_max_ms": max((r[3] for r in empty), default=0.0),
            "empty_p50_ms": pct([r[3] for r in empty], 0.5),
            "empty_p99_ms": pct([r[3] for r in empty], 0.99),
            "cold_p50_ms": statistics.median(cold),
            "cold_p99_ms": pct(cold, 0.99),
            "cold_max_ms": max(cold),
            "cold_max_tile": max(recs, key=lambda r: r[3])[0],
            "cached_p99_ms": pct([r[4] for r in recs], 0.99),
            "largest_kb": largest[2] / 1024,
            "largest_tile": largest[0],
            "low_zoom_largest_kb": low_largest[2] / 1024,
            "low_zoom_largest_tile": low_largest[0],
        }
        summary[c] = s
        print(
            f"{c:<20}{s['tiles']:>6}{s['empty']:>6}{s['empty_over_20ms']:>6}"
            f"{s['cold_p50_ms']:>8.1f}ms{s['cold_p99_ms']:>6.0f}ms{s['cold_max_ms']:>6.0f}ms"
            f"{s['cached_p99_ms']:>9.1f}ms{s['largest_kb']:>8.1f}KB{s['low_zoom_largest_kb']:>8.1f}KB"
        )

    print("\nissue #16 table: old (issue) → new (this sweep: worst cold tile at that zoom)")
    print(
        f"{'layer':<18}{'tile':>5}  {'cold old → new':>22}  {'cached old → new':>18}"
        "  size old → new"
    )
    table = []
    for layer, z, old_cold, old_cached, old_kb in ISSUE_TABLE:
        recs = [r for r in main_sweep[layer] if r[0][0] == z]
        worst = max(recs, key=lambda r: r[3])
        big = max(recs, key=lambda r: r[2])
        row = {
            "layer": layer,
            "z": z,
            "old_cold_ms": old_cold,
            "new_cold_max_ms": worst[3],
            "old_cached_ms": old_cached,
            "new_cached_p99_ms": pct([r[4] for r in recs], 0.99),
            "old_kb": old_kb,
            "new_largest_kb": big[2] / 1024,
            "tiles": len(recs),
        }
        table.append(row)
        print(
            f"{layer:<18}{'z' + str(z):>5}  {old_cold:>8} → {worst[3]:>7.1f} ms "
            f"  {old_cached:>6} → {row['new_cached_p99_ms']:>5.1f} ms"
            f"  {old_kb:>7.1f} → {row['new_largest_kb']:>6.1f} KB (largest of {len(recs)})"
        )
    print(
        "\nworst cold tile per layer, z11–z16 (issue: three points of the city; here every tile):"
    )
    for layer, old in OLD_WORST.items():
        print(f"  {layer:<18} {old:>6} ms → {summary[layer]['cold_max_ms']:>7.1f} ms")
    print(
        f"\n/collections/uncovered/items?limit=10: 2000 ms → {items[0]:.0f} ms "
        f"(second {items[1]:.0f} ms)"
    )
    empties = [r[3] for c in cols for r in main_sweep[c] if r[1] == 204]
    print(
        f"empty tiles: {len(empties)}, p50 {pct(empties, 0.5):.1f} ms, p99 "
        f"{pct(empties, 0.99):.1f} ms, {sum(v > 20 for v in empties)} over 20 ms "
        f"(max {max(empties, default=0):.0f} ms)"
    )
    every = [r[3] for c in cols for r in main_sweep[c]]
    print(
        f"all {len(every)} cold tiles: p99 {pct(every, 0.99):.0f} ms, max {max(every):.0f} ms; "
        f"largest tile of any layer at any zoom "
        f"{max(max(s['largest_kb'], s['low_zoom_largest_kb']) for s in summary.values()):.1f} KB"
    )
    print(f"load average before {load_before}, after {load_after}; {took:.0f} s")
    out = REPO / "artifacts" / "bench-city-tiles.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "projects": len(extents),
                "zooms": [z0, z1],
                "tiles": len(tiles),
                "summary": summary,
                "issue_table": table,
                "items_ms": items,
                "load_before": load_before,
                "load_after": load_after,
                "seconds": took,
            },
            indent=2,
        )
    )
    print(f"written {out}")


if __name__ == "__main__":
    main()
