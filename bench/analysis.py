"""Benchmark: the whole-city retained-land review in PostGIS vs a straightforward geopandas one.

Builds a city-scale dataset with the demo generator over all of Shenzhen (adcode 440300):
1,000,000 parcels by default, the generator's projects, reserve land and statutory plans, and
retained-land sites topped up deterministically to 20,000 (the generator makes one or two per
project). Then, in one run:

1. ``spatial.analysis.review_all(engine)``: the full review of every project (ledger, site
   composition, reserve occupation and route, plan coverage and conflicts, verdicts), timed
   twice (first and second call);
2. a geopandas baseline of the same review: ``geopandas.read_postgis`` of the current layers
   (as an analyst would load them), then ``dissolve`` / ``overlay`` / ``sjoin``; its time
   includes the loading.

It prints both times, the ratio, whether the two agree on every project's route, occupied
total and planning-study flag, and the PostgreSQL / PostGIS / GEOS versions. The review reads
the stored analysis results (migration 0013), so it also times:

3. ``review_project`` for every project (median, p99, max);
4. a parcels upload that touches one project: the city's parcels read back, the categories of
   one project's parcels changed, loaded as a new version (the bulk path of an upload) and
   published; the time the publish's commit takes (the stored results are refreshed inside
   it), what the refresh recomputed, a check of that project against the live views, the
   longest a reader of ``parcels`` waited meanwhile (the publish detaches the superseded
   version, which locks the layer until the commit), and the same for the restore of the
   first version; next to a full recompute of every result.

Usage::

    .venv/bin/python bench/analysis.py                      # 1,000,000 parcels, 20,000 sites
    .venv/bin/python bench/analysis.py --parcels 100000 --sites 5000   # quicker
    .venv/bin/python bench/analysis.py --reuse              # skip generation, reuse the db

Not a test: nothing here asserts a time. Target: the city in < 30 s on 2 cores and ≥ 3× faster
than the baseline.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Geod
from sqlalchemy import Engine, create_engine, pool, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from spatial import localdb, migrate, rules  # noqa: E402
from spatial.settings import DatabaseSettings  # noqa: E402

DB_NAME = "tz_bench_analysis"
ZONE_CLASSES = ("R2", "R3", "C1", "M0", "M1", "W1", "GIC", "G1", "S1", "U1")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---------------------------------------------------------------------------------------------
# Data


def top_up_sites(district: Any, n_sites: int, seed: int) -> gpd.GeoDataFrame:
    """Add retained-land sites inside the projects until there are ``n_sites`` (deterministic).

    Each project's bounding box is cut into 70 m cells; cells lying wholly inside the project
    and clear of existing sites get a square site of 25–55 m at a random offset, so sites never
    overlap. Planned use: the class of the zone under the site's centre 85 % of the time,
    otherwise random (so some sites conflict with their zone).
    """
    rng = np.random.default_rng(seed)
    sites = district.retained_land
    need = n_sites - len(sites)
    if need <= 0:
        return sites
    projects = district.projects
    zones = district.statutory_plans
    zone_tree = shapely.STRtree(zones.geometry.values)
    site_tree = shapely.STRtree(sites.geometry.values)
    areas = projects.geometry.area.to_numpy()
    # 30 % slack: some projects have fewer free cells than their share; stop at ``need``
    quota = np.ceil(1.3 * need * areas / areas.sum()).astype(int)
    cell = 70.0
    rows: list[dict[str, Any]] = []
    k = 0
    for (code, geom), q in zip(
        zip(projects["code"], projects.geometry, strict=True), quota, strict=True
    ):
        x0, y0, x1, y1 = geom.bounds
        xs = np.arange(np.floor(x0), x1 - cell, cell)
        ys = np.arange(np.floor(y0), y1 - cell, cell)
        gx, gy = np.meshgrid(xs, ys)
        boxes = shapely.box(gx.ravel(), gy.ravel(), gx.ravel() + cell, gy.ravel() + cell)
        inside = shapely.contains(geom, boxes)
        boxes = boxes[inside]
        if len(boxes):
            clash = np.unique(site_tree.query(boxes, predicate="intersects")[0])
            boxes = np.delete(boxes, clash)
        if not len(boxes):
            continue
        pick = rng.permutation(len(boxes))[: min(q, len(boxes))]
        for b in boxes[pick]:
            bx, by = shapely.get_coordinates(b).min(axis=0)
            side = float(np.round(rng.uniform(25.0, 55.0)))
            ox = float(np.round(rng.uniform(2.0, cell - side - 2.0)))
            oy = float(np.round(rng.uniform(2.0, cell - side - 2.0)))
            site = shapely.box(bx + ox, by + oy, bx + ox + side, by + oy + side)
            hit = zone_tree.query(site.centroid, predicate="intersects")
            if len(hit) and rng.random() < 0.85:
                use = zones["land_use_class"].iloc[int(hit[0])]
            else:
                use = ZONE_CLASSES[int(rng.integers(len(ZONE_CLASSES)))]
            rows.append(
                {
                    "code": f"BLY-{k:06d}",
                    "project_code": code,
                    "name": "基准测试留用土地",
                    "land_use": use,
                    "geometry": shapely.MultiPolygon([site]),
                }
            )
            k += 1
            if k >= need:
                break
        if k >= need:
            break
    extra = gpd.GeoDataFrame(rows, geometry="geometry", crs=sites.crs)
    return pd.concat([sites, extra], ignore_index=True)


def build(settings: DatabaseSettings, n_parcels: int, n_sites: int, seed: int) -> Engine:
    """Create the bench database, generate the city and load it."""
    from data.demo import generate, load_into_db

    localdb.drop_database(DB_NAME, settings)
    localdb.ensure_database(DB_NAME, settings)
    url = settings.for_database(DB_NAME).url()
    migrate.upgrade(url)
    engine = create_engine(url, poolclass=pool.NullPool)
    t = time.perf_counter()
    district = generate(n_parcels=n_parcels, seed=seed, adcode="440300")
    log(f"generated {n_parcels} parcels in {time.perf_counter() - t:.1f} s")
    district.retained_land = top_up_sites(district, n_sites, seed)
    t = time.perf_counter()
    log(load_into_db(district, engine))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    log(f"loaded and analysed in {time.perf_counter() - t:.1f} s")
    return engine


# ---------------------------------------------------------------------------------------------
# The geopandas baseline


def _ellipsoidal(geoms: gpd.GeoSeries) -> np.ndarray:
    """Ellipsoidal area (m², GRS80 = the CGCS2000 ellipsoid) of EPSG:4547 geometries."""
    geod = Geod(ellps="GRS80")
    g4490 = geoms.to_crs(4490)
    return np.array(
        [abs(geod.geometry_area_perimeter(g)[0]) if g is not None else 0.0 for g in g4490]
    )


def baseline(engine: Engine) -> dict[str, dict[str, Any]]:
    """The same review with geopandas, loading the layers with read_postgis first."""
    t = time.perf_counter()
    projects = gpd.read_postgis(
        "SELECT code, name, stage, geom FROM current_projects", engine, geom_col="geom"
    )
    parcels = gpd.read_postgis(
        "SELECT code, category::text AS category, project_code, geom FROM current_parcels",
        engine,
        geom_col="geom",
    )
    sites = gpd.read_postgis(
        "SELECT code, project_code, land_use, geom FROM current_retained_land",
        engine,
        geom_col="geom",
    )
    reserve = gpd.read_postgis(
        "SELECT code, geom FROM current_state_reserve_land", engine, geom_col="geom"
    )
    zones = gpd.read_postgis(
        "SELECT zone_code, land_use_class, geom FROM current_statutory_plans",
        engine,
        geom_col="geom",
    )
    compat = pd.read_sql(
        "SELECT planned_use, zone_class, compatible FROM land_use_compatibility", engine
    )
    log(f"  baseline: read_postgis of the layers {time.perf_counter() - t:.1f} s")

    # 1. ledger per project: category sums, union of parcels, intersection with the boundary
    inp = parcels[parcels["project_code"].isin(projects["code"])].copy()
    inp["planar"] = inp.area
    inp["ellip"] = _ellipsoidal(inp.geometry)
    cats = inp.groupby(["project_code", "category"])[["planar", "ellip"]].sum()
    union = inp[["project_code", "geom"]].dissolve("project_code")
    bnd = projects.set_index("code").geometry
    union = union.join(bnd.rename("bnd"))
    inter = gpd.GeoSeries(union.geometry.intersection(gpd.GeoSeries(union["bnd"])), crs=4547)
    ledger = pd.DataFrame(
        {
            "u_planar": union.area,
            "u_ellip": _ellipsoidal(union.geometry),
            "i_planar": inter.area,
            "i_ellip": _ellipsoidal(inter),
        }
    )
    b_ellip = pd.Series(_ellipsoidal(bnd), index=bnd.index)
    _ = (cats, ledger, b_ellip)

    # 2. composition of each site by category
    comp = gpd.overlay(sites[["code", "geom"]], parcels[["category", "geom"]], how="intersection")
    comp["area"] = comp.area
    _ = comp.groupby(["code", "category"])["area"].sum()

    # 3. reserve occupation: union of the reserve pieces per site, project totals, route
    occ = gpd.overlay(
        sites[["code", "project_code", "geom"]], reserve[["geom"]], how="intersection"
    )
    occ = occ.dissolve("code", aggfunc={"project_code": "first"})
    occ["area"] = occ.area
    totals = occ.groupby("project_code")["area"].sum()

    # 4. plan coverage: site × zone pieces, covered = union per site, conflicts from the table
    pieces = gpd.overlay(
        sites[["code", "project_code", "land_use", "geom"]],
        zones[["zone_code", "land_use_class", "geom"]],
        how="intersection",
        keep_geom_type=True,
    )
    pieces["area"] = pieces.area
    pieces = pieces[pieces["area"].round(2) > 0]
    covered = pieces[["code", "geometry"]].dissolve("code").area
    pieces = pieces.merge(
        compat,
        how="left",
        left_on=["land_use", "land_use_class"],
        right_on=["planned_use", "zone_class"],
    )
    pieces["conflict"] = ~pieces["compatible"].fillna(False).astype(bool)
    conflict_sites = set(pieces.loc[pieces["conflict"], "code"])
    site_area = sites.set_index("code").area
    uncovered = site_area - covered.reindex(site_area.index).fillna(0.0)
    study_sites = set(uncovered[uncovered.round(2) > 0].index) | conflict_sites
    by_project = sites.groupby("project_code")["code"].apply(set)

    out: dict[str, dict[str, Any]] = {}
    for code in projects["code"]:
        total = float(totals.get(code, 0.0))
        out[code] = {
            "route": rules.approval_route(total).value,
            "total": rules.area_2dp(total),
            "study": bool(by_project.get(code, set()) & study_sites),
        }
    return out


# ---------------------------------------------------------------------------------------------


def versions(engine: Engine) -> str:
    with engine.connect() as conn:
        pg = conn.execute(text("SHOW server_version")).scalar_one()
        postgis = conn.execute(text("SELECT postgis_full_version()")).scalar_one()
    return (
        f"PostgreSQL {pg}; {postgis}; shapely {shapely.__version__} "
        f"(GEOS {shapely.geos_version_string}); geopandas {gpd.__version__}"
    )


def counts(engine: Engine) -> str:
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM current_parcels), "
                "(SELECT count(*) FROM current_projects), "
                "(SELECT count(*) FROM current_retained_land), "
                "(SELECT count(*) FROM current_state_reserve_land), "
                "(SELECT count(*) FROM current_statutory_plans), "
                "(SELECT count(*) FROM statutory_plan_parts)"
            )
        ).one()
    return (
        f"{row[0]} parcels, {row[1]} projects, {row[2]} retained-land sites, {row[3]} reserve "
        f"polygons, {row[4]} plan zones ({row[5]} subdivided parts)"
    )


def one_project_reviews(engine: Engine, codes: list[str]) -> str:
    """``review_project`` (with its evidence geometry) for every project: median, p99, max."""
    from spatial.analysis import review_project

    ms = []
    for code in codes:
        t = time.perf_counter()
        review_project(engine, code)
        ms.append((time.perf_counter() - t) * 1000)
    ms.sort()
    out = (
        f"review_project median {ms[len(ms) // 2]:.0f} ms, p99 {ms[int(0.99 * len(ms))]:.0f} ms, "
        f"max {ms[-1]:.0f} ms over {len(ms)} projects"
    )
    log(out)
    return out


class _Reader(threading.Thread):
    """Reads one parcel over and over (as a tile or features request would read the layer)
    while a publish runs; :meth:`stop` answers the longest read, ms."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(daemon=True)
        self._engine = engine
        self._done = threading.Event()
        self.count = 0
        self.longest_ms = 0.0

    def run(self) -> None:
        with self._engine.connect() as conn:
            while not self._done.is_set():
                t = time.perf_counter()
                conn.execute(text("SELECT code FROM current_parcels LIMIT 1")).all()
                conn.rollback()
                self.longest_ms = max(self.longest_ms, (time.perf_counter() - t) * 1000)
                self.count += 1
                time.sleep(0.005)

    def stop(self) -> float:
        self._done.set()
        self.join()
        return self.longest_ms


