"""``datasets.copy_rows`` / ``copy_arrays``: the binary COPY writer, value by value."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely
from sqlalchemy import text

from spatial import datasets
from spatial.models import Layer


def test_binary_copy_round_trips_text_nulls_floats_and_promotes_polygons(db) -> None:
    square = shapely.box(500_000, 2_500_000, 500_010, 2_500_010)
    gdf = gpd.GeoDataFrame(
        {
            "code": ["b1", "b2", "b3", "b4"],
            "floor_area_m2": [12.5, None, 3.0, float("nan")],
            "structure": ["砖混", None, "", "钢筋混凝土\t含制表符\n换行"],
            "signing_status": ["签约", "拆除", None, "腾空交房"],
        },
        geometry=[square, shapely.multipolygons([square]), square, square],
        crs=4547,
    )
    with db.engine.begin() as conn:
        ds = datasets.new_dataset(conn, Layer.buildings, "b.gpkg", "pytest")
        assert datasets.copy_rows(conn, Layer.buildings, ds, gdf) == 4
    with db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT code, floor_area_m2, structure, signing_status, project_code, "
                "GeometryType(geom), ST_SRID(geom), ST_Area(geom) FROM buildings ORDER BY code"
            )
        ).all()
    assert [tuple(r[:5]) for r in rows] == [
        ("b1", 12.5, "砖混", "签约", None),
        ("b2", None, None, "拆除", None),
        ("b3", 3.0, "", None, None),
        ("b4", None, "钢筋混凝土\t含制表符\n换行", "腾空交房", None),
    ]
    assert {(r[5], r[6]) for r in rows} == {("MULTIPOLYGON", 4547)}
    assert [r[7] for r in rows] == [pytest.approx(100.0)] * 4


def test_copy_of_many_rows_spans_chunks(db, monkeypatch) -> None:
    monkeypatch.setattr(datasets.loading, "COPY_CHUNK_ROWS", 7)
    xs = [500_000.0 + 20 * i for i in range(50)]
    gdf = gpd.GeoDataFrame(
        {"code": [f"S{i:03d}" for i in range(50)], "name": [f"储备地{i}" for i in range(50)]},
        geometry=shapely.box(xs, 2_500_000, [x + 10 for x in xs], 2_500_010),
        crs=4547,
    )
    with db.engine.begin() as conn:
        ds = datasets.new_dataset(conn, Layer.state_reserve_land, "r.zip", "pytest")
        datasets.copy_rows(conn, Layer.state_reserve_land, ds, gdf)
        datasets.publish(conn, Layer.state_reserve_land, ds)
    with db.engine.connect() as conn:
        n, names, area = conn.execute(
            text(
                "SELECT count(*), string_agg(name, ',' ORDER BY code), sum(ST_Area(geom)) "
                "FROM current_state_reserve_land"
            )
        ).one()
    assert n == 50 and names.split(",")[49] == "储备地49" and area == pytest.approx(5000.0)
