"""Siting check (选址试算) and suggestions: exact figures on hand-built rectangles, and agreement
with the review on every demo site."""

from __future__ import annotations

import pytest
import shapely
import siting_data
from analysis_data import X0, Y0, rect
from conftest import make_client
from sqlalchemy import text

from spatial.analysis import review_project
from spatial.analysis.siting import check_siting
from spatial.analysis.suggest import NOTE_ZH, suggest_sitings
from spatial.crs import transformer
from spatial.errors import InvalidInput, NotFound
from spatial.users import add_user

siting_db = siting_data.siting_db


def test_candidate_on_free_reserve_reaches_exactly_3000_district(siting_db):
    c = check_siting(siting_db.engine, "S1", rect(600, 600, 610, 700), "R2")
    assert c.candidate_area_m2 == 1000.00
    assert c.occupied_reserve_m2 == 1000.00 and c.reserve_codes == ["RB"]
    assert c.before.total_occupied_m2 == 2000.00 and c.before.route.value == "district"
    assert c.after.total_occupied_m2 == 3000.00 and c.after.route.value == "district"
    assert c.after.route_label_zh == "区政府审批" and not c.route_changes
    # R2 in an M1 zone: not in the compatibility table → 需调整法定图则
    assert c.coverage.covered_m2 == 1000.00 and c.coverage.uncovered_m2 == 0.00
    assert [r.code for r in c.coverage.reasons] == ["plan_adjustment"]
    assert [z.zone_code for z in c.coverage.conflicts] == ["Z-M1"]
    assert c.categories_m2 == {
        "collective": 0.0,
        "state_farm": 0.0,
        "incomplete_acquisition": 0.0,
        "state_owned": 1000.0,
    }
    assert c.overlapping_sites == [] and c.outside_project_m2 == 0.0
    assert "项目合计 2,000.00 → 3,000.00 m²（≤ 3000 m²），区政府审批" in c.verdict_zh


def test_one_hundredth_more_turns_the_route_to_the_city(siting_db):
    c = check_siting(siting_db.engine, "S1", rect(600, 600, 610.0001, 700), "R2")
    assert c.occupied_reserve_m2 == 1000.01
    assert c.after.total_occupied_m2 == 3000.01 and c.after.route.value == "city"
    assert c.route_changes and c.after.route_label_zh == "报市规划国土部门"
    assert c.after.publicity.articles == "Art. 19(3), 20"
    assert "审批路径由区政府审批变为报市规划国土部门" in c.verdict_zh


def test_uncovered_and_conflicting_parts_with_evidence(siting_db):
    c = check_siting(siting_db.engine, "S1", rect(750, 300, 850, 400), "M1")
    assert c.coverage.covered_m2 == 5000.00 and c.coverage.uncovered_m2 == 5000.00
    assert [r.zh for r in c.coverage.reasons] == ["法定图则未覆盖"]  # M1 in M1: compatible
    ev = c.evidence_geodataframe()
    assert sorted(ev["kind"]) == ["candidate", "uncovered"]
    unc = ev[ev["kind"] == "uncovered"].geometry.iloc[0]
    assert shapely.equals(unc.normalize(), rect(800, 300, 850, 400).normalize())
    c2 = check_siting(siting_db.engine, "S1", rect(750, 300, 850, 400), "R2")
    assert [r.code for r in c2.coverage.reasons] == ["not_covered", "plan_adjustment"]
    conflict = c2.evidence_geodataframe().query("kind == 'conflict'")
    assert list(conflict["area_m2"]) == [5000.0]


def test_overlaps_outside_and_replacing_a_site(siting_db):
    over = check_siting(siting_db.engine, "S1", rect(150, 150, 250, 250), "R2")
    assert over.overlapping_sites == ["S1-L1"] and "与现有留用土地重叠：S1-L1" in over.verdict_zh
    out = check_siting(siting_db.engine, "S1", rect(950, 950, 1050, 1050), "R2")
    assert out.outside_project_m2 == 7500.00 and "位于项目范围外" in out.verdict_zh
    # S1-L1 moved 100 m east, off the reserve: the project's total drops to 0
    moved = check_siting(
        siting_db.engine, "S1", rect(300, 300, 400, 400), "R2", replaces_site_code="S1-L1"
    )
    assert moved.before.total_occupied_m2 == 2000.00
    assert moved.after.total_occupied_m2 == 0.00 and moved.overlapping_sites == []
    assert not moved.coverage.planning_study_required
    with pytest.raises(NotFound):
        check_siting(siting_db.engine, "S1", rect(0, 0, 10, 10), "R2", replaces_site_code="NO")
    with pytest.raises(NotFound):
        check_siting(siting_db.engine, "NOPE", rect(0, 0, 10, 10), "R2")


