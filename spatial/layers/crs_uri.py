"""CRS URIs of OGC API Features Part 2 that tuzheng serves, with their axis order.

``CRS84`` (longitude, latitude) is the default. The EPSG CRSs are served in their EPSG axis
order: EPSG:4326 and EPSG:4490 latitude first, EPSG:4547 northing first.
"""

from __future__ import annotations

from dataclasses import dataclass

from spatial.errors import BadRequest


@dataclass(frozen=True)
class OutputCrs:
    """A supported CRS: its URI, SRID and whether its first axis is northing/latitude."""

    uri: str
    srid: int
    north_first: bool


CRS84_URI = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CRS84 = OutputCrs(CRS84_URI, 4326, False)
SUPPORTED: tuple[OutputCrs, ...] = (
    CRS84,
    OutputCrs("http://www.opengis.net/def/crs/EPSG/0/4326", 4326, True),
    OutputCrs("http://www.opengis.net/def/crs/EPSG/0/4490", 4490, True),
    OutputCrs("http://www.opengis.net/def/crs/EPSG/0/4547", 4547, True),
)
STORAGE_CRS_URI = "http://www.opengis.net/def/crs/EPSG/0/4547"
_BY_KEY: dict[str, OutputCrs] = {}
for _c in SUPPORTED:
    _BY_KEY[_c.uri.lower()] = _c
    _BY_KEY[_c.uri.lower().replace("http://", "https://")] = _c
    if _c is not CRS84:
        _BY_KEY[f"epsg:{_c.srid}"] = _c
        _BY_KEY[f"[epsg:{_c.srid}]"] = _c
for _alias in ("crs84", "ogc:crs84", "[ogc:crs84]", "urn:ogc:def:crs:ogc:1.3:crs84"):
    _BY_KEY[_alias] = CRS84


def parse_crs(value: str | None, param: str = "crs") -> OutputCrs:
    """The supported CRS named by ``value`` (a URI, ``EPSG:n`` or ``CRS84``); default CRS84.

    Raises
    ------
    BadRequest
        If the CRS is not one of :data:`SUPPORTED`.
    """
    if value is None or value == "":
        return CRS84
    found = _BY_KEY.get(value.strip().lower())
    if found is None:
        raise BadRequest(
            f"不支持的坐标系 {param}",
            f"unsupported {param} {value[:100]!r}; use one of "
            + ", ".join(c.uri for c in SUPPORTED),
        )
    return found
