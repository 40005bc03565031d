"""OGC API – Features (Part 1 Core, Part 2 CRS, Part 3 queryables and CQL2) and `/`.

Thin: parse and check parameters, call :mod:`spatial.layers.features`, return the JSON text
PostGIS built (or the HTML page of it, ``f=html``). Collections and properties come only from
the layer registry. Invalid parameters answer 400 (:class:`api.ogc_params.OgcRoute`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from api.deps import CollectionDep, EngineDep, OpenReader, RegistryDep
from api.ogc_params import FormatParam, OgcRoute, parse_datetime
from api.pages import render
from spatial.bbox import parse_bbox
from spatial.errors import BadRequest
from spatial.layers.crs_uri import (
    CRS84,
    CRS84_URI,
    STORAGE_CRS_URI,
    SUPPORTED,
    OutputCrs,
    parse_crs,
)
from spatial.layers.features import (
    ItemsQuery,
    collection_extent,
    count_items,
    item_json,
    items_json,
)
from spatial.layers.jsonschema import feature_schema, queryables_schema
from spatial.layers.registry import Collection

router = APIRouter(tags=["OGC API Features"], route_class=OgcRoute)

GEOJSON = "application/geo+json"
SCHEMA_JSON = "application/schema+json"
QUERYABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
]
# Query parameters of /items other than queryable property names.
ITEMS_PARAMS = {
    "f",
    "limit",
    "offset",
    "bbox",
    "bbox-crs",
    "crs",
    "filter",
    "filter-lang",
    "filter-crs",
    "properties",
    "sortby",
    "datetime",
}
FILTER_LANGS = ("cql2-text", "cql2-json", "cql-text")
"""Accepted ``filter-lang`` values; ``cql-text`` is the draft name GDAL 3.6 sends."""
HTML_PAGE_SIZE = 100
"""Features per page of ``items?f=html`` unless ``limit`` says otherwise."""


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def wants_html(request: Request, f: str | None, allowed: tuple[str, ...] = ("json",)) -> bool:
    """True for ``f=html`` or, without ``f``, a browser's ``Accept: text/html``.

    ``f`` must be ``html`` or one of ``allowed`` (400 otherwise).
    """
    if f is not None:
        if f.lower() != "html" and f.lower() not in allowed:
            raise BadRequest(
                "不支持的格式 f", f"unsupported f={f[:20]!r}; use {', '.join(allowed)} or html"
            )
        return f.lower() == "html"
    return "text/html" in request.headers.get("accept", "")


def _json(body: Any, media_type: str = "application/json", **headers: str) -> JSONResponse:
    return JSONResponse(body, media_type=media_type, headers=headers or None)


def _collection_doc(request: Request, col: Collection, extent: list[float] | None) -> dict:
    base = _base(request)
    url = f"{base}/collections/{col.id}"
    schema = {"href": f"{url}/schema", "type": SCHEMA_JSON, "title": "要素模式 Feature schema"}
    doc: dict[str, Any] = {
        "id": col.id,
        "title": col.title,
        "description": col.description or col.title_en,
        "itemType": "feature",
        "crs": [c.uri for c in SUPPORTED],
        "storageCrs": STORAGE_CRS_URI,
        "links": [
            {"href": url, "rel": "self", "type": "application/json", "title": col.title},
            {"href": f"{url}?f=html", "rel": "alternate", "type": "text/html"},
            {"href": f"{url}/items", "rel": "items", "type": GEOJSON, "title": col.title},
            {"href": f"{url}/items?f=html", "rel": "items", "type": "text/html"},
            {
                "href": f"{url}/queryables",
                "rel": QUERYABLES_REL,
                "type": SCHEMA_JSON,
                "title": "可查询属性 Queryables",
            },
            # Part 5 names the link "describedby"; GDAL 3.6 matches the relation
            # case-sensitively as "describedBy" (relation types are case-insensitive, RFC 8288).
            {**schema, "rel": "describedby"},
            {**schema, "rel": "describedBy"},
            {
                "href": f"{base}/tiles/{col.id}.json",
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector",
                "type": "application/json",
                "title": "矢量瓦片 Vector tiles (TileJSON)",
            },
        ],
    }
    if extent is not None:
        doc["extent"] = {"spatial": {"bbox": [extent], "crs": CRS84_URI}}
    return doc


@router.get("/conformance")
def conformance(_: OpenReader) -> JSONResponse:
    """Conformance classes implemented."""
    return _json({"conformsTo": CONFORMANCE})


_JSON_OR_HTML: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {}, "text/html": {}}}
}
"""``f=html`` (or a browser's ``Accept``) gets the page, anything else the JSON document."""


@router.get("/collections", responses=_JSON_OR_HTML)
def collections(
    request: Request, engine: EngineDep, registry: RegistryDep, _: OpenReader, f: FormatParam = None
) -> Response:
    """All layers (table and analysis) as OGC collections."""
    if wants_html(request, f):
        return render(request, "collections.html", {"collections": list(registry)})
    base = _base(request)
    cols = [_collection_doc(request, c, collection_extent(engine, c)) for c in registry]
    return _json(
        {
            "links": [
                {"href": f"{base}/collections", "rel": "self", "type": "application/json"},
                {"href": f"{base}/collections?f=html", "rel": "alternate", "type": "text/html"},
            ],
            "crs": [c.uri for c in SUPPORTED],
            "collections": cols,
        }
    )


@router.get("/collections/{collectionId}", responses=_JSON_OR_HTML)
def collection(
    request: Request, engine: EngineDep, _: OpenReader, col: CollectionDep, f: FormatParam = None
) -> Response:
    """One collection's metadata."""
    doc = _collection_doc(request, col, collection_extent(engine, col))
    if wants_html(request, f):
        return render(request, "collection.html", {"col": col, "doc": doc})
    return _json(doc)


def _schema_json(
    request: Request,
    col: Collection,
    document: str,
    build: Callable[[Collection, str], dict[str, Any]],
) -> JSONResponse:
    """A JSON Schema ``document`` of ``col``, built by ``build``, identified by its URL."""
    schema_id = f"{_base(request)}/collections/{col.id}/{document}"
    return _json(build(col, schema_id), media_type=SCHEMA_JSON)


_SCHEMA_RESPONSES: dict[int | str, dict[str, Any]] = {200: {"content": {SCHEMA_JSON: {}}}}


@router.get("/collections/{collectionId}/queryables", responses=_SCHEMA_RESPONSES)
def queryables(request: Request, _: OpenReader, col: CollectionDep) -> JSONResponse:
    """The declared schema: the only properties that may be filtered, sorted or selected."""
    return _schema_json(request, col, "queryables", queryables_schema)


@router.get("/collections/{collectionId}/schema", responses=_SCHEMA_RESPONSES)
def schema(request: Request, _: OpenReader, col: CollectionDep) -> JSONResponse:
    """JSON Schema of the collection's GeoJSON features (linked as ``describedby``)."""
    return _schema_json(request, col, "schema", feature_schema)


def _content_crs(crs: OutputCrs) -> dict[str, str]:
    return {"Content-Crs": f"<{crs.uri}>"}


def link_header(links: list[dict[str, str]]) -> str:
    """The ``Link`` header (RFC 8288) of a page's paging and alternate links.

    Part 1 recommends repeating the payload's links as headers (``/rec/core/link-header``);
    commas and semicolons in the targets are percent-encoded so the header splits cleanly.
    """
    rels = ("self", "alternate", "next", "prev", QUERYABLES_REL)
    return ", ".join(
        f'<{x["href"].replace(",", "%2C").replace(";", "%3B")}>; rel="{x["rel"]}"; '
        f'type="{x["type"]}"'
        for x in links
        if x["rel"] in rels
    )


@router.api_route(
    "/collections/{collectionId}/items", methods=["GET", "HEAD"], response_class=Response
)
def items(
    collectionId: str,  # noqa: N803
    request: Request,
    engine: EngineDep,
    registry: RegistryDep,
    _: OpenReader,
    limit: Annotated[int | None, Query(ge=1)] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    bbox: Annotated[str | None, Query()] = None,
    bbox_crs: Annotated[str | None, Query(alias="bbox-crs")] = None,
    crs: Annotated[str | None, Query()] = None,
    datetime: Annotated[str | None, Query()] = None,
    filter: Annotated[str | None, Query()] = None,  # noqa: A002
    filter_lang: Annotated[str | None, Query(alias="filter-lang")] = None,
    filter_crs: Annotated[str | None, Query(alias="filter-crs")] = None,
    properties: Annotated[str | None, Query()] = None,
    sortby: Annotated[str | None, Query()] = None,
    f: str | None = None,
) -> Response:
    """Features of a collection, one page, as GeoJSON built by PostGIS (or HTML, ``f=html``).

    The parameters are documented in the OpenAPI document (:mod:`api.openapi`).
    """
    col = registry.get(collectionId)
    settings = request.app.state.settings
    html = wants_html(request, f, allowed=("json", "geojson"))
    equals: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        if key in ITEMS_PARAMS:
            continue
        if col.prop(key) is None:
            raise BadRequest(
                "未知的查询参数", f"unknown query parameter {key[:50]!r} (not a queryable)"
            )
        equals[key] = value
    if filter_lang is not None and filter_lang not in FILTER_LANGS:
        raise BadRequest(
            "不支持的 filter-lang", f"filter-lang must be one of {', '.join(FILTER_LANGS)}"
        )
    if filter is not None and not filter.strip():
        raise BadRequest("过滤条件为空", "filter is empty")
    # The collections have no temporal property: a valid datetime selects every feature,
    # an invalid one is refused (400).
    parse_datetime(datetime)
    out_crs = parse_crs(crs, "crs")
    default = HTML_PAGE_SIZE if html else settings.features_default_limit
    page = min(limit or default, settings.features_max_limit)
    q = ItemsQuery(
        limit=page,
        offset=offset,
        bbox=parse_bbox(bbox),
        bbox_crs=parse_crs(bbox_crs, "bbox-crs"),
        crs=CRS84 if html else out_crs,  # the page's map draws lon/lat
        cql_filter=filter,
        filter_lang="cql2-json" if filter_lang == "cql2-json" else "cql2-text",
        filter_crs=parse_crs(filter_crs, "filter-crs"),
        equals=equals,
        properties=properties.split(",") if properties is not None else None,
        sortby=sortby.split(",") if sortby else None,
    )
    matched = count_items(engine, col, q)
    base = _base(request)
    links = [{"href": str(request.url), "rel": "self", "type": GEOJSON}]
    page_links = []
    if offset + page < matched:
        nxt = request.url.include_query_params(offset=offset + page, limit=page)
        links.append({"href": str(nxt), "rel": "next", "type": GEOJSON})
        page_links.append({"href": str(nxt.include_query_params(f="html")), "label": "下一页 next"})
    if offset > 0:
        prev = request.url.include_query_params(offset=max(0, offset - page), limit=page)
        links.append({"href": str(prev), "rel": "prev", "type": GEOJSON})
        page_links.insert(
            0, {"href": str(prev.include_query_params(f="html")), "label": "上一页 previous"}
        )
    links += [
        {"href": f"{base}/collections/{col.id}", "rel": "collection", "type": "application/json"},
        {"href": f"{base}/collections/{col.id}/queryables", "rel": QUERYABLES_REL,
         "type": SCHEMA_JSON},
        {"href": str(request.url.include_query_params(f="html")), "rel": "alternate",
         "type": "text/html"},
    ]  # fmt: skip
    body, _returned = items_json(engine, col, q, matched, links)
    if html:
        fc = json.loads(body)
        names = set(q.properties) if q.properties is not None else None
        context = {
            "col": col,
            "props": [p for p in col.properties if names is None or p.name in names],
            "features": fc["features"],
            "matched": matched,
            "page_links": page_links,
            "json_href": str(request.url.include_query_params(f="json")),
            "collection_json": fc,
        }
        return render(request, "items.html", context)
    headers = {**_content_crs(out_crs), "Link": link_header(links)}
    return Response(body, media_type=GEOJSON, headers=headers)


@router.api_route(
    "/collections/{collectionId}/items/{featureId}",
    methods=["GET", "HEAD"],
    response_class=Response,
)
def item(
    collectionId: str,  # noqa: N803
    featureId: str,  # noqa: N803
    request: Request,
    engine: EngineDep,
    registry: RegistryDep,
    _: OpenReader,
    crs: Annotated[str | None, Query()] = None,
    f: str | None = None,
) -> Response:
    """One feature by id (404 for anything but an existing integer id)."""
    col = registry.get(collectionId)
    html = wants_html(request, f, allowed=("json", "geojson"))
    out_crs = parse_crs(crs, "crs")
    base = _base(request)
    links = [
        {"href": str(request.url), "rel": "self", "type": GEOJSON},
        {"href": f"{base}/collections/{col.id}", "rel": "collection", "type": "application/json"},
    ]
    body = item_json(engine, col, featureId, out_crs, links)
    if html:
        feature = json.loads(body)
        context = {
            "col": col,
            "props": list(col.properties),
            "feature": feature,
            "collection_json": {"type": "FeatureCollection", "features": [feature]},
        }
        return render(request, "item.html", context)
    return Response(body, media_type=GEOJSON, headers=_content_crs(out_crs))
