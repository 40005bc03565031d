"""The planners' web map ``/map``: a Jinja2 page, its script a static file, layers from tiles.

Everything the page's script needs (layers, styles, legend, projects, the first view, land-use
class names, the basemap) is passed as one JSON block (``<script type="application/json">``,
escaped by ``tojson``); the script (``/static/js/map.js``) and the libraries (Leaflet,
Leaflet.VectorGrid, Leaflet-Geoman, from npm under ``/vendor``) are files of this origin, so
the page runs under a Content-Security-Policy without inline script.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from api.deps import EngineDep, OpenReader, RegistryDep, session_of
from api.pages import render
from spatial.landuse import land_use_classes
from spatial.layers.mapcontext import GUANGMING_BOUNDS, map_context
from spatial.layers.styles import LAYER_ORDER, SHOWN_BY_DEFAULT, STYLES, VALUE_LABELS, legends
from spatial.measure import METHOD_ZH
from spatial.models import Role
from spatial.report.figure import MAX_PARCELS

router = APIRouter(tags=["web"])

TIANDITU_URL = (
    "https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER=vec&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}"
    "&TILECOL={x}&tk="
)


def basemap(settings: Any) -> dict[str, Any] | None:
    """The configured basemap: ``TUZHENG_API_BASEMAP_URL``, else Tianditu with a key, else None."""
    if settings.basemap_url:
        url = str(settings.basemap_url)
        kind = "wmts" if "tilematrix" in url.lower() else "xyz"
        return {
            "url": url,
            "kind": kind,
            "attribution": settings.basemap_attribution,
            "subdomains": "",
        }
    if settings.tianditu_key:
        return {
            "url": TIANDITU_URL + settings.tianditu_key,
            "kind": "wmts",
            "attribution": "天地图 Tianditu",
            "subdomains": "01234567",
        }
    return None


def map_config(request: Request, engine: Any, registry: Any, user: Any) -> dict[str, Any]:
    """The page's data: layers, legend, projects, first view, class names, basemap, user."""
    ctx = map_context(engine)
    layers = []
    for cid in LAYER_ORDER:
        col = registry.get(cid)
        layers.append(
            {
                "id": col.id,
                "title": col.title,
                "url": f"/tiles/{col.id}/{{z}}/{{x}}/{{y}}.pbf",
                "style": STYLES[col.id],
                "fields": [[p.name, p.title_zh] for p in col.properties if p.name != "dataset_id"],
                "show": col.id in SHOWN_BY_DEFAULT,
            }
        )
    can_review = user is not None and (
        user.role in (Role.planner, Role.analyst, Role.surveyor, Role.admin)
    )
    return {
        "layers": layers,
        "labels": VALUE_LABELS,
        "legend": [
            {"title": t, "items": [{"label": lb, "colour": c} for lb, c in items]}
            for t, items in legends()
        ],
        "projects": [{"code": p.code, "name": p.name, "bounds": p.bounds} for p in ctx.projects],
        "bounds": ctx.bounds or GUANGMING_BOUNDS,
        "landUse": {c.code: c.name_zh for c in land_use_classes(engine).values()},
        "basemap": basemap(request.app.state.settings),
        "signedIn": user is not None,
        "canReview": can_review,
        "measureMethod": METHOD_ZH,
        "maxPrintParcels": MAX_PARCELS,
    }


@router.get("/map", response_class=HTMLResponse, include_in_schema=False)
async def web_map(
    request: Request, engine: EngineDep, registry: RegistryDep, _: OpenReader
) -> HTMLResponse:
    """The planners' workbench map: layers, review panel, siting check, tools (Chinese)."""
    su = await run_in_threadpool(session_of, request, engine)
    config = await run_in_threadpool(map_config, request, engine, registry, su)
    return await run_in_threadpool(
        render,
        request,
        "map.html",
        {"config": config, "csp_nonce": getattr(request.state, "csp_nonce", "")},
        user=su,
    )
