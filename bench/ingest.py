"""Benchmark ``tuzheng ingest`` against ogr2ogr, shp2pgsql and geopandas on the same files.

Usage::

    .venv/bin/python bench/ingest.py                       # 100k parcels
    .venv/bin/python bench/ingest.py --sizes 100000 1000000 --repeat 2

For each size, the demo generator (``data.demo.generate`` over all of Shenzhen, 440300) makes
parcels that are written as a GBK shapefile in EPSG:4547 with Chinese column names and Chinese
category labels (``.cpg`` = CP936, ``.prj`` = Esri WKT). Then, into one throwaway database on the
configured PostGIS, each loader runs as a child process:

* ``tuzheng ingest FILE --layer parcels`` (every check: encoding scan, CRS, categories,
  duplicates, geometry validity, overlaps/slivers, atomic publish into the indexed layer table);
* ``ogr2ogr -f PostgreSQL`` with ``--config PG_USE_COPY YES`` (new table, GiST built after);
* ``shp2pgsql -D -I -s 4547 -W CP936 | psql``;
* ``geopandas.read_file`` + ``to_postgis``;
* for reference, ogr2ogr followed by ``INSERT … SELECT`` into the real ``parcels`` table (its
  two GiST indexes, generated ``geom_3857`` column, btrees and foreign key), no validation.

Wall time and peak memory (summed RSS of the child process tree, sampled every 20 ms; the
PostgreSQL server is not included) are printed with ratios to ogr2ogr. The best of
``--repeat`` runs is kept. This is not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil
from sqlalchemy import create_engine, pool, text

ROOT = Path(__file__).resolve().parent.parent
SAME_SCHEMA_SQL = (
    "INSERT INTO datasets (id, layer, status, file_name, uploaded_by) "
    "VALUES (999999, 'parcels', 'staging', 'bench', 'bench'); "
    "SELECT tz_parcels_partition(999999); "
    "INSERT INTO parcels (dataset_id, code, category, project_code, owner, geom) "
    "SELECT 999999, 宗地编号, (CASE 权属类型 WHEN '原农村集体土地' THEN 'collective' "
    "WHEN '原光明农场国有用地' THEN 'state_farm' "
    "WHEN '未完善征（转）收地补偿手续用地' THEN 'incomplete_acquisition' "
    "ELSE 'state_owned' END)::ownership_category, 项目编号, 权利人, geom FROM bench_ogr"
)
"""The same rows loaded into the real layer table (its indexes and generated column), with
no validation at all: what any loader pays for the tuzheng schema."""
VENV_BIN = Path(sys.executable).parent


def write_parcels(n: int, folder: Path, boundary: str) -> Path:
    """Write ``n`` demo parcels as a GBK shapefile in EPSG:4547; return the .shp path.

    A shapefile already in ``folder`` (from an earlier run with ``--workdir``) is reused.
    """
    shp = folder / "宗地.shp"
    if shp.exists() and (folder / "宗地.dbf").exists():
        return shp
    import numpy as np
    import pyogrio

    from spatial.categories import OwnershipCategory

    try:
        from data.demo import generate

        parcels = generate(n_parcels=n, adcode=boundary).parcels
    except ImportError:  # demo generator not available: a plain grid
        import geopandas as gpd
        import shapely

        side = int(np.ceil(np.sqrt(n)))
        i = np.arange(n)
        x = 480_000 + (i % side) * 30.0
        y = 2_490_000 + (i // side) * 30.0
        parcels = gpd.GeoDataFrame(
            {
                "code": [f"G-{k:07d}" for k in i],
                "category": np.array([c.value for c in OwnershipCategory])[i % 4],
                "project_code": None,
                "owner": "深圳市某社区股份合作公司",
            },
            geometry=shapely.box(x, y, x + 30, y + 30),
            crs=4547,
        )
    out = parcels.rename(
        columns={
            "code": "宗地编号",
            "category": "权属类型",
            "project_code": "项目编号",
            "owner": "权利人",
        }
    )
    labels = {c.value: c.label_zh for c in OwnershipCategory}
    out["权属类型"] = out["权属类型"].map(labels)
    folder.mkdir(parents=True, exist_ok=True)
    shp = folder / "宗地.shp"
    pyogrio.write_dataframe(out, shp, encoding="CP936")
    return shp


def measure(
    cmd: list[str] | str, env: dict[str, str], shell: bool = False
) -> tuple[float, float, int]:
    """Run ``cmd``; return (wall seconds, peak RSS of the process tree in MB, exit code)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        env=env,
        shell=shell,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        executable="/bin/bash" if shell else None,
    )
    ps = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            procs = [ps, *ps.children(recursive=True)]
            rss = 0
            for p in procs:
                try:
                    rss += p.memory_info().rss
                except psutil.Error:
                    pass
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.02)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    if proc.returncode != 0:
        print(f"  ! exit {proc.returncode}: {err[-800:]}", file=sys.stderr)
    return wall, peak / 1e6, proc.returncode


