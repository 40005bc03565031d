"""Benchmark the demo generator and loader: time per phase and peak memory.

Usage::

    .venv/bin/python bench/bench_demo.py                              # 440311, 3000 parcels
    .venv/bin/python bench/bench_demo.py --boundary 440300 --parcels 1000000 [--check]

Loads into a throwaway database on the configured PostGIS (local cluster or DATABASE_URL),
then drops it (``--keep`` keeps it). ``--check`` also counts overlapping parcel pairs in
PostGIS (ST_Overlaps over every && pair), which takes a while at city scale.
"""

from __future__ import annotations

import argparse
import resource
import time
import uuid

from sqlalchemy import create_engine, pool, text


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--boundary", default="440311")
    ap.add_argument("--parcels", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    from data.demo import generate, load_into_db
    from spatial import localdb, migrate
    from spatial.settings import DatabaseSettings

    base = DatabaseSettings()
    if base.is_local:
        localdb.start(base)
    name = f"tz_bench_{uuid.uuid4().hex[:8]}"
    localdb.ensure_database(name, base)
    url = base.url(name)
    try:
        migrate.upgrade(url)
        engine = create_engine(url, poolclass=pool.NullPool)
        t0, c0 = time.perf_counter(), time.process_time()
        district = generate(n_parcels=args.parcels, seed=args.seed, adcode=args.boundary)
        t1, c1 = time.perf_counter(), time.process_time()
        summary = load_into_db(district, engine)
        t2, c2 = time.perf_counter(), time.process_time()
        rows = sum(len(g) for g in district.layers().values())
        print(summary)
        # Wall time depends on what else the machine runs; CPU time of this process less so
        # (the load's server-side work is not in it).
        print(f"generate: {t1 - t0:.1f} s (CPU {c1 - c0:.1f} s)")
        print(
            f"load:     {t2 - t1:.1f} s ({rows} rows, {rows / (t2 - t1):,.0f} rows/s; "
            f"client CPU {c2 - c1:.1f} s)"
        )
        print(f"total:    {t2 - t0:.1f} s")
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS (this process): {peak_mb:,.0f} MB")
        if args.check:
            t3 = time.perf_counter()
            with engine.connect() as conn:
                n = conn.execute(
                    text(
                        "SELECT count(*) FROM current_parcels a JOIN current_parcels b "
                        "ON a.id < b.id AND a.geom && b.geom AND ST_Overlaps(a.geom, b.geom)"
                    )
                ).scalar_one()
            print(f"overlapping parcel pairs: {n} ({time.perf_counter() - t3:.1f} s)")
        engine.dispose()
    finally:
        if not args.keep:
            localdb.drop_database(name, base)
        else:
            print(f"kept database {name}")


if __name__ == "__main__":
    main()
