"""Source CRS: .prj (Esri Gauss_Kruger WKT), --crs, inference branches and refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely
from ingest_files import ESRI_GK_PRJ, parcels, write_shp
from pyproj import Geod, Proj, Transformer
from sqlalchemy import text

from spatial.crs import geometry_from_gcj02
from spatial.errors import InvalidInput
from spatial.ingest import ingest


def _lonlat_parcels(n: int = 3, lon: float = 113.93, lat: float = 22.75, d: float = 0.0005):
    gdf = parcels(n)
    xs = lon + np.arange(n) * d
    gdf = gdf.set_geometry(shapely.box(xs, lat, xs + d, lat + d)).set_crs(None, allow_override=True)
    return gdf


def test_esri_gauss_kruger_prj_is_matched_to_4547(tmp_path: Path) -> None:
    shp = write_shp(parcels(), tmp_path, prj_text=ESRI_GK_PRJ)
    report = ingest(shp, "parcels", dry_run=True)
    assert report.source_crs == "EPSG:4547"
    assert "CGCS2000" in report.crs_method and ".prj" in report.crs_method


def test_no_prj_zone38_eastings_mean_4526(tmp_path: Path) -> None:
    gdf = parcels(3)
    gdf = gdf.set_geometry(shapely.transform(gdf.geometry.values, lambda c: c + [38e6, 0]))
    shp = write_shp(gdf.set_crs(None, allow_override=True), tmp_path, prj=False)
    report = ingest(shp, "parcels", dry_run=True)
    assert report.source_crs == "EPSG:4526"
    assert "zone-38" in report.crs_method
    assert report.total_area_m2 == pytest.approx(3 * 2500.0, rel=1e-9)


def test_no_prj_lonlat_in_shenzhen_assumes_4490_and_says_so(tmp_path: Path) -> None:
    shp = write_shp(_lonlat_parcels(), tmp_path, prj=False)
    report = ingest(shp, "parcels", dry_run=True)
    assert report.source_crs == "EPSG:4490"
    assert "4326" in report.crs_method and "assumed" in report.crs_method
    # Stored planar (EPSG:4547) area, known without our code: the corners through pyproj into
    # EPSG:4547 and the shoelace formula; and the ellipsoidal area from pyproj's Geod times
    # the Gauss-Kruger areal scale there agrees to 1e-6 (edges straight in lon/lat or not).
    gdf = _lonlat_parcels()
    to_gk = Transformer.from_crs(4490, 4547, always_xy=True)
    planar = 0.0
    for g in gdf.geometry:
        x, y = to_gk.transform(*np.asarray(g.exterior.coords).T)
        planar += shapely.Polygon(np.column_stack([x, y])).area
    assert report.total_area_m2 == pytest.approx(planar, abs=0.01)
    geod = Geod(ellps="GRS80")
    ellipsoidal = sum(abs(geod.geometry_area_perimeter(g)[0]) for g in gdf.geometry)
    k2 = Proj("EPSG:4547").get_factors(113.93, 22.75).areal_scale
    assert report.total_area_m2 == pytest.approx(ellipsoidal * k2, rel=1e-6)


def test_no_prj_ambiguous_eastings_are_refused_listing_candidates(tmp_path: Path) -> None:
    shp = write_shp(parcels().set_crs(None, allow_override=True), tmp_path, prj=False)
    with pytest.raises(InvalidInput) as info:
        ingest(shp, "parcels", dry_run=True)
    exc = info.value
    assert exc.detail["candidates"] == ["EPSG:4547", "EPSG:2383"]
    assert "--crs" in exc.message_en and "EPSG:2383" in exc.message_zh
    report = ingest(shp, "parcels", dry_run=True, crs="EPSG:4547")
    assert report.source_crs == "EPSG:4547" and "--crs" in report.crs_method


def test_no_prj_unknown_range_is_refused(tmp_path: Path) -> None:
    gdf = parcels(2).set_crs(None, allow_override=True)
    gdf = gdf.set_geometry(shapely.box([10, 20], [10, 10], [15, 25], [15, 15]))
    with pytest.raises(InvalidInput) as info:
        ingest(write_shp(gdf, tmp_path, prj=False), "parcels", dry_run=True)
    assert "gcj02" in info.value.detail["candidates"]


def test_xian80_is_accepted_with_a_warning(tmp_path: Path) -> None:
    shp = write_shp(parcels().set_crs(None, allow_override=True), tmp_path, prj=False)
    report = ingest(shp, "parcels", dry_run=True, crs="EPSG:2383")
    assert report.source_crs == "EPSG:2383"
    assert [p.code for p in report.problems if p.severity == "warning"] == ["crs_ballpark"]


def test_outside_shenzhen_is_refused_with_count_and_example(tmp_path: Path) -> None:
    gdf = _lonlat_parcels(4, lon=116.39, lat=39.9).set_crs(4326)  # Beijing
    with pytest.raises(InvalidInput) as info:
        ingest(write_shp(gdf, tmp_path), "parcels", dry_run=True)
    rep = info.value.detail["report"]
    summary = [p for p in rep["problems"] if p["code"] == "outside_shenzhen" and not p["row"]]
    assert summary and summary[0]["value"] == "4"
    assert "116.39" in summary[0]["message_en"]
    assert rep["counts"]["refused"] == 4


def test_refusal_counts_every_bad_row_not_just_the_listed_ones(tmp_path: Path) -> None:
    gdf = parcels(1500)  # a row of 50 m squares eastwards: from row 1381 on, past Shenzhen
    with pytest.raises(InvalidInput) as info:
        ingest(write_shp(gdf, tmp_path), "parcels", dry_run=True)
    rep = info.value.detail["report"]
    assert rep["counts"]["refused"] == 120
    assert rep["omitted_problems"] == {"outside_shenzhen": 71}  # 50 listed: summary + 49 rows
    assert info.value.message_zh.startswith("上传被拒绝：120 行有问题（outside_shenzhen）")
    assert "problems in 120 rows" in info.value.message_en


def test_gcj02_is_converted(db, tmp_path: Path) -> None:
    gdf = _lonlat_parcels(2)
    report = ingest(write_shp(gdf, tmp_path, prj=False), "parcels", crs="gcj02", engine=db.engine)
    assert report.source_crs == "GCJ-02"
    expected = geometry_from_gcj02(gdf.geometry.values[0].centroid, 4547)
    with db.engine.connect() as conn:
        x, y = conn.execute(
            text(
                "SELECT ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) FROM current_parcels "
                "WHERE code = 'GM-0000'"
            )
        ).one()
    assert x == pytest.approx(expected.x, abs=0.01)
    assert y == pytest.approx(expected.y, abs=0.01)
    naive = geometry_from_gcj02  # the offset is several hundred metres in Shenzhen
    from spatial.crs import transform_geometry

    plain = transform_geometry(gdf.geometry.values[0].centroid, 4490, 4547)
    assert 200 < plain.distance(expected) < 800
    del naive


def test_custom_local_grid_given_explicitly(db, tmp_path: Path) -> None:
    local = "+proj=tmerc +lat_0=22.5 +lon_0=114 +k=1 +x_0=50000 +y_0=10000 +ellps=GRS80 +units=m"
    from spatial.crs import transform_geometry

    gdf = parcels(2)
    moved = gdf.set_geometry(transform_geometry(gdf.geometry.values, 4547, local))
    shp = write_shp(moved.set_crs(None, allow_override=True), tmp_path, prj=False)
    with pytest.raises(InvalidInput):
        ingest(shp, "parcels", dry_run=True)  # no .prj, and not an inferable range
    report = ingest(shp, "parcels", crs=local, engine=db.engine)
    assert report.source_crs.startswith("custom:") and len(report.source_crs) <= 40
    with db.engine.connect() as conn:
        x, y = conn.execute(
            text("SELECT ST_XMin(geom), ST_YMin(geom) FROM current_parcels WHERE code = 'GM-0000'")
        ).one()
    assert (x, y) == (pytest.approx(500_000.0, abs=1e-3), pytest.approx(2_500_000.0, abs=1e-3))