def one_project_upload(engine: Engine, project: str) -> str:
    """A new parcels version differing in one project's parcels, published; then restored."""
    from spatial import datasets
    from spatial.analysis.stored import compare_with_live, refresh_all, results_state

    t = time.perf_counter()
    parcels = gpd.read_postgis(
        "SELECT code, category::text AS category, project_code, owner, geom FROM current_parcels",
        engine,
        geom_col="geom",
    )
    log(f"  read back {len(parcels)} parcels in {time.perf_counter() - t:.1f} s")
    mine = parcels["project_code"] == project
    flip = {"state_owned": "collective", "collective": "state_owned"}
    parcels.loc[mine, "category"] = parcels.loc[mine, "category"].map(lambda c: flip.get(c, c))
    columns = {c: parcels[c] for c in ("code", "category", "project_code", "owner")}
    with engine.connect() as conn:
        (v1,) = conn.execute(
            text("SELECT id FROM datasets WHERE layer = 'parcels' AND status = 'active'")
        ).one()
    with engine.begin() as conn:
        ds = datasets.new_dataset(conn, "parcels", "bench-one-project", "bench")
    t = time.perf_counter()
    datasets.bulk_load(engine, "parcels", ds, columns, parcels.geometry.values.to_numpy())
    loaded = time.perf_counter() - t
    reader = _Reader(engine)
    reader.start()
    conn = engine.connect()
    tx = conn.begin()
    t = time.perf_counter()
    datasets.publish(conn, "parcels", ds)
    t_publish = time.perf_counter() - t
    t = time.perf_counter()
    tx.commit()
    t_commit = time.perf_counter() - t
    conn.close()
    waited = reader.stop()
    detail = {s.name: s.detail for s in results_state(engine)}["ledgers"] or {}
    check = compare_with_live(engine, [project])
    t = time.perf_counter()
    datasets.restore(engine, v1)
    t_restore = time.perf_counter() - t
    back = {s.name: s.detail for s in results_state(engine)}["ledgers"] or {}
    t = time.perf_counter()
    full = refresh_all(engine)
    t_full = time.perf_counter() - t
    with engine.begin() as c:  # the bench's version: its (detached) table, then its row
        c.execute(text(f"DROP TABLE IF EXISTS parcels_ds_{int(ds)}"))
        c.execute(text("DELETE FROM datasets WHERE id = :id"), {"id": ds})
    out = (
        f"{int(mine.sum())} parcels of {project} changed; load {loaded:.1f} s, publish "
        f"{t_publish:.2f} s, commit {t_commit:.2f} s (refresh {detail.get('ms')} ms: "
        f"{detail.get('changed_rows')} changed rows, {detail.get('ledgers')} ledger, "
        f"{detail.get('compositions')} compositions); stored = live for {project}: "
        f"{not check}; a reader of parcels meanwhile waited at most {waited:.0f} ms "
        f"({reader.count} reads); restore {t_restore:.2f} s (refresh {back.get('ms')} ms); "
        f"recomputing everything instead: {t_full:.1f} s ({full.get('ms')} ms in SQL)"
    )
    log(out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--parcels", type=int, default=1_000_000)
    ap.add_argument("--sites", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--reuse", action="store_true", help="reuse the loaded bench database")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    ap.add_argument("--no-upload", action="store_true", help="skip the one-project upload")
    args = ap.parse_args()

    from spatial.analysis import review_all

    settings = DatabaseSettings()
    if settings.is_local:
        localdb.start(settings)
    if args.reuse:
        engine = create_engine(settings.for_database(DB_NAME).url(), poolclass=pool.NullPool)
    else:
        engine = build(settings, args.parcels, args.sites, args.seed)
    log(counts(engine))
    log(versions(engine))

    # the reviews on a pooled engine, as the app's (spatial.db.get_engine) and notebooks' are:
    # a new connection costs a SCRAM handshake, several per review
    pooled = create_engine(engine.url, pool_size=8)
    times = []
    reviews = []
    for i in range(2):
        t = time.perf_counter()
        reviews = review_all(pooled)
        times.append(time.perf_counter() - t)
        log(f"PostGIS review_all, run {i + 1}: {times[-1]:.2f} s ({len(reviews)} projects)")
    ours = {
        r.project_code: {
            "route": r.verdict.route.value,
            "total": r.reserve.total_occupied_m2,
            "study": r.verdict.planning_study_required,
        }
        for r in reviews
    }
    routes = pd.Series([v["route"] for v in ours.values()]).value_counts().to_dict()
    study = sum(v["study"] for v in ours.values())
    log(f"routes {routes}; projects needing a planning study: {study}")
    one = one_project_reviews(pooled, [r.project_code for r in reviews])
    pooled.dispose()
    upload = None if args.no_upload else one_project_upload(engine, "GM-ZB-001")
    log(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    if args.no_baseline:
        engine.dispose()
        return
    t = time.perf_counter()
    base = baseline(engine)
    t_base = time.perf_counter() - t
    log(f"geopandas baseline (including read_postgis): {t_base:.2f} s")
    agree = sum(base.get(c) == v for c, v in ours.items())
    diff = [c for c, v in ours.items() if base.get(c) != v][:5]
    print()
    print(f"versions       : {versions(engine)}")
    print(f"data           : {counts(engine)}")
    print(f"PostGIS review : {times[0]:.2f} s (first), {times[1]:.2f} s (second)")
    print(f"one project    : {one}")
    if upload:
        print(f"upload 1 proj. : {upload}")
    print(f"geopandas      : {t_base:.2f} s (read_postgis + overlay/sjoin/dissolve)")
    print(f"ratio          : {t_base / times[0]:.1f}x (first), {t_base / times[1]:.1f}x (second)")
    print(f"agreement      : {agree}/{len(ours)} projects (route, total, study) {diff or ''}")
    engine.dispose()
    if not args.keep and not args.reuse:
        localdb.drop_database(DB_NAME, settings)


if __name__ == "__main__":
    main()
