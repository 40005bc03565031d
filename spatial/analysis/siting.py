"""Siting check (选址试算): what a candidate retained-land site would change, written nowhere.

:func:`check_siting` answers, for a candidate polygon in a project (drawn, edited or pasted by
a planner, before any surveyor uploads it): the state reserve land it would occupy, the
project's new total and approval route, its statutory-plan coverage and conflicts with the
planned use, and what it is made of by ownership category. It reads the current datasets and
writes nothing.

The geometry is worked out in PostGIS with the same predicates as the analysis views
(migration 0003: reserve polygons meeting the site are unioned before the intersection; zones
through ``statutory_plan_parts``; compatibility from ``land_use_compatibility``). The rule is
not re-implemented: the route comes from :func:`spatial.rules.approval_route` on the unrounded
total, and the reasons a planning study is needed from the same function that builds them for
the review (:func:`spatial.analysis.coverage.site_coverage_from_row`). A test checks that an
existing site, checked as a candidate replacing itself, gives the review's figures to 0.01 m².
"""

from __future__ import annotations

import json
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from pydantic import BaseModel, PrivateAttr
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Engine, text

from spatial import rules
from spatial.analysis.connection import analysis_connection
from spatial.analysis.coverage import SiteCoverage, site_coverage_from_row
from spatial.analysis.geoframe import to_geodataframe
from spatial.categories import OwnershipCategory
from spatial.crs import STORAGE, transformer
from spatial.errors import InvalidInput, NotFound
from spatial.rules import PublicityPath, Route

CANDIDATE_CODE = "候选 candidate"
"""Site code the candidate carries in the results."""

MAX_VERTICES = 20_000
"""Largest candidate accepted (vertices); a drawn or pasted site has far fewer."""

SHENZHEN_4547 = (440_000.0, 2_460_000.0, 600_000.0, 2_560_000.0)
"""Plausible EPSG:4547 envelope (m) of a Shenzhen site; a candidate outside it is refused."""


class ProjectTotal(BaseModel):
    """A project's total reserve occupation and the route it implies (m², to 0.01 m²)."""

    total_occupied_m2: float
    total_occupied_unrounded_m2: float
    route: Route
    route_label_zh: str
    route_label_en: str
    publicity: PublicityPath


class SitingCheck(BaseModel):
    """What a candidate site would change (planar m², EPSG:4547, rounded half-up to 0.01 m²)."""

    project_code: str
    project_name: str
    planned_use: str
    replaces_site_code: str | None
    """The existing site the candidate would replace (its occupation leaves the total)."""
    candidate_area_m2: float
    outside_project_m2: float
    """Part of the candidate outside the project boundary."""
    overlapping_sites: list[str]
    """Other current sites of the project the candidate overlaps (they would count twice)."""
    occupied_reserve_m2: float
    occupied_reserve_unrounded_m2: float
    reserve_codes: list[str]
    categories_m2: dict[str, float]
    """Candidate area on parcels of each ownership category (all four codes present)."""
    coverage: SiteCoverage
    before: ProjectTotal
    after: ProjectTotal
    route_changes: bool
    rounding: str = rules.ROUNDING
    comparison: str = rules.COMPARISON
    verdict_zh: str
    verdict_en: str

    _evidence: list[dict[str, Any]] = PrivateAttr(default_factory=list)
    _candidate: BaseGeometry | None = PrivateAttr(default=None)

    def candidate_geometry(self) -> BaseGeometry | None:
        """The candidate as checked (EPSG:4547)."""
        return self._candidate

    def evidence_geodataframe(self) -> gpd.GeoDataFrame:
        """The candidate, its occupied, uncovered and conflicting parts (EPSG:4547).

        Columns: ``kind`` (``candidate`` / ``occupied`` / ``uncovered`` / ``conflict``),
        ``area_m2`` (to 0.01 m²), ``label_zh``.
        """
        return to_geodataframe(self._evidence, ["kind", "area_m2", "label_zh"])

    def evidence_geojson(self) -> dict[str, Any]:
        """The same parts as a GeoJSON FeatureCollection in CRS84 (lon/lat, 7 decimals)."""
        return {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {k: e[k] for k in ("kind", "area_m2", "label_zh")},
                    "geometry": e["json"],
                }
                for e in self._evidence
            ],
        }


