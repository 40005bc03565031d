"""Measuring on the map: planar length and area in EPSG:4547 (as the analyses measure)."""

from __future__ import annotations

from typing import Any

import shapely
from pydantic import BaseModel
from shapely.geometry.base import BaseGeometry

from spatial.crs import STORAGE, transformer
from spatial.errors import InvalidInput

METHOD_ZH = "平面量算：CGCS2000 / 3度带高斯-克吕格 中央经线114°E（EPSG:4547）"
METHOD_EN = "planar, in CGCS2000 / 3-degree Gauss-Kruger CM 114E (EPSG:4547)"
MAX_VERTICES = 10_000


class Measurement(BaseModel):
    """A measured line or polygon: length or perimeter (m), area (m² and ha), the method."""

    geometry_type: str
    length_m: float
    """Line length, or polygon perimeter (m, EPSG:4547)."""
    area_m2: float | None
    area_ha: float | None
    method_zh: str = METHOD_ZH
    method_en: str = METHOD_EN


def measure(geometry: BaseGeometry | dict[str, Any], crs: int = 4326) -> Measurement:
    """Measure a LineString or Polygon drawn on the map, planar in EPSG:4547.

    ``geometry`` is a shapely geometry or GeoJSON mapping in ``crs`` (4326 / 4490 lon/lat,
    or 4547 metres); it is transformed to EPSG:4547 (``always_xy=True``) and measured there:
    ``length_m`` (line length or polygon perimeter, m), ``area_m2`` and ``area_ha`` (polygons,
    to 0.01 m² and 0.0001 ha).

    Examples
    --------
    >>> m = measure({"type": "LineString", "coordinates": [[500000, 2500000], [500300, 2500400]]},
    ...             crs=4547)
    >>> m.length_m
    500.0
    """
    try:
        geom = geometry if isinstance(geometry, BaseGeometry) else shapely.geometry.shape(geometry)
    except Exception as exc:
        raise InvalidInput(
            "量算对象不是有效的 GeoJSON 几何", f"not a GeoJSON geometry: {exc}"
        ) from exc
    if geom.geom_type not in ("LineString", "Polygon") or geom.is_empty:
        raise InvalidInput(
            "只能量算线（距离）或面（面积）", "only a LineString (distance) or Polygon (area)"
        )
    if shapely.get_num_coordinates(geom) > MAX_VERTICES:
        raise InvalidInput("顶点过多", f"too many vertices (limit {MAX_VERTICES})")
    coords = shapely.get_coordinates(geom)
    if not (coords == coords).all():
        raise InvalidInput("坐标含 NaN", "coordinates contain NaN")
    if crs not in (STORAGE, 4326, 4490):
        raise InvalidInput(f"不支持的坐标系 EPSG:{crs}", f"unsupported CRS EPSG:{crs}")
    if crs != STORAGE:
        t = transformer(crs, STORAGE)
        geom = shapely.transform(geom, lambda xy: _xy(t.transform(xy[:, 0], xy[:, 1])))
    if geom.geom_type == "Polygon":
        area = round(geom.area, 2)
        return Measurement(
            geometry_type="Polygon",
            length_m=round(geom.length, 2),
            area_m2=area,
            area_ha=round(area / 10_000, 4),
        )
    return Measurement(
        geometry_type="LineString", length_m=round(geom.length, 2), area_m2=None, area_ha=None
    )


def _xy(xy: tuple[Any, Any]) -> Any:
    import numpy as np

    return np.column_stack(xy)
