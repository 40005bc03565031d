"""The geometry inside vector tiles, against an independent projection of the features.

The expected tile coordinates are computed without our SQL: each parcel's EPSG:4547 corners
go through pyproj to longitude/latitude, then through morecantile's WebMercatorQuad maths to
Web Mercator metres and to the 4096-unit grid of the tile (origin top-left, y down, as the
MVT spec has it). A y-flip, a wrong extent, a wrong buffer or a tile shifted by one would all
move vertices by hundreds or thousands of units.
"""

from __future__ import annotations

import layers_data
import mapbox_vector_tile
import morecantile
import pytest
import shapely
from pyproj import Transformer

small_db = layers_data.small_db
small_client = layers_data.small_client
X0, Y0 = layers_data.X0, layers_data.Y0
WMQ = morecantile.tms.get("WebMercatorQuad")
EXTENT, BUFFER = 4096, 64
TO_LONLAT = Transformer.from_crs(4547, 4326, always_xy=True)


def tile_grid(t: morecantile.Tile, easting: float, northing: float) -> tuple[float, float]:
    """Tile-grid coordinates (0..4096, y down) of an EPSG:4547 point."""
    lon, lat = TO_LONLAT.transform(easting, northing)
    x, y = WMQ.xy(lon, lat)
    b = WMQ.xy_bounds(t)
    return (
        (x - b.left) / (b.right - b.left) * EXTENT,
        (b.top - y) / (b.top - b.bottom) * EXTENT,
    )


def expected_in_tile(t: morecantile.Tile, rows: list[dict]) -> dict[str, shapely.Geometry]:
    """Each parcel in tile-grid coordinates, clipped to the buffered tile like ST_AsMVTGeom."""
    clip = shapely.box(-BUFFER, -BUFFER, EXTENT + BUFFER, EXTENT + BUFFER)
    out = {}
    for r in rows:
        ring = shapely.get_coordinates(r["geometry"])
        pts = [tile_grid(t, x, y) for x, y in ring]
        g = shapely.Polygon(pts).intersection(clip)
        if not g.is_empty and g.area > 0:
            out[r["code"]] = g
    return out


def decoded(client, collection: str, t: morecantile.Tile) -> dict:  # noqa: ANN001
    r = client.get(f"/tiles/{collection}/{t.z}/{t.x}/{t.y}.pbf")
    assert r.status_code == 200, r.status_code
    return mapbox_vector_tile.decode(r.content, default_options={"y_coord_down": True})[collection]


def shape(geometry: dict) -> shapely.Geometry:
    return shapely.geometry.shape(geometry)


@pytest.mark.parametrize(
    ("easting", "northing", "z"),
    [(X0 + 500, Y0 + 500, 14), (X0 + 250, Y0 + 250, 16), (X0 + 50, Y0 + 50, 18)],
    ids=["z14-centre", "z16", "z18-corner"],
)
def test_parcel_geometry_in_tile_matches_independent_projection(small_client, easting, northing, z):
    lon, lat = TO_LONLAT.transform(easting, northing)
    t = WMQ.tile(lon, lat, z)
    layer = decoded(small_client, "parcels", t)
    assert layer["extent"] == EXTENT
    expected = expected_in_tile(t, layers_data.parcel_rows())
    got = {f["properties"]["code"]: shape(f["geometry"]) for f in layer["features"]}
    assert set(got) == set(expected)
    assert len(got) >= 1
    for code, want in expected.items():
        have = got[code]
        # ST_AsMVTGeom snaps to the integer grid: every vertex moves by at most half a unit
        # in each axis, so the shapes differ by at most that band around the outline.
        assert shapely.symmetric_difference(have, want).area <= want.length * 0.75 + 1, code
        assert have.hausdorff_distance(want) <= 1.0, code


def test_a_y_flip_or_a_neighbouring_tile_would_be_caught(small_client):
    """The comparison above is sensitive: the same tile read upside down does not match."""
    lon, lat = TO_LONLAT.transform(X0 + 150, Y0 + 150)
    t = WMQ.tile(lon, lat, 16)
    layer = decoded(small_client, "parcels", t)
    expected = expected_in_tile(t, layers_data.parcel_rows())
    flip = [1, -1], [0, EXTENT]
    flipped = {
        f["properties"]["code"]: shapely.transform(
            shape(f["geometry"]), lambda c: c * flip[0] + flip[1]
        )
        for f in layer["features"]
    }
    assert any(g.hausdorff_distance(expected[c]) > 50 for c, g in flipped.items())


def test_retained_land_site_corners_in_a_z17_tile(small_client):
    """R1 (0..300 × 0..100 m) has its four corners where pyproj + morecantile put them."""
    r1 = next(r for r in layers_data.LAYERS[layers_data.Layer.retained_land] if r["code"] == "R1")
    lon, lat = TO_LONLAT.transform(X0 + 150, Y0 + 50)
    t = WMQ.tile(lon, lat, 17)
    (feat,) = decoded(small_client, "retained_land", t)["features"]
    assert feat["properties"]["code"] == "R1"
    have = shape(feat["geometry"])
    corners = shapely.get_coordinates(r1["geometry"])[:4]
    for x, y in corners:
        px, py = tile_grid(t, x, y)
        if -BUFFER <= px <= EXTENT + BUFFER and -BUFFER <= py <= EXTENT + BUFFER:
            assert shapely.Point(px, py).distance(have.exterior) <= 0.75
            assert (
                min(abs(px - vx) + abs(py - vy) for vx, vy in shapely.get_coordinates(have)) <= 1.0
            )