def candidate_in_storage_crs(geometry: BaseGeometry | dict[str, Any], crs: int = STORAGE) -> Any:
    """A candidate polygon (shapely or GeoJSON mapping) in EPSG:4547, checked.

    ``crs`` is the EPSG code of the input coordinates (4547 metres, or 4326 / 4490 lon/lat,
    transformed with ``always_xy=True``). Polygons and MultiPolygons only, 2D, finite, valid
    (an invalid ring is refused with the reason, never repaired silently), with positive area,
    inside Shenzhen's EPSG:4547 envelope, at most :data:`MAX_VERTICES` vertices.

    Raises
    ------
    InvalidInput
        With a Chinese and English message naming what is wrong.
    """
    try:
        geom = geometry if isinstance(geometry, BaseGeometry) else shapely.geometry.shape(geometry)
    except Exception as exc:  # shapely raises several types for malformed GeoJSON
        raise InvalidInput(
            "候选用地不是有效的 GeoJSON 几何", f"the candidate is not a GeoJSON geometry: {exc}"
        ) from exc
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise InvalidInput(
            f"候选用地须为面（Polygon/MultiPolygon），收到 {geom.geom_type}",
            f"the candidate must be a Polygon or MultiPolygon, got {geom.geom_type}",
        )
    if geom.is_empty:
        raise InvalidInput("候选用地为空", "the candidate is empty")
    if shapely.get_num_coordinates(geom) > MAX_VERTICES:
        raise InvalidInput(
            f"候选用地顶点过多（上限 {MAX_VERTICES}）",
            f"the candidate has too many vertices (limit {MAX_VERTICES})",
        )
    geom = shapely.force_2d(geom)
    coords = shapely.get_coordinates(geom)
    if not (coords == coords).all() or not abs(coords).max() < 1e12:
        raise InvalidInput(
            "候选用地坐标含 NaN 或无穷大", "the candidate has NaN or Inf coordinates"
        )
    if crs != STORAGE:
        if crs not in (4326, 4490):
            raise InvalidInput(
                f"不支持的候选用地坐标系 EPSG:{crs}（可用 4547、4490、4326）",
                f"unsupported candidate CRS EPSG:{crs} (use 4547, 4490 or 4326)",
            )
        t = transformer(crs, STORAGE)
        geom = shapely.transform(geom, lambda xy: _stack(t.transform(xy[:, 0], xy[:, 1])))
    if not np.isfinite(shapely.get_coordinates(geom)).all():
        raise InvalidInput(
            "候选用地坐标超出坐标系范围", "the candidate's coordinates are outside the CRS's range"
        )
    if not geom.is_valid:
        why = shapely.is_valid_reason(geom)
        raise InvalidInput(f"候选用地几何无效：{why}", f"the candidate geometry is invalid: {why}")
    xmin, ymin, xmax, ymax = geom.bounds
    ex = SHENZHEN_4547
    if xmin < ex[0] or ymin < ex[1] or xmax > ex[2] or ymax > ex[3]:
        raise InvalidInput(
            "候选用地不在深圳范围内（EPSG:4547），请检查坐标系与坐标顺序",
            "the candidate is outside Shenzhen in EPSG:4547; check the CRS and axis order",
        )
    if not rules.is_positive_area(geom.area):
        raise InvalidInput("候选用地面积为 0", "the candidate has no area")
    return shapely.geometry.MultiPolygon([geom]) if geom.geom_type == "Polygon" else geom


def _stack(xy: tuple[Any, Any]) -> Any:
    import numpy as np

    return np.column_stack(xy)


