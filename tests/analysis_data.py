"""Hand-built layers for the analysis tests: rectangles whose areas are known exactly (m²).

Coordinates are EPSG:4547 metres, given as offsets from (X0, Y0) near the central meridian
(114°E), so planar areas are the rectangle areas to floating-point precision. Each approval-
route case is its own project (the rule applies to a project's total), laid out in a row of
1 km cells: project ``K`` sits in cell k (easting offset 1000·k).
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import shapely
from sqlalchemy import Engine

from spatial.datasets import copy_rows, new_dataset, publish
from spatial.models import Layer

X0, Y0 = 500_000.0, 2_500_000.0


def rect(x1: float, y1: float, x2: float, y2: float, cell: int = 0) -> shapely.Polygon:
    """A rectangle in cell ``cell`` (offsets in metres from the cell's south-west corner)."""
    dx = X0 + 1000 * cell
    return shapely.box(dx + x1, Y0 + y1, dx + x2, Y0 + y2)


def multi(*polys: shapely.Polygon) -> shapely.MultiPolygon:
    """A MultiPolygon of ``polys``."""
    return shapely.MultiPolygon(list(polys))


def with_hole(outer: shapely.Polygon, hole: shapely.Polygon) -> shapely.Polygon:
    """``outer`` with ``hole`` cut out (as a real interior ring)."""
    return shapely.Polygon(outer.exterior.coords, [hole.exterior.coords])


def load(engine: Engine, layer: Layer, rows: list[dict[str, Any]]) -> int:
    """Load ``rows`` (dicts with a ``geometry``) as a new active dataset of ``layer``."""
    for r in rows:
        g = r["geometry"]
        if isinstance(g, shapely.Polygon):
            r["geometry"] = shapely.MultiPolygon([g])
    gdf = gpd.GeoDataFrame(rows, geometry="geometry", crs=4547)
    with engine.begin() as conn:
        ds = new_dataset(conn, layer, f"{layer.value}.test", "pytest")
        copy_rows(conn, layer, ds, gdf)
        publish(conn, layer, ds)
    return ds


def project(code: str, cell: int, name: str | None = None) -> dict[str, Any]:
    """A project whose boundary is the whole 1 km cell."""
    return {
        "code": code,
        "name": name or f"测试项目{code}",
        "district": "光明区",
        "stage": "选址",
        "geometry": rect(0, 0, 1000, 1000, cell),
    }


def site(code: str, project_code: str, geom: Any, land_use: str = "R2") -> dict[str, Any]:
    """A retained-land site."""
    return {
        "code": code,
        "project_code": project_code,
        "name": f"留用地{code}",
        "land_use": land_use,
        "geometry": geom,
    }


def reserve(code: str, geom: Any) -> dict[str, Any]:
    """A state reserve land polygon."""
    return {"code": code, "name": f"储备地{code}", "geometry": geom}


def zone(code: str, cls: str, geom: Any, plan: str = "GM-FT-01") -> dict[str, Any]:
    """A statutory-plan zone."""
    return {
        "plan_code": plan,
        "zone_code": code,
        "plan_name": "光明凤凰城法定图则",
        "land_use_class": cls,
        "geometry": geom,
    }


def parcel(code: str, category: str, project_code: str, geom: Any) -> dict[str, Any]:
    """A parcel."""
    return {
        "code": code,
        "category": category,
        "project_code": project_code,
        "owner": "凤凰社区",
        "geometry": geom,
    }


# --- the 3000 m² route cases: (project code, occupied m², expected route) ---------------------
# Each site is 100 × 100 m at (100, 100) in its cell; the reserve strip covers its bottom rows.
ROUTE_CASES: list[tuple[str, float, str]] = [
    ("R0", 0.0, "district"),
    ("R2999", 2999.99, "district"),
    ("R3000", 3000.00, "district"),
    ("R3001", 3000.01, "city"),
    ("R12000", 12000.00, "city"),
]


def route_case_layers() -> dict[Layer, list[dict[str, Any]]]:
    """Projects, sites and reserve land for ROUTE_CASES and the geometric edge cases.

    Besides ROUTE_CASES (cells 0–4):
    - SPLIT (cell 5): one site over reserve polygons A (2,000 m²) and B (2,000 m²), plus C
      overlapping both (must not be double counted) → 4,000 m², city;
    - TOUCH (cell 6): reserve touching the site's edge and corner only → 0 m², district;
    - HOLE (cell 7): a 100 × 100 site with a 20 × 20 hole inside a reserve polygon → 9,600 m²;
    - MULTI (cell 8): a two-part site (two 50 × 50 squares), reserve covering one part fully
      and 10 × 50 of the other → 3,000 m², district;
    - TWO (cell 9): two sites occupying 1,600 m² each → project total 3,200 m², city.
    """
    projects, sites, reserves = [], [], []
    for cell, (code, occupied, _route) in enumerate(ROUTE_CASES):
        projects.append(project(code, cell))
        if code == "R12000":
            sites.append(site(f"{code}-L1", code, rect(100, 100, 300, 200, cell)))
            reserves.append(reserve(f"{code}-S", rect(100, 100, 300, 160, cell)))
        else:
            sites.append(site(f"{code}-L1", code, rect(100, 100, 200, 200, cell)))
            if occupied:
                depth = occupied / 100.0
                reserves.append(reserve(f"{code}-S", rect(50, 50, 250, 100 + depth, cell)))
    projects.append(project("SPLIT", 5))
    sites.append(site("SPLIT-L1", "SPLIT", rect(100, 100, 200, 200, 5)))
    reserves += [
        reserve("SPLIT-A", rect(100, 100, 200, 120, 5)),
        reserve("SPLIT-B", rect(100, 120, 200, 140, 5)),
        reserve("SPLIT-C", rect(100, 110, 200, 130, 5)),
    ]
    projects.append(project("TOUCH", 6))
    sites.append(site("TOUCH-L1", "TOUCH", rect(100, 100, 200, 200, 6)))
    reserves += [
        reserve("TOUCH-E", rect(200, 100, 300, 200, 6)),
        reserve("TOUCH-C", rect(0, 0, 100, 100, 6)),
    ]
    projects.append(project("HOLE", 7))
    sites.append(
        site("HOLE-L1", "HOLE", with_hole(rect(100, 100, 200, 200, 7), rect(140, 140, 160, 160, 7)))
    )
    reserves.append(reserve("HOLE-S", rect(0, 0, 500, 500, 7)))
    projects.append(project("MULTI", 8))
    sites.append(
        site("MULTI-L1", "MULTI", multi(rect(100, 100, 150, 150, 8), rect(300, 100, 350, 150, 8)))
    )
    reserves += [
        reserve("MULTI-S1", rect(90, 90, 160, 160, 8)),
        reserve("MULTI-S2", rect(300, 100, 310, 150, 8)),
    ]
    projects.append(project("TWO", 9))
    sites += [
        site("TWO-L1", "TWO", rect(100, 100, 200, 200, 9)),
        site("TWO-L2", "TWO", rect(300, 100, 400, 200, 9)),
    ]
    reserves += [
        reserve("TWO-S1", rect(100, 100, 200, 116, 9)),
        reserve("TWO-S2", rect(300, 100, 400, 116, 9)),
    ]
    return {
        Layer.projects: projects,
        Layer.retained_land: sites,
        Layer.state_reserve_land: reserves,
    }


def coverage_layers():
    """Cell 0: FULL (R2 in R2), SIXTY (60 % covered), NONE (0 %), CONFLICT (M1 in M0, fully
    covered), ABSENT (R2 in G1, a pair not in the table), UNION (two overlapping zones), BIG
    (inside a 2,000-vertex circle zone, which the parts table subdivides).
    """
    sites = [
        site("FULL", "COV", rect(0, 0, 100, 100), "R2"),
        site("SIXTY", "COV", rect(200, 0, 300, 100), "R2"),
        site("NONE", "COV", rect(400, 0, 500, 100), "R2"),
        site("CONFLICT", "COV", rect(0, 200, 100, 300), "M1"),
        site("ABSENT", "COV", rect(200, 200, 300, 300), "R2"),
        site("UNION", "COV", multi(rect(400, 200, 450, 300), rect(450, 200, 500, 300)), "R2"),
        site("BIG", "BIG", rect(-50, -50, 50, 50, 3), "R2"),
    ]
    circle = shapely.Point(X0 + 3000, Y0).buffer(600, quad_segs=500)
    zones = [
        zone("Z-FULL", "R2", rect(-10, -10, 110, 110)),
        zone("Z-SIXTY", "R2", rect(200, -10, 260, 110)),
        zone("Z-CONFLICT", "M0", rect(-10, 190, 110, 310)),
        zone("Z-ABSENT", "G1", rect(190, 190, 310, 310)),
        zone("Z-U1", "R2", rect(400, 200, 470, 300)),
        zone("Z-U2", "R3", rect(450, 200, 500, 300)),
        zone("Z-BIG", "R2", circle, plan="BIG-FT"),
    ]
    return {
        Layer.projects: [project("COV", 0), project("BIG", 3)],
        Layer.retained_land: sites,
        Layer.statutory_plans: zones,
    }


def load_layers(engine: Engine, layers: dict[Layer, list[dict[str, Any]]]) -> None:
    """Load each layer as a new active dataset."""
    for layer, rows in layers.items():
        load(engine, layer, rows)
