"""Benchmark: the siting check (选址试算) and suggestions at city scale, against geopandas.

Builds (or reuses) the city-scale database of ``bench/analysis.py``'s generator: all of
Shenzhen, 1,000,000 parcels and 20,000 retained-land sites by default. Then, in one run:

1. ``spatial.analysis.siting.check_siting`` for candidates as a planner makes them: an existing
   site moved by up to 30 m (checked as replacing itself), and a new square of 30–60 m in a
   project. Each call is timed (after a warm-up); p50 / p99 / max in ms.
2. The same check as a data-staff notebook would do it with geopandas: the layers loaded once
   with ``read_postgis`` (timed apart: a notebook pays it once per session), then per candidate
   spatial-index queries, ``union_all`` and intersections for the reserve occupation, the
   project's other sites, the zones with their compatibility and the parcels by category.
   Timed per candidate the same way; the two must agree on every occupied area, project total
   and route.
3. ``suggest_sitings`` for a sample of projects (p50 / p99, s); no peer offers it.

Usage::

    .venv/bin/python bench/siting.py                       # 1,000,000 parcels, 20,000 sites
    .venv/bin/python bench/siting.py --parcels 100000 --sites 5000   # quicker
    .venv/bin/python bench/siting.py --reuse               # reuse the bench database

Not a test: nothing here asserts a time. Target: p99 of the check below 200 ms at city scale.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Engine, create_engine, pool, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import analysis as city  # noqa: E402  (bench/analysis.py: the city generator)

from spatial import localdb, rules  # noqa: E402
from spatial.analysis.siting import check_siting  # noqa: E402
from spatial.analysis.suggest import suggest_sitings  # noqa: E402
from spatial.settings import DatabaseSettings  # noqa: E402

DB_NAME = "tz_bench_siting"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def candidates(engine: Engine, n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` candidates: half moved existing sites, half new squares in random projects."""
    rng = np.random.default_rng(seed)
    with engine.connect() as conn:
        sites = conn.execute(
            text(
                "SELECT project_code, code, land_use, ST_AsBinary(geom) FROM current_retained_land "
                "WHERE project_code IN (SELECT code FROM current_projects) ORDER BY id"
            )
        ).all()
        projects = conn.execute(
            text(
                "SELECT code, ST_AsBinary(ST_PointOnSurface(geom)) FROM current_projects "
                "ORDER BY code"
            )
        ).all()
    out = []
    for i in range(n):
        if i % 2 == 0:
            p, code, use, wkb = sites[int(rng.integers(len(sites)))]
            g = shapely.from_wkb(bytes(wkb))
            dx, dy = rng.uniform(-30, 30, 2)
            g = shapely.affinity.translate(g, dx, dy)
            out.append({"project": p, "geom": g, "use": use, "replaces": code})
        else:
            p, wkb = projects[int(rng.integers(len(projects)))]
            c = shapely.from_wkb(bytes(wkb))
            side = rng.uniform(30, 60)
            g = shapely.box(c.x - side / 2, c.y - side / 2, c.x + side / 2, c.y + side / 2)
            out.append({"project": p, "geom": g, "use": "R2", "replaces": None})
    return out


def pct(times: list[float]) -> str:
    a = np.asarray(times) * 1000
    return (
        f"p50 {np.percentile(a, 50):.1f} ms, p99 {np.percentile(a, 99):.1f} ms, "
        f"max {a.max():.1f} ms (n={len(a)})"
    )