_SQL = """
WITH c AS (SELECT ST_SetSRID(ST_GeomFromWKB(:wkb), 4547) AS g),
res AS (
    SELECT array_agg(sr.code::text ORDER BY sr.code) AS codes,
           ST_Multi(ST_CollectionExtract(ST_Intersection(c.g, ST_Union(sr.geom)), 3)) AS geom
    FROM c JOIN current_state_reserve_land sr
      ON sr.geom && c.g AND ST_Intersects(sr.geom, c.g) AND NOT ST_Touches(sr.geom, c.g)
    GROUP BY c.g
),
zparts AS (
    SELECT p.zone_id, ST_Intersection(c.g, p.geom) AS g
    FROM c JOIN statutory_plan_parts p ON p.geom && c.g AND ST_Intersects(p.geom, c.g)
    JOIN current_statutory_plans z0 ON z0.id = p.zone_id
    OFFSET 0
),
zones AS (
    SELECT z.id AS zone_id, z.plan_code, z.plan_name, z.zone_code,
           z.land_use_class AS zone_class,
           coalesce(k.compatible, false) AS compatible,
           (k.planned_use IS NOT NULL) AS listed, k.note,
           ST_Multi(ST_CollectionExtract(x.g, 3)) AS geom
    FROM (
        SELECT zone_id, CASE WHEN count(*) = 1 THEN (array_agg(g))[1]
                             ELSE ST_UnaryUnion(ST_Collect(g)) END AS g
        FROM zparts GROUP BY zone_id
    ) x
    JOIN statutory_plans z ON z.id = x.zone_id
    LEFT JOIN land_use_compatibility k
           ON upper(btrim(k.planned_use)) = upper(btrim(:land_use))
          AND upper(btrim(k.zone_class)) = upper(btrim(z.land_use_class))
),
zkept AS (SELECT *, ST_Area(geom)::float8 AS area_m2 FROM zones
          WHERE round(ST_Area(geom)::numeric, 2) > 0),
cov AS (
    SELECT CASE WHEN count(*) = 1 THEN (array_agg(geom))[1]
                ELSE ST_UnaryUnion(ST_Collect(geom)) END AS covered,
           jsonb_agg(jsonb_build_object(
               'zone_id', zone_id, 'zone_code', zone_code, 'plan_code', plan_code,
               'plan_name', plan_name, 'zone_class', zone_class, 'area_m2', area_m2,
               'compatible', compatible, 'listed', listed, 'note', note)
               ORDER BY zone_code) AS zones
    FROM zkept
),
unc AS (
    SELECT CASE WHEN cov.covered IS NULL THEN c.g
                WHEN ST_Area(c.g) - ST_Area(cov.covered) < 0.005
                    THEN ST_SetSRID('MULTIPOLYGON EMPTY'::geometry, 4547)
                ELSE ST_Multi(ST_CollectionExtract(ST_Difference(c.g, cov.covered), 3))
           END AS geom
    FROM c, cov
),
cat AS (
    SELECT q.category, sum(q.area) AS area
    FROM (
        SELECT p.category::text AS category, ST_Area(ST_Intersection(p.geom, c.g)) AS area
        FROM c JOIN current_parcels p ON p.geom && c.g AND ST_Intersects(p.geom, c.g)
        OFFSET 0
    ) q
    WHERE round(q.area::numeric, 2) > 0
    GROUP BY 1
),
others AS (
    SELECT coalesce(sum(area_m2), 0)::float8 AS other_m2,
           coalesce(sum(area_m2) FILTER (WHERE site_code IS DISTINCT FROM :replaces), 0)::float8
               AS kept_m2
    FROM analysis_site_reserve WHERE project_code = :project
),
overl AS (
    SELECT array_agg(r.code::text ORDER BY r.code) AS codes
    FROM c JOIN current_retained_land r
      ON r.project_code = :project AND r.code IS DISTINCT FROM :replaces
     AND r.geom && c.g AND ST_Intersects(r.geom, c.g)
     AND round(ST_Area(ST_Intersection(r.geom, c.g))::numeric, 2) > 0
),
outside AS (
    SELECT coalesce(ST_Area(ST_Difference(c.g, ST_Union(p.geom))), ST_Area(c.g))::float8 AS m2
    FROM c LEFT JOIN current_projects p ON p.code = :project
    GROUP BY c.g
)
SELECT (SELECT name FROM current_projects WHERE code = :project ORDER BY id LIMIT 1)
           AS project_name,
       EXISTS (SELECT 1 FROM current_projects WHERE code = :project) AS project_found,
       (CAST(:replaces AS text) IS NULL OR EXISTS (
            SELECT 1 FROM current_retained_land
            WHERE project_code = :project AND code = :replaces)) AS replaces_found,
       ST_AsGeoJSON(ST_Transform(c.g, 4326), 7)::jsonb AS candidate_json,
       ST_AsGeoJSON(ST_Transform(res.geom, 4326), 7)::jsonb AS occupied_json,
       ST_AsGeoJSON(ST_Transform(unc.geom, 4326), 7)::jsonb AS uncovered_json,
       ST_Area(c.g)::float8 AS site_area_m2,
       coalesce(ST_Area(res.geom), 0)::float8 AS occupied_m2,
       coalesce(res.codes, '{}'::text[]) AS reserve_codes,
       ST_AsBinary(res.geom) AS occupied_wkb,
       coalesce(ST_Area(cov.covered), 0)::float8 AS covered_m2,
       ST_Area(unc.geom)::float8 AS uncovered_m2,
       ST_AsBinary(unc.geom) AS uncovered_wkb,
       coalesce(cov.zones, '[]'::jsonb) AS zones,
       (SELECT coalesce(jsonb_object_agg(category, area), '{}'::jsonb) FROM cat) AS categories,
       (SELECT coalesce(jsonb_agg(jsonb_build_object(
            'zone_code', zone_code, 'zone_class', zone_class, 'area_m2', area_m2,
            'wkb', encode(ST_AsBinary(geom), 'hex'),
            'json', ST_AsGeoJSON(ST_Transform(geom, 4326), 7)::jsonb) ORDER BY zone_code),
            '[]'::jsonb)
        FROM zkept WHERE NOT compatible) AS conflicts,
       others.other_m2, others.kept_m2,
       coalesce(overl.codes, '{}'::text[]) AS overlapping,
       outside.m2 AS outside_m2
FROM c
LEFT JOIN res ON true
CROSS JOIN cov CROSS JOIN unc CROSS JOIN others CROSS JOIN overl CROSS JOIN outside
"""


