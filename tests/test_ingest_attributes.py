"""Attributes: default Chinese columns, mapping files, categories, duplicates, missing values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ingest_files import parcels, write_shp

from spatial.errors import InvalidInput
from spatial.ingest import ingest


def test_duplicate_codes_are_refused_listing_rows(tmp_path: Path) -> None:
    gdf = parcels(5)
    gdf["宗地编号"] = ["A-1", "A-2", "A-1", "A-3", "A-2"]
    with pytest.raises(InvalidInput) as info:
        ingest(write_shp(gdf, tmp_path), "parcels", dry_run=True)
    rep = info.value.detail["report"]
    dups = [(p["row"], p["value"]) for p in rep["problems"] if p["code"] == "duplicate_code"]
    assert dups == [(1, "A-1"), (2, "A-2"), (3, "A-1"), (5, "A-2")]
    assert rep["counts"]["refused"] == 4


def test_more_than_50_rows_are_listed_then_counted(tmp_path: Path) -> None:
    gdf = parcels(60)
    gdf["权属类型"] = "火星用地"
    with pytest.raises(InvalidInput) as info:
        ingest(write_shp(gdf, tmp_path), "parcels", dry_run=True)
    rep = info.value.detail["report"]
    listed = [p for p in rep["problems"] if p["code"] == "unknown_category"]
    assert len(listed) == 50 and listed[-1]["row"] == 50
    assert rep["omitted_problems"] == {"unknown_category": 10}
    assert rep["counts"]["refused"] == 60


def test_categories_in_chinese_abbreviation_and_code(tmp_path: Path) -> None:
    gdf = parcels(4)
    gdf["权属类型"] = ["原农村集体土地", "农场", "3", "GY"]
    report = ingest(write_shp(gdf, tmp_path), "parcels", dry_run=True)
    assert report.status == "dry_run"


def test_yaml_mapping_file_with_extra_category(tmp_path: Path) -> None:
    gdf = parcels(3).rename(columns={"宗地编号": "地块号码", "权属类型": "土地类别"})
    gdf["土地类别"] = ["甲类", "集体", "国有"]
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        "columns:\n  code: 地块号码\n  category: 土地类别\ncategories:\n  甲类: collective\n",
        encoding="utf-8",
    )
    report = ingest(write_shp(gdf, tmp_path / "shp"), "parcels", dry_run=True, mapping=mapping)
    assert report.column_mapping["code"] == "地块号码"
    assert report.column_mapping["category"] == "土地类别"


def test_json_flat_mapping_and_missing_required_column(tmp_path: Path) -> None:
    gdf = parcels(2).rename(columns={"宗地编号": "NO"})
    shp = write_shp(gdf, tmp_path / "shp")
    with pytest.raises(InvalidInput) as info:
        ingest(shp, "parcels", dry_run=True)
    assert info.value.detail["field"] == "code"
    assert "NO" in info.value.message_en and "--mapping" in info.value.message_en
    mapping = tmp_path / "m.json"
    mapping.write_text(json.dumps({"code": "NO"}), encoding="utf-8")
    assert ingest(shp, "parcels", dry_run=True, mapping=mapping).column_mapping["code"] == "NO"


def test_numeric_codes_and_missing_values(db, tmp_path: Path) -> None:
    from sqlalchemy import text

    gdf = parcels(3)
    gdf["宗地编号"] = [1001.0, 1002.0, 1003.0]
    ingest(write_shp(gdf, tmp_path / "a"), "parcels", engine=db.engine)
    with db.engine.connect() as conn:
        codes = conn.execute(text("SELECT code FROM current_parcels ORDER BY code")).scalars()
        assert list(codes) == ["1001", "1002", "1003"]
    gdf = parcels(3)
    gdf.loc[1, "权属类型"] = None
    with pytest.raises(InvalidInput) as info:
        ingest(write_shp(gdf, tmp_path / "b"), "parcels", dry_run=True)
    probs = info.value.detail["report"]["problems"]
    assert [(p["row"], p["code"], p["field"]) for p in probs if p["row"]] == [
        (2, "missing_value", "权属类型")
    ]


def test_other_layers_map_their_fields(tmp_path: Path) -> None:
    gdf = parcels(2).rename(columns={"宗地编号": "图则编号", "权利人": "地块编号"})
    gdf["用地性质"] = ["R2", "GIC"]
    gdf["地块编号"] = ["01-01", "01-02"]
    report = ingest(write_shp(gdf, tmp_path), "statutory_plans", dry_run=True)
    assert report.column_mapping == {
        "plan_code": "图则编号",
        "zone_code": "地块编号",
        "land_use_class": "用地性质",
    }
    with pytest.raises(InvalidInput):
        ingest(write_shp(gdf, tmp_path / "x"), "buildings", dry_run=True)
