"""Mapbox vector tiles (Web Mercator, EPSG:3857) of the registered layers, built by PostGIS.

One statement per tile: ``ST_AsMVT`` over ``ST_AsMVTGeom`` of the indexed ``geom_3857`` column
(migration 0002), with the layer's dataset version computed in the same snapshot, so a tile
and the version it is cached under always agree. Below zoom 13, geometries are simplified to
one tile unit (1/4096 of the tile); below zoom :data:`MIN_SIZE_MAX_ZOOM`, features smaller
than one screen pixel (1/256 of the tile) are dropped, which keeps low-zoom tiles of a whole
district small. Rows whose ``geom_3857`` is NULL (empty or broken geometries) are skipped.
Parcel tiles at zoom 13 and below where parcels are many or smaller than two pixels are a
category overview instead (:mod:`spatial.layers.overview`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import morecantile
import psycopg
from psycopg import sql
from sqlalchemy import Engine

from spatial.errors import BadRequest, NotFound
from spatial.layers.collection import ANALYSIS_RESULTS, Collection
from spatial.layers.features import raw_connection
from spatial.layers.overview import (
    DENSITY,
    density_parameters,
    live_overview_parameters,
    live_overview_statement,
    may_use_overview,
    overview_parameters,
    overview_statement,
    uses_live_overview,
    wants_overview,
)

TMS = morecantile.tms.get("WebMercatorQuad")
MIN_ZOOM = 0
MAX_ZOOM = 22
EXTENT = 4096
"""Tile coordinate extent (MVT units per tile side)."""
BUFFER = 64
"""Clip buffer around the tile, MVT units."""
MIN_SIZE_MAX_ZOOM = 14
"""Below this zoom, features smaller than a screen pixel are dropped."""
SIMPLIFY_MAX_ZOOM = 13
"""Below this zoom, geometries are simplified to one tile unit (1/4096 of the tile) first;
above it the grid snapping of ``ST_AsMVTGeom`` is enough."""
_DIGITS = re.compile(r"^\d{1,9}$")


@dataclass(frozen=True)
class TileAddress:
    """A checked Web Mercator tile address."""

    z: int
    x: int
    y: int

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) in EPSG:3857 metres, from morecantile."""
        b = TMS.xy_bounds(morecantile.Tile(self.x, self.y, self.z))
        return (b.left, b.bottom, b.right, b.top)


def parse_tile(z: str, x: str, y: str) -> TileAddress:
    """Check a z/x/y from a URL: BadRequest (400) if not integers, NotFound (404) if outside.

    Examples
    --------
    >>> parse_tile("14", "13358", "7118")
    TileAddress(z=14, x=13358, y=7118)
    """
    if not (_DIGITS.match(z) and _DIGITS.match(x) and _DIGITS.match(y)):
        raise BadRequest("瓦片坐标应为整数", "tile z/x/y must be non-negative integers")
    zi, xi, yi = int(z), int(x), int(y)
    if not MIN_ZOOM <= zi <= MAX_ZOOM:
        raise NotFound("没有此瓦片", f"zoom {zi} outside {MIN_ZOOM}..{MAX_ZOOM}")
    n = 1 << zi
    if xi >= n or yi >= n:
        raise NotFound("没有此瓦片", f"tile {zi}/{xi}/{yi} does not exist")
    return TileAddress(zi, xi, yi)


def version_sql(col: Collection) -> sql.Composable:
    """An expression giving the collection's data version.

    For a collection showing stored analysis results (:data:`ANALYSIS_RESULTS` in its
    ``depends_on``): the version of those results, with the active dataset ids of its own
    layer for a table layer served with them (projects, retained land). The results are
    rewritten in the transaction that changes one of their inputs, so this version changes
    exactly when what the tiles show does. For any other collection: the active dataset ids
    of the layers it depends on (and a digest of ``land_use_compatibility`` if it depends on
    it), which change when a dataset is added, published, superseded, restored or deleted;
    and for the procedure layer the procedure status and the date.
    """
    analysis = ANALYSIS_RESULTS in col.depends_on
    pseudo = ("land_use_compatibility", "procedure", ANALYSIS_RESULTS)
    layers = [d for d in col.depends_on if d not in pseudo and (not analysis or d == col.id)]
    expr: sql.Composable = sql.SQL(
        "(SELECT coalesce(string_agg(d.id::text, ',' ORDER BY d.id), '') FROM datasets d "
        "WHERE d.status = 'active' AND d.layer::text IN ({}))"
    ).format(sql.SQL(", ").join(sql.Literal(x) for x in layers) if layers else sql.SQL("NULL"))
    if analysis:
        expr = sql.SQL(
            "{} || ';r' || (SELECT version::text FROM analysis_versions WHERE name = 'sites')"
        ).format(expr)
    elif "land_use_compatibility" in col.depends_on:
        expr = sql.SQL(
            "{} || ';' || (SELECT coalesce(md5(string_agg(c.planned_use || '/' || c.zone_class"
            " || '/' || c.compatible::text, ',' ORDER BY c.planned_use, c.zone_class)), '') "
            "FROM land_use_compatibility c)"
        ).format(expr)
    if "procedure" in col.depends_on:
        # procedure status changes with events and calendar entries, and overdue with the date
        expr = sql.SQL(
            "{} || ';' || (SELECT coalesce(max(refreshed_at)::text, '') || count(*)::text "
            "FROM procedure_status) || ';' || ((now() AT TIME ZONE 'Asia/Shanghai')::date)::text"
        ).format(expr)
    return expr


