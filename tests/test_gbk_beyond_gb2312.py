"""Surveyors' names beyond GB2312, through upload and export, compared as DBF bytes.

喆 堃 镕 昇 玥 are in GBK but not GB2312 (so a GB2312 decoder fails on them); 䶮 and 𠮷 are
only in GB18030 (GBK has no code for them). Each goes in through ``POST /uploads`` (declared by
a ``.cpg``, and detected without one) and comes back out of a GBK (or UTF-8) shapefile export
with exactly the bytes the surveyor's ``.dbf`` had.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from conftest import make_client
from dbf import read_dbf
from ingest_files import parcels, write_shp
from sqlalchemy import text

import spatial as tz
from spatial.errors import InvalidInput
from spatial.users import add_user

GBK_ONLY = ["王喆", "刘堃（代管）", "朱镕基村", "李昇", "陈玥"]
GB18030_ONLY = ["刘䶮", "𠮷野家", "张喆"]


def _upload(db, tmp_path: Path, owners: list[str], encoding: str, cpg: bool) -> dict:  # noqa: ANN001
    gdf = parcels(len(owners))
    gdf["权利人"] = owners
    shp = write_shp(gdf, tmp_path / "src", encoding=encoding, cpg=cpg, ldid=None if cpg else 0)
    z = tmp_path / "成果.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for part in sorted(shp.parent.iterdir()):
            zf.write(part, part.name)
    token = add_user("测绘员", "surveyor", db.engine)
    with make_client(db) as client, open(z, "rb") as fh:
        r = client.post(
            "/uploads",
            files={"file": (z.name, fh, "application/zip")},
            data={"layer": "parcels"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert r.status_code == 201, r.text
    return {"report": r.json(), "dbf": shp.with_suffix(".dbf")}


def _owner_bytes(dbf: Path, field: bytes) -> list[bytes]:
    names, rows = read_dbf(dbf)
    i = names.index(field)
    return [r[i] for r in rows]


def _stored_owners(db) -> list[str]:  # noqa: ANN001
    with db.engine.connect() as conn:
        return conn.execute(text("SELECT owner FROM current_parcels ORDER BY code")).scalars().all()


@pytest.mark.parametrize("cpg", [True, False], ids=["cpg", "detected"])
def test_gbk_only_names_round_trip_byte_exact(db, tmp_path: Path, cpg: bool):
    for name in GBK_ONLY:
        with pytest.raises(UnicodeEncodeError):
            name.encode("gb2312")
    up = _upload(db, tmp_path, GBK_ONLY, "cp936", cpg)
    assert up["report"]["encoding"] == "GBK"
    assert ("detected" in up["report"]["encoding_method"]) is not cpg
    sent = _owner_bytes(up["dbf"], "权利人".encode("gbk"))
    assert sent == [n.encode("gbk") for n in GBK_ONLY]
    assert _stored_owners(db) == GBK_ONLY
    parcels_back = tz.load_layer("parcels", db.engine)[["code", "owner", "geometry"]]
    shp = tz.export_shapefile(parcels_back, tmp_path / "out" / "宗地", encoding="GBK")
    assert _owner_bytes(shp.with_suffix(".dbf"), b"owner") == sent  # the surveyor's bytes, exactly


@pytest.mark.parametrize("cpg", [True, False], ids=["cpg", "detected"])
def test_gb18030_only_names_go_in_exactly_and_gbk_export_refuses_them(
    db, tmp_path: Path, cpg: bool
):
    for name in GB18030_ONLY[:2]:
        with pytest.raises(UnicodeEncodeError):
            name.encode("gbk")
    up = _upload(db, tmp_path, GB18030_ONLY, "GB18030", cpg)
    assert up["report"]["encoding"] == "GB18030"
    assert _owner_bytes(up["dbf"], "权利人".encode("gb18030")) == [
        n.encode("gb18030") for n in GB18030_ONLY
    ]
    assert _stored_owners(db) == GB18030_ONLY
    parcels_back = tz.load_layer("parcels", db.engine)[["code", "owner", "geometry"]]
    with pytest.raises(InvalidInput) as info:
        tz.export_shapefile(parcels_back, tmp_path / "gbk" / "宗地", encoding="GBK")
    assert "row 0 owner" in info.value.message_en  # the first row, 刘䶮, named with its field
    assert not (tmp_path / "gbk" / "宗地.shp").exists()
    shp = tz.export_shapefile(parcels_back, tmp_path / "utf8" / "宗地", encoding="UTF-8")
    assert _owner_bytes(shp.with_suffix(".dbf"), b"owner") == [
        n.encode("utf-8") for n in GB18030_ONLY
    ]
