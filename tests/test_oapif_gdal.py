"""GDAL's OAPIF driver reads every collection (ogrinfo lists them, ogr2ogr copies one out)."""

from __future__ import annotations

import shutil
import subprocess

import layers_data
import pyogrio
import pytest

small_db = layers_data.small_db

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("ogr2ogr") is None, reason="gdal-bin is not installed"),
]


@pytest.fixture(scope="module")
def server(small_db):
    with layers_data.running_server(small_db.url) as base:
        yield base


def run(*args: str) -> str:
    out = subprocess.run(args, capture_output=True, text=True, timeout=120, check=True)
    return out.stdout


def test_ogrinfo_lists_every_collection(server):
    out = run("ogrinfo", "-ro", "-q", f"OAPIF:{server}")
    for i, (cid, title) in enumerate(
        [
            ("projects", "整备项目范围 Land readiness projects"),
            ("parcels", "宗地 Parcels"),
            ("retained_land", "留用土地 Retained land"),
            ("state_reserve_land", "国有储备土地 State reserve land"),
            ("statutory_plans", "法定图则 Statutory plan zones"),
            ("reserve_overlaps", "留用土地占用国有储备土地 Retained land on state reserve land"),
            ("uncovered", "法定图则未覆盖部分 Parts not covered by statutory plans"),
            ("conflicts", "用途与法定图则冲突 Planned use conflicts with the zoning"),
        ],
        start=1,
    ):
        assert f"{i}: {cid} (title: {title}) (Multi Polygon)" in out


@pytest.mark.parametrize(("collection", "count"), [("parcels", 105), ("conflicts", 1)])
def test_ogr2ogr_copies_a_collection(server, tmp_path, collection, count):
    out = tmp_path / f"{collection}.gpkg"
    run("ogr2ogr", "-f", "GPKG", str(out), f"OAPIF:{server}", collection)
    info = pyogrio.read_info(out, layer=collection)
    assert info["features"] == count
    df = pyogrio.read_dataframe(out, layer=collection)
    if collection == "parcels":
        assert set(df["category_zh"]) == {
            "原农村集体土地",
            "原光明农场国有用地",
            "未完善征（转）收地补偿手续用地",
            "国有已出让/已完善手续用地",
        }
        assert df["area_m2"].sum() == pytest.approx(100 * 10_000 + 5 * 40_000)
    else:
        assert list(df["reason_zh"]) == ["需调整法定图则"]


def test_ogr2ogr_with_attribute_filter(server, tmp_path):
    out = tmp_path / "p2.gpkg"
    run(
        "ogr2ogr",
        "-f",
        "GPKG",
        str(out),
        f"OAPIF:{server}",
        "parcels",
        "-where",
        "project_code = 'P2'",
    )
    assert pyogrio.read_info(out, layer="parcels")["features"] == 5
