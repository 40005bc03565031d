"""Vector tiles: ``/tiles/{collection}/{z}/{x}/{y}.pbf`` and TileJSON ``/tiles/{collection}.json``.

Tiles are rendered by :mod:`spatial.layers.tiles` and cached by dataset version
(:mod:`spatial.layers.tilecache`). :class:`api.middleware.CachedTileMiddleware` serves public
tile reads before routing (the hot path of a map); errors and token-protected reads go through
the route.
Empty tiles are always ``204 No Content``; invalid z/x/y are 400 (not integers) or 404
(outside the tile matrix), never 500.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, Response

from api.deps import EngineDep, OpenReader, RegistryDep
from spatial.layers.features import collection_extent
from spatial.layers.tilecache import CachedTile, TileService
from spatial.layers.tiles import MAX_ZOOM, MIN_ZOOM, parse_tile

router = APIRouter(tags=["vector tiles"])

MVT = "application/vnd.mapbox-vector-tile"
CACHE_CONTROL = "public, max-age=60, must-revalidate"
TILE_PATH = re.compile(r"^/tiles/([A-Za-z0-9_]{1,64})/(\d{1,2})/(\d{1,9})/(\d{1,9})\.pbf$")


def tile_response(
    tile: CachedTile, hit: bool, accept_encoding: str, if_none_match: str | None
) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body for a tile (shared by the route and the fast path)."""
    headers = [
        ("cache-control", CACHE_CONTROL),
        ("etag", tile.etag),
        ("vary", "Accept-Encoding"),
        ("x-tile-cache", "hit" if hit else "miss"),
    ]
    if if_none_match is not None and tile.etag in {t.strip() for t in if_none_match.split(",")}:
        return 304, headers, b""
    if tile.empty:
        return 204, headers, b""
    headers.append(("content-type", MVT))
    if "gzip" in accept_encoding:
        headers.append(("content-encoding", "gzip"))
        return 200, headers, tile.gzipped
    return 200, headers, tile.data


@router.get("/tiles/{collection_id}.json")
def tilejson(
    collection_id: str,
    request: Request,
    engine: EngineDep,
    registry: RegistryDep,
    _: OpenReader,
) -> JSONResponse:
    """TileJSON 3.0 of a collection's vector tiles."""
    col = registry.get(collection_id)
    base = str(request.base_url).rstrip("/")
    bounds = collection_extent(engine, col) or [113.75, 22.6, 114.05, 22.9]
    fields: dict[str, Any] = {"id": "要素编号 Feature id (integer)"}
    fields |= {
        n: f"{p.title_zh} {p.title_en} ({p.type})"
        for n in col.tile_properties
        if (p := col.prop(n)) is not None
    }
    return JSONResponse(
        {
            "tilejson": "3.0.0",
            "name": col.title,
            "description": col.description or col.title_en,
            "scheme": "xyz",
            "tiles": [f"{base}/tiles/{col.id}/{{z}}/{{x}}/{{y}}.pbf"],
            "minzoom": MIN_ZOOM,
            "maxzoom": MAX_ZOOM,
            "bounds": bounds,
            "center": [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, 12],
            "vector_layers": [
                {
                    "id": col.id,
                    "description": col.title,
                    "fields": fields,
                    "minzoom": MIN_ZOOM,
                    "maxzoom": MAX_ZOOM,
                }
            ],
        }
    )


@router.get(
    "/tiles/{collection_id}/{z}/{x}/{y}.pbf",
    response_class=Response,
    responses={200: {"content": {MVT: {}}}, 204: {"description": "empty tile"}},
)
def tile(
    collection_id: str,
    z: str,
    x: str,
    y: str,
    request: Request,
    registry: RegistryDep,
    _: OpenReader,
    accept_encoding: Annotated[str, Header()] = "",
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """One Mapbox vector tile (Web Mercator); 204 when it holds no feature."""
    col = registry.get(collection_id)
    addr = parse_tile(z, x, y)
    service: TileService = request.app.state.tiles
    cached, hit = service.tile(col, addr)
    status, headers, body = tile_response(cached, hit, accept_encoding, if_none_match)
    return Response(body, status_code=status, headers=dict(headers))
