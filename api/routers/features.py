"""OGC API – Features (Part 1 Core, Part 2 CRS, Part 3 queryables and CQL2-text) and `/`.

Thin: parse and check parameters, call :mod:`spatial.layers.features`, return the JSON text
PostGIS built. Collections and properties come only from the layer registry.
"""

from __future__ import annotations

import html
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from api.deps import EngineDep, OpenReader, RegistryDep
from spatial.bbox import parse_bbox
from spatial.errors import BadRequest
from spatial.layers.crs_uri import CRS84_URI, STORAGE_CRS_URI, SUPPORTED, OutputCrs, parse_crs
from spatial.layers.features import (
    ItemsQuery,
    collection_extent,
    count_items,
    item_json,
    items_json,
)
from spatial.layers.registry import Collection

router = APIRouter(tags=["OGC API Features"])

GEOJSON = "application/geo+json"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
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


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _wants_json(request: Request, f: str | None) -> bool:
    if f is not None:
        if f.lower() not in ("json", "html"):
            raise BadRequest("不支持的格式 f", f"unsupported f={f[:20]!r}; use json or html")
        return f.lower() == "json"
    accept = request.headers.get("accept", "")
    return "json" in accept and "text/html" not in accept


def _json(body: Any, media_type: str = "application/json", **headers: str) -> JSONResponse:
    return JSONResponse(body, media_type=media_type, headers=headers or None)