def _total(raw: float) -> ProjectTotal:
    return ProjectTotal(**rules.route_decision(raw))


def check_siting(
    engine: Engine,
    project_code: str,
    candidate: BaseGeometry | dict[str, Any],
    planned_use: str,
    *,
    replaces_site_code: str | None = None,
    crs: int = STORAGE,
) -> SitingCheck:
    """Check a candidate retained-land site in a project before it is drawn for real.

    Parameters
    ----------
    engine
        SQLAlchemy engine of the tuzheng store (read only: nothing is written).
    project_code
        Code of a current project.
    candidate
        The candidate polygon: a shapely Polygon/MultiPolygon or a GeoJSON geometry mapping.
    planned_use
        Its planned land-use class (e.g. ``R2``, ``M1``), checked against the zones through
        ``land_use_compatibility``.
    replaces_site_code
        An existing site of the project that the candidate would replace (a moved or edited
        site); its occupation leaves the project total and it is not counted as an overlap.
    crs
        EPSG code of ``candidate``'s coordinates: 4547 (default, metres), 4490 or 4326.

    Returns
    -------
    SitingCheck
        The candidate's area, occupied state reserve land with the reserve codes, coverage
        (covered / uncovered m², zones, conflicts, reasons, Grade B note), composition by
        ownership category, the project's total and route before and after, and a verdict in
        Chinese and English. Areas are planar m² in EPSG:4547, rounded half-up to 0.01 m²; the
        route is decided on the unrounded total by :func:`spatial.rules.approval_route`.
        ``.evidence_geodataframe()`` gives the parts to draw (EPSG:4547).

    Raises
    ------
    NotFound
        If ``project_code`` names no current project, or ``replaces_site_code`` none of its
        sites.
    InvalidInput
        If the candidate is not a valid polygon in Shenzhen (see
        :func:`candidate_in_storage_crs`), or ``planned_use`` is empty.

    Examples
    --------
    >>> from shapely import box
    >>> check = check_siting(engine, "GM-001", box(500000, 2516000, 500060, 2516050), "R2")
    ... # doctest: +SKIP
    >>> check.after.route.value, check.occupied_reserve_m2  # doctest: +SKIP
    ('city', 1250.0)
    """
    use = (planned_use or "").strip()
    if not use or len(use) > 50:
        raise InvalidInput(
            "请填写规划用途（用地分类代码，如 R2）",
            "give the planned use (a land-use class code such as R2)",
        )
    geom = candidate_in_storage_crs(candidate, crs)
    params = {
        "wkb": shapely.to_wkb(geom),
        "land_use": use,
        "project": project_code,
        "replaces": replaces_site_code,
    }
    # one statement on one connection: a planner drags a vertex and waits for the answer
    with analysis_connection(engine) as conn:
        r = conn.execute(text(_SQL), params).mappings().one()
    if not r["project_found"]:
        raise NotFound(f"整备项目不存在：{project_code}", f"no current project {project_code!r}")
    if not r["replaces_found"]:
        raise NotFound(
            f"项目 {project_code} 没有留用土地 {replaces_site_code}",
            f"project {project_code} has no retained-land site {replaces_site_code}",
        )
    project = {"code": project_code, "name": r["project_name"] or ""}
    return _result(project, use, replaces_site_code, geom, r)


