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
