"""What the web map needs besides tiles: the projects to zoom to and the district extent."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, text

GUANGMING_BOUNDS = ((22.68, 113.85), (22.83, 114.02))
"""Fallback view (lat/lon) when no data is loaded: roughly Guangming District."""


@dataclass(frozen=True)
class ProjectExtent:
    """A project with its bounding box as ((south, west), (north, east)) in EPSG:4326."""

    code: str
    name: str
    bounds: tuple[tuple[float, float], tuple[float, float]]


@dataclass(frozen=True)
class MapContext:
    """The current projects (ordered by code) and the extent of all layers (lat/lon)."""

    projects: list[ProjectExtent]
    bounds: tuple[tuple[float, float], tuple[float, float]] | None


def _box(row: tuple) -> tuple[tuple[float, float], tuple[float, float]]:
    xmin, ymin, xmax, ymax = (round(float(v), 7) for v in row)
    return ((ymin, xmin), (ymax, xmax))


def map_context(engine: Engine) -> MapContext:
    """Projects and extent of the current data, transformed from EPSG:4547 by PostGIS."""
    extent = "tz_safe_transform(ST_SetSRID(ST_Extent(geom_3857)::geometry, 3857), 4326)"
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT code, name, ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM ("
                f"SELECT code, name, {extent} AS e FROM current_projects GROUP BY code, name"
                ") x WHERE e IS NOT NULL ORDER BY code"
            )
        ).all()
        ext = conn.execute(
            text(
                f"SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT {extent} AS e "
                "FROM (SELECT geom_3857 FROM current_projects UNION ALL "
                "SELECT geom_3857 FROM current_parcels) u) x"
            )
        ).one()
    projects = [ProjectExtent(str(r[0]), str(r[1] or ""), _box(r[2:])) for r in rows]
    return MapContext(projects, _box(ext) if ext[0] is not None else None)
