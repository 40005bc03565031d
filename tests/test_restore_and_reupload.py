"""Restore (failed → 409, unknown → 404, the middle of three versions, its audit row, rows
back identical) and what counts as an "unchanged" re-upload: the same bytes read the same way
while that version is active, and nothing else."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from conftest import make_client
from ingest_files import ESRI_GK_PRJ, parcels, write_shp, zip_shapefile
from pyproj import CRS
from sqlalchemy import text

from spatial.errors import Conflict
from spatial.ingest import ingest
from spatial.users import add_user

ROWS = (
    "SELECT code, category::text, owner, project_code, ST_AsBinary(geom), round(ST_Area(geom)::numeric, 2) "  # noqa: E501
    "FROM current_parcels ORDER BY code"
)


def _rows(engine) -> list[tuple]:  # noqa: ANN001
    with engine.connect() as conn:
        return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r)
                for r in conn.execute(text(ROWS)).all()]  # fmt: skip


def _statuses(engine) -> list[tuple[int, str]]:  # noqa: ANN001
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT id, status FROM datasets ORDER BY id"))]


@pytest.fixture
def three_versions(db, tmp_path: Path):
    """v1: 3 parcels; v2: 4 parcels with other owners and shifted east; v3: 5 parcels."""
    v2_gdf = parcels(4, x0=501_000.0)
    v2_gdf["权利人"] = ["王喆", "刘堃", "朱镕", "李昇"]
    out = []
    for gdf, name in ((parcels(3), "a"), (v2_gdf, "b"), (parcels(5), "c")):
        report = ingest(write_shp(gdf, tmp_path / name), "parcels", engine=db.engine)
        out.append((report.dataset_id, _rows(db.engine)))
    return out


def test_restore_the_middle_of_three_versions_through_the_api(db, three_versions):
    (v1, _), (v2, rows2), (v3, rows3) = three_versions
    assert [r[2] for r in rows2] == ["王喆", "刘堃", "朱镕", "李昇"]
    admin = add_user("管理员", "admin", db.engine)
    with make_client(db) as client:
        r = client.post(f"/datasets/{v2}/restore", headers={"Authorization": f"Bearer {admin}"})
    assert r.status_code == 200, r.text
    assert r.json() == {
        "dataset_id": v2,
        "layer": "parcels",
        "status": "active",
        "superseded_dataset_ids": [v3],  # the version it replaces
    }
    assert _statuses(db.engine) == [(v1, "superseded"), (v2, "active"), (v3, "superseded")]
    assert _rows(db.engine) == rows2  # owners, categories, geometry bytes and areas, identical
    with db.engine.connect() as conn:
        audit = conn.execute(
            text(
                "SELECT user_name, action, target, detail FROM audit_log "
                "WHERE action = 'dataset.restore'"
            )  # fmt: skip
        ).one()
    assert tuple(audit[:3]) == ("管理员", "dataset.restore", f"dataset:{v2}")
    assert audit.detail == {"layer": "parcels", "superseded": [v3]}
    # and back to the newest: the rows are v3's again, byte for byte
    with make_client(db) as client:
        r = client.post(f"/datasets/{v3}/restore", headers={"Authorization": f"Bearer {admin}"})
    assert r.status_code == 200
    assert _rows(db.engine) == rows3


def test_restore_refusals_change_nothing(db, tmp_path: Path):
    good = ingest(write_shp(parcels(3), tmp_path / "a"), "parcels", engine=db.engine)
    bad = parcels(2)
    bad["权属类型"] = ["集体", "火星"]
    with pytest.raises(Exception):  # noqa: B017 - refused upload: a failed dataset
        ingest(write_shp(bad, tmp_path / "b"), "parcels", engine=db.engine)
    (failed,) = [i for i, s in _statuses(db.engine) if s == "failed"]
    before, statuses = _rows(db.engine), _statuses(db.engine)
    admin = add_user("admin", "admin", db.engine)
    auth = {"Authorization": f"Bearer {admin}"}
    with make_client(db) as client:
        r = client.post(f"/datasets/{failed}/restore", headers=auth)
        assert r.status_code == 409 and r.json()["code"] == "conflict"
        assert r.json()["message_en"] == f"dataset {failed} is failed and cannot be restored"
        r = client.post("/datasets/987654/restore", headers=auth)
        assert r.status_code == 404 and r.json()["message_en"] == "no dataset 987654"
        # restoring the active version is allowed and changes nothing
        r = client.post(f"/datasets/{good.dataset_id}/restore", headers=auth)
        assert r.status_code == 200
    assert _rows(db.engine) == before and _statuses(db.engine) == statuses
    with db.engine.connect() as conn:
        targets = (
            conn.execute(text("SELECT target FROM audit_log WHERE action = 'dataset.restore'"))
            .scalars()
            .all()
        )
    assert targets == [f"dataset:{good.dataset_id}"]  # refusals are not audited as restores


# -- "unchanged" ---------------------------------------------------------------------------


def _twice(db, first: Path, second: Path, **kw):  # noqa: ANN001, ANN202
    a = ingest(first, "parcels", engine=db.engine, **kw.get("a", {}))
    b = ingest(second, "parcels", engine=db.engine, **kw.get("b", {}))
    return a, b


def test_same_bytes_same_reading_is_unchanged(db, tmp_path: Path):
    shp = write_shp(parcels(3), tmp_path / "a")
    a, b = _twice(db, shp, shp)
    assert (a.status, b.status) == ("published", "unchanged") and b.dataset_id == a.dataset_id
    z = zip_shapefile(shp, tmp_path / "a.zip")
    a, b = _twice(db, z, z)
    assert (a.status, b.status) == ("published", "unchanged")


@pytest.mark.parametrize("part", [".prj", ".cpg", ".shx"])
def test_a_changed_part_is_new_data(db, tmp_path: Path, part: str):
    shp = write_shp(parcels(3), tmp_path / "a")
    first = ingest(shp, "parcels", engine=db.engine)
    p = shp.with_suffix(part)
    if part == ".prj":
        assert p.read_text() == ESRI_GK_PRJ  # GDAL wrote the Esri form
        p.write_text(CRS.from_epsg(4547).to_wkt("WKT1_GDAL"))  # the same CRS, OGC WKT1
    elif part == ".cpg":
        assert p.read_text() == "CP936"
        p.write_text("GBK")  # the same code page under another name
    else:  # the .shx header's bounding box (bytes 36–68) is not read; the data is the same
        data = bytearray(p.read_bytes())
        data[36:44] = bytes(8)
        p.write_bytes(bytes(data))
    again = ingest(shp, "parcels", engine=db.engine)
    assert again.status == "published", again.problems
    assert again.sha256 != first.sha256
    assert (again.source_crs, again.encoding) == (first.source_crs, first.encoding)
    assert again.superseded_dataset_ids == [first.dataset_id]


@pytest.mark.parametrize(
    ("a", "b", "field"),
    [
        ({"crs": "EPSG:4547"}, {"crs": "EPSG:2383"}, "source_crs"),
        (
            {"crs": "EPSG:4547", "encoding": "GBK"},
            {"crs": "EPSG:4547", "encoding": "GB18030"},
            "encoding",
        ),
    ],
)
def test_same_bytes_read_another_way_is_new_data(db, tmp_path: Path, a, b, field):
    shp = write_shp(parcels(3).set_crs(None, allow_override=True), tmp_path / "a", prj=False)
    first, second = _twice(db, shp, shp, a=a, b=b)
    assert (first.status, second.status) == ("published", "published")
    assert first.sha256 == second.sha256
    assert getattr(first, field) != getattr(second, field)
    assert second.superseded_dataset_ids == [first.dataset_id]


def test_a_then_b_then_a_publishes_a_again(db, tmp_path: Path):
    a = write_shp(parcels(3), tmp_path / "a")
    b = write_shp(parcels(4), tmp_path / "b")
    r1 = ingest(a, "parcels", engine=db.engine)
    r2 = ingest(b, "parcels", engine=db.engine)
    r3 = ingest(a, "parcels", engine=db.engine)
    assert [r.status for r in (r1, r2, r3)] == ["published"] * 3
    assert r3.sha256 == r1.sha256 and r3.dataset_id not in (r1.dataset_id, r2.dataset_id)
    assert r3.superseded_dataset_ids == [r2.dataset_id]
    assert len(_rows(db.engine)) == 3
    again = ingest(a, "parcels", engine=db.engine)  # now A is active: unchanged
    assert again.status == "unchanged" and again.dataset_id == r3.dataset_id


def test_two_identical_uploads_at_once_publish_one_version(db, tmp_path: Path):
    shp = write_shp(parcels(40), tmp_path / "a")
    start = threading.Barrier(2)
    results: list[object] = [None, None]

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = ingest(shp, "parcels", engine=db.engine, user=f"u{i}")
        except Conflict as exc:  # the layer was busy for longer than the lock timeout
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(getattr(r, "status", "conflict") for r in results)
    assert statuses == ["published", "unchanged"], results
    published = next(r for r in results if r.status == "published")
    unchanged = next(r for r in results if r.status == "unchanged")
    assert unchanged.dataset_id == published.dataset_id
    active = [i for i, s in _statuses(db.engine) if s == "active"]
    assert active == [published.dataset_id]
    assert len(_rows(db.engine)) == 40
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM parcels")).scalar_one() == 40
