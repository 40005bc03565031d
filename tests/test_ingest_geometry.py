"""Geometry policy: bow-ties, strict, Z/M, curves, null/empty/NaN, types, overlaps, slivers."""

from __future__ import annotations

import subprocess
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from ingest_files import parcels
from sqlalchemy import text

from spatial.errors import InvalidInput
from spatial.ingest import ingest

X, Y = 500_000.0, 2_500_000.0


def _gpkg(tmp_path: Path, geoms: list, name: str = "zongdi.gpkg") -> Path:
    gdf = parcels(len(geoms))
    gdf = gpd.GeoDataFrame(gdf.drop(columns="geometry"), geometry=geoms, crs=4547)
    path = tmp_path / name
    pyogrio.write_dataframe(gdf, path)
    return path


def _bowtie(x: float = X, y: float = Y) -> shapely.Polygon:
    return shapely.Polygon([(x, y), (x + 10, y + 10), (x + 10, y), (x, y + 10), (x, y)])


def test_bowtie_is_repaired_and_reported_with_area_change(db, tmp_path: Path) -> None:
    path = _gpkg(tmp_path, [shapely.box(X - 100, Y, X - 50, Y + 50), _bowtie()])
    report = ingest(path, "parcels", engine=db.engine)
    assert report.status == "published" and report.counts.repaired == 1
    (rep,) = [p for p in report.problems if p.code == "geometry_repaired"]
    assert rep.row == 2 and rep.severity == "warning"
    assert rep.value.startswith("Self-intersection")
    assert rep.area_before_m2 == pytest.approx(0.0)
    assert rep.area_after_m2 == pytest.approx(50.0)
    assert report.total_area_m2 == pytest.approx(2550.0)
    with db.engine.connect() as conn:
        area, valid, gtype = conn.execute(
            text(
                "SELECT ST_Area(geom), ST_IsValid(geom), GeometryType(geom) FROM current_parcels "
                "WHERE code = 'GM-0001'"
            )
        ).one()
    assert area == pytest.approx(50.0) and valid and gtype == "MULTIPOLYGON"


def test_bowtie_is_refused_with_strict(tmp_path: Path) -> None:
    path = _gpkg(tmp_path, [shapely.box(X - 100, Y, X - 50, Y + 50), _bowtie()])
    with pytest.raises(InvalidInput) as info:
        ingest(path, "parcels", dry_run=True, strict=True)
    rows = [(p["row"], p["code"]) for p in info.value.detail["report"]["problems"] if p["row"]]
    assert rows == [(2, "geometry_invalid")]


def test_z_polygon_is_forced_2d_and_reported(db, tmp_path: Path) -> None:
    z = shapely.Polygon([(X, Y, 5), (X + 20, Y, 6), (X + 20, Y + 20, 7), (X, Y, 5)])
    report = ingest(_gpkg(tmp_path, [z]), "parcels", engine=db.engine)
    assert [p.code for p in report.problems if p.severity == "warning"] == ["z_dropped"]
    assert report.total_area_m2 == pytest.approx(200.0)
    with db.engine.connect() as conn:
        ndims = conn.execute(text("SELECT ST_NDims(geom) FROM current_parcels")).scalar_one()
    assert ndims == 2


def test_curve_polygon_is_linearised(tmp_path: Path) -> None:
    csv = tmp_path / "c.csv"
    csv.write_text(
        "宗地编号,权属类型,WKT\n"
        f'GM-1,集体,"CURVEPOLYGON(CIRCULARSTRING({X} {Y},{X + 10} {Y + 10},{X + 20} {Y},'
        f'{X + 10} {Y - 10},{X} {Y}))"\n',
        encoding="utf-8",
    )
    gpkg = tmp_path / "curve.gpkg"
    subprocess.run(
        ["ogr2ogr", "-f", "GPKG", str(gpkg), str(csv), "-a_srs", "EPSG:4547"]
        + ["-nlt", "CURVEPOLYGON", "-oo", "GEOM_POSSIBLE_NAMES=WKT", "-oo", "KEEP_GEOM_COLUMNS=NO"],
        check=True,
        capture_output=True,
    )
    report = ingest(gpkg, "parcels", dry_run=True)
    assert [p.code for p in report.problems if p.severity == "warning"] == ["curve_linearised"]
    assert report.total_area_m2 == pytest.approx(np.pi * 100, rel=0.01)


