"""Feature requests with a bbox (not a test): tuzheng against tipg on the same parcels table.

A bbox reaches ``/collections/parcels/items`` as a district, as the whole world (QGIS asks
for it when a layer is first added) and not at all. tuzheng clamps a bbox to EPSG:4547's
area of use before it is transformed (``spatial.bbox``), so the world costs what no bbox
costs; before that it took 1.2–1.6 s and matched nothing. tipg (its own virtualenv, as in
``bench/tiles.py``) answers the same requests on the same table. Each request is made
``--repeat`` times after one warm-up; the median and p90 are printed, and the ratio of each
bbox to the unfiltered request of the same server.

Usage::

    .venv/bin/python bench/bbox.py [--parcels 100000] [--repeat 20]

Uses the database of ``bench/tiles.py`` (built on the first run, reused after).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import httpx
from tiles import DB_NAME, free_port, prepare_database, server

BOXES = {
    "no bbox": None,
    "district": "113.85,22.68,114.005,22.84",
    "world": "-180,-90,180,90",
}


def timings(base: str, path: str, repeat: int) -> dict[str, dict[str, float]]:
    """Median and p90 (ms) of ``repeat`` requests per bbox, with numberMatched when given."""
    out: dict[str, dict[str, float]] = {}
    with httpx.Client(timeout=120) as client:
        for label, bbox in BOXES.items():
            params = {"limit": "10", **({"bbox": bbox} if bbox else {})}
            client.get(base + path, params=params).raise_for_status()
            ms = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                r = client.get(base + path, params=params)
                ms.append((time.perf_counter() - t0) * 1000)
                r.raise_for_status()
            ms.sort()
            matched = r.json().get("numberMatched", -1)
            out[label] = {
                "p50_ms": statistics.median(ms),
                "p90_ms": ms[int(0.9 * (len(ms) - 1))],
                "matched": float(matched),
            }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--parcels", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--tipg-venv", default="/tmp/tipg-venv")
    args = ap.parse_args()
    settings = prepare_database(args.parcels, rebuild=False)
    print(f"database {DB_NAME}")
    results: dict[str, dict[str, dict[str, float]]] = {}
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", "--no-access-log", "--log-level", "warning"]
    with server(
        [*cmd, "--factory", "api.app:app_factory", "--port", str(port)],
        {"DATABASE_URL": settings.url()},
        f"http://127.0.0.1:{port}/health",
    ):
        results["tuzheng"] = timings(
            f"http://127.0.0.1:{port}", "/collections/parcels/items", args.repeat
        )
    tipg_python = Path(args.tipg_venv) / "bin" / "python"
    if tipg_python.exists():
        port = free_port()
        env = {
            "DATABASE_URL": settings.url().replace("postgresql+psycopg://", "postgresql://"),
            "TIPG_DB_TABLES": '["public.parcels"]',
            "TIPG_DB_SPATIAL_EXTENT": "false",
            "TIPG_DB_DATETIME_EXTENT": "false",
        }
        tipg = [str(tipg_python), "-m", "uvicorn", "tipg.main:app", "--no-access-log"]
        with server(
            [*tipg, "--log-level", "warning", "--port", str(port)],
            env,
            f"http://127.0.0.1:{port}/collections",
        ):
            results["tipg"] = timings(
                f"http://127.0.0.1:{port}", "/collections/public.parcels/items", args.repeat
            )
    else:
        print(f"tipg not found in {args.tipg_venv}; skipped")
    print(f"{'server':8s} {'bbox':9s} {'p50 ms':>8s} {'p90 ms':>8s} {'× no bbox':>9s} matched")
    for name, rows in results.items():
        for label, row in rows.items():
            ratio = row["p50_ms"] / rows["no bbox"]["p50_ms"]
            print(
                f"{name:8s} {label:9s} {row['p50_ms']:8.1f} {row['p90_ms']:8.1f} "
                f"{ratio:9.2f} {int(row['matched'])}"
            )
    if "tipg" in results:
        for label in BOXES:
            ratio = results["tuzheng"][label]["p50_ms"] / results["tipg"][label]["p50_ms"]
            print(f"tuzheng / tipg p50, {label}: {ratio:.2f}")


if __name__ == "__main__":
    main()
