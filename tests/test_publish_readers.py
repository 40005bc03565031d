"""Readers of a partitioned layer are not held up while a publish brings the results up to date.

Publishing a new parcels version detaches the superseded one's partition, and ``DETACH``
locks ``parcels`` against readers until the commit. The stored analysis results (migration
0013) and the parcel overview (0014) are refreshed by triggers deferred to the commit; at city
scale that takes seconds. The publish runs them before the ``DETACH``, so a reader (a tile, a
features page) reads the old version meanwhile instead of waiting.

The refresh is held at a known point without timing anything: it takes the advisory lock
``tuzheng.analysis`` first, which the test holds.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from ingest_files import parcels, write_shp
from psycopg.errors import LockNotAvailable
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from spatial.ingest import ingest

HOLD = "SELECT pg_advisory_lock(hashtext('tuzheng.analysis'))"


def _wait_for_refresh(engine, timeout_s: float = 60) -> None:  # noqa: ANN001
    """Until some backend waits for the analysis lock (the refresh of the publish has begun)."""
    deadline = time.monotonic() + timeout_s
    q = text(
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND NOT l.granted AND a.datname = current_database()"
    )
    while True:
        with engine.connect() as conn:
            if conn.execute(q).scalar_one() > 0:
                return
        assert time.monotonic() < deadline, "the publish never reached the results refresh"
        time.sleep(0.05)


def _read(engine, lock_timeout: str = "2s") -> list[tuple[str, str]] | None:  # noqa: ANN001
    """(code, owner) of the current parcels, or None when a lock kept the reader out."""
    with engine.connect() as conn:
        conn.execute(text(f"SET lock_timeout = '{lock_timeout}'"))
        try:
            rows = conn.execute(text("SELECT code, owner FROM current_parcels ORDER BY code")).all()
        except DBAPIError as exc:
            if isinstance(exc.orig, LockNotAvailable):
                return None
            raise
    return [(r.code, r.owner) for r in rows]


def test_a_reader_reads_the_old_version_while_the_publish_refreshes_results(db, tmp_path: Path):
    v1 = ingest(write_shp(parcels(3), tmp_path / "v1"), "parcels", engine=db.engine)
    before = _read(db.engine)
    assert before is not None and [c for c, _ in before] == ["GM-0000", "GM-0001", "GM-0002"]
    new = parcels(5, x0=505_000.0)
    new["权利人"] = "新版本"
    holder = db.engine.connect()
    holder.execute(text(HOLD))
    out: dict[str, object] = {}

    def upload() -> None:
        try:
            out["report"] = ingest(write_shp(new, tmp_path / "v2"), "parcels", engine=db.engine)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            out["error"] = exc

    worker = threading.Thread(target=upload)
    worker.start()
    try:
        _wait_for_refresh(db.engine)
        # the publish's transaction is open, in its refresh: readers are not locked out
        seen = _read(db.engine)
    finally:
        holder.execute(text("SELECT pg_advisory_unlock(hashtext('tuzheng.analysis'))"))
        holder.close()
        worker.join(timeout=120)
    assert seen == before
    assert "error" not in out, out.get("error")
    report = out["report"]
    assert report.status == "published"  # type: ignore[attr-defined]
    assert report.superseded_dataset_ids == [v1.dataset_id]  # type: ignore[attr-defined]
    after = _read(db.engine)
    assert after == [(f"GM-{i:04d}", "新版本") for i in range(5)]
    with db.engine.connect() as conn:
        parts = conn.execute(
            text(
                "SELECT string_agg(inhrelid::regclass::text, ',') FROM pg_inherits "
                "WHERE inhparent = 'parcels'::regclass"
            )
        ).scalar_one()
        kept = conn.execute(text(f"SELECT count(*) FROM parcels_ds_{v1.dataset_id}")).scalar_one()
    # the old version detached (kept whole for a restore), the new one alone in the layer
    assert parts == f"parcels_ds_{report.dataset_id}"  # type: ignore[attr-defined]
    assert kept == 3
