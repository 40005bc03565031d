"""Ingestion into PostGIS: publish, Chinese byte-exact, replace/restore, append, same SHA."""

from __future__ import annotations

from pathlib import Path

import pytest
from ingest_files import OWNERS, parcels, write_shp, zip_shapefile
from sqlalchemy import text

from spatial import datasets
from spatial.errors import Conflict, InvalidInput
from spatial.ingest import ingest


def _current(engine, table: str = "parcels") -> list[tuple]:
    with engine.connect() as conn:
        return conn.execute(
            text(
                f"SELECT code, category::text, owner, project_code, ST_Area(geom) "
                f"FROM current_{table} ORDER BY code"
            )
        ).all()


def _dataset_status(engine) -> list[tuple]:
    with engine.connect() as conn:
        return conn.execute(text("SELECT id, status, row_count FROM datasets ORDER BY id")).all()


def test_gbk_zip_goes_in_and_chinese_comes_back_byte_exact(db, tmp_path: Path) -> None:
    shp = write_shp(parcels(4), tmp_path / "src")
    z = zip_shapefile(shp, tmp_path / "宗地.zip", prefix="成果/宗地/")
    report = ingest(z, "parcels", engine=db.engine, user="zhang")
    assert report.status == "published"
    assert report.counts.read == 4 and report.counts.written == 4
    assert report.encoding == "GBK" and ".cpg" in report.encoding_method
    assert report.source_crs == "EPSG:4547"
    assert report.total_area_m2 == pytest.approx(4 * 2500.0)
    rows = _current(db.engine)
    assert [r[0] for r in rows] == ["GM-0000", "GM-0001", "GM-0002", "GM-0003"]
    assert [r[1] for r in rows] == [
        "collective",
        "state_farm",
        "incomplete_acquisition",
        "state_owned",
    ]
    assert [r[2] for r in rows] == OWNERS
    assert [r[2].encode("utf-8") for r in rows] == [o.encode("utf-8") for o in OWNERS]
    assert rows[0][3] == "XM-科学城"
    assert rows[0][4] == pytest.approx(2500.0)
    with db.engine.connect() as conn:
        ds = conn.execute(
            text("SELECT status, sha256, encoding, row_count, area_m2, report FROM datasets")
        ).one()
        audit = conn.execute(
            text("SELECT user_name, detail FROM audit_log WHERE action = 'upload'")
        ).one()
    assert ds.status == "active" and ds.sha256 == report.sha256 and ds.row_count == 4
    assert ds.report["status"] == "published"
    assert audit.user_name == "zhang" and audit.detail["sha256"] == report.sha256
    assert audit.detail["outcome"] == "published"


def test_dry_run_writes_nothing(db, tmp_path: Path) -> None:
    shp = write_shp(parcels(3), tmp_path)
    report = ingest(shp, "parcels", engine=db.engine, dry_run=True)
    assert report.status == "dry_run"
    assert report.counts.read == 3 and report.counts.written == 0
    assert report.total_area_m2 == pytest.approx(7500.0)
    assert _dataset_status(db.engine) == []
    assert _current(db.engine) == []


def test_same_sha_is_detected_and_nothing_duplicated(db, tmp_path: Path) -> None:
    shp = write_shp(parcels(3), tmp_path)
    first = ingest(shp, "parcels", engine=db.engine)
    again = ingest(shp, "parcels", engine=db.engine)
    assert again.status == "unchanged"
    assert again.dataset_id == first.dataset_id
    assert any(p.code == "same_file" for p in again.problems)
    assert len(_current(db.engine)) == 3
    assert [s[1] for s in _dataset_status(db.engine)] == ["active"]


def test_corrected_dbf_next_to_the_same_shp_is_new_data(db, tmp_path: Path) -> None:
    gdf = parcels(3)
    shp = write_shp(gdf, tmp_path)
    first = ingest(shp, "parcels", engine=db.engine)
    shp_bytes = shp.read_bytes()
    gdf["权利人"] = "玉律股份合作公司（更正）"
    write_shp(gdf, tmp_path)  # same geometries: the .shp is byte-identical, the .dbf is not
    assert shp.read_bytes() == shp_bytes
    again = ingest(shp, "parcels", engine=db.engine)
    assert again.status == "published"
    assert again.sha256 != first.sha256
    assert again.superseded_dataset_ids == [first.dataset_id]
    with db.engine.connect() as conn:
        owners = conn.execute(text("SELECT DISTINCT owner FROM current_parcels")).scalars().all()
    assert owners == ["玉律股份合作公司（更正）"]


def test_replace_keeps_old_version_and_restore(db, tmp_path: Path) -> None:
    v1 = ingest(write_shp(parcels(3), tmp_path / "a"), "parcels", engine=db.engine)
    v2 = ingest(write_shp(parcels(5), tmp_path / "b"), "parcels", engine=db.engine)
    assert v2.superseded_dataset_ids == [v1.dataset_id]
    assert len(_current(db.engine)) == 5
    assert _dataset_status(db.engine) == [
        (v1.dataset_id, "superseded", 3),
        (v2.dataset_id, "active", 5),
    ]
    with db.engine.connect() as conn:  # kept in its own (detached) partition
        old = conn.execute(
            text(f'SELECT count(*) FROM "{datasets.partition_name("parcels", v1.dataset_id)}"')
        ).scalar_one()
    assert old == 3
    datasets.restore(db.engine, v1.dataset_id, "admin")
    assert len(_current(db.engine)) == 3
    assert _dataset_status(db.engine)[1][1] == "superseded"


def test_append_refuses_duplicate_codes(db, tmp_path: Path) -> None:
    ingest(write_shp(parcels(3), tmp_path / "a"), "parcels", engine=db.engine)
    extra = parcels(2, x0=501_000.0)
    extra["宗地编号"] = ["GM-0002", "GM-9000"]
    with pytest.raises(Conflict) as info:
        ingest(write_shp(extra, tmp_path / "b"), "parcels", engine=db.engine, mode="append")
    report = info.value.detail["report"]
    assert report["status"] == "refused"
    assert "GM-0002" in info.value.message_en
    assert len(_current(db.engine)) == 3
    statuses = [s[1] for s in _dataset_status(db.engine)]
    assert statuses == ["active", "failed"]
    fresh = parcels(2, x0=502_000.0)
    fresh["宗地编号"] = ["GM-8000", "GM-8001"]
    ok = ingest(write_shp(fresh, tmp_path / "c"), "parcels", engine=db.engine, mode="append")
    assert ok.status == "published" and ok.superseded_dataset_ids == []
    assert len(_current(db.engine)) == 5


def test_refused_upload_is_recorded_failed_with_report(db, tmp_path: Path) -> None:
    bad = parcels(3)
    bad["权属类型"] = ["集体", "外星人用地", "国有"]
    with pytest.raises(InvalidInput) as info:
        ingest(write_shp(bad, tmp_path), "parcels", engine=db.engine)
    rep = info.value.detail["report"]
    assert rep["status"] == "refused"
    assert rep["counts"]["refused"] == 1
    assert [(p["row"], p["code"], p["value"]) for p in rep["problems"] if p["row"]] == [
        (2, "unknown_category", "外星人用地")
    ]
    with db.engine.connect() as conn:
        row = conn.execute(text("SELECT id, status, row_count, report FROM datasets")).one()
    assert row.status == "failed" and row.row_count == 0
    assert row.id == rep["dataset_id"]
    assert row.report["problems"][0]["value"] == "外星人用地"
    assert _current(db.engine) == []
