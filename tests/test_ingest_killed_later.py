"""kill -9 of an ingest after the COPY: while its indexes are built, while its partition is
attached, and while it publishes. Each time the active version stays what it was, nothing of
the killed upload is visible, and the next upload cleans up and goes in."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from ingest_files import parcels, write_shp
from psycopg.errors import LockNotAvailable
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from spatial.ingest import ingest

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = """
import sys, time
import spatial.datasets as d
import spatial.datasets.lifecycle as lifecycle
import spatial.datasets.loading as loading
from psycopg import sql
from sqlalchemy import create_engine
from spatial.ingest import ingest

shp, url, stage, path = sys.argv[1:5]
if path == "bulk":
    d.BULK_MIN_ROWS = 1

def stall(name):
    print(name, flush=True)
    time.sleep(600)

if stage == "index":  # one more index statement, that waits for a lock the test holds
    orig_index = loading.index_statements
    hold = sql.SQL("SELECT pg_advisory_lock(424242)")
    loading.index_statements = lambda *a: [*orig_index(*a), hold]
elif stage == "attach":  # ATTACH PARTITION done in the open transaction, not committed
    orig_attach = lifecycle.attach_partition
    def attach(*a):
        orig_attach(*a)
        stall("ATTACHED")
    lifecycle.attach_partition = attach
elif stage == "publish":  # statuses flipped in the open transaction, not committed
    orig_publish = d.publish
    def publish(*a, **k):
        out = orig_publish(*a, **k)
        stall("PUBLISHED")
        return out
    d.publish = publish
ingest(shp, "parcels", engine=create_engine(url))
"""


def _one(engine, q: str):  # noqa: ANN001, ANN202
    with engine.connect() as conn:
        return conn.execute(text(q)).scalar_one()


def _current(engine) -> list[tuple]:  # noqa: ANN001
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            text("SELECT code, owner, ST_Area(geom) FROM current_parcels ORDER BY code"))]  # fmt: skip  # noqa: E501


def _seen_by_a_reader(engine) -> list[tuple] | None:  # noqa: ANN001
    """The current parcels, or None when a lock kept the reader waiting for over 2 s."""
    with engine.connect() as conn:
        conn.execute(text("SET lock_timeout = '2s'"))
        try:
            return [tuple(r) for r in conn.execute(
                text("SELECT code, owner, ST_Area(geom) FROM current_parcels ORDER BY code"))]  # fmt: skip  # noqa: E501
        except DBAPIError as exc:
            if isinstance(exc.orig, LockNotAvailable):
                return None
            raise


def _statuses(engine) -> list[str]:  # noqa: ANN001
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT status FROM datasets ORDER BY id")).scalars())


def _wait_until(condition, what: str, timeout_s: float = 60) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


@pytest.mark.parametrize("path", ["transaction", "bulk"])
@pytest.mark.parametrize("stage", ["index", "attach", "publish"])
def test_killed_after_the_copy_changes_nothing(db, tmp_path: Path, stage: str, path: str):
    v1 = ingest(write_shp(parcels(3), tmp_path / "v1"), "parcels", engine=db.engine)
    before = _current(db.engine)
    new = parcels(60, x0=505_000.0)
    new["权利人"] = "新版本"
    holder = db.engine.connect()  # holds the lock the extra index statement waits for
    holder.execute(text("SELECT pg_advisory_lock(424242)"))
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(write_shp(new, tmp_path / "v2")), db.url, stage, path],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        if stage == "index":
            _wait_until(
                lambda: (
                    _one(
                        db.engine,
                        "SELECT count(*) FROM pg_stat_activity WHERE query = "
                        "'SELECT pg_advisory_lock(424242)' AND wait_event_type = 'Lock'",
                    )
                    > 0
                ),  # fmt: skip
                "the index build never started",
            )
        else:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            assert line.strip() == {"attach": "ATTACHED", "publish": "PUBLISHED"}[stage], (
                proc.stderr.read()  # type: ignore[union-attr]
            )
        # in flight: the old version is what everyone sees. Once it publishes, the upload has
        # detached the superseded partition (migration 0010), which locks the layer until the
        # commit: a reader then waits (here it gives up after 2 s) and never sees the new rows.
        seen = _seen_by_a_reader(db.engine)
        assert seen == before or (stage == "publish" and seen is None), seen
    finally:
        proc.kill()
        proc.wait(timeout=30)
        # a backend notices its client is gone when it next talks to it: let it go on
        holder.execute(text("SELECT pg_advisory_unlock(424242)"))
        holder.close()
    _wait_until(
        lambda: (
            _one(
                db.engine,
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND "
                "database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            )
            == 0
        ),  # fmt: skip
        "the killed backend never went away",
    )
    assert _current(db.engine) == before
    assert _statuses(db.engine) == ["active", "staging"]
    assert _one(db.engine, "SELECT count(*) FROM pg_inherits WHERE "
                "inhparent = 'parcels'::regclass") == 1  # fmt: skip
    # the next upload cleans up the killed one and publishes
    v3 = ingest(write_shp(parcels(4, x0=510_000.0), tmp_path / "v3"), "parcels", engine=db.engine)
    assert v3.status == "published" and v3.superseded_dataset_ids == [v1.dataset_id]
    assert "staging_cleaned" in [p.code for p in v3.problems]
    assert _statuses(db.engine) == ["superseded", "failed", "active"]
    assert [r[0] for r in _current(db.engine)] == [f"GM-{i:04d}" for i in range(4)]
    # v1 is kept whole for a restore (its partition may be detached: superseded versions are
    # pruned from the layer), and no table of the killed upload is left
    assert _one(db.engine, f"SELECT count(*) FROM parcels_ds_{v1.dataset_id}") == 3
    tables = _one(db.engine, "SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class "
                  "WHERE relname LIKE 'parcels\\_ds\\_%' AND relkind = 'r'")  # fmt: skip
    assert tables.split(",") == sorted(
        [f"parcels_ds_{v1.dataset_id}", f"parcels_ds_{v3.dataset_id}"]
    )
