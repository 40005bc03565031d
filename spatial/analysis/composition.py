"""What each retained-land site (留用土地) is made of, by ownership category (m²)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from pydantic import BaseModel
from sqlalchemy import Engine

from spatial.analysis.connection import analysis_connection, fetch_dicts
from spatial.analysis.projects import project_doc, project_row
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
SELECT id, project_code, site_code, site_name, land_use, site_area_m2, categories
FROM analysis_site_composition
WHERE (CAST(%(all)s AS boolean) OR project_code = ANY(%(codes)s))
ORDER BY project_code, site_code
"""
"""Compositions are stored results (migration 0013): ``analysis_site_composition`` holds what
``analysis_live_site_composition`` computes per site (category → parcel count, m² of the site
on them), brought up to date when the site or a parcel touching it changes."""


def site_compositions(
    engine: Engine, codes: Sequence[str] | None = None
) -> dict[str | None, list[SiteComposition]]:
    """Site compositions grouped by project code, for the given projects (all if None)."""
    with analysis_connection(engine) as conn:
        rows = fetch_dicts(conn, _SQL, {"all": codes is None, "codes": list(codes or [])})
    out: dict[str | None, list[SiteComposition]] = {}
    for r in rows:
        cats = {c.value: 0.0 for c in OwnershipCategory}
        count = 0
        for cat, v in (r["categories"] or {}).items():
            cats[cat] += float(v["area"])
            count += int(v["n"])
        site_area = float(r["site_area_m2"])
        out.setdefault(r["project_code"], []).append(
            SiteComposition(
                project_code=r["project_code"],
                site_code=r["site_code"],
                site_name=r["site_name"],
                planned_use=r["land_use"],
                site_area_m2=site_area,
                categories_m2=cats,
                parcel_count=count,
                no_parcel_m2=site_area - sum(cats.values()),
            )
        )
    return out


@project_doc
def retained_land_composition(
    engine: Engine, project_code: str | None = None
) -> RetainedLandComposition:
    """Each retained-land site of ``project_code`` (all sites if None) by ownership category.

    Areas are planar m² in EPSG:4547: the intersection of the site with the current parcels of
    each category (found spatially, whatever project the parcels belong to).

    {raises_not_found}

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
