"""The planners' web map ``/map``: every layer from our vector tiles, fully offline."""

from __future__ import annotations

import folium
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.deps import EngineDep, OpenReader, RegistryDep
from api.mappage import (
    ClickPopups,
    Legend,
    OfflineMap,
    PageScript,
    ProjectSelector,
    VectorTileLayer,
    with_nonce,
)
from api.middleware import csp_nonce
from spatial.layers.mapcontext import GUANGMING_BOUNDS, map_context
from spatial.layers.styles import LAYER_ORDER, SHOWN_BY_DEFAULT, STYLES, VALUE_LABELS, legends

router = APIRouter(tags=["web"])

TIANDITU_URL = (
    "https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER=vec&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}"
    "&TILECOL={x}&tk="
)


@router.get("/map", response_class=HTMLResponse, include_in_schema=False)
def web_map(request: Request, engine: EngineDep, registry: RegistryDep, _: OpenReader) -> str:
    """The folium map: layer control, project selector, Chinese legends, popups with review."""
    ctx = map_context(engine)
    bounds = ctx.bounds or GUANGMING_BOUNDS
    m = OfflineMap(
        location=[(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2],
        zoom_start=12,
        tiles=None,
        max_zoom=20,
    )
    PageScript().add_to(m)
    key = request.app.state.settings.tianditu_key
    if key:
        folium.TileLayer(
            TIANDITU_URL + key,
            attr="天地图 Tianditu",
            name="天地图底图 Tianditu basemap",
            subdomains="01234567",
            max_zoom=18,
        ).add_to(m)
    for cid in LAYER_ORDER:
        col = registry.get(cid)
        fields = [(p.name, p.title_zh) for p in col.properties if p.name != "dataset_id"]
        VectorTileLayer(
            col.id,
            col.title,
            f"/tiles/{col.id}/{{z}}/{{x}}/{{y}}.pbf",
            STYLES[col.id],
            fields,
            show=col.id in SHOWN_BY_DEFAULT,
        ).add_to(m)
    ClickPopups(VALUE_LABELS).add_to(m)
    ProjectSelector(
        [{"code": p.code, "name": p.name, "bounds": p.bounds} for p in ctx.projects]
    ).add_to(m)
    Legend(legends()).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    m.fit_bounds(bounds)
    root = m.get_root()
    root.title = "土整 tuzheng · 规划地图 Map"  # type: ignore[attr-defined]
    # branca's page template has no lang attribute; the page is Chinese.
    page = root.render().replace("<html>", '<html lang="zh-CN">', 1)
    return with_nonce(page, csp_nonce(request))
