"""What each retained-land site (留用土地) is made of, by ownership category (m²)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from pydantic import BaseModel
from sqlalchemy import Engine, text

from spatial.analysis.connection import analysis_connection
from spatial.analysis.projects import project_row
from spatial.categories import OwnershipCategory


class SiteComposition(BaseModel):
    """One retained-land site broken down by ownership category (planar m², EPSG:4547)."""

    project_code: str | None
    site_code: str
    site_name: str | None = None
    planned_use: str
    site_area_m2: float
    categories_m2: dict[str, float]
    """Area of the site on parcels of each category (all four category codes present)."""
    parcel_count: int
    no_parcel_m2: float
    """Site area minus the category areas: land under no parcel (negative if parcels overlap)."""


class RetainedLandComposition(BaseModel):
    """The composition of every retained-land site of a project (or of all projects)."""

    project_code: str | None
    sites: list[SiteComposition]

    def to_frame(self) -> pd.DataFrame:
        """One row per site, one column per category (m²)."""
        rows = []
        for s in self.sites:
            row: dict[str, Any] = s.model_dump(exclude={"categories_m2"})
            row.update(s.categories_m2)
            rows.append(row)
        cols = [
            "project_code",
            "site_code",
            "site_name",
            "planned_use",
            "site_area_m2",
            *[c.value for c in OwnershipCategory],
            "no_parcel_m2",
            "parcel_count",
        ]
        return pd.DataFrame(rows, columns=cols)


_SQL = """
SELECT r.id, r.project_code, r.code AS site_code, r.name AS site_name, r.land_use,
       ST_Area(r.geom) AS site_area_m2,
       c.category, coalesce(c.n, 0) AS n, coalesce(c.area, 0) AS area
FROM current_retained_land r
LEFT JOIN LATERAL (
    SELECT q.category, count(*) AS n, sum(q.area) AS area
    FROM (
        SELECT p.category::text AS category, ST_Area(ST_Intersection(p.geom, r.geom)) AS area
        FROM current_parcels p
        WHERE p.geom && r.geom AND ST_Intersects(p.geom, r.geom)
        OFFSET 0
    ) q
    WHERE round(q.area::numeric, 2) > 0  -- parcels that only touch the site do not count
    GROUP BY 1
) c ON true
WHERE (CAST(:all AS boolean) OR r.project_code = ANY(:codes))
ORDER BY r.project_code, r.code, c.category
"""


def site_compositions(
    engine: Engine, codes: Sequence[str] | None = None
) -> dict[str | None, list[SiteComposition]]:
    """Site compositions grouped by project code, for the given projects (all if None)."""
    with analysis_connection(engine) as conn:
        rows = (
            conn.execute(text(_SQL), {"all": codes is None, "codes": list(codes or [])})
            .mappings()
            .all()
        )
    by_site: dict[int, dict[str, Any]] = {}
    for r in rows:
        site = by_site.setdefault(
            r["id"],
            {
                "project_code": r["project_code"],
                "site_code": r["site_code"],
                "site_name": r["site_name"],
                "planned_use": r["land_use"],
                "site_area_m2": float(r["site_area_m2"]),
                "categories_m2": {c.value: 0.0 for c in OwnershipCategory},
                "parcel_count": 0,
            },
        )
        if r["category"] is not None:
            site["categories_m2"][r["category"]] += float(r["area"])
            site["parcel_count"] += int(r["n"])
    out: dict[str | None, list[SiteComposition]] = {}
    for site in by_site.values():
        site["no_parcel_m2"] = site["site_area_m2"] - sum(site["categories_m2"].values())
        out.setdefault(site["project_code"], []).append(SiteComposition(**site))
    return out


def retained_land_composition(
    engine: Engine, project_code: str | None = None
) -> RetainedLandComposition:
    """Each retained-land site of ``project_code`` (all sites if None) by ownership category.

    Areas are planar m² in EPSG:4547: the intersection of the site with the current parcels of
    each category (found spatially, whatever project the parcels belong to).

    Raises
    ------
    NotFound
        If ``project_code`` names no current project.

    Examples
    --------
    >>> comp = retained_land_composition(engine, "GM-001")  # doctest: +SKIP
    >>> comp.to_frame()[["site_code", "collective"]]  # doctest: +SKIP
    """
    if project_code is not None:
        project_row(engine, project_code)
    groups = site_compositions(engine, None if project_code is None else [project_code])
    sites = [s for g in groups.values() for s in g]
    return RetainedLandComposition(project_code=project_code, sites=sites)
