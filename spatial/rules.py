"""The land readiness rules in one place: the 3000 m² approval route and its rounding.

Everything that decides an approval route uses this module: the analysis functions
(:mod:`spatial.analysis.reserve`), the API and CLI (through them), and the SQL function
``tuzheng_approval_route(numeric)`` that the map-layer views use, whose body is generated here
by :func:`route_function_sql` (a test checks the two agree on the boundary cases).

Rule (Implementation Measures Art. 6, 19, 20): the *total* state reserve land (国有储备土地)
occupied by a project's retained land (留用土地), rounded half-up to 0.01 m², is compared with
3000 m². Not more than 3000 m² (including none, and exactly 3000.00 m²) → the district
government approves; more than 3000 m² → the city planning and land department.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pydantic import BaseModel

from spatial.labelled import LabelledEnum

RESERVE_THRESHOLD_M2 = Decimal("3000.00")
"""Threshold of occupied state reserve land, m² (Art. 6, 19, 20). Equal to it → district."""

AREA_QUANTUM = Decimal("0.01")
"""Areas are reported and compared to 0.01 m²."""

ROUNDING = "ROUND_HALF_UP to 0.01 m² before comparing with 3000 m²"
"""How the occupied total is rounded before the comparison (stated in every result)."""

COMPARISON = (
    "total ≤ 3000.00 m² → district (区政府审批); total > 3000.00 m² → city (报市规划国土部门)"
)
"""The comparison, as stated in every result."""


class Route(LabelledEnum):
    """Approval route of a project's retained-land supply plan (labels: the approving body)."""

    district = "district", "区政府审批", "approved by the district government"
    city = "city", "报市规划国土部门", "submitted to the city planning and land department"


ROUTE_LABELS_ZH: dict[Route, str] = {r: r.label_zh for r in Route}
ROUTE_LABELS_EN: dict[Route, str] = {r: r.label_en for r in Route}


class PublicityPath(BaseModel):
    """The publicity and submission path Art. 19 attaches to a route."""

    route: Route
    text_zh: str
    text_en: str
    articles: str


PUBLICITY: dict[Route, PublicityPath] = {
    Route.district: PublicityPath(
        route=Route.district,
        text_zh="区土地整备部门公示规划研究30个自然日，以区政府名义报市法定图则委员会",
        text_en=(
            "the district land readiness department publicises the planning study for 30 "
            "natural days, then submits it in the district government's name to the city "
            "statutory plan committee"
        ),
        articles="Art. 19(2), 20",
    ),
    Route.city: PublicityPath(
        route=Route.city,
        text_zh="规划研究及留用土地供应方案报市规划国土部门",
        text_en=(
            "the planning study and the retained-land supply plan go to the city planning and "
            "land department"
        ),
        articles="Art. 19(3), 20",
    ),
}

PLANNING_QUALIFICATION_ZH = "规划研究须由具有乙级及以上城乡规划编制资质的单位承担（第十七条）"
"""Who may do a required planning study (Art. 17), Chinese."""
PLANNING_QUALIFICATION_EN = (
    "the planning study must be done by an institution holding a Grade B (乙级) or higher "
    "urban and rural planning qualification (Art. 17)"
)
"""Who may do a required planning study (Art. 17), English."""


def round_area(area_m2: float | Decimal | None) -> Decimal:
    """Round an area to 0.01 m², half-up (``ROUND_HALF_UP``); ``None`` counts as 0.

    A float is first written with 15 significant digits, as PostgreSQL converts ``float8`` to
    ``numeric``, so Python and the SQL views round the same float identically, and float noise
    such as 3000.0049999999997 (from 3000.005) rounds to 3000.01 as a person reading it would.

    Examples
    --------
    >>> round_area(3000.004999)
    Decimal('3000.00')
    >>> round_area(3000.005)
    Decimal('3000.01')
    """
    if area_m2 is None:
        return Decimal("0.00")
    value = area_m2 if isinstance(area_m2, Decimal) else Decimal(format(float(area_m2), ".15g"))
    return value.quantize(AREA_QUANTUM, rounding=ROUND_HALF_UP)


def area_2dp(area_m2: float | Decimal | None) -> float:
    """:func:`round_area` as a float, for reports and JSON (m²)."""
    return float(round_area(area_m2))


def approval_route(total_occupied_m2: float | Decimal | None) -> Route:
    """The approval route for a project's total occupied state reserve land (m², EPSG:4547).

    The total is rounded with :func:`round_area` first; ≤ 3000.00 m² → ``district``,
    > 3000.00 m² → ``city``.

    Examples
    --------
    >>> approval_route(3000.0)
    <Route.district: 'district'>
    >>> approval_route(3000.01)
    <Route.city: 'city'>
    """
    return Route.city if round_area(total_occupied_m2) > RESERVE_THRESHOLD_M2 else Route.district


def route_decision(total_occupied_m2: float) -> dict[str, Any]:
    """The rule applied to a project's total (m², EPSG:4547), as the result models name it.

    ``total_occupied_m2`` (rounded half-up to 0.01 m²), ``total_occupied_unrounded_m2``,
    ``route`` with ``route_label_zh`` and ``route_label_en``, and the ``publicity`` path of
    Art. 19: the fields every result that states a project's route carries.

    Examples
    --------
    >>> d = route_decision(3000.004)
    >>> d["total_occupied_m2"], d["route"], d["route_label_en"]
    (3000.0, <Route.district: 'district'>, 'approved by the district government')
    """
    route = approval_route(total_occupied_m2)
    return {
        "total_occupied_m2": area_2dp(total_occupied_m2),
        "total_occupied_unrounded_m2": total_occupied_m2,
        "route": route,
        "route_label_zh": route.label_zh,
        "route_label_en": route.label_en,
        "publicity": PUBLICITY[route],
    }


def is_positive_area(area_m2: float | Decimal | None) -> bool:
    """True if the area is still positive after rounding to 0.01 m² (slivers count as none)."""
    return round_area(area_m2) > 0


def route_function_sql() -> str:
    """``CREATE OR REPLACE FUNCTION tuzheng_approval_route(numeric)``, generated from the rule.

    PostgreSQL's ``round(numeric, 2)`` rounds half away from zero, which for the non-negative
    areas here is ROUND_HALF_UP, the same as :func:`round_area`.
    """
    return (
        "CREATE OR REPLACE FUNCTION tuzheng_approval_route(total_m2 numeric) "
        "RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ "
        f"SELECT CASE WHEN round(coalesce(total_m2, 0), 2) > {RESERVE_THRESHOLD_M2} "
        f"THEN '{Route.city.value}' ELSE '{Route.district.value}' END $$"
    )
