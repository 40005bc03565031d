from decimal import Decimal

import pytest
from analysis_data import ROUTE_CASES, load, load_layers, rect, reserve, route_case_layers
from sqlalchemy import text

from spatial import rules
from spatial.analysis import reserve_occupation
from spatial.errors import NotFound
from spatial.models import Layer


@pytest.fixture
def route_db(db):
    load_layers(db.engine, route_case_layers())
    return db


def test_route_boundaries(route_db):
    for code, occupied, route in ROUTE_CASES:
        occ = reserve_occupation(route_db.engine, code)
        assert occ.total_occupied_m2 == occupied, code
        assert occ.route.value == route, code
        assert occ.sites[0].occupied_m2 == occupied
        assert occ.rounding == "ROUND_HALF_UP to 0.01 m² before comparing with 3000 m²"
        assert occ.threshold_m2 == 3000.0
        if route == "district":
            assert occ.route_label_zh == "区政府审批"
            assert occ.publicity.text_zh == (
                "区土地整备部门公示规划研究30个自然日，以区政府名义报市法定图则委员会"
            )
            assert occ.publicity.articles == "Art. 19(2), 20"
        else:
            assert occ.route_label_zh == "报市规划国土部门"
            assert occ.publicity.text_zh == "规划研究及留用土地供应方案报市规划国土部门"
            assert occ.publicity.articles == "Art. 19(3), 20"


def test_evidence_geometry(route_db):
    occ = reserve_occupation(route_db.engine, "R3000")
    gdf = occ.to_geodataframe()
    assert gdf.crs.to_epsg() == 4547
    assert list(gdf["site_code"]) == ["R3000-L1"]
    assert gdf.geometry.iloc[0].geom_type == "MultiPolygon"
    assert gdf.geometry.iloc[0].area == pytest.approx(3000.0, abs=1e-6)
    assert gdf.geometry.iloc[0].equals(rect(100, 100, 200, 130, 2))
    assert list(gdf["route"]) == ["district"]
    # no occupation: no evidence rows, but the schema is there
    empty = reserve_occupation(route_db.engine, "R0").to_geodataframe()
    assert len(empty) == 0 and "site_code" in empty.columns


def test_split_over_overlapping_reserve_polygons_not_double_counted(route_db):
    occ = reserve_occupation(route_db.engine, "SPLIT")
    assert occ.total_occupied_m2 == 4000.0
    assert occ.route.value == "city"
    assert occ.sites[0].reserve_codes == ["SPLIT-A", "SPLIT-B", "SPLIT-C"]


def test_touching_reserve_is_zero(route_db):
    occ = reserve_occupation(route_db.engine, "TOUCH")
    assert occ.total_occupied_m2 == 0.0
    assert occ.sites[0].reserve_codes == []
    assert occ.route.value == "district"
    assert len(occ.to_geodataframe()) == 0


def test_hole_multipolygon_and_project_total(route_db):
    hole = reserve_occupation(route_db.engine, "HOLE")
    assert hole.total_occupied_m2 == 9600.0
    assert hole.route.value == "city"
    multi = reserve_occupation(route_db.engine, "MULTI")
    assert multi.total_occupied_m2 == 3000.0
    assert multi.route.value == "district"
    two = reserve_occupation(route_db.engine, "TWO")
    assert [s.occupied_m2 for s in two.sites] == [1600.0, 1600.0]
    assert two.total_occupied_m2 == 3200.0
    assert two.route.value == "city"


def test_unknown_project(route_db):
    with pytest.raises(NotFound):
        reserve_occupation(route_db.engine, "NOPE")


def test_next_call_reflects_dataset_change(route_db):
    assert reserve_occupation(route_db.engine, "R3000").route.value == "district"
    # a new reserve dataset replaces the old one: the next call sees it
    load(route_db.engine, Layer.state_reserve_land, [reserve("NEW", rect(100, 100, 200, 131, 2))])
    occ = reserve_occupation(route_db.engine, "R3000")
    assert occ.total_occupied_m2 == 3100.0
    assert occ.route.value == "city"


def test_map_view_agrees(route_db):
    with route_db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT project_code, site_code, round(area_m2::numeric, 2), route, "
                "route_label_zh FROM analysis_reserve_overlaps ORDER BY project_code, site_code"
            )
        ).all()
        ids = conn.execute(
            text("SELECT count(DISTINCT id), count(*) FROM analysis_reserve_overlaps")
        ).one()
    got = {(r[0], r[1]): (float(r[2]), r[3], r[4]) for r in rows}
    assert got[("R3000", "R3000-L1")] == (3000.0, "district", "区政府审批")
    assert got[("R3001", "R3001-L1")] == (3000.01, "city", "报市规划国土部门")
    assert got[("TWO", "TWO-L2")] == (1600.0, "city", "报市规划国土部门")
    assert ("R0", "R0-L1") not in got and ("TOUCH", "TOUCH-L1") not in got
    assert ids[0] == ids[1]
    for code, occupied, route in ROUTE_CASES:
        if occupied:  # the view lists occupied sites only, with the project's route
            assert got[(code, f"{code}-L1")][1] == route, code
        assert reserve_occupation(route_db.engine, code).route.value == route, code


@pytest.mark.parametrize(
    "value",
    [0, 1.5, 2999.99, 2999.995, 3000, 3000.004, 3000.0049999999997, 3000.005, 3000.01, 12000],
)
def test_sql_route_function_matches_python_rule(db, value):
    with db.engine.connect() as conn:
        sql_route = conn.execute(
            text("SELECT tuzheng_approval_route(CAST(:v AS float8)::numeric)"), {"v": value}
        ).scalar_one()
    assert sql_route == rules.approval_route(value).value


def test_rounding_rule():
    assert rules.round_area(3000.004999) == Decimal("3000.00")
    assert rules.round_area(3000.005) == Decimal("3000.01")
    assert rules.approval_route(3000.004999).value == "district"
    assert rules.approval_route(3000.005).value == "city"
    assert rules.approval_route(None).value == "district"