def test_candidate_in_lon_lat_is_transformed(siting_db):
    t = transformer(4547, 4326)
    ring = [
        t.transform(X0 + x, Y0 + y)
        for x, y in [(600, 600), (610, 600), (610, 700), (600, 700), (600, 600)]
    ]
    geojson = {"type": "Polygon", "coordinates": [[list(p) for p in ring]]}
    c = check_siting(siting_db.engine, "S1", geojson, "R2", crs=4326)
    assert abs(c.candidate_area_m2 - 1000.0) < 0.01
    assert c.reserve_codes == ["RB"]


@pytest.mark.parametrize(
    ("geometry", "crs", "words"),
    [
        ({"type": "Point", "coordinates": [X0, Y0]}, 4547, "Polygon"),
        (
            {
                "type": "Polygon",
                "coordinates": [
                    [[X0, Y0], [X0 + 10, Y0 + 10], [X0 + 10, Y0], [X0, Y0 + 10], [X0, Y0]]
                ],
            },
            4547,
            "invalid",
        ),
        (
            {"type": "Polygon", "coordinates": [[[0, 0], [10, 0], [10, 10], [0, 0]]]},
            4547,
            "outside Shenzhen",
        ),
        (
            {"type": "Polygon", "coordinates": [[[X0, Y0], [X0 + 1, Y0], [X0 + 1, Y0], [X0, Y0]]]},
            4547,
            "invalid",
        ),
        ({"type": "Polygon", "coordinates": [[[X0, Y0]]]}, 4547, "GeoJSON"),
        (
            {"type": "Polygon", "coordinates": [[[X0, Y0], [X0 + 9, Y0], [X0, Y0 + 9], [X0, Y0]]]},
            3857,
            "unsupported",
        ),
    ],
)
def test_bad_candidates_are_refused_with_a_reason(siting_db, geometry, crs, words):
    with pytest.raises(InvalidInput) as err:
        check_siting(siting_db.engine, "S1", geometry, "R2", crs=crs)
    assert words in err.value.message_en


def test_siting_writes_nothing(siting_db):
    def counts():
        with siting_db.engine.connect() as conn:
            return conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM retained_land), (SELECT count(*) FROM datasets),"
                    " (SELECT count(*) FROM audit_log)"
                )
            ).one()

    before = counts()
    check_siting(siting_db.engine, "S1", rect(600, 600, 610, 700), "R2")
    suggest_sitings(siting_db.engine, "S1", 2000, "R2", n=2)
    assert counts() == before


def test_every_demo_site_checked_as_itself_matches_the_review(demo_db):
    """The siting check and the review read the same rule: no figure may differ."""
    with demo_db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT project_code, code, land_use, ST_AsBinary(geom) FROM current_retained_land"
                " ORDER BY project_code, code"
            )
        ).all()
    assert len(rows) > 20
    reviews: dict = {}
    for project, code, use, wkb in rows:
        if project not in reviews:
            reviews[project] = review_project(demo_db.engine, project, geometry=False)
        r = reviews[project]
        site = next(s for s in r.sites if s.site_code == code)
        c = check_siting(
            demo_db.engine, project, shapely.from_wkb(bytes(wkb)), use, replaces_site_code=code
        )
        assert c.occupied_reserve_m2 == site.occupied_reserve_m2, code
        assert c.candidate_area_m2 == site.site_area_m2, code
        assert c.coverage.covered_m2 == site.covered_m2, code
        assert c.coverage.uncovered_m2 == site.uncovered_m2, code
        assert [x.code for x in c.coverage.reasons] == [x.code for x in site.reasons], code
        assert [z.zone_code for z in c.coverage.conflicts] == site.conflict_zones, code
        assert c.after.total_occupied_m2 == r.verdict.total_occupied_m2, code
        assert c.after.route == r.verdict.route, code
        assert c.overlapping_sites == [], code


def test_suggestions_fit_the_rule_and_are_checked_exactly(siting_db):
    s = suggest_sitings(siting_db.engine, "S1", 2000, "R2")
    assert s.note_zh == NOTE_ZH and "不是审批或规划决定" in s.note_zh
    assert s.other_sites_occupied_m2 == 2000.00 and s.budget_m2 == 1000.00
    assert len(s.suggestions) == 5 and [x.rank for x in s.suggestions] == [1, 2, 3, 4, 5]
    site = rect(100, 100, 200, 200)
    zone_r2 = rect(0, 0, 500, 1000)
    geoms = [x.geometry() for x in s.suggestions]
    for x, g in zip(s.suggestions, geoms, strict=True):
        c = x.check
        assert c.candidate_area_m2 == 2000.00
        assert c.after.route.value == "district" and c.occupied_reserve_m2 == 0.00
        assert not c.coverage.planning_study_required  # wholly in the R2 zone
        assert zone_r2.contains(g) and not g.intersects(site)
        again = check_siting(siting_db.engine, "S1", g, "R2")
        assert again.model_dump() == c.model_dump()  # the figures shown are the exact check
    for i, a in enumerate(geoms):  # five different placements
        for b in geoms[i + 1 :]:
            assert a.intersection(b).area < 1e-6


