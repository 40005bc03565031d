"""The contract of the map-layer views (migration 0003) that the map layers serve."""

import pytest
from analysis_data import coverage_layers, load_layers, route_case_layers
from sqlalchemy import inspect, text

from spatial.models import Layer

COMMON = {"id", "project_code", "site_code", "site_name", "area_m2", "geom", "geom_3857"}
VIEWS = {
    "analysis_reserve_overlaps": COMMON
    | {"reserve_codes", "project_total_m2", "route", "route_label_zh", "route_label_en"},
    "analysis_uncovered": COMMON | {"planned_use", "reason_code", "reason_zh", "reason_en"},
    "analysis_conflicts": COMMON
    | {"planned_use", "zone_code", "zone_class", "reason_code", "reason_zh", "reason_en"},
}


@pytest.fixture
def views_db(db):
    layers = route_case_layers()
    cov = coverage_layers()
    layers[Layer.projects] += cov[Layer.projects]
    layers[Layer.retained_land] += cov[Layer.retained_land]
    layers[Layer.statutory_plans] = cov[Layer.statutory_plans]
    load_layers(db.engine, layers)
    return db


def test_map_views_columns_ids_and_geometry(views_db):
    insp = inspect(views_db.engine)
    with views_db.engine.connect() as conn:
        for view, expected in VIEWS.items():
            cols = {c["name"] for c in insp.get_columns(view)}
            assert expected <= cols, view
            n, distinct, types, srids, srid3857 = conn.execute(
                text(
                    f"SELECT count(*), count(DISTINCT id), array_agg(DISTINCT GeometryType(geom)),"
                    f" array_agg(DISTINCT ST_SRID(geom)), array_agg(DISTINCT ST_SRID(geom_3857))"
                    f" FROM {view}"
                )
            ).one()
            assert n > 0 and n == distinct, view
            assert types == ["MULTIPOLYGON"] and srids == [4547] and srid3857 == [3857], view
        # ids are stable: the same rows get the same ids on the next call
        first = conn.execute(text("SELECT id FROM analysis_conflicts ORDER BY id")).scalars().all()
        again = conn.execute(text("SELECT id FROM analysis_conflicts ORDER BY id")).scalars().all()
    assert first == again