def _collection_doc(request: Request, col: Collection, extent: list[float] | None) -> dict:
    base = _base(request)
    url = f"{base}/collections/{col.id}"
    doc: dict[str, Any] = {
        "id": col.id,
        "title": col.title,
        "description": col.description or col.title_en,
        "itemType": "feature",
        "crs": [c.uri for c in SUPPORTED],
        "storageCrs": STORAGE_CRS_URI,
        "links": [
            {"href": url, "rel": "self", "type": "application/json", "title": col.title},
            {"href": f"{url}/items", "rel": "items", "type": GEOJSON, "title": col.title},
            {
                "href": f"{url}/queryables",
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                "type": "application/schema+json",
                "title": "可查询属性 Queryables",
            },
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


@router.get("/", include_in_schema=False)
def landing(
    request: Request,
    engine: EngineDep,
    reg: RegistryDep,
    f: Annotated[str | None, Query(description="json or html")] = None,
) -> Response:
    """Landing page: HTML for browsers, JSON for ``?f=json`` or ``Accept: application/json``."""
    base = _base(request)
    if _wants_json(request, f):
        return _json(
            {
                "title": "土整 tuzheng",
                "description": "深圳土地整备 GIS 工作台 / "
                "GIS workbench for Shenzhen land readiness",
                "links": [
                    {"href": f"{base}/?f=json", "rel": "self", "type": "application/json"},
                    {"href": f"{base}/?f=html", "rel": "alternate", "type": "text/html"},
                    {
                        "href": f"{base}/openapi.json",
                        "rel": "service-desc",
                        "type": "application/vnd.oai.openapi+json;version=3.0",
                    },
                    {"href": f"{base}/docs", "rel": "service-doc", "type": "text/html"},
                    {
                        "href": f"{base}/conformance",
                        "rel": "conformance",
                        "type": "application/json",
                    },
                    {"href": f"{base}/collections", "rel": "data", "type": "application/json"},
                    {"href": f"{base}/map", "rel": "alternate", "type": "text/html"},
                ],
            }
        )
    rows = "\n".join(
        f'<li><a href="/collections/{html.escape(c.id)}/items?f=json">'
        f"{html.escape(c.title_zh)}</a> {html.escape(c.title_en)} "
        f"<code>{html.escape(c.id)}</code>"
        f"{' （分析 analysis）' if c.kind == 'analysis' else ''}</li>"
        for c in reg
    )
    page = f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<title>土整 tuzheng</title></head>
<body style="font-family:sans-serif;max-width:760px;margin:2em auto">
<h1>土整 tuzheng</h1>
<p>深圳土地整备 GIS 工作台 / GIS workbench for Shenzhen land readiness.</p>
<ul>
<li><a href="/map">规划地图 Web map</a></li>
<li><a href="/docs">接口文档 API docs</a></li>
<li><a href="/health">系统状态 Health</a></li>
<li><a href="/collections">图层（OGC API Features）Collections</a></li>
<li><a href="/conformance">符合性 Conformance</a></li>
</ul>
<h2>图层 Layers</h2>
<ul>
{rows}
</ul>
<p>QGIS / GDAL：添加 OGC API - Features 连接 <code>{html.escape(base)}</code>
 / add an OGC API - Features connection.</p>
</body></html>"""
    return HTMLResponse(page)


@router.get("/conformance")
def conformance(_: OpenReader) -> JSONResponse:
    """Conformance classes implemented."""
    return _json({"conformsTo": CONFORMANCE})


@router.get("/collections")
def collections(
    request: Request, engine: EngineDep, registry: RegistryDep, _: OpenReader
) -> JSONResponse:
    """All layers (table and analysis) as OGC collections."""
    base = _base(request)
    cols = [_collection_doc(request, c, collection_extent(engine, c)) for c in registry]
    return _json(
        {
            "links": [
                {"href": f"{base}/collections", "rel": "self", "type": "application/json"},
            ],
            "crs": [c.uri for c in SUPPORTED],
            "collections": cols,
        }
    )


@router.get("/collections/{collection_id}")
def collection(
    collection_id: str, request: Request, engine: EngineDep, registry: RegistryDep, _: OpenReader
) -> JSONResponse:
    """One collection's metadata."""
    col = registry.get(collection_id)
    return _json(_collection_doc(request, col, collection_extent(engine, col)))


@router.get(
    "/collections/{collection_id}/queryables",
    responses={200: {"content": {"application/schema+json": {}}}},
)
def queryables(
    collection_id: str, request: Request, registry: RegistryDep, _: OpenReader
) -> JSONResponse:
    """The declared schema: the only properties that may be filtered, sorted or selected."""
    col = registry.get(collection_id)
    props: dict[str, Any] = {
        p.name: {"title": f"{p.title_zh} {p.title_en}", "type": p.type} for p in col.properties
    }
    props["geometry"] = {"$ref": "https://geojson.org/schema/MultiPolygon.json"}
    return _json(
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"{_base(request)}/collections/{col.id}/queryables",
            "type": "object",
            "title": col.title,
            "properties": props,
            "additionalProperties": False,
        },
        media_type="application/schema+json",
    )


def _content_crs(crs: OutputCrs) -> dict[str, str]:
    return {"Content-Crs": f"<{crs.uri}>"}


@router.get("/collections/{collection_id}/items", response_class=Response)
def items(
    collection_id: str,
    request: Request,
    engine: EngineDep,
    registry: RegistryDep,
    _: OpenReader,
    limit: Annotated[
        int | None,
        Query(
            ge=1,
            description="page size; larger values are clamped to the configured maximum",
            # Advertised for clients such as GDAL, which size their pages from it.
            json_schema_extra={"default": 100, "maximum": 10000},
        ),
    ] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    bbox: Annotated[str | None, Query(description="minx,miny,maxx,maxy in bbox-crs")] = None,
    bbox_crs: Annotated[str | None, Query(alias="bbox-crs")] = None,
    crs: Annotated[str | None, Query(description="output CRS URI; default CRS84")] = None,
    filter: Annotated[str | None, Query(description="CQL2-text filter")] = None,  # noqa: A002
    filter_lang: Annotated[str | None, Query(alias="filter-lang")] = None,
    filter_crs: Annotated[str | None, Query(alias="filter-crs")] = None,
    properties: Annotated[str | None, Query(description="comma-separated names")] = None,
    sortby: Annotated[str | None, Query(description="e.g. -area_m2,code")] = None,
    f: str | None = None,
) -> Response:
    """Features of a collection, one page, as GeoJSON built by PostGIS."""
    col = registry.get(collection_id)
    settings = request.app.state.settings
    equals: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        if key in ITEMS_PARAMS:
            continue
        if col.prop(key) is None:
            raise BadRequest(
                "未知的查询参数", f"unknown query parameter {key[:50]!r} (not a queryable)"
            )
        equals[key] = value
    if filter_lang not in (None, "cql2-text"):
        raise BadRequest("只支持 cql2-text", "filter-lang must be cql2-text")
    parse_crs(filter_crs, "filter-crs")
    if f is not None and f.lower() not in ("json", "geojson"):
        raise BadRequest("不支持的格式 f", "items are served as GeoJSON only (f=json)")
    out_crs = parse_crs(crs, "crs")
    page = min(limit or settings.features_default_limit, settings.features_max_limit)
    q = ItemsQuery(
        limit=page,
        offset=offset,
        bbox=parse_bbox(bbox),
        bbox_crs=parse_crs(bbox_crs, "bbox-crs"),
        crs=out_crs,
        cql_filter=filter,
        equals=equals,
        properties=properties.split(",") if properties is not None else None,
        sortby=sortby.split(",") if sortby else None,
    )
    matched = count_items(engine, col, q)
    links = [{"href": str(request.url), "rel": "self", "type": GEOJSON}]
    if offset + page < matched:
        nxt = request.url.include_query_params(offset=offset + page, limit=page)
        links.append({"href": str(nxt), "rel": "next", "type": GEOJSON})
    if offset > 0:
        prev = request.url.include_query_params(offset=max(0, offset - page), limit=page)
        links.append({"href": str(prev), "rel": "prev", "type": GEOJSON})
    links.append(
        {
            "href": f"{_base(request)}/collections/{col.id}",
            "rel": "collection",
            "type": "application/json",
        }
    )
    body, _returned = items_json(engine, col, q, matched, links)
    return Response(body, media_type=GEOJSON, headers=_content_crs(out_crs))


@router.get("/collections/{collection_id}/items/{feature_id}", response_class=Response)
def item(
    collection_id: str,
    feature_id: str,
    request: Request,
    engine: EngineDep,
    registry: RegistryDep,
    _: OpenReader,
    crs: Annotated[str | None, Query()] = None,
    f: str | None = None,
) -> Response:
    """One feature by id (404 for anything but an existing integer id)."""
    col = registry.get(collection_id)
    out_crs = parse_crs(crs, "crs")
    base = _base(request)
    links = [
        {"href": str(request.url), "rel": "self", "type": GEOJSON},
        {"href": f"{base}/collections/{col.id}", "rel": "collection", "type": "application/json"},
    ]
    body = item_json(engine, col, feature_id, out_crs, links)
    return Response(body, media_type=GEOJSON, headers=_content_crs(out_crs))
