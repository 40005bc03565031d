"""State reserve land (国有储备土地) occupied by retained land, and the approval route.

Reads the view ``analysis_site_reserve`` (migration 0003), the same query the map layer
``analysis_reserve_overlaps`` serves. Per site, the reserve polygons meeting the site are
unioned before the intersection, so overlapping reserve polygons are not counted twice. The
project total is the sum over its sites, rounded half-up to 0.01 m², and decides the route by
:func:`spatial.rules.approval_route`.
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import pandas as pd
from pydantic import BaseModel, PrivateAttr
from sqlalchemy import Engine

from spatial import rules
from spatial.analysis.connection import analysis_connection, fetch_dicts
from spatial.analysis.geoframe import to_geodataframe
from spatial.analysis.projects import project_doc, project_row, project_rows
from spatial.rules import PublicityPath, Route


class SiteReserve(BaseModel):
    """State reserve land occupied by one retained-land site (planar m², EPSG:4547)."""

    project_code: str | None
    site_code: str
    site_name: str | None = None
    site_area_m2: float
    occupied_m2: float
    """Occupied area rounded half-up to 0.01 m²."""
    occupied_unrounded_m2: float
    reserve_codes: list[str]
    """Codes of the reserve polygons whose interior the site overlaps."""


class ReserveOccupation(BaseModel):
    """A project's occupation of state reserve land and the approval route it implies."""

    project_code: str
    sites: list[SiteReserve]
    total_occupied_m2: float
    """Σ over the sites, rounded half-up to 0.01 m² (the figure compared with 3000 m²)."""
    total_occupied_unrounded_m2: float
    threshold_m2: float = float(rules.RESERVE_THRESHOLD_M2)
    comparison: str = rules.COMPARISON
    rounding: str = rules.ROUNDING
    route: Route
    route_label_zh: str
    route_label_en: str
    publicity: PublicityPath
    """The publicity and submission path Art. 19 attaches to the route."""

    _geometry: gpd.GeoDataFrame | None = PrivateAttr(default=None)

    def to_frame(self) -> pd.DataFrame:
        """One row per site (m²)."""
        return pd.DataFrame([s.model_dump() for s in self.sites])

    def to_geodataframe(self) -> gpd.GeoDataFrame:
        """The occupied parts (EPSG:4547 MultiPolygons), one row per site with area > 0."""
        if self._geometry is None:
            return to_geodataframe([], ["project_code", "site_code", "area_m2", "route"])
        return self._geometry


def _occupation(code: str, sites: list[SiteReserve], total_raw: float) -> ReserveOccupation:
    return ReserveOccupation(project_code=code, sites=sites, **rules.route_decision(total_raw))


def reserve_occupations(
    engine: Engine, codes: Sequence[str] | None = None, geometry: bool = True
) -> dict[str, ReserveOccupation]:
    """Reserve occupation of several projects in one query (all current projects if None).

    Projects without retained land get a total of 0 m² (route ``district``).
    """
    q = (
        "SELECT id, project_code, site_code, site_name, site_area_m2, reserve_codes, area_m2, "
        "project_total_m2, route, "
        + ("ST_AsBinary(geom) AS wkb " if geometry else "NULL::bytea AS wkb ")
        + "FROM analysis_site_reserve "
        + ("WHERE project_code = ANY(%(codes)s) " if codes is not None else "")
        + "ORDER BY project_code, site_code"
    )
    with analysis_connection(engine) as conn:
        rows = fetch_dicts(conn, q, {"codes": list(codes or [])})
    projects = project_rows(engine, codes)
    by_project: dict[str, list[SiteReserve]] = {p["code"]: [] for p in projects}
    totals: dict[str, float] = {p["code"]: 0.0 for p in projects}
    geo_rows: dict[str, list[dict[str, object]]] = {p["code"]: [] for p in projects}
    for r in rows:
        code = r["project_code"]
        if code not in by_project:
            continue  # retained land of a project with no current boundary
        by_project[code].append(
            SiteReserve(
                project_code=code,
                site_code=r["site_code"],
                site_name=r["site_name"],
                site_area_m2=float(r["site_area_m2"]),
                occupied_m2=rules.area_2dp(r["area_m2"]),
                occupied_unrounded_m2=float(r["area_m2"]),
                reserve_codes=list(r["reserve_codes"] or []),
            )
        )
        totals[code] = float(r["project_total_m2"])
        if r["wkb"] is not None and rules.is_positive_area(r["area_m2"]):
            geo_rows[code].append({**r, "area_m2": rules.area_2dp(r["area_m2"])})
    out = {}
    for code, sites in by_project.items():
        occ = _occupation(code, sites, totals[code])
        if geometry:
            for g in geo_rows[code]:
                g["route"] = occ.route.value
            occ._geometry = to_geodataframe(
                geo_rows[code], ["project_code", "site_code", "area_m2", "route"]
            )
        out[code] = occ
    return out


@project_doc
def reserve_occupation(engine: Engine, project_code: str) -> ReserveOccupation:
    """State reserve land occupied by the retained land of ``project_code``, and its route.

    {parameters}

    Returns
    -------
    ReserveOccupation
        Per site the occupied area (m², planar EPSG:4547, rounded half-up to 0.01 m²) and
        reserve codes; the project total; the route (``district`` when the rounded total is
        ≤ 3000 m², including 0 and exactly 3000.00; ``city`` above) with its Chinese label and
        the Art. 19 publicity path. ``.to_geodataframe()`` gives the occupied parts.

    {raises_not_found}

    Examples
    --------
    >>> occ = reserve_occupation(engine, "GM-001")  # doctest: +SKIP
    >>> occ.total_occupied_m2, occ.route.value, occ.route_label_zh  # doctest: +SKIP
    (3000.0, 'district', '区政府审批')
    """
    project_row(engine, project_code)
    return reserve_occupations(engine, [project_code])[project_code]
