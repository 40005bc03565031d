"""spatial.crs: EPSG constants, transformers and the GCJ-02 conversion."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely.geometry import Point, Polygon

from spatial import crs

# WGS 84 points (lon, lat): Guangming centre, Shenzhen Futian, Nanshan, Dapeng, Beijing, Chengdu.
POINTS = [
    (113.93, 22.75),
    (114.0579, 22.5431),
    (113.9305, 22.5333),
    (114.4800, 22.5900),
    (116.3913, 39.9075),
    (104.0665, 30.5723),
]

# Forward GCJ-02 values computed once with the independent ``prcoords`` package (1.0.2) and
# frozen here so the test stays meaningful without it.
FROZEN = {
    (113.93, 22.75): (113.93487738117382, 22.74700465105297),
}


def test_epsg_constants():
    assert crs.STORAGE == 4547
    assert crs.CGCS2000_GEOGRAPHIC == 4490
    assert crs.CGCS2000_GK_ZONE38 == 4526
    assert crs.XIAN80_GK_CM114 == 2383
    assert crs.WGS84 == 4326
    assert crs.WEB_MERCATOR == 3857
    assert "CGCS2000" in crs.crs(4547).name
    assert "114E" in crs.crs(4547).name
    assert crs.crs(2383).name.startswith("Xian 1980")


def test_transformer_is_cached_and_xy():
    assert crs.transformer(4490, 4547) is crs.transformer(4490, 4547)
    # On the central meridian 114°E the easting is the false easting, 500000 m, with no prefix.
    x, y = crs.transformer(4490, 4547).transform(114.0, 22.75)
    assert x == pytest.approx(500000.0, abs=1e-6)
    assert 2_483_000 < y < 2_530_000
    # Zone 38 carries the "38" prefix.
    x38, y38 = crs.transformer(4490, 4526).transform(114.0, 22.75)
    assert x38 == pytest.approx(38_500_000.0, abs=1e-6)
    assert y38 == pytest.approx(y, abs=1e-6)


def test_4547_4490_round_trip():
    lon = np.array([113.75, 113.93, 114.06, 114.62])
    lat = np.array([22.40, 22.75, 22.54, 22.86])
    x, y = crs.transformer(4490, 4547).transform(lon, lat)
    assert np.all((x > 474_000 - 2_000) & (x < 564_000 + 10_000))
    lon2, lat2 = crs.transformer(4547, 4490).transform(x, y)
    np.testing.assert_allclose(lon2, lon, atol=1e-9)
    np.testing.assert_allclose(lat2, lat, atol=1e-9)
    # And a projected polygon keeps its area through a round trip (< 1e-6 m² per km²).
    square = Polygon([(490000, 2510000), (491000, 2510000), (491000, 2511000), (490000, 2511000)])
    geo = crs.transform_geometry(square, 4547, 4490)
    back = crs.transform_geometry(geo, 4490, 4547)
    assert back.area == pytest.approx(1_000_000.0, abs=1e-3)


def test_gcj02_forward_frozen_pairs():
    for (lon, lat), (glon, glat) in FROZEN.items():
        out_lon, out_lat = crs.wgs84_to_gcj02(lon, lat)
        assert float(out_lon) == pytest.approx(glon, abs=1e-9)
        assert float(out_lat) == pytest.approx(glat, abs=1e-9)


def test_gcj02_matches_prcoords():
    prc = pytest.importorskip("prcoords")
    lon = np.array([p[0] for p in POINTS])
    lat = np.array([p[1] for p in POINTS])
    glon, glat = crs.wgs84_to_gcj02(lon, lat)
    for i, (x, y) in enumerate(POINTS):
        ref = prc.wgs_gcj(prc.Coords(y, x))
        assert glon[i] == pytest.approx(ref.lon, abs=1e-9)
        assert glat[i] == pytest.approx(ref.lat, abs=1e-9)
        # Inverse against prcoords' iterative inverse (its tolerance is ~1e-9°).
        inv = prc.gcj_wgs_bored(ref)
        w_lon, w_lat = crs.gcj02_to_wgs84(ref.lon, ref.lat)
        assert float(w_lon) == pytest.approx(inv.lon, abs=1e-7)
        assert float(w_lat) == pytest.approx(inv.lat, abs=1e-7)
        assert float(w_lon) == pytest.approx(x, abs=1e-9)
        assert float(w_lat) == pytest.approx(y, abs=1e-9)


def test_gcj02_round_trip_is_sub_millimetre():
    rng = np.random.default_rng(1)
    lon = rng.uniform(113.7, 114.7, 10_000)
    lat = rng.uniform(22.4, 22.9, 10_000)
    glon, glat = crs.wgs84_to_gcj02(lon, lat)
    wlon, wlat = crs.gcj02_to_wgs84(glon, glat)
    assert np.max(np.abs(wlon - lon)) < 1e-9
    assert np.max(np.abs(wlat - lat)) < 1e-9


def test_gcj02_shift_over_shenzhen_is_a_few_hundred_metres():
    rng = np.random.default_rng(2)
    lon = rng.uniform(113.75, 114.62, 500)
    lat = rng.uniform(22.40, 22.86, 500)
    glon, glat = crs.wgs84_to_gcj02(lon, lat)
    t = crs.transformer(4490, 4547)
    x0, y0 = t.transform(lon, lat)
    x1, y1 = t.transform(glon, glat)
    shift = np.hypot(x1 - x0, y1 - y0)
    assert shift.min() > 300.0
    assert shift.max() < 700.0
    # GCJ-02 moves Shenzhen points east (about +500 m) and south (about -300 m).
    assert np.all(x1 > x0)
    assert np.all(y1 < y0)


def test_gcj02_outside_china_is_unchanged():
    glon, glat = crs.wgs84_to_gcj02([2.35, -74.0], [48.85, 40.7])
    np.testing.assert_array_equal(glon, [2.35, -74.0])
    np.testing.assert_array_equal(glat, [48.85, 40.7])


def test_geometry_from_gcj02_vectorised():
    wgs = np.array([Point(113.93, 22.75), Polygon([(113.9, 22.7), (114.0, 22.7), (114.0, 22.8)])])
    gcj = crs.geometry_to_gcj02(wgs)
    back = crs.geometry_from_gcj02(gcj, crs.CGCS2000_GEOGRAPHIC)
    for a, b in zip(back, wgs, strict=True):
        np.testing.assert_allclose(
            shapely.get_coordinates(a), shapely.get_coordinates(b), atol=1e-9
        )
    projected = crs.geometry_from_gcj02(gcj, crs.STORAGE)
    direct = crs.transform_geometry(wgs, 4490, 4547)
    assert shapely.distance(projected[0], direct[0]) < 1e-3
    assert projected[1].area == pytest.approx(direct[1].area, rel=1e-9)
    # The triangle is about 0.1° × 0.1° / 2 ≈ 57 km² at this latitude.
    assert 50e6 < projected[1].area < 60e6
