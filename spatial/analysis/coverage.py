"""Statutory-plan (法定图则) coverage of retained-land sites, and planned-use conflicts.

Reads the views ``analysis_site_coverage`` and ``analysis_conflicts`` (migration 0003): the
same queries the map layers ``analysis_uncovered`` and ``analysis_conflicts`` serve. Zones are
intersected through ``statutory_plan_parts`` (each zone cut by ``ST_Subdivide``), so large zone
polygons stay cheap. Whether a planned use may sit in a zone class is data: the editable table
``land_use_compatibility``; a pair that is absent or marked incompatible is a conflict.

A planning study (规划研究) is required (Art. 17, 20) when any part of a site is not covered by
a statutory plan, or when its planned use conflicts with a zone it overlaps; it must be done by
an institution with a Grade B (乙级) or higher planning qualification.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import pandas as pd
from pydantic import BaseModel, PrivateAttr
from sqlalchemy import Engine

from spatial import rules
from spatial.analysis.connection import analysis_connection, fetch_dicts
from spatial.analysis.geoframe import to_geodataframe
from spatial.analysis.projects import project_doc, project_row, project_rows


class Reason(BaseModel):
    """Why a planning study is required, in Chinese and English."""

    code: str
    """``not_covered``, ``no_statutory_plan`` or ``plan_adjustment``."""
    zh: str
    en: str
    detail_zh: str | None = None
    detail_en: str | None = None


REASON_TEXT: dict[str, tuple[str, str]] = {
    "not_covered": ("法定图则未覆盖", "not covered by a statutory plan"),
    "no_statutory_plan": ("未制定法定图则", "no statutory plan made for the site"),
    "plan_adjustment": ("需调整法定图则", "statutory plan adjustment required"),
}


class ZoneOverlap(BaseModel):
    """A statutory-plan zone a site overlaps, with the overlap (m²) and compatibility."""

    zone_code: str
    plan_code: str
    plan_name: str | None = None
    zone_class: str
    area_m2: float
    compatible: bool
    listed: bool
    """Whether the (planned use, zone class) pair is in ``land_use_compatibility``."""
    note: str | None = None


class SiteCoverage(BaseModel):
    """Statutory-plan coverage of one retained-land site (planar m², EPSG:4547)."""

    project_code: str | None
    site_code: str
    site_name: str | None = None
    planned_use: str
    site_area_m2: float
    covered_m2: float
    uncovered_m2: float
    covered_share: float
    zones: list[ZoneOverlap]
    conflicts: list[ZoneOverlap]
    planning_study_required: bool
    reasons: list[Reason]
    qualification_zh: str | None = None
    """Grade B (乙级) qualification requirement, when a study is required."""
    qualification_en: str | None = None


class PlanCoverage(BaseModel):
    """Statutory-plan coverage of every retained-land site of a project."""

    project_code: str
    sites: list[SiteCoverage]
    planning_study_required: bool
    sites_requiring_study: list[str]

    _uncovered: gpd.GeoDataFrame | None = PrivateAttr(default=None)
    _conflicts: gpd.GeoDataFrame | None = PrivateAttr(default=None)

    def to_frame(self) -> pd.DataFrame:
        """One row per site (m²), reasons joined as text."""
        rows = []
        for s in self.sites:
            row: dict[str, Any] = s.model_dump(exclude={"zones", "conflicts", "reasons"})
            row["zones"] = ", ".join(z.zone_code for z in s.zones)
            row["conflicts"] = ", ".join(z.zone_code for z in s.conflicts)
            row["reasons_zh"] = "；".join(r.zh for r in s.reasons)
            row["reasons_en"] = "; ".join(r.en for r in s.reasons)
            rows.append(row)
        return pd.DataFrame(rows)

    def uncovered_geodataframe(self) -> gpd.GeoDataFrame:
        """Uncovered parts of the sites (EPSG:4547), one row per site with area > 0."""
        if self._uncovered is None:
            return to_geodataframe([], _UNCOVERED_COLS)
        return self._uncovered

    def conflicts_geodataframe(self) -> gpd.GeoDataFrame:
        """Site × zone overlaps whose planned use conflicts with the zone (EPSG:4547)."""
        if self._conflicts is None:
            return to_geodataframe([], _CONFLICT_COLS)
        return self._conflicts


_UNCOVERED_COLS = ["project_code", "site_code", "area_m2", "reason_code", "reason_zh"]
_CONFLICT_COLS = [
    "project_code",
    "site_code",
    "planned_use",
    "zone_code",
    "zone_class",
    "area_m2",
    "listed",
    "reason_zh",
]


def site_coverage_from_row(r: Any) -> SiteCoverage:
    """A site's coverage, conflicts and reasons from one ``analysis_site_coverage``-shaped row.

    The one place the reasons for a planning study (Art. 17, 20) are decided: the review and
    the siting check (:mod:`spatial.analysis.siting`) both call it. ``r`` maps project_code,
    site_code, site_name, planned_use, site_area_m2, covered_m2, uncovered_m2 (m², EPSG:4547)
    and zones (dicts with zone_code, plan_code, plan_name, zone_class, area_m2, compatible,
    listed, note).
    """
    zones = [
        ZoneOverlap(
            zone_code=z["zone_code"],
            plan_code=z["plan_code"],
            plan_name=z["plan_name"],
            zone_class=z["zone_class"],
            area_m2=rules.area_2dp(z["area_m2"]),
            compatible=bool(z["compatible"]),
            listed=bool(z["listed"]),
            note=z["note"],
        )
        for z in (r["zones"] or [])
    ]
    conflicts = [z for z in zones if not z.compatible]
    covered = rules.area_2dp(r["covered_m2"])
    uncovered = rules.area_2dp(r["uncovered_m2"])
    reasons: list[Reason] = []
    if uncovered > 0:
        reasons.append(
            Reason(
                code="not_covered",
                zh=REASON_TEXT["not_covered"][0],
                en=REASON_TEXT["not_covered"][1],
                detail_zh=f"未覆盖面积 {uncovered:.2f} m²",
                detail_en=f"uncovered area {uncovered:.2f} m²",
            )
        )
        if covered == 0:
            reasons.append(
                Reason(
                    code="no_statutory_plan",
                    zh=REASON_TEXT["no_statutory_plan"][0],
                    en=REASON_TEXT["no_statutory_plan"][1],
                )
            )
    for z in conflicts:
        why_zh = "兼容表未列出" if not z.listed else "兼容表标为不兼容"
        why_en = "pair not in the compatibility table" if not z.listed else "marked incompatible"
        reasons.append(
            Reason(
                code="plan_adjustment",
                zh=REASON_TEXT["plan_adjustment"][0],
                en=REASON_TEXT["plan_adjustment"][1],
                detail_zh=(
                    f"规划用途 {r['planned_use']} 与图则地块 {z.zone_code}（{z.zone_class}）"
                    f"冲突，{why_zh}，重叠 {z.area_m2:.2f} m²"
                ),
                detail_en=(
                    f"planned use {r['planned_use']} conflicts with zone {z.zone_code} "
                    f"({z.zone_class}): {why_en}; overlap {z.area_m2:.2f} m²"
                ),
            )
        )
    required = bool(reasons)
    site_area = float(r["site_area_m2"])
    return SiteCoverage(
        project_code=r["project_code"],
        site_code=r["site_code"],
        site_name=r["site_name"],
        planned_use=r["planned_use"],
        site_area_m2=rules.area_2dp(site_area),
        covered_m2=covered,
        uncovered_m2=uncovered,
        covered_share=(float(r["covered_m2"]) / site_area) if site_area else 0.0,
        zones=zones,
        conflicts=conflicts,
        planning_study_required=required,
        reasons=reasons,
        qualification_zh=rules.PLANNING_QUALIFICATION_ZH if required else None,
        qualification_en=rules.PLANNING_QUALIFICATION_EN if required else None,
    )


def plan_coverages(
    engine: Engine, codes: Sequence[str] | None = None, geometry: bool = True
) -> dict[str, PlanCoverage]:
    """Plan coverage of several projects in one pass (all current projects if None)."""
    where = "WHERE project_code = ANY(%(codes)s) " if codes is not None else ""
    geom = "ST_AsBinary(geom)" if geometry else "NULL::bytea"
    params = {"codes": list(codes or [])}
    with analysis_connection(engine) as conn:
        rows = fetch_dicts(
            conn,
            "SELECT id, project_code, site_code, site_name, planned_use, site_area_m2, "
            f"covered_m2, uncovered_m2, zones, {geom} AS wkb "
            f"FROM analysis_site_coverage {where}ORDER BY project_code, site_code",
            params,
        )
        conflict_rows: list[Any] = []
        if geometry:
            conflict_rows = fetch_dicts(
                conn,
                "SELECT project_code, site_code, planned_use, zone_code, zone_class, "
                "area_m2, listed, reason_zh, ST_AsBinary(geom) AS wkb "
                f"FROM analysis_conflicts {where}ORDER BY project_code, site_code, zone_code",
                params,
            )
    projects = [p["code"] for p in project_rows(engine, codes)]
    sites: dict[str, list[SiteCoverage]] = {c: [] for c in projects}
    uncovered: dict[str, list[dict[str, Any]]] = {c: [] for c in projects}
    conflicts: dict[str, list[dict[str, Any]]] = {c: [] for c in projects}
    for r in rows:
        if r["project_code"] not in sites:
            continue
        site = site_coverage_from_row(r)
        sites[r["project_code"]].append(site)
        if geometry and site.uncovered_m2 > 0:
            reason = site.reasons[-1 if site.covered_m2 == 0 else 0]
            uncovered[r["project_code"]].append(
                {
                    "project_code": r["project_code"],
                    "site_code": r["site_code"],
                    "area_m2": site.uncovered_m2,
                    "reason_code": reason.code,
                    "reason_zh": reason.zh,
                    "wkb": r["wkb"],
                }
            )
    for r in conflict_rows:
        if r["project_code"] in conflicts:
            conflicts[r["project_code"]].append({**r, "area_m2": rules.area_2dp(r["area_m2"])})
    out = {}
    for code in projects:
        need = [s.site_code for s in sites[code] if s.planning_study_required]
        cov = PlanCoverage(
            project_code=code,
            sites=sites[code],
            planning_study_required=bool(need),
            sites_requiring_study=need,
        )
        if geometry:
            cov._uncovered = to_geodataframe(uncovered[code], _UNCOVERED_COLS)
            cov._conflicts = to_geodataframe(conflicts[code], _CONFLICT_COLS)
        out[code] = cov
    return out


@project_doc
def plan_coverage(engine: Engine, project_code: str) -> PlanCoverage:
    """Statutory-plan coverage and use conflicts of the retained land of ``project_code``.

    {parameters}

    Returns
    -------
    PlanCoverage
        Per site: covered and uncovered area (m², planar EPSG:4547, to 0.01 m²), the zones it
        overlaps, the conflicting ones, ``planning_study_required`` and the reasons
        (法定图则未覆盖 / 未制定法定图则 / 需调整法定图则) with the Grade B (乙级) note.
        ``.uncovered_geodataframe()`` and ``.conflicts_geodataframe()`` give the evidence.

    {raises_not_found}

    Examples
    --------
    >>> cov = plan_coverage(engine, "GM-001")  # doctest: +SKIP
    >>> [(s.site_code, s.planning_study_required) for s in cov.sites]  # doctest: +SKIP
    [('GM-001-L1', False), ('GM-001-L2', True)]
    """
    project_row(engine, project_code)
    return plan_coverages(engine, [project_code])[project_code]
