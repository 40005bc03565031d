"""Inline folium maps for notebooks that make no external request (no CDN, no tile server).

folium's HTML loads Leaflet, jQuery and Bootstrap from CDNs. ``NotebookMap`` embeds the Leaflet
that ``npm ci`` installed into ``node_modules/`` as ``data:`` URIs instead, and draws no base
tiles unless asked to, so the map renders on an offline intranet inside JupyterLab.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd

from spatial.settings import REPO_ROOT

PALETTE = ["#409eff", "#e6a23c", "#67c23a", "#f56c6c", "#909399", "#9b59b6", "#1abc9c"]


def _node_modules() -> Path:
    return Path(os.environ.get("TUZHENG_API_NODE_MODULES", REPO_ROOT / "node_modules"))


@lru_cache
def _data_uri(path: Path, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _leaflet_assets() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    dist = _node_modules() / "leaflet" / "dist"
    js, css = dist / "leaflet.js", dist / "leaflet.css"
    if not (js.exists() and css.exists()):
        raise FileNotFoundError(
            f"找不到本地 Leaflet（{dist}），请先运行 `make install` / "
            f"local Leaflet not found in {dist}: run `make install` (npm ci) first"
        )
    return (
        [("leaflet", _data_uri(js, "text/javascript"))],
        [("leaflet_css", _data_uri(css, "text/css"))],
    )


class NotebookMap(folium.Map):
    """A folium Map with Leaflet embedded and no base tiles by default (offline).

    Parameters
    ----------
    **kwargs
        As for ``folium.Map``; ``tiles`` defaults to ``None`` (no tile server).

    Example
    -------
    >>> m = NotebookMap(location=[22.75, 113.93], zoom_start=13)
    >>> "cdn." in m.get_root().render()
    False
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("tiles", None)
        kwargs.setdefault("control_scale", True)
        super().__init__(**kwargs)
        self.default_js, self.default_css = _leaflet_assets()


def map_layers(
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    colours: Mapping[str, str] | None = None,
    colour_by: Mapping[str, tuple[str, Mapping[Any, str]]] | None = None,
    tooltip: Mapping[str, list[str]] | None = None,
    height: int = 500,
) -> NotebookMap:
    """Draw GeoDataFrames (any CRS; transformed to EPSG:4326 for display) on an offline map.

    Parameters
    ----------
    layers : mapping of label to GeoDataFrame
        Drawn in order, each as a toggleable overlay named by its label (Chinese is fine).
    colours : mapping of label to colour, optional
        Fill and stroke colour per layer (default: a fixed palette).
    colour_by : mapping of label to (column, {value: colour}), optional
        Colour a layer's features by a column, e.g. parcels by ``category`` with
        ``spatial.categories.COLOURS``.
    tooltip : mapping of label to column names, optional
        Columns shown on hover (default: up to four non-geometry columns).
    height : int, default 500
        Map height in pixels.

    Returns
    -------
    NotebookMap
        Fitted to the layers' bounds; display it as the last expression of a cell.

    Example
    -------
    >>> import spatial as tz
    >>> parcels = tz.load_layer("parcels", project="GM-ZB-001")  # doctest: +SKIP
    >>> tz.map_layers({"宗地 parcels": parcels})  # doctest: +SKIP
    """
    colours = dict(colours or {})
    colour_by = dict(colour_by or {})
    tooltip = dict(tooltip or {})
    m = NotebookMap(height=height)
    bounds = None
    for i, (label, gdf) in enumerate(layers.items()):
        if gdf.crs is None:
            raise ValueError(f"layer {label!r} has no CRS")
        if gdf.empty:
            continue
        shown = gdf.to_crs(4326)
        fields = tooltip.get(label) or [c for c in shown.columns if c != shown.geometry.name][:4]
        keep = [c for c in fields if c in shown.columns]
        by = colour_by.get(label)
        if by is not None:
            keep = list(dict.fromkeys([*keep, by[0]]))
        shown = shown[[*keep, shown.geometry.name]].copy()
        for c in keep:  # JSON-safe values for the tooltip
            if shown[c].dtype == object or str(shown[c].dtype).startswith(("datetime", "category")):
                shown[c] = shown[c].astype(str)
        base = colours.get(label, PALETTE[i % len(PALETTE)])

        def style(feature: dict[str, Any], base: str = base, by: Any = by) -> dict[str, Any]:
            colour = base
            if by is not None:
                colour = by[1].get(feature["properties"].get(by[0]), base)
            return {"color": colour, "fillColor": colour, "weight": 1.5, "fillOpacity": 0.35}

        folium.GeoJson(
            shown.__geo_interface__,
            name=label,
            style_function=style,
            tooltip=folium.GeoJsonTooltip(fields=keep) if keep else None,
        ).add_to(m)
        x0, y0, x1, y1 = shown.total_bounds
        bounds = (
            [[y0, x0], [y1, x1]]
            if bounds is None
            else [
                [min(bounds[0][0], y0), min(bounds[0][1], x0)],
                [max(bounds[1][0], y1), max(bounds[1][1], x1)],
            ]
        )
    if bounds is not None:
        m.fit_bounds(bounds)
    folium.LayerControl(collapsed=False).add_to(m)
    return m
