"""The analyses on the demo district: the ledger adds up and every documented rule case holds."""

import pytest

from data.demo_cases import RULE_CASES
from spatial.analysis import area_ledger, review_all, review_project


@pytest.fixture(scope="module")
def reviews(demo_db):
    return {r.project_code: r for r in review_all(demo_db.engine)}


def test_ledger_adds_up_on_demo_district(demo_db, reviews):
    assert reviews
    for code, review in reviews.items():
        led = review.ledger
        assert led.adds_up, code
        signed = sum(ln.sign * ln.planar_m2 for ln in led.lines)
        assert signed == pytest.approx(led.total_planar_m2, abs=0.01), code
        assert led.line("total").planar_m2 > 0
    district = area_ledger(demo_db.engine)
    assert district.adds_up
    assert district.parcel_count == sum(
        ln.parcel_count for ln in district.lines if ln.kind == "category"
    )
    # the demo parcels tile the district: overlaps are at most float noise
    assert district.line("overlaps").planar_m2 == pytest.approx(0.0, abs=1.0)
    # named seed project: 科学城启动区 is 1.82 km²
    assert reviews["GM-ZB-001"].ledger.total_planar_m2 == pytest.approx(1_820_000.0, abs=0.01)


@pytest.mark.parametrize(
    "case,route",
    [
        ("reserve_none", "district"),
        ("reserve_under", "district"),
        ("reserve_exact", "district"),
        ("reserve_over", "city"),
    ],
)
def test_reserve_rule_cases(reviews, case, route):
    spec = RULE_CASES[case]
    review = reviews[spec["project"]]
    assert review.reserve.total_occupied_m2 == spec["reserve_m2"]
    assert review.verdict.route.value == route
    assert {s.site_code for s in review.reserve.sites} >= set(spec["sites"])


@pytest.mark.parametrize("case", ["plan_full", "plan_partial", "plan_none"])
def test_coverage_rule_cases(reviews, case):
    spec = RULE_CASES[case]
    site = next(
        s for r in reviews.values() for s in r.coverage.sites if s.site_code == spec["site"]
    )
    assert site.site_area_m2 == spec["site_m2"]
    assert site.covered_m2 == spec["covered_m2"]
    assert site.uncovered_m2 == spec["site_m2"] - spec["covered_m2"]
    assert ("法定图则未覆盖" in [r.zh for r in site.reasons]) == (site.uncovered_m2 > 0)


@pytest.mark.parametrize("case", ["use_conflict", "use_conflict_absent", "use_compatible"])
def test_use_rule_cases(reviews, case):
    spec = RULE_CASES[case]
    site = next(
        s for r in reviews.values() for s in r.coverage.sites if s.site_code == spec["site"]
    )
    assert site.planned_use == spec["land_use"]
    zone = next(z for z in site.zones if z.zone_class == spec["zone_class"])
    assert zone.compatible == (spec["pair"] == "true")
    assert zone.listed == (spec["pair"] != "absent")
    assert ("需调整法定图则" in [r.zh for r in site.reasons]) == (spec["pair"] != "true")


def test_review_project_equals_review_all(demo_db, reviews):
    one = review_project(demo_db.engine, "GM-ZB-005", geometry=False)
    assert one.model_dump() == reviews["GM-ZB-005"].model_dump()
