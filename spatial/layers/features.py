"""OGC API Features queries, built and serialised by PostGIS.

Each function takes a registered :class:`~spatial.layers.registry.Collection` and returns JSON
text produced by ``json_build_object`` / ``json_agg`` / ``ST_AsGeoJSON`` in one statement, so
there is no per-feature Python loop and memory is bounded by the page size. Geometries are
stored in EPSG:4547; the bbox is transformed to EPSG:4547 by :mod:`spatial.bbox` (never the
column, so the GiST index is used) and the output geometry to the requested CRS in that CRS's
axis order.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import Engine

from spatial.bbox import bbox_from, storage_wkb
from spatial.errors import BadRequest, NotFound
from spatial.layers.cql2 import compile_filter
from spatial.layers.crs_uri import CRS84, OutputCrs
from spatial.layers.registry import Collection, Prop

STATEMENT_TIMEOUT_MS = 30_000
"""Upper bound for one features query (ms)."""
_INT_ID = re.compile(r"^-?\d{1,18}$")


@contextmanager
def raw_connection(engine: Engine) -> Iterator[psycopg.Connection[Any]]:
    """A pooled psycopg connection of ``engine``, in a transaction rolled back at the end."""
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        yield raw  # type: ignore[misc]


@dataclass
class ItemsQuery:
    """Parameters of an ``/items`` request, already parsed into Python values.

    ``bbox`` is in ``bbox_crs`` axis order; ``limit`` and ``offset`` count features.
    """

    limit: int = 100
    offset: int = 0
    bbox: Sequence[float] | None = None
    bbox_crs: OutputCrs = CRS84
    crs: OutputCrs = CRS84
    cql_filter: str | None = None
    filter_lang: str = "cql2-text"
    filter_crs: OutputCrs = CRS84
    equals: dict[str, str] = field(default_factory=dict)
    properties: Sequence[str] | None = None
    sortby: Sequence[str] | None = None


def _geom_out(crs: OutputCrs) -> sql.Composable:
    digits = 3 if crs.srid == 4547 else 9
    g = sql.SQL("tz_safe_transform(t.geom, {})").format(sql.Literal(crs.srid))
    if crs.north_first:
        g = sql.SQL("ST_FlipCoordinates({})").format(g)
    return sql.SQL("ST_AsGeoJSON({}, {}, 0)::json").format(g, sql.Literal(digits))


def _bbox_envelope(q: ItemsQuery) -> tuple[sql.Composable, list[Any]]:
    """The request bbox as an EPSG:4547 shape expression and its parameters
    (:mod:`spatial.bbox`: validated, clamped to the CRS's area of use, bound as WKB)."""
    assert q.bbox is not None
    box = bbox_from(q.bbox, q.bbox_crs.srid, q.bbox_crs.north_first)
    wkb = storage_wkb(box)
    if wkb is None:  # outside the storage CRS's area of use: matches nothing
        return sql.SQL("NULL::geometry"), []
    return sql.SQL("ST_GeomFromWKB(%s, 4547)"), [wkb]


def _where(col: Collection, q: ItemsQuery) -> tuple[sql.Composable, sql.Composable, list[Any]]:
    """FROM clause and WHERE condition with their parameters (FROM params first)."""
    params: list[Any] = []
    conds: list[sql.Composable] = []
    from_ = sql.SQL("{} t").format(col.relation_sql())
    if q.bbox is not None:
        env, bparams = _bbox_envelope(q)
        from_ = sql.SQL("{} t, (SELECT {} AS env) b").format(col.relation_sql(), env)
        params.extend(bparams)
        conds.append(sql.SQL("(t.geom && b.env AND ST_Intersects(t.geom, b.env))"))
    for name, value in q.equals.items():
        prop = col.prop(name)
        if prop is None:
            raise BadRequest("属性不可查询", f"{name[:50]!r} is not a queryable of {col.id}")
        bound: Any = value
        if prop.type == "integer":
            if not _INT_ID.match(value):
                raise BadRequest(f"{name} 需要整数", f"{name} must be an integer")
            bound = int(value)
        elif prop.type == "number":
            try:
                bound = float(value)
            except ValueError:
                raise BadRequest(f"{name} 需要数值", f"{name} must be a number") from None
        elif prop.type == "boolean":
            if value.lower() not in ("true", "false"):
                raise BadRequest(f"{name} 需要 true/false", f"{name} must be true or false")
            bound = value.lower() == "true"
        conds.append(sql.SQL("({} = %s)").format(prop.sql()))
        params.append(bound)
    if q.cql_filter:
        cond, fparams = compile_filter(q.cql_filter, col, q.filter_lang, q.filter_crs)
        conds.append(cond)
        params.extend(fparams)
    where = sql.SQL(" AND ").join(conds) if conds else sql.SQL("TRUE")
    return from_, where, params


def _order(col: Collection, q: ItemsQuery) -> sql.Composable:
    keys: list[sql.Composable] = []
    for item in q.sortby or ():
        item = item.strip()
        desc = item.startswith("-")
        name = item.lstrip("+-")
        prop = col.prop(name)
        if prop is None:
            raise BadRequest(
                "排序属性不可用", f"sortby: {name[:50]!r} is not a queryable of {col.id}"
            )
        keys.append(
            sql.SQL("{} DESC NULLS LAST" if desc else "{} ASC NULLS LAST").format(prop.sql())
        )
    keys.append(col.id_sql())
    return sql.SQL(", ").join(keys)


def _selected(col: Collection, q: ItemsQuery) -> list[str]:
    if q.properties is None:
        return [p.name for p in col.properties]
    names = list(dict.fromkeys(n.strip() for n in q.properties if n.strip()))
    for n in names:
        if col.prop(n) is None:
            raise BadRequest("属性不存在", f"properties: {n[:50]!r} is not a property of {col.id}")
    # Each name appears once (repeats are dropped), so at most len(col.properties) pairs reach
    # json_build_object, far below its 100-argument limit.
    return names


def _json_value(prop: Prop) -> sql.Composable:
    """The property's value for ``json_build_object``: a ``number`` always as a JSON double.

    ``tz_json_number`` (migration 0011) writes ``3000.0`` rather than ``3000``, so clients
    that type a field from the values they see (QGIS, GDAL) make it Real, not Integer.
    """
    if prop.type == "number":
        return sql.SQL("tz_json_number(({})::float8)").format(prop.sql())
    return prop.sql()


def _feature_sql(
    col: Collection, names: list[str], crs: OutputCrs, links: bool = False
) -> sql.Composable:
    """``json_build_object`` of one feature over alias ``t`` (links as a bound parameter)."""
    items: list[sql.Composable] = []
    for n in names:
        prop = col.prop(n)
        assert prop is not None, n  # _selected has refused names outside the schema
        items.append(sql.SQL("{}, {}").format(sql.Literal(n), _json_value(prop)))
    pairs = sql.SQL(", ").join(items)
    props = sql.SQL("json_build_object({})").format(pairs) if names else sql.SQL("'{}'::json")
    extra = sql.SQL(", 'links', %s::json") if links else sql.SQL("")
    return sql.SQL(
        "json_build_object('type', 'Feature', 'id', {}, 'geometry', {}, 'properties', {}{})"
    ).format(col.id_sql(), _geom_out(crs), props, extra)


def count_items(engine: Engine, col: Collection, q: ItemsQuery) -> int:
    """Number of features matching ``q`` (ignoring paging)."""
    from_, where, params = _where(col, q)
    stmt = sql.SQL("SELECT count(*) FROM {} WHERE {}").format(from_, where)
    with raw_connection(engine) as conn, conn.cursor() as cur:
        cur.execute(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}")
        cur.execute(stmt, params)
        row = cur.fetchone()
    return int(row[0]) if row else 0


def items_json(
    engine: Engine, col: Collection, q: ItemsQuery, matched: int, links: list[dict[str, Any]]
) -> tuple[str, int]:
    """A GeoJSON FeatureCollection page as JSON text, and the number of features in it.

    The whole document (``numberMatched``, ``numberReturned``, ``links``, features) is built
    by PostGIS; features come from one ``json_agg`` over the page.
    """
    from_, where, params = _where(col, q)
    names = _selected(col, q)
    stmt = sql.SQL(
        "SELECT json_build_object('type', 'FeatureCollection', "
        "'numberMatched', %s::bigint, 'numberReturned', count(*), "
        "'timeStamp', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
        "'links', %s::json, 'features', coalesce(json_agg(p.f ORDER BY p.rn), '[]'::json))::text,"
        " count(*) FROM ("
        "SELECT row_number() OVER (ORDER BY {order}) AS rn, {feature} AS f "
        "FROM {from_} WHERE {where} ORDER BY {order} LIMIT %s OFFSET %s) p"
    ).format(
        order=_order(col, q), feature=_feature_sql(col, names, q.crs), from_=from_, where=where
    )
    args = [matched, json.dumps(links, ensure_ascii=False), *params, q.limit, q.offset]
    with raw_connection(engine) as conn, conn.cursor() as cur:
        cur.execute(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}")
        cur.execute(stmt, args)
        row = cur.fetchone()
    assert row is not None
    return str(row[0]), int(row[1])


def item_json(
    engine: Engine, col: Collection, fid: str, crs: OutputCrs, links: list[dict[str, Any]]
) -> str:
    """One feature as GeoJSON text; NotFound (404) unless ``fid`` is an existing integer id."""
    if not _INT_ID.match(fid):
        raise NotFound("没有此要素", f"no feature {fid[:50]!r} in {col.id}")
    names = [p.name for p in col.properties]
    stmt = sql.SQL("SELECT ({feature})::text FROM {rel} t WHERE {id} = %s").format(
        feature=_feature_sql(col, names, crs, links=True), rel=col.relation_sql(), id=col.id_sql()
    )
    with raw_connection(engine) as conn, conn.cursor() as cur:
        cur.execute(stmt, [json.dumps(links, ensure_ascii=False), int(fid)])
        row = cur.fetchone()
    if row is None:
        raise NotFound("没有此要素", f"no feature {fid[:50]!r} in {col.id}")
    return str(row[0])


def collection_extent(engine: Engine, col: Collection) -> list[float] | None:
    """Bounding box of the collection's current features in CRS84 (lon/lat), or None if empty."""
    # From the Web Mercator copy: NULL for broken rows, and a 3857 box is a lon/lat box.
    stmt = sql.SQL(
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT tz_safe_transform("
        "ST_SetSRID(ST_Extent(t.geom_3857)::geometry, 3857), 4326) AS e FROM {} t) x"
    ).format(col.relation_sql())
    with raw_connection(engine) as conn, conn.cursor() as cur:
        cur.execute(stmt)
        row = cur.fetchone()
    if row is None or row[0] is None:
        return None
    return [round(float(v), 7) for v in row]
