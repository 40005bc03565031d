"""spatial.rules without a database: rounding, the 3000 m² comparison, labels, the SQL text.

These run in ``make mutation``: each assertion pins one decision of the rule (half-up, not
half-even; ``>`` not ``>=``; 15 significant digits like PostgreSQL's float8 → numeric).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from spatial import rules
from spatial.rules import Route


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "0.00"),
        (0, "0.00"),
        (0.004, "0.00"),
        (0.005, "0.01"),  # half-up: half-even would give 0.00
        (2.675, "2.68"),  # the float is 2.67499999999999982236431605997495353221893310546875
        (0.125, "0.13"),  # exactly representable: half-even would give 0.12
        (3000.004999, "3000.00"),
        (3000.005, "3000.01"),
        (3000.0049999999997, "3000.01"),  # 15 significant digits, as float8 -> numeric
        (3000.004999999, "3000.00"),
        (Decimal("3000.005"), "3000.01"),
        (Decimal("3000.0049"), "3000.00"),
        (Decimal("0.125"), "0.13"),
        (Decimal("2.674999999999999999"), "2.67"),  # a Decimal keeps every digit (no float)
        (12_345_678.125, "12345678.13"),
    ],
)
def test_round_area_is_half_up_to_the_fen_of_a_square_metre(value, expected):
    out = rules.round_area(value)
    assert isinstance(out, Decimal)
    assert out == Decimal(expected)
    assert str(out) == expected  # quantized to exactly two places


def test_area_2dp_is_a_float_of_the_rounded_value():
    assert rules.area_2dp(3000.005) == 3000.01
    assert isinstance(rules.area_2dp(1), float)
    assert rules.area_2dp(None) == 0.0


@pytest.mark.parametrize(
    ("total", "route"),
    [
        (None, Route.district),
        (0, Route.district),
        (2999.99, Route.district),
        (3000, Route.district),  # 不超过 3000 平方米 includes 3000
        (Decimal("3000.00"), Route.district),
        (3000.004999, Route.district),
        (3000.005, Route.city),
        (3000.01, Route.city),
        (Decimal("3000.01"), Route.city),
        (12000.0, Route.city),
    ],
)
def test_approval_route_at_the_threshold(total, route):
    assert rules.approval_route(total) is route


def test_threshold_and_texts():
    assert rules.RESERVE_THRESHOLD_M2 == Decimal("3000.00")
    assert rules.AREA_QUANTUM == Decimal("0.01")
    assert rules.ROUNDING == "ROUND_HALF_UP to 0.01 m² before comparing with 3000 m²"
    assert Route.district.value == "district" and Route.city.value == "city"
    assert Route.district.label_zh == "区政府审批"
    assert Route.city.label_zh == "报市规划国土部门"
    assert Route.district.label_en == "approved by the district government"
    assert Route.city.label_en == "submitted to the city planning and land department"
    assert rules.PUBLICITY[Route.district].articles == "Art. 19(2), 20"
    assert rules.PUBLICITY[Route.city].articles == "Art. 19(3), 20"
    assert rules.PUBLICITY[Route.district].route is Route.district
    assert rules.PUBLICITY[Route.city].route is Route.city
    assert "30个自然日" in rules.PUBLICITY[Route.district].text_zh
    assert "乙级" in rules.PLANNING_QUALIFICATION_ZH
    assert "Grade B" in rules.PLANNING_QUALIFICATION_EN


def test_route_decision_states_the_rounded_total_its_route_and_publicity():
    # 3000.004 rounds to 3000.00: not more than 3000 m², the district.
    d = rules.route_decision(3000.004)
    assert d == {
        "total_occupied_m2": 3000.0,
        "total_occupied_unrounded_m2": 3000.004,
        "route": Route.district,
        "route_label_zh": "区政府审批",
        "route_label_en": "approved by the district government",
        "publicity": rules.PUBLICITY[Route.district],
    }
    assert d["publicity"] is rules.PUBLICITY[Route.district]
    # 3000.005 rounds half-up to 3000.01: more than 3000 m², the city.
    d = rules.route_decision(3000.005)
    assert d == {
        "total_occupied_m2": 3000.01,
        "total_occupied_unrounded_m2": 3000.005,
        "route": Route.city,
        "route_label_zh": "报市规划国土部门",
        "route_label_en": "submitted to the city planning and land department",
        "publicity": rules.PUBLICITY[Route.city],
    }
    assert d["publicity"] is rules.PUBLICITY[Route.city]
    assert type(d["total_occupied_m2"]) is float


@pytest.mark.parametrize(
    ("area", "positive"),
    [(None, False), (0, False), (0.004, False), (0.005, True), (0.01, True), (-0.01, False)],
)
def test_is_positive_area_ignores_slivers_under_half_a_hundredth(area, positive):
    assert rules.is_positive_area(area) is positive


def test_route_function_sql_text():
    sql = rules.route_function_sql()
    assert sql == (
        "CREATE OR REPLACE FUNCTION tuzheng_approval_route(total_m2 numeric) "
        "RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ "
        "SELECT CASE WHEN round(coalesce(total_m2, 0), 2) > 3000.00 "
        "THEN 'city' ELSE 'district' END $$"
    )
