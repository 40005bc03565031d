"""spatial.ingest.crs_detect without files: --crs parsing, declared CRSs, inference windows,
refusal messages and the transform to storage (``make mutation``)."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from pyproj import CRS

from spatial.errors import InvalidInput
from spatial.ingest import crs_detect as cd
from spatial.ingest.crs_detect import CrsChoice, choose_crs, from_dataset, infer, parse_user_crs
from spatial.ingest.encoding import normalise  # noqa: F401  (same package, imported cheaply)

ALL = ["EPSG:4547", "EPSG:2383", "EPSG:4526", "EPSG:4490", "EPSG:4326", "gcj02"]


def test_windows_are_shenzhen_with_margins():
    assert cd.SZ_LONLAT == (113.6, 22.3, 114.8, 23.0)
    assert cd.SZ_GK_CM114 == (440_000.0, 2_450_000.0, 600_000.0, 2_560_000.0)
    assert cd.SZ_GK_ZONE38 == (38_440_000.0, 2_450_000.0, 38_600_000.0, 2_560_000.0)
    assert cd.SZ_STORAGE_BOUNDS == (469_000.0, 2_478_000.0, 569_000.0, 2_535_000.0)
    assert [c[0] for c in cd.CANDIDATES] == ALL


@pytest.mark.parametrize("value", ["gcj02", "GCJ-02", " gcj ", "GCJ"])
def test_gcj02_names(value):
    c = parse_user_crs(value)
    assert c.gcj02 and c.epsg is None and c.label == "GCJ-02"
    assert c.method == "--crs 指定 GCJ-02 / given with --crs gcj02"


@pytest.mark.parametrize(("value", "epsg"), [("EPSG:4547", 4547), ("4490", 4490), (" 4326 ", 4326)])
def test_epsg_codes(value, epsg):
    c = parse_user_crs(value)
    assert (c.epsg, c.gcj02, c.custom, c.warnings) == (epsg, False, None, [])
    assert c.label == f"EPSG:{epsg}"
    assert c.method == f"--crs 指定 {value} / given with --crs {value}"


def test_xian80_warns_that_the_transformation_is_a_ballpark():
    c = parse_user_crs("EPSG:2383")
    assert [w[0] for w in c.warnings] == ["crs_ballpark"]
    code, zh, en = c.warnings[0]
    assert zh.startswith("西安1980→CGCS2000 没有公开的转换参数") and "测绘主管部门" in zh
    assert en.startswith("PROJ has no published Xian 1980 → CGCS2000 transformation")


def test_custom_local_grid():
    local = "+proj=tmerc +lat_0=22.5 +lon_0=114 +k=1 +x_0=50000 +y_0=10000 +ellps=GRS80 +units=m"
    c = parse_user_crs(local)
    assert c.epsg is None and c.custom is not None and not c.gcj02
    assert CRS.from_wkt(c.custom).is_projected
    assert c.label == ("custom:" + CRS.from_wkt(c.custom).name)[:40]
    assert len(c.label) <= 40 and c.label.startswith("custom:")
    assert c.method.startswith("--crs 指定的自定义坐标系 ")
    assert "/ custom CRS given with --crs: " in c.method


def test_unknown_and_non_spatial_crs_are_refused():
    with pytest.raises(InvalidInput) as info:
        parse_user_crs("EPSG:99999")
    exc = info.value
    assert exc.detail["candidates"] == ALL
    assert exc.message_zh.startswith("无法识别的 --crs：EPSG:99999。可能的坐标系：EPSG:4547（")
    assert exc.message_zh.endswith("。请用 --crs 指定，例如 --crs EPSG:4547（API：表单字段 crs）")
    assert exc.message_en.startswith("unrecognised --crs: EPSG:99999. Candidates: EPSG:4547 (")
    assert exc.message_en.endswith(
        ". Pass the CRS with --crs, e.g. --crs EPSG:4547 (API: form field crs)"
    )
    vertical = "+proj=geocent +ellps=GRS80 +units=m"  # geocentric: neither projected nor geographic
    with pytest.raises(InvalidInput) as info:
        parse_user_crs(vertical)
    assert "不是平面或地理坐标系" in info.value.message_zh
    assert info.value.detail["candidates"] == ALL
    assert "is neither a projected nor a geographic CRS" in info.value.message_en


def test_candidates_text_lists_only_the_named_ones_in_order():
    zh, en = cd._candidates_text(["EPSG:2383", "EPSG:4547"])
    assert zh == (
        "EPSG:4547（CGCS2000 3度带高斯-克吕格 中央经线114°E（无带号））；"
        "EPSG:2383（西安1980 3度带高斯-克吕格 中央经线114°E）"
    )
    assert (
        en
        == "EPSG:4547 (CGCS2000 / 3-degree GK CM 114E); EPSG:2383 (Xian 1980 / 3-degree GK CM 114E)"
    )  # noqa: E501


def test_declared_crs():
    assert from_dataset(None, "ESRI Shapefile") is None
    assert from_dataset("", "GPKG") is None
    c = from_dataset(CRS.from_epsg(4547).to_wkt(), "ESRI Shapefile")
    assert c.epsg == 4547
    assert (
        c.method
        == ".prj 文件 / the .prj file：CGCS2000 / 3-degree Gauss-Kruger CM 114E → EPSG:4547"
    )
    g = from_dataset(CRS.from_epsg(4490).to_wkt(), "GPKG")
    assert g.epsg == 4490 and g.method.startswith("GPKG SRS：")
    assert from_dataset(CRS.from_epsg(2383).to_wkt(), "GPKG").warnings[0][0] == "crs_ballpark"
    crs84 = from_dataset("OGC:CRS84", "GeoJSON")
    assert crs84.epsg == 4326
    with pytest.raises(InvalidInput) as info:
        from_dataset("this is not WKT", "ESRI Shapefile")
    assert info.value.message_en.startswith("the dataset's CRS definition cannot be parsed. ")
    assert info.value.detail["candidates"] == ALL
    odd = "+proj=tmerc +lat_0=0 +lon_0=114.5 +k=0.9 +x_0=12345 +y_0=0 +ellps=GRS80 +units=m"
    with pytest.raises(InvalidInput) as info:
        from_dataset(CRS.from_proj4(odd).to_wkt(), "ESRI Shapefile")
    assert "matches no EPSG code" in info.value.message_en
    assert "无法对应到 EPSG 代码" in info.value.message_zh


@pytest.mark.parametrize(
    ("bounds", "epsg"),
    [
        ((38_500_000, 2_500_000, 38_501_000, 2_501_000), 4526),
        ((38_440_000, 2_450_000, 38_600_000, 2_560_000), 4526),  # the window's edges count
        ((113.9, 22.7, 113.95, 22.75), 4490),
        ((113.6, 22.3, 114.8, 23.0), 4490),
    ],
)
def test_inference_of_unambiguous_ranges(bounds, epsg):
    c = infer(bounds)
    assert c.epsg == epsg and not c.gcj02
    assert ("zone-38" in c.method) is (epsg == 4526)
    assert ("assumed EPSG:4490" in c.method) is (epsg == 4490)


def test_gauss_kruger_eastings_without_prj_are_ambiguous():
    with pytest.raises(InvalidInput) as info:
        infer((500_000, 2_500_000, 501_000, 2_501_000))
    assert info.value.detail["candidates"] == ["EPSG:4547", "EPSG:2383"]
    assert "CGCS2000 (EPSG:4547) and Xian 1980 (EPSG:2383) cover the same" in info.value.message_en
    with pytest.raises(InvalidInput) as info:  # the window's edges are still ambiguous
        infer((440_000, 2_450_000, 600_000, 2_560_000))
    assert info.value.detail["candidates"] == ["EPSG:4547", "EPSG:2383"]


@pytest.mark.parametrize(
    "bounds",
    [
        (113.59, 22.7, 113.9, 22.8),  # west of the lon/lat window
        (113.9, 22.29, 114.0, 22.8),
        (113.9, 22.7, 114.81, 22.8),
        (113.9, 22.7, 114.0, 23.01),
        (439_999, 2_500_000, 500_000, 2_501_000),
        (500_000, 2_449_999, 501_000, 2_501_000),
        (500_000, 2_500_000, 600_001, 2_501_000),
        (500_000, 2_500_000, 501_000, 2_560_001),
        (38_439_999, 2_500_000, 38_500_000, 2_501_000),
        (38_500_000, 2_500_000, 38_600_001, 2_501_000),
        (10, 10, 15, 15),
    ],
)
def test_anything_else_is_refused_with_every_candidate(bounds):
    with pytest.raises(InvalidInput) as info:
        infer(bounds)
    assert info.value.detail["candidates"] == ALL
    assert "matches no CRS commonly used for Shenzhen" in info.value.message_en


def test_non_finite_bounds():
    with pytest.raises(InvalidInput) as info:
        infer((float("nan"), 0, 1, 1))
    assert info.value.message_en.startswith("no CRS and the coordinates are not finite. ")
    with pytest.raises(InvalidInput):
        infer((0, 0, float("inf"), 1))


def test_choose_crs_order():
    wkt = CRS.from_epsg(4490).to_wkt()
    bounds = (500_000, 2_500_000, 501_000, 2_501_000)
    assert choose_crs("EPSG:4547", wkt, "ESRI Shapefile", bounds).epsg == 4547
    assert choose_crs(None, wkt, "ESRI Shapefile", bounds).epsg == 4490
    assert choose_crs(None, None, "ESRI Shapefile", (113.9, 22.7, 114.0, 22.8)).epsg == 4490
    assert (
        choose_crs("", None, "ESRI Shapefile", (38_500_000, 2_500_000, 38_500_001, 2_500_001)).epsg
        == 4526
    )  # noqa: E501


def test_to_storage():
    sq = np.array([shapely.box(113.93, 22.75, 113.9305, 22.7505)])
    same = np.array([shapely.box(500_000, 2_500_000, 500_010, 2_500_010)])
    assert cd.to_storage(same, CrsChoice(4547, "")) is same
    out = cd.to_storage(sq, CrsChoice(4490, ""))
    x, y = shapely.get_coordinates(out)[0]
    assert 490_000 < x < 500_000 and 2_510_000 < y < 2_520_000
    gcj = cd.to_storage(sq, CrsChoice(None, "", gcj02=True))
    assert 300 < shapely.distance(gcj[0].centroid, out[0].centroid) < 700
    local = "+proj=tmerc +lat_0=22.5 +lon_0=114 +k=1 +x_0=50000 +y_0=10000 +ellps=GRS80 +units=m"
    pt = np.array([shapely.Point(50_000, 10_000)])
    back = cd.to_storage(pt, CrsChoice(None, "", custom=CRS.from_proj4(local).to_wkt()))
    x, y = shapely.get_coordinates(back)[0]
    assert x == pytest.approx(500_000, abs=1e-6)  # 114°E is the central meridian of both
