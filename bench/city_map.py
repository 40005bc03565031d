"""Screenshots of the web map over the city demo at z11–z15, for looking at (not a test).

Serves the city-scale database of ``bench/analysis.py --keep`` (1,019,198 parcels) with
uvicorn, opens ``/map`` in headless Chromium (``tests/cdp.py``), centres it on the densest
parcels of the city and saves one screenshot per zoom to ``artifacts/city-map-z{z}.png``,
with the parcel tiles' sizes and statuses of each view printed next to it.

Usage::

    .venv/bin/python bench/city_map.py [--zooms 11 12 13 14 15] [--lon 113.9 --lat 22.55]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

import cdp  # noqa: E402
from layers_data import running_server  # noqa: E402

from spatial import localdb  # noqa: E402
from spatial.settings import DatabaseSettings  # noqa: E402

DB_NAME = "tz_bench_analysis"


def densest_point(url: str) -> tuple[float, float]:
    """Longitude and latitude of the z13 tile holding the most parcels (from the overview)."""
    import psycopg

    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        # level-11 cells are 1/64 of a z11 tile: 16 of them span a z13 tile
        row = conn.execute(
            "SELECT cx >> 4, cy >> 4, sum(n) FROM parcel_overview o JOIN datasets d "
            "ON d.id = o.dataset_id AND d.status = 'active' WHERE level = 11 "
            "GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 1"
        ).fetchone()
    import morecantile

    b = morecantile.tms.get("WebMercatorQuad").bounds(
        morecantile.Tile(int(row[0]), int(row[1]), 13)
    )
    return (b.left + b.right) / 2, (b.bottom + b.top) / 2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--zooms", type=int, nargs="+", default=[11, 12, 13, 14, 15])
    ap.add_argument("--lon", type=float)
    ap.add_argument("--lat", type=float)
    args = ap.parse_args()
    settings = DatabaseSettings()
    if settings.is_local:
        localdb.start(settings)
    url = settings.for_database(DB_NAME).url()
    lon, lat = (args.lon, args.lat) if args.lon is not None else densest_point(url)
    out = REPO / "artifacts"
    out.mkdir(exist_ok=True)
    with running_server(url) as base, tempfile.TemporaryDirectory() as tmp:
        browser = cdp.Browser(Path(tmp) / "profile")
        try:
            browser.load(f"{base}/map", settle_s=1.0)
            for z in args.zooms:
                before = len(browser.events)
                browser.evaluate(
                    "(() => { const m = window.tzMap;"
                    f" m.setView([{lat}, {lon}], {z}, {{animate: false}}); return true; }})()"
                )
                browser.settle(6.0)
                rec = browser.record()
                path = out / f"city-map-z{z}.png"
                path.write_bytes(rec.screenshot_png)
                tiles = [
                    e["params"]["response"]["url"]
                    for e in browser.events[before:]
                    if e.get("method") == "Network.responseReceived"
                    and "/tiles/parcels/" in e["params"]["response"]["url"]
                ]
                sizes = [len(httpx.get(t).content) for t in tiles]
                print(
                    f"z{z}: {path.name}, {len(tiles)} parcel tiles, largest "
                    f"{max(sizes, default=0) / 1024:.1f} KB"
                )
        finally:
            browser.close()


if __name__ == "__main__":
    main()
