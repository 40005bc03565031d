"""API uploads run in a memory-capped child process: a file cannot take the API down."""

from __future__ import annotations

import math
import multiprocessing as mp
import threading
import time
from pathlib import Path

import pytest
from ingest_files import parcels, write_shp
from sqlalchemy import text

from spatial.errors import InvalidInput
from spatial.ingest import ingest
from spatial.ingest.isolated import ingest_isolated
from spatial.settings import IngestSettings
from spatial.users import add_user


def _statuses(engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT status FROM datasets ORDER BY id")).scalars())


def _one_huge_parcel(path: Path, vertices: int) -> Path:
    """A GeoJSON parcel in Guangming with ``vertices`` vertices (about 29 bytes each)."""
    cx, cy, r = 113.93, 22.75, 0.001
    ring = [
        f"[{cx + r * math.cos(a):.9f},{cy + r * math.sin(a):.9f}]"
        for a in (2 * math.pi * i / vertices for i in range(vertices))
    ]
    ring.append(ring[0])
    feature = (
        '{"type":"Feature","properties":{"宗地编号":"GM-1","权属类型":"原农村集体土地"},'
        '"geometry":{"type":"Polygon","coordinates":[[' + ",".join(ring) + "]]}}"
    )
    path.write_text('{"type":"FeatureCollection","features":[' + feature + "]}", "utf-8")
    return path


def _post_geojson(client, token: str, path: Path):
    with open(path, "rb") as fh:
        return client.post(
            "/uploads",
            files={"file": (path.name, fh, "application/geo+json")},
            data={"layer": "parcels"},
            headers={"Authorization": f"Bearer {token}"},
        )


def test_memory_cap_refuses_the_upload_and_the_api_keeps_serving(
    db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conftest import make_client

    token = add_user("cehui", "surveyor", db.engine)
    upload = _one_huge_parcel(tmp_path / "宗地.geojson", 1_000_000)  # 29 MB of GeoJSON
    monkeypatch.setenv("TUZHENG_INGEST_WORKER_MEMORY_MB", "100")  # read when the app is built
    monkeypatch.setenv("TUZHENG_INGEST_WORKER_TIMEOUT_S", "60")
    with make_client(db) as client:
        r = _post_geojson(client, token, upload)
        serving = client.get("/collections").status_code
    # Out of memory shows as a MemoryError (413), or as GDAL/json-c crashing or hanging
    # (422); whichever it is, the upload is refused and recorded, and the API is unharmed.
    assert r.status_code in (413, 422), r.text
    body = r.json()
    codes = [p["code"] for p in body["report"]["problems"]]
    assert codes in (["memory_limit"], ["worker_died"], ["worker_timeout"])
    assert "100 MB" in body["message_en"] or codes == ["worker_timeout"]
    assert serving == 200
    with db.engine.connect() as conn:
        detail = list(
            conn.execute(
                text("SELECT detail FROM audit_log WHERE action = 'upload' ORDER BY id")
            ).scalars()
        )
        assert conn.execute(text("SELECT count(*) FROM parcels")).scalar_one() == 0
    assert _statuses(db.engine) == ["failed"]
    assert detail[-1]["outcome"] == "refused" and detail[-1]["file"] == "宗地.geojson"
    monkeypatch.setenv("TUZHENG_INGEST_WORKER_MEMORY_MB", "4096")
    with make_client(db) as client:
        ok = _post_geojson(client, token, upload)
    assert ok.status_code == 201, ok.text
    assert ok.json()["counts"]["written"] == 1
    # a circle of radius 0.001° at 22.75°N: π·r² with r ≈ 102.7 m east-west, 110.8 m north-south
    assert ok.json()["total_area_m2"] == pytest.approx(35_760, rel=0.01)
    assert _statuses(db.engine) == ["failed", "active"]


def test_a_worker_over_its_time_limit_is_killed_and_refused(db, tmp_path: Path) -> None:
    shp = write_shp(parcels(30_000), tmp_path / "big")
    settings = IngestSettings(worker_timeout_s=0.05)
    with pytest.raises(InvalidInput) as info:
        ingest_isolated(shp, "parcels", engine=db.engine, settings=settings)
    assert "时限（0.05 秒）" in info.value.message_zh
    assert [p["code"] for p in info.value.detail["report"]["problems"]] == ["worker_timeout"]
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM parcels")).scalar_one() == 0
    assert _statuses(db.engine) == ["failed"]


def test_report_and_errors_cross_the_process_boundary(db, tmp_path: Path) -> None:
    shp = write_shp(parcels(3), tmp_path / "a")
    report = ingest_isolated(shp, "parcels", engine=db.engine, user="zhang", role="surveyor")
    assert report.status == "published" and report.counts.written == 3
    assert report.total_area_m2 == pytest.approx(7500.0)
    with pytest.raises(InvalidInput) as info:
        ingest_isolated(shp, "宗地", engine=db.engine)
    assert "未知的图层 宗地" in info.value.message_zh
    assert info.value.detail["report"]["status"] == "refused"


def test_a_killed_worker_is_a_clean_refusal_and_the_next_upload_cleans_up(
    db, tmp_path: Path
) -> None:
    shp = write_shp(parcels(30_000, size=1.0), tmp_path / "big")  # 30 km of 1 m squares
    outcome: dict[str, BaseException] = {}

    def run() -> None:
        try:
            ingest_isolated(shp, "parcels", engine=db.engine, user="zhang")
        except BaseException as exc:  # noqa: BLE001 - inspected below
            outcome["exc"] = exc

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 60
    child = None
    while child is None:
        assert time.monotonic() < deadline, "the ingest child never started"
        child = next((c for c in mp.active_children() if c.name == "tuzheng-ingest"), None)
        time.sleep(0.01)
    # kill it once it is writing: its staging dataset exists (a condition, not a timer)
    while _statuses(db.engine) != ["staging"]:
        assert child.is_alive() and time.monotonic() < deadline, _statuses(db.engine)
        time.sleep(0.01)
    child.kill()  # as the kernel's OOM killer would
    worker.join(60)
    exc = outcome.get("exc")
    assert isinstance(exc, InvalidInput), outcome
    assert "退出码 -9" in exc.message_zh and "exit code -9" in exc.message_en
    assert [p["code"] for p in exc.detail["report"]["problems"]] == ["worker_died"]
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM parcels")).scalar_one() == 0
    assert "failed" in _statuses(db.engine)
    again = ingest(write_shp(parcels(3), tmp_path / "small"), "parcels", engine=db.engine)
    assert again.status == "published"
    assert "staging" not in _statuses(db.engine)
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM current_parcels")).scalar_one() == 3
