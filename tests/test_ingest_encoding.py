"""Encoding of shapefile text: .cpg, DBF language-driver byte, detection, refusal."""

from __future__ import annotations

from pathlib import Path

import pytest
from ingest_files import parcels, write_shp

from spatial.errors import InvalidInput
from spatial.ingest import ingest
from spatial.ingest.encoding import choose_encoding


def _dry(path: Path, **kw):
    return ingest(path, "parcels", dry_run=True, **kw)


def test_gbk_with_cpg(tmp_path: Path) -> None:
    report = _dry(write_shp(parcels(), tmp_path))
    assert report.encoding == "GBK"
    assert report.encoding_method.startswith(".cpg")
    assert report.column_mapping["code"] == "宗地编号"
    assert report.column_mapping["owner"] == "权利人"


def test_gbk_without_cpg_uses_language_driver_byte(tmp_path: Path) -> None:
    shp = write_shp(parcels(), tmp_path, cpg=False, ldid=0x4D)
    report = _dry(shp)
    assert report.encoding == "GBK"
    assert "0x4D" in report.encoding_method


def test_gbk_without_cpg_or_ldid_is_detected(tmp_path: Path) -> None:
    shp = write_shp(parcels(), tmp_path, cpg=False, ldid=0)
    report = _dry(shp)
    assert report.encoding == "GBK"
    assert "detected" in report.encoding_method


def test_utf8_cpg(tmp_path: Path) -> None:
    shp = write_shp(parcels(), tmp_path, encoding="UTF-8")
    assert (tmp_path / "zongdi.cpg").read_text().strip().upper() in ("UTF-8", "UTF8")
    report = _dry(shp)
    assert report.encoding == "UTF-8"
    # 权属类型 is 12 bytes in UTF-8: GDAL cut it at 10 bytes, inside the 4th character
    assert report.column_mapping["category"] == "权属类"
    assert report.column_mapping["owner"] == "权利人"
    cut = [p.field for p in report.problems if p.code == "field_name_truncated"]
    assert cut == ["宗地编", "权属类", "项目编"]


def test_utf8_without_cpg_is_detected(tmp_path: Path) -> None:
    shp = write_shp(parcels(), tmp_path, encoding="UTF-8", cpg=False)
    report = _dry(shp)
    assert report.encoding == "UTF-8" and "detected" in report.encoding_method


def test_wrong_cpg_is_refused_not_garbled(tmp_path: Path) -> None:
    shp = write_shp(parcels(), tmp_path)
    (tmp_path / "zongdi.cpg").write_text("UTF-8")
    with pytest.raises(InvalidInput) as info:
        _dry(shp)
    assert "UTF-8" in info.value.message_en and "--encoding" in info.value.message_en
    assert info.value.detail["report"]["status"] == "refused"
    # the user's override fixes it
    report = _dry(shp, encoding="GBK")
    assert report.encoding == "GBK" and "--encoding" in report.encoding_method


def test_undecodable_text_is_refused(tmp_path: Path) -> None:
    gdf = parcels(3)
    gdf["权利人"] = ["ZZZZ", "QQQQ", "ZZZZ"]
    shp = write_shp(gdf, tmp_path, cpg=False, ldid=0)
    dbf = tmp_path / "zongdi.dbf"
    dbf.write_bytes(dbf.read_bytes().replace(b"QQQQ", b"\xff\xfe\xff\xfe"))
    with pytest.raises(InvalidInput) as info:
        _dry(shp)
    assert "neither UTF-8 nor GBK" in info.value.message_en
    with pytest.raises(InvalidInput) as info:
        _dry(shp, encoding="GBK")
    assert "row 2" in info.value.message_en


def test_choose_encoding_for_geopackage_is_utf8() -> None:
    choice = choose_encoding(None, None, None, "GPKG")
    assert choice.label == "UTF-8"
    with pytest.raises(InvalidInput):
        choose_encoding(None, None, "GBK", "GPKG")
