"""Diff between two versions of a layer (spatial function, CLI, API), restore, remove."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import shapely
from ingest_files import parcels, write_shp, zip_shapefile
from sqlalchemy import text

from spatial import datasets
from spatial.errors import Conflict, InvalidInput, NotFound
from spatial.ingest import ingest
from spatial.users import add_user
from spatial.versions import diff_datasets


def two_versions(db, tmp_path: Path) -> tuple[int, int]:
    """v1: GM-0000…0004. v2: 0000 same, 0001 new owner, 0002 moved and grown, 0003 new
    category, 0004 removed, 0005 added."""
    v1 = parcels(5)
    g2 = parcels(6)
    g2 = g2.drop(index=4).reset_index(drop=True)
    g2.loc[1, "权利人"] = "王五（新权利人）"
    x0, y0 = 500_000.0 + 100, 2_500_000.0
    g2.loc[2, "geometry"] = shapely.box(x0 + 10, y0, x0 + 50, y0 + 60)  # 40×60 = 2400 m²
    g2.loc[3, "权属类型"] = "集体"
    ids = []
    for i, gdf in enumerate((v1, g2)):
        z = zip_shapefile(write_shp(gdf, tmp_path / f"v{i}"), tmp_path / f"v{i}.zip")
        ids.append(ingest(z, "parcels", engine=db.engine, user="surveyor").dataset_id)
    return ids[0], ids[1]


def test_diff_by_feature_code(db, tmp_path):
    a, b = two_versions(db, tmp_path)
    d = diff_datasets(db.engine, a, b)
    assert (d.added, d.removed, d.changed, d.unchanged) == (1, 1, 3, 1)
    by_key = {c.key: c for c in d.changes}
    assert [c.key for c in d.changes] == ["GM-0001", "GM-0002", "GM-0003", "GM-0004", "GM-0005"]
    assert by_key["GM-0001"].attributes == {"owner": ["张三", "王五（新权利人）"]}
    assert not by_key["GM-0001"].geometry_moved and by_key["GM-0001"].area_change_m2 == 0.0
    moved = by_key["GM-0002"]
    assert moved.change == "changed" and moved.geometry_moved and moved.attributes == {}
    assert moved.moved_m == 10.0  # the left edge moved 10 m east, the top 10 m north
    assert (moved.area_before_m2, moved.area_after_m2, moved.area_change_m2) == (
        2500.0,
        2400.0,
        -100.0,
    )
    assert by_key["GM-0003"].attributes == {"category": ["state_owned", "collective"]}
    assert by_key["GM-0004"].change == "removed" and by_key["GM-0004"].area_change_m2 == -2500.0
    assert by_key["GM-0005"].change == "added" and by_key["GM-0005"].area_change_m2 == 2500.0
    lon, lat = by_key["GM-0005"].geometry["coordinates"][0][0][0]
    assert 113.9 < lon < 114.1 and 22.5 < lat < 22.7
    # the other direction mirrors it
    back = diff_datasets(db.engine, b, a)
    assert (back.added, back.removed, back.changed) == (1, 1, 3)
    frame = d.to_frame()
    assert frame.loc[frame.key == "GM-0001", "attributes"].item() == (
        "owner: 张三 → 王五（新权利人）"
    )
    # limit lists fewer, counts stay whole
    short = diff_datasets(db.engine, a, b, limit=2)
    assert len(short.changes) == 2 and short.truncated and short.changed == 3


def test_diff_refuses_other_layers_and_unknown_ids(db, tmp_path):
    a, _ = two_versions(db, tmp_path)
    with db.engine.begin() as conn:
        other = datasets.new_dataset(conn, "projects", "p", "x")
    with pytest.raises(InvalidInput):
        diff_datasets(db.engine, a, other)
    with pytest.raises(NotFound):
        diff_datasets(db.engine, a, 987654)


def test_cli_api_and_python_agree(db, client, tmp_path):
    a, b = two_versions(db, tmp_path)
    exe = Path(sys.executable).parent / "tuzheng"
    env = {**os.environ, "DATABASE_URL": db.url}
    out = subprocess.run(
        [str(exe), "datasets", "diff", str(a), str(b), "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    cli = json.loads(out.stdout)
    py = diff_datasets(db.engine, a, b).to_dict()
    assert cli == json.loads(json.dumps(py))
    human = subprocess.run(
        [str(exe), "datasets", "diff", str(a), str(b)], env=env, capture_output=True, text=True
    ).stdout
    assert "新增 added 1, 删除 removed 1, 变更 changed 3, 未变 unchanged 1" in human
    assert "owner: 张三 → 王五（新权利人）" in human
    assert "几何变化 geometry moved ≤ 10.000 m, Δ -100.00 m²" in human
    planner = add_user("p", "planner", db.engine)
    r = client.get(f"/datasets/{a}/diff/{b}", headers={"Authorization": f"Bearer {planner}"})
    assert r.status_code == 200 and r.json() == cli
    assert client.get(f"/datasets/{a}/diff/{b}").status_code == 401


def test_restore_is_audited_with_role_and_superseded(db, client, tmp_path):
    a, b = two_versions(db, tmp_path)
    admin = add_user("root", "admin", db.engine)
    r = client.post(f"/datasets/{a}/restore", headers={"Authorization": f"Bearer {admin}"})
    assert r.status_code == 200 and r.json()["superseded_dataset_ids"] == [b]
    with db.engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT user_name, role, target, detail FROM audit_log "
                "WHERE action = 'dataset.restore'"
            )
        ).one()
    assert tuple(row) == ("root", "admin", f"dataset:{a}", {"layer": "parcels", "superseded": [b]})


def test_remove_a_scratch_dataset(db, tmp_path):
    a, _ = two_versions(db, tmp_path)
    g = parcels(2, x0=510_000.0)
    g["宗地编号"] = ["SCRATCH-1", "SCRATCH-2"]
    z = zip_shapefile(write_shp(g, tmp_path / "s"), tmp_path / "s.zip")
    scratch = ingest(z, "parcels", engine=db.engine, mode="append", user="nb").dataset_id
    with pytest.raises(Conflict):  # the active replace version stays
        datasets.remove_dataset(db.engine, _, "nb")
    datasets.remove_dataset(db.engine, scratch, "nb")
    with db.engine.connect() as conn:
        codes = conn.execute(text("SELECT code FROM current_parcels ORDER BY code")).scalars()
        parts = conn.execute(
            text("SELECT count(*) FROM pg_class WHERE relname = :n"),
            {"n": f"parcels_ds_{scratch}"},
        ).scalar_one()
        audit = conn.execute(
            text("SELECT target FROM audit_log WHERE action = 'dataset.remove'")
        ).scalar_one()
    assert "SCRATCH-1" not in list(codes) and parts == 0 and audit == f"dataset:{scratch}"
    # the same codes can be appended again
    again = ingest(z, "parcels", engine=db.engine, mode="append", user="nb")
    assert again.status == "published"


def test_a_reprojected_resurvey_has_not_moved(db, tmp_path):
    """The same parcels delivered with zone-38 eastings differ by float noise only."""
    a, _ = two_versions(db, tmp_path)
    z38 = write_shp(parcels(5, x0=38_500_000.0), tmp_path / "z38", prj=False)
    b = ingest(z38, "parcels", engine=db.engine, crs="EPSG:4526").dataset_id
    d = diff_datasets(db.engine, a, b)
    assert (d.added, d.removed, d.changed, d.unchanged) == (0, 0, 0, 5)
    strict = diff_datasets(db.engine, a, b, tolerance_m=0.0)
    # exactly compared, the re-projection's float noise (well under 1 mm) shows as moved
    assert strict.changed == 5
    assert [c.moved_m for c in strict.changes] == [0.0] * 5 and all(
        c.geometry_moved for c in strict.changes
    )
