"""A layer's features (view or project) as a GeoDataFrame, for the attribute table's exports.

Reads through the same query as OGC API Features items (:func:`spatial.layers.features.items_json`,
the collection's declared properties), in EPSG:4547 with easting first and millimetre
coordinates, so an export carries exactly the attributes the map shows.
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
from sqlalchemy import Engine, text

from spatial.errors import TooLarge
from spatial.layers.collection import Collection
from spatial.layers.crs_uri import STORAGE_CRS_URI, OutputCrs
from spatial.layers.features import ItemsQuery, count_items, items_json

MAX_EXPORT = 100_000
"""Most features one export writes (a larger selection: zoom in or choose a project)."""
STORAGE_EN = OutputCrs(STORAGE_CRS_URI, 4547, False)
"""EPSG:4547 written easting first (as files carry it)."""


def _project_filter(
    engine: Engine, col: Collection, project: str
) -> tuple[dict[str, str], list[float] | None]:
    if col.prop("project_code") is not None:
        return {"project_code": project}, None
    if col.id == "projects":
        return {"code": project}, None
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT "
                "ST_Transform(ST_SetSRID(ST_Extent(geom)::geometry, 4547), 4326) AS e "
                "FROM current_projects WHERE code = :c) x"
            ),
            {"c": project},
        ).one()
    if row[0] is None:
        from spatial.errors import NotFound

        raise NotFound(f"整备项目不存在：{project}", f"no current project {project!r}")
    return {}, [float(v) for v in row]


def layer_frame(
    engine: Engine,
    col: Collection,
    *,
    bbox: Sequence[float] | None = None,
    project: str | None = None,
    sortby: Sequence[str] | None = None,
) -> gpd.GeoDataFrame:
    """The features of ``col`` in a box (CRS84 lon/lat) and/or of a project, EPSG:4547.

    ``project`` keeps the rows whose ``project_code`` (or, for projects, ``code``) is the
    project; for layers without one (reserve land, statutory plans) the features meeting the
    project's bounding box. Columns are the collection's properties, in its declared order.

    Raises
    ------
    TooLarge
        If more than :data:`MAX_EXPORT` features match.
    """
    equals: dict[str, str] = {}
    box = list(bbox) if bbox is not None else None
    if project:
        equals, pbox = _project_filter(engine, col, project)
        if pbox is not None:
            box = (
                pbox
                if box is None
                else [
                    max(box[0], pbox[0]),
                    max(box[1], pbox[1]),
                    min(box[2], pbox[2]),
                    min(box[3], pbox[3]),
                ]
            )
    q = ItemsQuery(
        limit=MAX_EXPORT,
        bbox=box,
        crs=STORAGE_EN,
        equals=equals,
        sortby=list(sortby) if sortby else None,
    )
    matched = count_items(engine, col, q)
    if matched > MAX_EXPORT:
        raise TooLarge(
            f"选中 {matched:,} 个要素，超过导出上限 {MAX_EXPORT:,}：请放大地图或选择项目",
            f"{matched:,} features selected, more than the export limit {MAX_EXPORT:,}: "
            "zoom in or choose a project",
        )
    import json

    body, _ = items_json(engine, col, q, matched, [])
    features = json.loads(body)["features"]
    names = [p.name for p in col.properties]
    if not features:
        return gpd.GeoDataFrame({n: [] for n in names}, geometry=[], crs=4547)
    gdf = gpd.GeoDataFrame.from_features(features, crs=4547)
    return gdf[[n for n in names if n in gdf.columns] + ["geometry"]]
