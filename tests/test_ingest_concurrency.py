"""Killed ingests leave nothing visible; concurrent uploads wait or get Conflict (409)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from ingest_files import parcels, write_shp
from sqlalchemy import text

from spatial.errors import Conflict
from spatial.ingest import ingest

ROOT = Path(__file__).resolve().parent.parent

KILLED_SCRIPT = """
import sys, threading, time
import spatial.datasets as d
import spatial.datasets.loading as loading
from sqlalchemy import create_engine
from spatial.ingest import ingest

orig = loading._write_chunk
first = threading.Lock()  # the bulk path copies in two threads: say it once, then both stall

def stall(cp, data):
    orig(cp, data)
    if first.acquire(blocking=False):
        print("COPYING", flush=True)
    time.sleep(600)

loading._write_chunk = stall
if sys.argv[3] == "bulk":  # stage over parallel sessions, as large parcel uploads do
    d.BULK_MIN_ROWS = 1
ingest(sys.argv[1], "parcels", engine=create_engine(sys.argv[2]))
"""


def _count(engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def _statuses(engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT status FROM datasets ORDER BY id")).scalars())


def _staging_table(engine) -> str | None:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT to_regclass('parcels_ds_' || (SELECT min(id) FROM datasets))::text")
        ).scalar_one()


@pytest.mark.parametrize("path", ["transaction", "bulk"])
def test_killed_mid_copy_leaves_zero_rows_and_next_run_cleans_up(
    db, tmp_path: Path, path: str
) -> None:
    shp = write_shp(parcels(500), tmp_path / "a")
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_SCRIPT, str(shp), db.url, path],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        assert line.strip() == "COPYING", proc.stderr.read()  # type: ignore[union-attr]
        # mid-COPY: the staging dataset exists, no row is visible
        assert _statuses(db.engine) == ["staging"]
        assert _count(db.engine, "SELECT count(*) FROM parcels") == 0
    finally:
        proc.kill()
        proc.wait(timeout=30)
    deadline = time.monotonic() + 30
    locks = (
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    while _count(db.engine, locks):
        assert time.monotonic() < deadline, "the killed backend never went away"
        time.sleep(0.1)
    assert _count(db.engine, "SELECT count(*) FROM parcels") == 0
    assert _count(db.engine, "SELECT count(*) FROM current_parcels") == 0
    # the bulk path's staging table was committed unattached; the transactional one rolled back
    assert (_staging_table(db.engine) is not None) is (path == "bulk")
    report = ingest(write_shp(parcels(3), tmp_path / "b"), "parcels", engine=db.engine)
    assert report.status == "published"
    assert [p.code for p in report.problems if p.code == "staging_cleaned"] == ["staging_cleaned"]
    assert _statuses(db.engine) == ["failed", "active"]
    assert _count(db.engine, "SELECT count(*) FROM parcels") == 3
    with db.engine.connect() as conn:
        note = conn.execute(text("SELECT report FROM datasets ORDER BY id LIMIT 1")).scalar_one()
    assert note["interrupted"] is True
    assert _staging_table(db.engine) is None


def test_bulk_load_publishes_a_partition_with_its_constraints(
    db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import spatial.datasets as d

    monkeypatch.setattr(d, "BULK_MIN_ROWS", 1)
    gdf = parcels(500)
    report = ingest(write_shp(gdf, tmp_path / "a"), "parcels", engine=db.engine)
    assert report.status == "published"
    assert report.counts.written == 500
    assert {"copy_rows", "build_indexes"} <= set(report.timings_s)
    part = f"parcels_ds_{report.dataset_id}"
    with db.engine.connect() as conn:
        kinds = dict(
            conn.execute(
                text(
                    "SELECT conname, contype::text FROM pg_constraint "
                    "WHERE conrelid = to_regclass(:p)"
                ),
                {"p": part},
            ).all()
        )
        area = conn.execute(text("SELECT sum(ST_Area(geom)) FROM current_parcels")).scalar_one()
        codes = conn.execute(text("SELECT count(DISTINCT code) FROM current_parcels")).scalar_one()
    assert kinds[f"{part}_pkey"] == "p"
    assert kinds[f"{part}_key"] == "u"
    assert kinds[f"{part}_dataset"] == "c"
    assert area == pytest.approx(report.total_area_m2, abs=0.01)
    assert area == pytest.approx(float(gdf.area.sum()), abs=0.01)
    assert codes == 500


def _hold_layer_lock(engine, release: threading.Event, held: threading.Event) -> None:
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('tuzheng.layer.parcels'))"))
        held.set()
        release.wait(30)


def test_busy_layer_gives_conflict_then_waits(db, tmp_path: Path) -> None:
    ingest(write_shp(parcels(2), tmp_path / "v1"), "parcels", engine=db.engine)
    release, held = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_layer_lock, args=(db.engine, release, held))
    holder.start()
    try:
        assert held.wait(10)
        with pytest.raises(Conflict) as info:
            ingest(
                write_shp(parcels(5), tmp_path / "v2"),
                "parcels",
                engine=db.engine,
                lock_timeout_s=0.3,
            )
        assert info.value.detail["report"]["status"] == "refused"
        assert _count(db.engine, "SELECT count(*) FROM current_parcels") == 2
        assert _statuses(db.engine) == ["active", "failed"]
        # a patient upload waits for the lock and then goes in
        threading.Timer(0.5, release.set).start()
        report = ingest(write_shp(parcels(4), tmp_path / "v3"), "parcels", engine=db.engine)
        assert report.status == "published"
    finally:
        release.set()
        holder.join()
    assert _count(db.engine, "SELECT count(*) FROM current_parcels") == 4
    # the superseded version is kept, detached, in its own partition
    assert _count(db.engine, "SELECT count(*) FROM parcels") == 4
    old = _count(db.engine, "SELECT min(id) FROM datasets WHERE status = 'superseded'")
    assert _count(db.engine, f"SELECT count(*) FROM parcels_ds_{old}") == 2


@pytest.mark.parametrize("bulk", [False, True], ids=["transaction", "bulk"])
def test_two_concurrent_uploads_keep_data_intact(
    db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bulk: bool
) -> None:
    import spatial.datasets as d

    if bulk:  # both stage partitions over parallel sessions, then race to attach
        monkeypatch.setattr(d, "BULK_MIN_ROWS", 1)
    files = [
        write_shp(parcels(30, x0=500_000.0), tmp_path / "a"),
        write_shp(parcels(40, x0=510_000.0), tmp_path / "b"),
    ]
    results: list[object] = [None, None]
    start = threading.Barrier(2)

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = ingest(files[i], "parcels", engine=db.engine, user=f"u{i}")
        except Conflict as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    published = [r for r in results if getattr(r, "status", None) == "published"]
    assert len(published) >= 1
    statuses = _statuses(db.engine)
    assert statuses.count("active") == 1
    active_rows = _count(db.engine, "SELECT count(*) FROM current_parcels")
    assert active_rows in (30, 40)
    with db.engine.connect() as conn:
        per = conn.execute(
            text(
                "SELECT d.id, d.status, d.row_count, to_regclass('parcels_ds_' || d.id)::text "
                "FROM datasets d ORDER BY d.id"
            )
        ).all()
        for _id, status, row_count, part in per:  # a superseded version keeps its partition
            n = conn.execute(text(f'SELECT count(*) FROM "{part}"')).scalar_one() if part else 0
            assert n == (row_count if status != "failed" else 0)
    with db.engine.connect() as conn:
        attached = conn.execute(
            text("SELECT count(*) FROM pg_inherits WHERE inhparent = 'parcels'::regclass")
        ).scalar_one()
        loose = conn.execute(
            text(
                "SELECT count(*) FROM pg_class c WHERE c.relname LIKE 'parcels\\_ds\\_%' "
                "AND c.relkind = 'r' AND NOT EXISTS "
                "(SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid) AND NOT EXISTS "
                "(SELECT 1 FROM datasets d WHERE c.relname = 'parcels_ds_' || d.id "
                "AND d.status = 'superseded')"
            )
        ).scalar_one()
    assert attached == 1  # the active version's partition; superseded ones are detached
    assert loose == 0  # no staging table left behind