def test_null_empty_nan_inf_are_refused_with_rows(tmp_path: Path) -> None:
    geoms = [
        shapely.box(X, Y, X + 10, Y + 10),
        None,
        shapely.Polygon(),
        shapely.Polygon([(X, Y), (X + 10, np.nan), (X + 10, Y + 10), (X, Y)]),
        shapely.Polygon([(X, Y), (X + 10, np.inf), (X + 10, Y + 10), (X, Y)]),
    ]
    with pytest.raises(InvalidInput) as info:
        ingest(_gpkg(tmp_path, geoms), "parcels", dry_run=True)
    rep = info.value.detail["report"]
    rows = sorted((p["row"], p["code"]) for p in rep["problems"] if p["row"])
    assert rows == [
        (2, "geometry_null"),
        (3, "geometry_empty"),
        (4, "geometry_nonfinite"),
        (5, "geometry_nonfinite"),
    ]
    assert rep["counts"] == {"read": 5, "written": 0, "repaired": 0, "refused": 4}


def test_non_polygons_are_refused(tmp_path: Path) -> None:
    geoms = [shapely.Point(X, Y), shapely.LineString([(X, Y), (X + 5, Y + 5)])]
    with pytest.raises(InvalidInput) as info:
        ingest(_gpkg(tmp_path, geoms), "parcels", dry_run=True)
    probs = [(p["row"], p["value"]) for p in info.value.detail["report"]["problems"] if p["row"]]
    assert probs == [(1, "Point"), (2, "LineString")]


def test_overlaps_and_slivers_are_reported(tmp_path: Path) -> None:
    geoms = [
        shapely.box(X, Y, X + 100, Y + 100),
        shapely.box(X + 90, Y, X + 190, Y + 100),
        shapely.box(X + 300, Y, X + 300.5, Y + 1),
    ]
    report = ingest(_gpkg(tmp_path, geoms), "parcels", dry_run=True)
    (ov,) = [p for p in report.problems if p.code == "overlap"]
    assert (ov.row, ov.value, ov.area_m2) == (1, "2", pytest.approx(1000.0))
    (sl,) = [p for p in report.problems if p.code == "sliver"]
    assert sl.row == 3 and sl.area_m2 == pytest.approx(0.5)
    assert report.total_area_m2 == pytest.approx(20000.5)


def test_contained_and_duplicate_parcels_are_overlaps(tmp_path: Path) -> None:
    big = shapely.box(X, Y, X + 100, Y + 100)
    geoms = [
        big,
        shapely.box(X + 10, Y + 10, X + 20, Y + 30),
        big,
        shapely.box(X + 100, Y, X + 150, Y + 100),
    ]
    report = ingest(_gpkg(tmp_path, geoms), "parcels", dry_run=True)
    pairs = sorted((p.row, p.value, p.area_m2) for p in report.problems if p.code == "overlap")
    assert pairs == [(1, "2", 200.0), (1, "3", 10000.0), (2, "3", 200.0)]
    (summary,) = [p for p in report.problems if p.code == "overlap_summary"]
    assert summary.area_m2 == pytest.approx(10400.0)


def _retained(tmp_path: Path, rows: list[tuple[str, str, shapely.Polygon]]) -> Path:
    gdf = gpd.GeoDataFrame(
        {
            "留用地编号": [r[0] for r in rows],
            "项目编号": [r[1] for r in rows],
            "用地性质": ["R2"] * len(rows),
        },
        geometry=[r[2] for r in rows],
        crs=4547,
    )
    path = tmp_path / "留用土地.gpkg"
    pyogrio.write_dataframe(gdf, path)
    return path


def test_retained_sites_of_one_project_must_not_overlap(db, tmp_path: Path) -> None:
    """Land retained twice in one project would be counted twice against the 3000 m² rule."""
    a = shapely.box(X, Y, X + 100, Y + 50)
    b = shapely.box(X + 80, Y, X + 180, Y + 50)  # overlaps a by 20 × 50 = 1000 m²
    c = shapely.box(X + 80, Y + 100, X + 180, Y + 150)
    path = _retained(tmp_path, [("LY-1", "XM-1", a), ("LY-2", "XM-1", b), ("LY-3", "XM-2", c)])
    with pytest.raises(InvalidInput) as err:
        ingest(path, "retained_land", engine=db.engine, user="t")
    problems = [
        p for p in err.value.detail["report"]["problems"] if p["code"] == "retained_overlap"
    ]
    assert len(problems) == 1
    assert problems[0]["row"] == 1 and problems[0]["value"] == "2"
    assert problems[0]["area_m2"] == pytest.approx(1000.0)
    assert "XM-1" in problems[0]["message_zh"] and "重叠 1000.00 m²" in problems[0]["message_zh"]
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM current_retained_land")).scalar() == 0

    # the same overlap across two different projects, or sites that only touch, are accepted
    d = shapely.box(X + 100, Y, X + 200, Y + 50)  # touches a
    path = _retained(tmp_path, [("LY-1", "XM-1", a), ("LY-2", "XM-2", b), ("LY-4", "XM-1", d)])
    report = ingest(path, "retained_land", engine=db.engine, user="t")
    assert report.counts.written == 3
