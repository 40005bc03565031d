"""Small GeoJSON extracts of the current layers in EPSG:4326, built by PostGIS."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, text


def district_overview(engine: Engine, simplify_m: float = 2.0) -> dict[str, Any]:
    """Parcels and projects as GeoJSON FeatureCollections (EPSG:4326), plus map centre/bounds.

    Geometries are simplified by ``simplify_m`` metres in EPSG:4547 before transformation.
    """
    with engine.connect() as conn:
        parcels = conn.execute(
            text(
                """
                SELECT json_build_object('type','FeatureCollection','features',
                  coalesce(json_agg(json_build_object('type','Feature',
                    'geometry', ST_AsGeoJSON(ST_Transform(
                        ST_SimplifyPreserveTopology(p.geom, :tol), 4326), 6)::json,
                    'properties', json_build_object('code', p.code, 'category', p.category,
                                                    'category_zh', c.label_zh))), '[]'::json))
                FROM current_parcels p JOIN ownership_categories c ON c.code = p.category
                """
            ),
            {"tol": simplify_m},
        ).scalar_one()
        projects = conn.execute(
            text(
                """
                SELECT json_build_object('type','FeatureCollection','features',
                  coalesce(json_agg(json_build_object('type','Feature',
                    'geometry', ST_AsGeoJSON(ST_Transform(geom, 4326), 6)::json,
                    'properties', json_build_object('code', code, 'name', name))), '[]'::json))
                FROM current_projects
                """
            )
        ).scalar_one()
        ext = conn.execute(
            text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                "(SELECT ST_Transform(ST_SetSRID(ST_Extent(geom)::geometry, 4547), 4326) AS e "
                "FROM current_parcels) x"
            )
        ).one()
    if isinstance(parcels, str):
        parcels = json.loads(parcels)
    if isinstance(projects, str):
        projects = json.loads(projects)
    bounds = None
    center = [22.75, 113.93]  # Guangming District
    if ext[0] is not None:
        bounds = [[ext[1], ext[0]], [ext[3], ext[2]]]
        center = [(ext[1] + ext[3]) / 2, (ext[0] + ext[2]) / 2]
    return {"parcels": parcels, "projects": projects, "bounds": bounds, "center": center}
