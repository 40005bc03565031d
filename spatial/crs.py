"""Coordinate reference systems: EPSG constants, cached pyproj transformers, GCJ-02.

Every stored geometry is in :data:`STORAGE` (EPSG:4547, CGCS2000 / 3-degree Gauss-Kruger
CM 114E, metres). Transformers are built with ``always_xy=True`` so coordinates are always
(longitude, latitude) or (easting, northing).

GCJ-02 (the "Mars" coordinates of AMap and Tencent maps) is not a CRS that PROJ knows: it is
WGS 84 plus a published, deliberately non-linear offset of a few hundred metres inside China.
:func:`wgs84_to_gcj02` implements the published forward formula; :func:`gcj02_to_wgs84` inverts
it by fixed-point iteration (error below 1e-9 degrees, i.e. sub-millimetre). WGS 84 and
CGCS2000 differ by a few centimetres over Shenzhen, far below GCJ-02's own rounding, so the
same functions convert GCJ-02 to CGCS2000 (EPSG:4490).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from pyproj import CRS, Transformer

STORAGE = 4547
"""CGCS2000 / 3-degree Gauss-Kruger CM 114E (metres): the SRID of every stored geometry."""
CGCS2000_GEOGRAPHIC = 4490
"""CGCS2000 geographic (degrees), the national standard datum."""
CGCS2000_GK_ZONE38 = 4526
"""CGCS2000 / 3-degree Gauss-Kruger zone 38: eastings carry a "38" zone prefix."""
XIAN80_GK_CM114 = 2383
"""Xian 1980 / 3-degree Gauss-Kruger CM 114E (older surveys; no published shift to CGCS2000)."""
WGS84 = 4326
"""WGS 84 geographic (degrees): GPS and web data."""
WEB_MERCATOR = 3857
"""WGS 84 / Pseudo-Mercator (metres): web map tiles."""

# Krasovsky 1940 ellipsoid as used by the published GCJ-02 formula.
_GCJ_A = 6378245.0
_GCJ_EE = 0.00669342162296594323
# The offset is applied only inside this rough rectangle around China (published convention).
_CHINA_LON = (72.004, 137.8347)
_CHINA_LAT = (0.8293, 55.8271)


@lru_cache(maxsize=64)
def crs(code: int | str) -> CRS:
    """Return a cached :class:`pyproj.CRS` for an EPSG code (int) or any pyproj user input."""
    return CRS.from_user_input(code)


@lru_cache(maxsize=64)
def transformer(src: int | str, dst: int | str) -> Transformer:
    """Return a cached ``Transformer`` from ``src`` to ``dst`` with ``always_xy=True``.

    Examples
    --------
    >>> x, y = transformer(4490, 4547).transform(114.0, 22.75)
    >>> round(x), round(y)
    (500000, 2516852)
    """
    return Transformer.from_crs(crs(src), crs(dst), always_xy=True)


def transform_geometry(geom: ArrayLike, src: int | str, dst: int | str) -> NDArray:
    """Transform shapely geometries (scalar or array) from ``src`` to ``dst`` (vectorised)."""
    t = transformer(src, dst)

    def _xy(coords: NDArray) -> NDArray:
        x, y = t.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, _xy)


def _in_china(lon: NDArray, lat: NDArray) -> NDArray:
    return (
        (lon >= _CHINA_LON[0])
        & (lon <= _CHINA_LON[1])
        & (lat >= _CHINA_LAT[0])
        & (lat <= _CHINA_LAT[1])
    )


def _gcj_offset(lon: NDArray, lat: NDArray) -> tuple[NDArray, NDArray]:
    """GCJ-02 offset (dlon, dlat) in degrees at WGS 84 position (lon, lat), zero outside China."""
    x = lon - 105.0
    y = lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    pi = np.pi
    # Shared periodic term in x.
    common = (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x
    dlat += common
    dlat += (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x
    dlon += common
    dlon += (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    rad_lat = lat / 180.0 * pi
    magic = 1.0 - _GCJ_EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_GCJ_A * (1.0 - _GCJ_EE)) / (magic * sqrt_magic) * pi)
    dlon = (dlon * 180.0) / (_GCJ_A / sqrt_magic * np.cos(rad_lat) * pi)
    inside = _in_china(lon, lat)
    return np.where(inside, dlon, 0.0), np.where(inside, dlat, 0.0)


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray, NDArray]:
    """Convert WGS 84 (or CGCS2000) degrees to GCJ-02 degrees, vectorised.

    Parameters
    ----------
    lon, lat : array_like
        Longitudes and latitudes in degrees (EPSG:4326 / EPSG:4490).

    Returns
    -------
    (lon, lat) : tuple of ndarray
        GCJ-02 degrees. Points outside China are returned unchanged.

    Examples
    --------
    >>> lon, lat = wgs84_to_gcj02(113.93, 22.75)
    >>> round(float(lon), 6), round(float(lat), 6)
    (113.934877, 22.747005)
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    dlon, dlat = _gcj_offset(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(
    lon: ArrayLike, lat: ArrayLike, tol: float = 1e-10, max_iter: int = 30
) -> tuple[NDArray, NDArray]:
    """Convert GCJ-02 degrees to WGS 84 (≈ CGCS2000) degrees by iterating the forward formula.

    Starts from the GCJ-02 position and applies ``w ← w − (F(w) − g)`` until the largest change
    is below ``tol`` degrees (1e-10° ≈ 0.01 mm); it converges in a handful of steps because
    the offset varies slowly.

    Examples
    --------
    >>> lon, lat = gcj02_to_wgs84(*wgs84_to_gcj02(113.93, 22.75))
    >>> round(float(lon), 9), round(float(lat), 9)
    (113.93, 22.75)
    """
    g_lon = np.asarray(lon, dtype=float)
    g_lat = np.asarray(lat, dtype=float)
    w_lon = g_lon.copy()
    w_lat = g_lat.copy()
    for _ in range(max_iter):
        f_lon, f_lat = wgs84_to_gcj02(w_lon, w_lat)
        e_lon = f_lon - g_lon
        e_lat = f_lat - g_lat
        w_lon = w_lon - e_lon
        w_lat = w_lat - e_lat
        if e_lon.size == 0 or max(np.nanmax(np.abs(e_lon)), np.nanmax(np.abs(e_lat))) < tol:
            break
    return w_lon, w_lat


def geometry_from_gcj02(geom: ArrayLike, dst: int | str = CGCS2000_GEOGRAPHIC) -> NDArray:
    """Convert shapely geometries in GCJ-02 degrees to ``dst`` (default EPSG:4490), vectorised.

    The GCJ-02 offset is removed first (giving WGS 84 ≈ CGCS2000 degrees), then the result is
    projected to ``dst`` with pyproj when ``dst`` is not geographic CGCS2000 / WGS 84.

    Examples
    --------
    >>> from shapely import Point
    >>> p = geometry_from_gcj02(Point(113.934877, 22.747005), STORAGE)
    >>> round(p.x), round(p.y)
    (492810, 2516854)
    """

    def _xy(coords: NDArray) -> NDArray:
        lon, lat = gcj02_to_wgs84(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    out = shapely.transform(geom, _xy)
    if crs(dst) in (crs(CGCS2000_GEOGRAPHIC), crs(WGS84)):
        return out
    return transform_geometry(out, CGCS2000_GEOGRAPHIC, dst)


def geometry_to_gcj02(geom: ArrayLike, src: int | str = CGCS2000_GEOGRAPHIC) -> NDArray:
    """Convert shapely geometries in ``src`` to GCJ-02 degrees (for overlay on AMap tiles)."""
    if crs(src) not in (crs(CGCS2000_GEOGRAPHIC), crs(WGS84)):
        geom = transform_geometry(geom, src, CGCS2000_GEOGRAPHIC)

    def _xy(coords: NDArray) -> NDArray:
        lon, lat = wgs84_to_gcj02(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(geom, _xy)