class GeopandasPeer:
    """The siting check as a notebook would write it with geopandas (layers loaded once)."""

    def __init__(self, engine: Engine) -> None:
        t = time.perf_counter()
        self.reserve = gpd.read_postgis(
            "SELECT code, geom FROM current_state_reserve_land", engine, geom_col="geom"
        )
        self.sites = gpd.read_postgis(
            "SELECT code, project_code, geom FROM current_retained_land", engine, geom_col="geom"
        )
        self.zones = gpd.read_postgis(
            "SELECT zone_code, land_use_class, geom FROM current_statutory_plans",
            engine,
            geom_col="geom",
        )
        self.parcels = gpd.read_postgis(
            "SELECT category::text AS category, geom FROM current_parcels",
            engine,
            geom_col="geom",
        )
        compat = pd.read_sql(
            "SELECT planned_use, zone_class, compatible FROM land_use_compatibility", engine
        )
        self.compat = {
            (str(a).strip().upper(), str(b).strip().upper()): bool(c)
            for a, b, c in compat.itertuples(index=False)
        }
        for frame in (self.reserve, self.sites, self.zones, self.parcels):
            frame.sindex  # noqa: B018 (build the index now, as a notebook's first query would)
        self.load_s = time.perf_counter() - t

    def _occupied(self, g: Any) -> float:
        idx = self.reserve.sindex.query(g, predicate="intersects")
        if not len(idx):
            return 0.0
        hits = self.reserve.geometry.values[idx]
        hits = hits[~shapely.touches(hits, g)]
        if not len(hits):
            return 0.0
        return float(shapely.intersection(g, shapely.union_all(hits)).area)

    def check(self, project: str, g: Any, use: str, replaces: str | None) -> dict[str, Any]:
        """Occupied, project total and route, coverage and conflicts, composition."""
        occupied = self._occupied(g)
        mine = self.sites[(self.sites["project_code"] == project)]
        others = sum(
            self._occupied(s)
            for code, s in zip(mine["code"], mine.geometry, strict=True)
            if code != replaces
        )
        total = others + occupied
        zi = self.zones.sindex.query(g, predicate="intersects")
        pieces = shapely.intersection(self.zones.geometry.values[zi], g)
        areas = shapely.area(pieces)
        keep = np.round(areas, 2) > 0
        classes = self.zones["land_use_class"].values[zi][keep]
        covered = float(shapely.union_all(pieces[keep]).area) if keep.any() else 0.0
        conflicts = [
            c for c in classes if not self.compat.get((use.upper(), str(c).upper()), False)
        ]
        pi = self.parcels.sindex.query(g, predicate="intersects")
        parts = shapely.area(shapely.intersection(self.parcels.geometry.values[pi], g))
        cats = pd.Series(parts).groupby(self.parcels["category"].values[pi]).sum().to_dict()
        return {
            "occupied": rules.area_2dp(occupied),
            "total": rules.area_2dp(total),
            "route": rules.approval_route(total).value,
            "covered": rules.area_2dp(covered),
            "conflicts": len(conflicts),
            "categories": cats,
        }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--parcels", type=int, default=1_000_000)
    ap.add_argument("--sites", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--candidates", type=int, default=300)
    ap.add_argument("--suggest", type=int, default=12, help="projects to suggest sitings for")
    ap.add_argument("--reuse", action="store_true", help="reuse the loaded bench database")
    ap.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    args = ap.parse_args()

    settings = DatabaseSettings()
    if settings.database_url is None:
        localdb.start(settings)
    city.DB_NAME = DB_NAME
    if args.reuse:
        engine = create_engine(settings.for_database(DB_NAME).url(), poolclass=pool.NullPool)
    else:
        engine = city.build(settings, args.parcels, args.sites, args.seed)
        engine.dispose()
    engine = create_engine(settings.for_database(DB_NAME).url(), pool_size=4)
    log(city.counts(engine))
    log(city.versions(engine))

    cands = candidates(engine, args.candidates, args.seed)
    for c in cands[:10]:  # warm-up: connections, plans, caches
        check_siting(engine, c["project"], c["geom"], c["use"], replaces_site_code=c["replaces"])
    ours: list[float] = []
    results = []
    for c in cands:
        t = time.perf_counter()
        r = check_siting(
            engine, c["project"], c["geom"], c["use"], replaces_site_code=c["replaces"]
        )
        ours.append(time.perf_counter() - t)
        results.append(r)
    log(f"check_siting (PostGIS): {pct(ours)}")

    peer = GeopandasPeer(engine)
    log(f"geopandas peer: read_postgis of the layers + spatial indexes {peer.load_s:.1f} s")
    for c in cands[:10]:
        peer.check(c["project"], c["geom"], c["use"], c["replaces"])
    theirs: list[float] = []
    disagree = 0
    for c, r in zip(cands, results, strict=True):
        t = time.perf_counter()
        p = peer.check(c["project"], c["geom"], c["use"], c["replaces"])
        theirs.append(time.perf_counter() - t)
        same = (
            p["occupied"] == r.occupied_reserve_m2
            and p["total"] == r.after.total_occupied_m2
            and p["route"] == r.after.route.value
        )
        disagree += not same
    log(f"geopandas per candidate: {pct(theirs)}")
    p50 = np.percentile(theirs, 50) / np.percentile(ours, 50)
    p99 = np.percentile(theirs, 99) / np.percentile(ours, 99)
    log(f"ratio geopandas / ours: p50 {p50:.1f}×, p99 {p99:.1f}× (excluding the peer's load)")
    log(f"agreement on occupied, project total and route: {len(cands) - disagree}/{len(cands)}")

    with engine.connect() as conn:
        sample = (
            conn.execute(
                text("SELECT code FROM current_projects ORDER BY md5(code) LIMIT :n"),
                {"n": args.suggest},
            )
            .scalars()
            .all()
        )
    times = []
    shown = 0
    for code in sample:
        t = time.perf_counter()
        s = suggest_sitings(engine, code, 3000.0, "R2")
        times.append(time.perf_counter() - t)
        shown += len(s.suggestions)
    a = np.asarray(times)
    log(
        f"suggest_sitings (3000 m², R2) on {len(sample)} projects: "
        f"p50 {np.percentile(a, 50):.2f} s, p99 {np.percentile(a, 99):.2f} s, "
        f"{shown} suggestions shown"
    )
    engine.dispose()
    if not args.keep:
        localdb.drop_database(DB_NAME, settings)


if __name__ == "__main__":
    main()
