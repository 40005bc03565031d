"""Browser pages: the landing page and the planners' web map."""

from __future__ import annotations

import folium
from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from api.deps import EngineDep
from api.mappage import Legend, OfflineMap
from spatial.categories import COLOURS, OwnershipCategory
from spatial.layers_geojson import district_overview

router = APIRouter(tags=["web"])


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def landing() -> str:
    """Landing page with links to the map, the API docs and the health check."""
    return """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<title>土整 tuzheng</title></head>
<body style="font-family:sans-serif;max-width:760px;margin:2em auto">
<h1>土整 tuzheng</h1>
<p>深圳土地整备 GIS 工作台 / GIS workbench for Shenzhen land readiness.</p>
<ul>
<li><a href="/map">规划地图 Web map</a></li>
<li><a href="/docs">接口文档 API docs</a></li>
<li><a href="/health">系统状态 Health</a></li>
</ul></body></html>"""


@router.get("/map", response_class=HTMLResponse, include_in_schema=False)
def web_map(engine: EngineDep) -> str:
    """A folium map of the district: parcels coloured by ownership category, with a legend."""
    overview = district_overview(engine)
    m = OfflineMap(location=overview["center"], zoom_start=12, tiles=None, prefer_canvas=True)
    if overview["parcels"]["features"]:
        folium.GeoJson(
            overview["parcels"],
            name="宗地 Parcels",
            style_function=lambda f: {
                "fillColor": COLOURS[OwnershipCategory(f["properties"]["category"])],
                "color": "#555",
                "weight": 0.3,
                "fillOpacity": 0.7,
            },
            tooltip=folium.GeoJsonTooltip(
                fields=["code", "category_zh"], aliases=["宗地编号", "权属类型"]
            ),
        ).add_to(m)
    if overview["projects"]["features"]:
        folium.GeoJson(
            overview["projects"],
            name="整备项目 Projects",
            style_function=lambda f: {"fill": False, "color": "#000", "weight": 2},
            tooltip=folium.GeoJsonTooltip(
                fields=["code", "name"], aliases=["项目编号", "项目名称"]
            ),
        ).add_to(m)
    if overview["bounds"]:
        m.fit_bounds(overview["bounds"])
    Legend("权属类型 Ownership", [(c.label_zh, COLOURS[c]) for c in OwnershipCategory]).add_to(m)
    folium.LayerControl().add_to(m)
    return m.get_root().render()
