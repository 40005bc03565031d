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


MIN_HALF_SPAN_M = 2_000.0
"""Smallest half-width of the robust window around the median (Web Mercator m)."""


def robust_extent(
    boxes: list[tuple[float, float, float, float]], k: float = 5.0
) -> tuple[float, float, float, float] | None:
    """The extent of the boxes whose centres are not outliers (median ± k·MAD per axis).

    A few features far from the rest (a file loaded in the wrong CRS, a project in another
    district) would otherwise stretch the first view so the district is a blob in a corner.
    MAD is scaled by 1.4826 (σ of a normal distribution) and never below
    :data:`MIN_HALF_SPAN_M` / k, so a compact district keeps all its features.

    Examples
    --------
    >>> boxes = [(i, i, i + 10, i + 10) for i in range(0, 1000, 100)] + [(9e6, 9e6, 9e6, 9e6)]
    >>> robust_extent(boxes)
    (0.0, 0.0, 910.0, 910.0)
    """
    import numpy as np

    from spatial.bbox import union_bounds

    if not boxes:
        return None
    b = np.asarray(boxes, dtype=float)
    cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    keep = np.ones(len(b), dtype=bool)
    for c in (cx, cy):
        med = np.median(c)
        mad = max(1.4826 * float(np.median(np.abs(c - med))), MIN_HALF_SPAN_M / k)
        keep &= np.abs(c - med) <= k * mad
    return union_bounds(b[keep])


def map_context(engine: Engine) -> MapContext:
    """Projects and the first view (robust to outliers, :func:`robust_extent`), lat/lon."""
    extent = "tz_safe_transform(ST_SetSRID(ST_Extent(geom_3857)::geometry, 3857), 4326)"
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT code, name, ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM ("
                f"SELECT code, name, {extent} AS e FROM current_projects GROUP BY code, name"
                ") x WHERE e IS NOT NULL ORDER BY code"
            )
        ).all()
        boxes = conn.execute(
            text(
                "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM ("
                "SELECT ST_Envelope(geom_3857) AS b FROM current_projects UNION ALL "
                "SELECT ST_Envelope(geom_3857) FROM current_retained_land) u "
                "WHERE b IS NOT NULL"
            )
        ).all()
        if len(boxes) < 3:
            boxes = conn.execute(
                text(
                    "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT "
                    "ST_SetSRID(ST_Extent(geom_3857)::geometry, 3857) AS e "
                    "FROM current_parcels) x WHERE e IS NOT NULL"
                )
            ).all()
        found = robust_extent([(float(b[0]), float(b[1]), float(b[2]), float(b[3])) for b in boxes])
        ext = None
        if found is not None:
            ext = conn.execute(
                text(
                    "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT "
                    "tz_safe_transform(ST_MakeEnvelope(:x0, :y0, :x1, :y1, 3857), 4326) AS e) x"
                ),
                dict(zip(("x0", "y0", "x1", "y1"), found, strict=True)),
            ).one()
    projects = [ProjectExtent(str(r[0]), str(r[1] or ""), _box(r[2:])) for r in rows]
    return MapContext(projects, _box(ext) if ext is not None and ext[0] is not None else None)