_STATEMENTS: dict[str, tuple[Collection, sql.Composed]] = {}
_QUERY_BYTES: dict[str, tuple[Collection, bytes]] = {}


def tile_statement(col: Collection) -> sql.Composed:
    """The tile statement of ``col`` (fixed text per collection, so psycopg prepares it).

    Parameters, in order: xmin, ymin, xmax, ymax (EPSG:3857 m), buffer (m), minimum feature
    size (m), simplification tolerance (m).
    """
    items: list[sql.Composable] = []
    for n in col.tile_properties:
        prop = col.prop(n)
        assert prop is not None, n  # Collection checks tile_properties against its schema
        items.append(sql.SQL("{} AS {}").format(prop.sql(), sql.Identifier(n)))
    props = sql.SQL(", ").join(items)
    cached = _STATEMENTS.get(col.id)
    if cached is not None and cached[0] is col:
        return cached[1]
    stmt = sql.SQL(
        "SELECT {version}, (SELECT ST_AsMVT(q, {name}, {extent}, 'geom', 'fid') FROM ("
        "SELECT {id}::bigint AS fid, {id}::bigint AS id, ST_AsMVTGeom(CASE WHEN e.tol > 0 "
        "THEN ST_Simplify(t.geom_3857, e.tol, true) ELSE t.geom_3857 END, e.b, "
        "{extent}, {buffer}, true) AS geom, {props} "
        "FROM {rel} t, (SELECT ST_MakeEnvelope(%s, %s, %s, %s, 3857) AS b, %s::float8 AS buf, "
        "%s::float8 AS min_size, %s::float8 AS tol) e "
        "WHERE t.geom_3857 && ST_Expand(e.b, e.buf) "
        "AND greatest(ST_XMax(t.geom_3857) - ST_XMin(t.geom_3857), "
        "ST_YMax(t.geom_3857) - ST_YMin(t.geom_3857)) >= e.min_size"
        ") q WHERE q.geom IS NOT NULL)"
    ).format(
        version=version_sql(col),
        name=sql.Literal(col.id),
        extent=sql.Literal(EXTENT),
        buffer=sql.Literal(BUFFER),
        id=col.id_sql(),
        props=props,
        rel=col.relation_sql(),
    )
    _STATEMENTS[col.id] = (col, stmt)
    return stmt


def tile_parameters(tile: TileAddress) -> list[float]:
    """Bound parameters of :func:`tile_statement` for ``tile``."""
    xmin, ymin, xmax, ymax = tile.bounds
    size = xmax - xmin
    unit = size / EXTENT
    min_size = size / 256 if tile.z < MIN_SIZE_MAX_ZOOM else 0.0
    tol = unit if tile.z < SIMPLIFY_MAX_ZOOM else 0.0
    return [xmin, ymin, xmax, ymax, unit * BUFFER, min_size, tol]


@dataclass(frozen=True)
class RenderedTile:
    """A tile's MVT bytes (empty when no feature) and the data version it was built from."""

    data: bytes
    version: str


def render_tile_on(
    conn: psycopg.Connection[Any], col: Collection, tile: TileAddress
) -> RenderedTile:
    """Build the MVT tile of ``col`` at ``tile`` and the collection version, in one statement.

    ``conn`` may be in autocommit mode: a single statement sees one snapshot.
    """
    overview = False
    if may_use_overview(col, tile.z):
        with conn.cursor(binary=True) as cur:
            cur.execute(DENSITY, density_parameters(tile.z, tile.x, tile.y))
            n, area = cur.fetchone() or (0, 0.0)
        overview = wants_overview(tile.z, int(n), float(area))
    live = overview and uses_live_overview(tile.z)
    key = col.id + ("/live-overview" if live else "/overview" if overview else "")
    query = _QUERY_BYTES.get(key)
    if query is None or query[0] is not col:
        if live:
            stmt = live_overview_statement(col, version_sql(col))
        elif overview:
            stmt = overview_statement(col, version_sql(col))
        else:
            stmt = tile_statement(col)
        query = (col, stmt.as_bytes(conn))
        _QUERY_BYTES[key] = query
    if live:
        params: list[float] = live_overview_parameters(tile.z, tile.x, tile.y, tile.bounds)
    elif overview:
        params = overview_parameters(tile.z, tile.x, tile.y, tile.bounds)
    else:
        params = tile_parameters(tile)
    with conn.cursor(binary=True) as cur:
        cur.execute(query[1], params)
        row = cur.fetchone()
    assert row is not None
    return RenderedTile(bytes(row[1] or b""), str(row[0]))


def render_tile(engine: Engine, col: Collection, tile: TileAddress) -> RenderedTile:
    """:func:`render_tile_on` with a pooled connection of ``engine``."""
    with raw_connection(engine) as conn:
        return render_tile_on(conn, col, tile)


def collection_version(engine: Engine, col: Collection) -> str:
    """The current data version of ``col`` (see :func:`version_sql`)."""
    with raw_connection(engine) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("SELECT {}").format(version_sql(col)))
        row = cur.fetchone()
    return str(row[0]) if row else ""