def main() -> None:
    """Generate the files, run every loader, print the table."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--boundary", default="440300")
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()

    from spatial import localdb, migrate
    from spatial.settings import DatabaseSettings

    base = DatabaseSettings()
    if base.is_local:
        localdb.start(base)
    name = f"tz_bench_ingest_{uuid.uuid4().hex[:8]}"
    localdb.ensure_database(name, base)
    settings = base.for_database(name)
    url = settings.url()
    migrate.upgrade(url)
    engine = create_engine(url, poolclass=pool.NullPool)
    # CHECKPOINT needs the cluster's superuser (the app role may not: least privilege)
    admin = create_engine(base.admin_url(), poolclass=pool.NullPool)
    from sqlalchemy.engine import make_url

    u = make_url(url)
    pg = f"host={u.host} port={u.port} user={u.username} dbname={u.database}"
    psql = f"psql -q -h {u.host} -p {u.port} -U {u.username} -d {u.database}"
    env = {**os.environ, "DATABASE_URL": url, "PGCLIENTENCODING": "UTF8"}
    if u.password:  # the app role's password (libpq reads it from PGPASSWORD)
        env["PGPASSWORD"] = u.password
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        for n in args.sizes:
            t = time.perf_counter()
            shp = write_parcels(n, work / f"n{n}", args.boundary)
            size = sum(p.stat().st_size for p in shp.parent.iterdir())
            print(
                f"\n{n:,} parcels: files {size / 1e6:.1f} MB (generated in "
                f"{time.perf_counter() - t:.1f} s)"
            )

            def reset() -> None:
                with engine.begin() as conn:
                    conn.execute(text("TRUNCATE datasets CASCADE"))
                    for tbl in ("bench_ogr", "bench_shp2pgsql", "bench_gpd"):
                        conn.execute(text(f"DROP TABLE IF EXISTS {tbl}"))
                with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(text("CHECKPOINT"))

            gpd_code = (
                "import sys, geopandas as gpd; from sqlalchemy import create_engine; "
                "g = gpd.read_file(sys.argv[1]); "
                "g.to_postgis('bench_gpd', create_engine(sys.argv[2]), if_exists='replace')"
            )
            runs = {
                "tuzheng ingest": [
                    str(VENV_BIN / "tuzheng"),
                    "ingest",
                    str(shp),
                    "--layer",
                    "parcels",
                    "--json",
                ],
                "ogr2ogr (PG_USE_COPY)": [
                    "ogr2ogr",
                    "--config",
                    "PG_USE_COPY",
                    "YES",
                    "-f",
                    "PostgreSQL",
                    f"PG:{pg}",
                    str(shp),
                    "-nln",
                    "bench_ogr",
                    "-nlt",
                    "PROMOTE_TO_MULTI",
                    "-lco",
                    "GEOMETRY_NAME=geom",
                    "-overwrite",
                ],
                "shp2pgsql -D -I | psql": (
                    f"set -o pipefail; shp2pgsql -D -I -s 4547 -W CP936 '{shp}' bench_shp2pgsql "
                    f"| {psql}"
                ),
                "geopandas read_file+to_postgis": [sys.executable, "-c", gpd_code, str(shp), url],
                "ogr2ogr + INSERT into parcels": (
                    f"set -o pipefail; ogr2ogr --config PG_USE_COPY YES -f PostgreSQL 'PG:{pg}' "
                    f"'{shp}' -nln bench_ogr -nlt PROMOTE_TO_MULTI -lco GEOMETRY_NAME=geom "
                    f'-overwrite && {psql} -v ON_ERROR_STOP=1 -c "{SAME_SCHEMA_SQL}"'
                ),
            }
            results: dict[str, tuple[float, float]] = {}
            for label, cmd in runs.items():
                best = None
                for _ in range(args.repeat):
                    reset()
                    wall, mem, rc = measure(cmd, env, shell=isinstance(cmd, str))
                    if rc == 0 and (best is None or wall < best[0]):
                        best = (wall, mem)
                if best:
                    results[label] = best
                with engine.connect() as conn:
                    tables = {
                        "tuzheng ingest": "current_parcels",
                        "ogr2ogr (PG_USE_COPY)": "bench_ogr",
                        "shp2pgsql -D -I | psql": "bench_shp2pgsql",
                        "geopandas read_file+to_postgis": "bench_gpd",
                        "ogr2ogr + INSERT into parcels": "parcels",
                    }
                    rows = conn.execute(text(f"SELECT count(*) FROM {tables[label]}")).scalar()
                print(
                    f"  {label:<32} rows {rows:>9,}  "
                    + (f"{best[0]:7.2f} s  {best[1]:8.0f} MB" if best else "failed")
                )
            ref = results.get("ogr2ogr (PG_USE_COPY)")
            print(
                f"\n  {'loader':<32} {'wall s':>8} {'× ogr2ogr':>10} {'peak MB':>9} {'× input':>8}"
            )
            for label, (wall, mem) in results.items():
                ratio = f"{wall / ref[0]:.2f}" if ref else "-"
                print(f"  {label:<32} {wall:8.2f} {ratio:>10} {mem:9.0f} {mem * 1e6 / size:8.2f}")
    finally:
        engine.dispose()
        localdb.drop_database(name, base)
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