def _result(
    project: dict[str, Any],
    use: str,
    replaces: str | None,
    geom: BaseGeometry,
    r: Any,
) -> SitingCheck:
    zones = r["zones"] if isinstance(r["zones"], list) else json.loads(r["zones"])
    coverage = site_coverage_from_row(
        {
            "project_code": project["code"],
            "site_code": CANDIDATE_CODE,
            "site_name": None,
            "planned_use": use,
            "site_area_m2": r["site_area_m2"],
            "covered_m2": r["covered_m2"],
            "uncovered_m2": r["uncovered_m2"],
            "zones": zones,
        }
    )
    occupied_raw = float(r["occupied_m2"])
    before = _total(float(r["other_m2"]))
    after = _total(float(r["kept_m2"]) + occupied_raw)
    cats = dict(r["categories"] or {})
    categories = {c.value: rules.area_2dp(cats.get(c.value, 0.0)) for c in OwnershipCategory}
    overlapping = list(r["overlapping"] or [])
    outside = rules.area_2dp(r["outside_m2"])
    check = SitingCheck(
        project_code=project["code"],
        project_name=project["name"],
        planned_use=use,
        replaces_site_code=replaces,
        candidate_area_m2=rules.area_2dp(r["site_area_m2"]),
        outside_project_m2=outside,
        overlapping_sites=overlapping,
        occupied_reserve_m2=rules.area_2dp(occupied_raw),
        occupied_reserve_unrounded_m2=occupied_raw,
        reserve_codes=list(r["reserve_codes"] or []),
        categories_m2=categories,
        coverage=coverage,
        before=before,
        after=after,
        route_changes=before.route is not after.route,
        verdict_zh="",
        verdict_en="",
    )
    check.verdict_zh, check.verdict_en = _verdict(check)
    check._candidate = geom
    evidence: list[dict[str, Any]] = [
        {
            "kind": "candidate",
            "area_m2": check.candidate_area_m2,
            "label_zh": "候选用地",
            "wkb": shapely.to_wkb(geom),
            "json": r["candidate_json"],
        },
    ]
    if r["occupied_wkb"] is not None and check.occupied_reserve_m2 > 0:
        evidence.append(
            {
                "kind": "occupied",
                "area_m2": check.occupied_reserve_m2,
                "label_zh": "占用国有储备土地",
                "wkb": r["occupied_wkb"],
                "json": r["occupied_json"],
            }
        )
    if coverage.uncovered_m2 > 0:
        evidence.append(
            {
                "kind": "uncovered",
                "area_m2": coverage.uncovered_m2,
                "label_zh": coverage.reasons[-1 if coverage.covered_m2 == 0 else 0].zh,
                "wkb": r["uncovered_wkb"],
                "json": r["uncovered_json"],
            }
        )
    for c in r["conflicts"] or []:
        evidence.append(
            {
                "kind": "conflict",
                "area_m2": rules.area_2dp(c["area_m2"]),
                "label_zh": f"需调整法定图则 {c['zone_code']}（{c['zone_class']}）",
                "wkb": bytes.fromhex(c["wkb"]),
                "json": c["json"],
            }
        )
    check._evidence = evidence
    return check


def _verdict(c: SitingCheck) -> tuple[str, str]:
    a, b = c.after, c.before
    cmp_ = "≤" if a.route is Route.district else ">"
    zh = (
        f"候选用地 {c.candidate_area_m2:,.2f} m²，"
        f"占用国有储备土地 {c.occupied_reserve_m2:,.2f} m²；"
        f"项目合计 {b.total_occupied_m2:,.2f} → {a.total_occupied_m2:,.2f} m²（{cmp_} 3000 m²），"
        f"{a.route_label_zh}"
    )
    en = (
        f"candidate {c.candidate_area_m2:,.2f} m² occupies {c.occupied_reserve_m2:,.2f} m² of "
        f"state reserve land; project total {b.total_occupied_m2:,.2f} → "
        f"{a.total_occupied_m2:,.2f} m² ({cmp_} 3000 m²): {a.route_label_en}"
    )
    if c.route_changes:
        zh += f"（审批路径由{b.route_label_zh}变为{a.route_label_zh}）"
        en += f" (the route changes from {b.route.value} to {a.route.value})"
    if c.coverage.planning_study_required:
        why = "、".join(dict.fromkeys(x.zh for x in c.coverage.reasons))
        zh += f"；需开展规划研究（{why}），由乙级及以上规划资质单位承担"
        en += (
            "; planning study required ("
            + "; ".join(dict.fromkeys(x.en for x in c.coverage.reasons))
            + "), by a Grade B (乙级) or higher institution"
        )
    else:
        zh += "；法定图则全覆盖且用途相符"
        en += "; fully covered by statutory plans with a compatible use"
    if c.overlapping_sites:
        zh += f"；与现有留用土地重叠：{'、'.join(c.overlapping_sites)}"
        en += f"; overlaps existing sites: {', '.join(c.overlapping_sites)}"
    if c.outside_project_m2 > 0:
        zh += f"；{c.outside_project_m2:,.2f} m² 位于项目范围外"
        en += f"; {c.outside_project_m2:,.2f} m² lies outside the project boundary"
    return zh, en
