"""API uploads run in a memory-capped child process: a file cannot take the API down."""

from __future__ import annotations

import multiprocessing as mp
import threading
import time
from pathlib import Path

import pytest
from ingest_files import parcels, write_shp, zip_shapefile
from sqlalchemy import text

from spatial.errors import InvalidInput
from spatial.ingest import ingest
from spatial.ingest.isolated import ingest_isolated
from spatial.users import add_user


def _zip(tmp_path: Path, n: int) -> Path:
    shp = write_shp(parcels(n), tmp_path / f"src{n}")
    return zip_shapefile(shp, tmp_path / "宗地成果.zip", prefix="成果/")


def _post(client, token: str, path: Path):
    with open(path, "rb") as fh:
        return client.post(
            "/uploads",
            files={"file": (path.name, fh, "application/zip")},
            data={"layer": "parcels"},
            headers={"Authorization": f"Bearer {token}"},
        )


def _statuses(engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT status FROM datasets ORDER BY id")).scalars())


def test_memory_cap_refuses_with_413_and_the_api_keeps_serving(
    db, client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = add_user("cehui", "surveyor", db.engine)
    upload = _zip(tmp_path, 1000)
    monkeypatch.setenv("TUZHENG_INGEST_WORKER_MEMORY_MB", "1")
    r = _post(client, token, upload)
    assert r.status_code == 413, r.text
    body = r.json()
    assert "内存超过上限（1 MB）" in body["message_zh"]
    assert "more memory than the limit (1 MB)" in body["message_en"]
    assert [p["code"] for p in body["report"]["problems"]] == ["memory_limit"]
    assert client.get("/collections").status_code == 200  # the API process is unharmed
    with db.engine.connect() as conn:
        audit = conn.execute(
            text("SELECT detail FROM audit_log WHERE action = 'upload' ORDER BY id")
        ).scalars()
        detail = list(audit)
        assert conn.execute(text("SELECT count(*) FROM parcels")).scalar_one() == 0
    assert _statuses(db.engine) == ["failed"]
    assert detail[-1]["outcome"] == "refused" and detail[-1]["file"] == "宗地成果.zip"
    monkeypatch.setenv("TUZHENG_INGEST_WORKER_MEMORY_MB", "4096")
    ok = _post(client, token, upload)
    assert ok.status_code == 201, ok.text
    assert ok.json()["counts"]["written"] == 1000
    assert _statuses(db.engine) == ["failed", "active"]


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
    shp = write_shp(parcels(30_000), tmp_path / "big")
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
    time.sleep(0.2)
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
