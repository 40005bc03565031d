"""Bounding boxes from requests and notebooks: one validator, one builder of the storage shape.

Every bbox (OGC API ``bbox``/``bbox-crs``, :func:`spatial.workbench.load_layer`) goes through
:func:`bbox_from` (4 or 6 finite numbers, minimum not above maximum, longitude/latitude in
range, a CRS that PROJ knows) and :func:`storage_shape`, which turns it into a shape in the
storage CRS (EPSG:4547) to compare with the stored geometries: the box is first **clamped to the
area of use of EPSG:4547** (112.5–115.5°E, 21.52–45.45°N, transformed into the box's CRS), then
densified (32 segments a side, so the transformed edges follow the requested ones) and
transformed with pyproj. A whole-world box therefore becomes the area of use, which holds every
stored feature, instead of a million-vertex polygon that is invalid in EPSG:4547; a box outside
the area of use matches nothing. The shape is bound as WKB, so the query keeps the GiST index.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import shapely
from pyproj.exceptions import CRSError

from spatial.crs import STORAGE, crs, transform_geometry, transformer
from spatial.errors import BadRequest

SEGMENTS = 32
"""Vertices added along each side of a box before it is transformed."""


@dataclass(frozen=True)
class BBox:
    """A validated box in x/y order (longitude/latitude or easting/northing) of ``srid``."""

    xmin: float
    ymin: float
    xmax: float
    ymax: float
    srid: int


def parse_bbox(text: str | None) -> list[float] | None:
    """``"minx,miny,maxx,maxy"`` (or six numbers, with heights) as floats; None for None.

    Raises
    ------
    BadRequest
        Not 4 or 6 comma-separated finite numbers.
    """
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise BadRequest("bbox 格式错误", "bbox must be comma-separated numbers") from None
    _check_numbers(values)
    return values


def _check_numbers(values: Sequence[float]) -> None:
    if len(values) not in (4, 6) or not all(math.isfinite(v) for v in values):
        raise BadRequest(
            "bbox 应为 4 个（或 6 个）有限数", "bbox must have 4 (or 6) finite numbers"
        )


def bbox_from(values: Sequence[float], srid: int = STORAGE, north_first: bool = False) -> BBox:
    """Validate ``values`` (4 or 6 numbers in the CRS's axis order) as a box of ``srid``.

    ``north_first``: the values give latitude/northing first (EPSG:4326, 4490, 4547 in OGC
    API Part 2); the box is returned in x/y order.

    Raises
    ------
    BadRequest
        Wrong count, non-finite numbers, minimum above maximum, degrees out of range, or a CRS
        that PROJ does not know.
    """
    try:
        b = [float(v) for v in values]
    except (TypeError, ValueError):
        raise BadRequest("bbox 须为数值", "bbox must be numbers") from None
    _check_numbers(b)
    if len(b) == 6:
        b = [b[0], b[1], b[3], b[4]]
    if north_first:
        b = [b[1], b[0], b[3], b[2]]
    if b[0] > b[2] or b[1] > b[3]:
        raise BadRequest(
            f"bbox 最小值大于最大值：{tuple(values)}",
            f"bbox minimum is greater than its maximum: {tuple(values)}",
        )
    try:
        geographic = crs(int(srid)).is_geographic
    except CRSError:
        raise BadRequest(
            f"未知坐标系 EPSG:{srid}", f"unknown CRS EPSG:{srid} for the bbox"
        ) from None
    if geographic and not (-180 <= b[0] <= b[2] <= 180 and -90 <= b[1] <= b[3] <= 90):
        raise BadRequest("bbox 超出经纬度范围", "bbox is outside the longitude/latitude range")
    return BBox(b[0], b[1], b[2], b[3], int(srid))


@lru_cache(maxsize=32)
def storage_area_in(srid: int) -> tuple[float, float, float, float]:
    """The area of use of the storage CRS as a box in ``srid`` (x/y order)."""
    west, south, east, north = crs(STORAGE).area_of_use.bounds  # type: ignore[union-attr]
    if srid == 4326:
        return west, south, east, north
    t = transformer(4326, srid)
    return tuple(t.transform_bounds(west, south, east, north, densify_pts=21))  # type: ignore[return-value]


def storage_shape(b: BBox) -> shapely.Geometry | None:
    """The box as a shape in EPSG:4547, clamped to its area of use; None if outside it."""
    if b.srid == STORAGE:
        return _shape(b.xmin, b.ymin, b.xmax, b.ymax)
    ax0, ay0, ax1, ay1 = storage_area_in(b.srid)
    x0, y0 = max(b.xmin, ax0), max(b.ymin, ay0)
    x1, y1 = min(b.xmax, ax1), min(b.ymax, ay1)
    if x0 > x1 or y0 > y1:
        return None
    shape = _shape(x0, y0, x1, y1)
    step = max(x1 - x0, y1 - y0) / SEGMENTS
    if step > 0:
        shape = shapely.segmentize(shape, step)
    out = transform_geometry(shape, b.srid, STORAGE)
    if not shapely.is_valid(out) or not shapely.get_coordinates(out).size:
        raise BadRequest("bbox 无法转换到 EPSG:4547", "the bbox cannot be transformed to EPSG:4547")
    return out  # type: ignore[no-any-return]


def _shape(x0: float, y0: float, x1: float, y1: float) -> shapely.Geometry:
    if x0 == x1 and y0 == y1:
        return shapely.Point(x0, y0)
    if x0 == x1 or y0 == y1:
        return shapely.LineString([(x0, y0), (x1, y1)])
    return shapely.box(x0, y0, x1, y1)


def storage_wkb(b: BBox) -> bytes | None:
    """:func:`storage_shape` as WKB, to bind as ``ST_GeomFromWKB(%s, 4547)``; None if empty."""
    shape = storage_shape(b)
    return None if shape is None else shapely.to_wkb(shape)


def union_bounds(boxes: np.ndarray) -> tuple[float, float, float, float]:
    """The box holding every row of an ``(n, 4)`` array of ``xmin, ymin, xmax, ymax`` (n ≥ 1).

    Examples
    --------
    >>> union_bounds(np.array([[0, 0, 1, 1], [2, -1, 3, 0.5]]))
    (0.0, -1.0, 3.0, 1.0)
    """
    return (
        float(boxes[:, 0].min()),
        float(boxes[:, 1].min()),
        float(boxes[:, 2].max()),
        float(boxes[:, 3].max()),
    )