def test_suggestions_prefer_staying_within_3000(siting_db):
    # 1,500 m² of M1: the M1 zone holds the free reserve RB; the budget is 1,000 m², so no
    # suggestion may sit on more than that of reserve land
    s = suggest_sitings(siting_db.engine, "S1", 1500, "M1", n=3)
    assert s.suggestions
    for x in s.suggestions:
        assert x.check.after.route.value == "district"
        assert x.check.after.total_occupied_m2 <= 3000.00
        assert not x.check.coverage.planning_study_required


def test_suggestions_refuse_bad_requests(siting_db):
    with pytest.raises(InvalidInput):
        suggest_sitings(siting_db.engine, "S1", 50, "R2")
    with pytest.raises(InvalidInput):
        suggest_sitings(siting_db.engine, "S1", 2_000_000, "R2")
    with pytest.raises(InvalidInput):
        suggest_sitings(siting_db.engine, "S1", 2000, "R2", n=6)
    with pytest.raises(NotFound):
        suggest_sitings(siting_db.engine, "NOPE", 2000, "R2")


def _token(engine, role="planner"):
    import uuid

    return add_user(f"p{uuid.uuid4().hex[:8]}", role, engine)


def test_siting_api_roles_errors_and_downloads(siting_db, tmp_path):
    import zipfile

    import pyogrio

    token = _token(siting_db.engine)
    t = transformer(4547, 4326)
    ring = [
        list(t.transform(X0 + x, Y0 + y))
        for x, y in [(600, 600), (610, 600), (610, 700), (600, 700), (600, 600)]
    ]
    body = {
        "project_code": "S1",
        "planned_use": "R2",
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }
    with make_client(siting_db) as c:
        assert c.post("/siting/check", json=body).status_code == 401
        h = {"Authorization": f"Bearer {token}"}
        r = c.post("/siting/check", json=body, headers=h)
        assert r.status_code == 200
        j = r.json()
        assert j["after"]["route"] == "district" and j["reserve_codes"] == ["RB"]
        kinds = sorted(f["properties"]["kind"] for f in j["evidence"]["features"])
        assert kinds == ["candidate", "conflict", "occupied"]
        bad = {**body, "geometry": {"type": "Point", "coordinates": [113.9, 22.7]}}
        r = c.post("/siting/check", json=bad, headers=h)
        assert r.status_code == 422 and "须为面" in r.json()["message_zh"]
        r = c.post("/siting/check", json={**body, "project_code": "NOPE"}, headers=h)
        assert r.status_code == 404
        # downloads: GBK shapefile with .cpg and .prj, and GeoJSON in EPSG:4547
        body_4547 = {
            **body,
            "crs": 4547,
            "site_code": "候选一",
            "geometry": shapely.geometry.mapping(rect(600, 600, 610, 700)),
        }
        r = c.post("/siting/candidate.zip", json=body_4547, headers=h)
        assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
        zpath = tmp_path / "c.zip"
        zpath.write_bytes(r.content)
        with zipfile.ZipFile(zpath) as zf:
            names = sorted(zf.namelist())
            assert names == [
                "candidate.cpg",
                "candidate.dbf",
                "candidate.prj",
                "candidate.shp",
                "candidate.shx",
            ]
            assert zf.read("candidate.cpg") == b"GBK"
            assert "候选一".encode("gbk") in zf.read("candidate.dbf")
            assert b"CGCS2000_3_Degree_GK_CM_114E" in zf.read("candidate.prj")
        gdf = pyogrio.read_dataframe(f"/vsizip/{zpath}/candidate.shp", encoding="gbk")
        assert list(gdf["code"]) == ["候选一"] and gdf.crs.to_epsg() == 4547
        assert round(gdf.geometry.area.iloc[0], 2) == 1000.00
        r = c.post("/siting/candidate.geojson", json=body_4547, headers=h)
        gj = tmp_path / "c.geojson"
        gj.write_bytes(r.content)
        back = pyogrio.read_dataframe(gj)
        assert back.crs.to_epsg() == 4547 and round(back.geometry.area.iloc[0], 2) == 1000.00
        # suggestions through the API carry their rectangles
        r = c.post(
            "/siting/suggestions",
            headers=h,
            json={"project_code": "S1", "planned_use": "R2", "area_m2": 2000, "n": 2},
        )
        assert r.status_code == 200
        sj = r.json()
        assert len(sj["suggestions"]) == 2 and len(sj["geojson"]["features"]) == 2
        assert sj["note_zh"] == NOTE_ZH
