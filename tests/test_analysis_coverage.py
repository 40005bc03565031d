import math

import pytest
from analysis_data import X0, Y0, coverage_layers, load_layers, rect, zone
from sqlalchemy import text

from spatial.analysis import plan_coverage
from spatial.models import Layer


@pytest.fixture
def cov_db(db):
    load_layers(db.engine, coverage_layers())
    return db


def by_code(cov):
    return {s.site_code: s for s in cov.sites}


def test_full_sixty_none(cov_db):
    s = by_code(plan_coverage(cov_db.engine, "COV"))
    full = s["FULL"]
    assert (full.site_area_m2, full.covered_m2, full.uncovered_m2) == (10000.0, 10000.0, 0.0)
    assert full.covered_share == pytest.approx(1.0)
    assert full.planning_study_required is False
    assert full.reasons == [] and full.qualification_zh is None
    assert [z.zone_code for z in full.zones] == ["Z-FULL"]

    sixty = s["SIXTY"]
    assert (sixty.covered_m2, sixty.uncovered_m2) == (6000.0, 4000.0)
    assert sixty.covered_share == pytest.approx(0.6)
    assert sixty.planning_study_required is True
    assert [(r.code, r.zh, r.en) for r in sixty.reasons] == [
        ("not_covered", "法定图则未覆盖", "not covered by a statutory plan")
    ]
    assert (
        sixty.qualification_zh == "规划研究须由具有乙级及以上城乡规划编制资质的单位承担（第十七条）"
    )
    assert "Grade B (乙级)" in sixty.qualification_en

    none = s["NONE"]
    assert (none.covered_m2, none.uncovered_m2, none.covered_share) == (0.0, 10000.0, 0.0)
    assert [r.zh for r in none.reasons] == ["法定图则未覆盖", "未制定法定图则"]
    assert none.zones == []


def test_conflicts_are_data(cov_db):
    s = by_code(plan_coverage(cov_db.engine, "COV"))
    conflict = s["CONFLICT"]
    assert conflict.uncovered_m2 == 0.0
    assert [(z.zone_code, z.zone_class, z.listed, z.area_m2) for z in conflict.conflicts] == [
        ("Z-CONFLICT", "M0", True, 10000.0)
    ]
    assert [r.zh for r in conflict.reasons] == ["需调整法定图则"]
    assert conflict.reasons[0].en == "statutory plan adjustment required"
    assert conflict.planning_study_required is True
    absent = s["ABSENT"]
    assert [(z.zone_class, z.listed) for z in absent.conflicts] == [("G1", False)]
    # edit the table: R2 is now allowed in G1, and the next call reflects it
    with cov_db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO land_use_compatibility (planned_use, zone_class, compatible, note) "
                "VALUES ('R2', 'G1', true, 'test')"
            )
        )
        conn.execute(
            text(
                "UPDATE land_use_compatibility SET compatible = true "
                "WHERE planned_use = 'M1' AND zone_class = 'M0'"
            )
        )
    s = by_code(plan_coverage(cov_db.engine, "COV"))
    assert s["ABSENT"].planning_study_required is False
    assert s["CONFLICT"].planning_study_required is False


def test_overlapping_zones_counted_once(cov_db):
    u = by_code(plan_coverage(cov_db.engine, "COV"))["UNION"]
    assert (u.covered_m2, u.uncovered_m2) == (10000.0, 0.0)
    assert [(z.zone_code, z.area_m2) for z in u.zones] == [("Z-U1", 7000.0), ("Z-U2", 5000.0)]
    assert u.planning_study_required is False  # R2 in R3 is compatible


def test_large_zone_is_subdivided(cov_db):
    with cov_db.engine.connect() as conn:
        parts = conn.execute(
            text(
                "SELECT count(*), max(ST_NPoints(p.geom)) FROM statutory_plan_parts p "
                "JOIN statutory_plans z ON z.id = p.zone_id WHERE z.zone_code = 'Z-BIG'"
            )
        ).one()
    assert parts[0] > 4 and parts[1] <= 256
    big = plan_coverage(cov_db.engine, "BIG").sites[0]
    assert (big.covered_m2, big.uncovered_m2) == (10000.0, 0.0)
    assert big.zones[0].area_m2 == 10000.0


def test_evidence_frames_and_views(cov_db):
    cov = plan_coverage(cov_db.engine, "COV")
    unc = cov.uncovered_geodataframe()
    assert unc.crs.to_epsg() == 4547
    assert list(unc["site_code"]) == ["NONE", "SIXTY"]
    assert list(unc["reason_zh"]) == ["未制定法定图则", "法定图则未覆盖"]
    assert unc.set_index("site_code").geometry["SIXTY"].equals(rect(260, 0, 300, 100))
    con = cov.conflicts_geodataframe()
    assert list(con["zone_code"]) == ["Z-ABSENT", "Z-CONFLICT"]
    assert all(g.geom_type == "MultiPolygon" for g in con.geometry)
    assert math.isclose(con.geometry.area.sum(), 20000.0)
    with cov_db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT site_code, round(area_m2::numeric, 2), reason_code, reason_zh, "
                "GeometryType(geom), ST_SRID(geom) FROM analysis_uncovered ORDER BY site_code"
            )
        ).all()
        conflicts = conn.execute(
            text("SELECT site_code, zone_code, reason_zh FROM analysis_conflicts ORDER BY 1")
        ).all()
    assert [tuple(r) for r in rows] == [
        ("NONE", 10000, "no_statutory_plan", "未制定法定图则", "MULTIPOLYGON", 4547),
        ("SIXTY", 4000, "not_covered", "法定图则未覆盖", "MULTIPOLYGON", 4547),
    ]
    assert [tuple(r) for r in conflicts] == [
        ("ABSENT", "Z-ABSENT", "需调整法定图则"),
        ("CONFLICT", "Z-CONFLICT", "需调整法定图则"),
    ]


def test_parts_follow_zone_changes(cov_db):
    """statutory_plan_parts is derived in the same transaction: no stale pieces after changes."""
    eng = cov_db.engine
    assert by_code(plan_coverage(eng, "COV"))["SIXTY"].covered_m2 == 6000.0
    # editing a zone's geometry in place re-cuts its parts
    with eng.begin() as conn:
        conn.execute(
            text(
                "UPDATE statutory_plans SET geom = ST_Multi(ST_MakeEnvelope("
                ":x1, :y1, :x2, :y2, 4547)) WHERE zone_code = 'Z-SIXTY'"
            ),
            {"x1": X0 + 200, "y1": Y0 - 10, "x2": X0 + 290, "y2": Y0 + 110},
        )
    assert by_code(plan_coverage(eng, "COV"))["SIXTY"].covered_m2 == 9000.0
    # a new statutory-plan dataset replaces the old one: the next call reflects it
    load_layers(eng, {Layer.statutory_plans: [zone("Z-NEW", "R2", rect(0, 0, 500, 100))]})
    s = by_code(plan_coverage(eng, "COV"))
    assert (s["SIXTY"].covered_m2, s["NONE"].covered_m2, s["FULL"].covered_m2) == (
        10000.0,
        10000.0,
        10000.0,
    )
    assert s["CONFLICT"].covered_m2 == 0.0
    # deleting a dataset removes its parts with it
    with eng.begin() as conn:
        conn.execute(text("DELETE FROM datasets WHERE layer = 'statutory_plans'"))
        left = conn.execute(text("SELECT count(*) FROM statutory_plan_parts")).scalar_one()
    assert left == 0
    assert by_code(plan_coverage(eng, "COV"))["FULL"].covered_m2 == 0.0
