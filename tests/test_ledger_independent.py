"""The ledger checked against an independent computation, not against its own identity.

``adds_up`` holds by construction (overlaps, outside and gaps are defined as the differences
that make the lines close), so it cannot fail. These tests recompute every line the way an
analyst would in geopandas/shapely from the rows the store holds, and the ellipsoidal areas
with pyproj's geodesic (Karney) algorithm, then compare with the ledger; and they check that
the demo generator's projects have the gaps and overlaps it built (none, up to snap rounding).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Geod

from spatial.analysis import area_ledger, review_all
from spatial.categories import OwnershipCategory

CATS = [c.value for c in OwnershipCategory]
GEOD = Geod(ellps="GRS80")  # CGCS2000's ellipsoid: a = 6378137, 1/f = 298.257222101
SNAP_M = 0.0005
"""The demo snap-rounds project cuts to 1 mm: a vertex moves at most half of that."""


@pytest.fixture(scope="module")
def layers(demo_db):
    parcels = gpd.read_postgis(
        "SELECT code, category::text AS category, project_code, geom FROM current_parcels",
        demo_db.engine,
        geom_col="geom",
    )
    projects = gpd.read_postgis(
        "SELECT code, geom FROM current_projects ORDER BY code", demo_db.engine, geom_col="geom"
    )
    return parcels, projects


@pytest.fixture(scope="module")
def ledgers(demo_db):
    return {r.project_code: r.ledger for r in review_all(demo_db.engine)}


def geodesic_area(geoms: gpd.GeoSeries) -> np.ndarray:
    """Ellipsoidal area of each geometry (m²): EPSG:4547 → 4490, then pyproj's Geod."""
    lonlat = geoms.to_crs(4490)
    return np.array([abs(GEOD.geometry_area_perimeter(g)[0]) for g in lonlat])


def test_every_demo_project_ledger_equals_an_independent_overlay(layers, ledgers):
    parcels, projects = layers
    assert sorted(ledgers) == sorted(projects.code)
    for code, boundary in zip(projects.code, projects.geometry, strict=True):
        led = ledgers[code]
        mine = parcels[parcels.project_code == code]
        by_cat = mine.assign(a=mine.area).groupby("category").a.sum()
        counts = mine.groupby("category").size()
        for cat in CATS:
            line = led.line(cat)
            assert line.planar_m2 == pytest.approx(by_cat.get(cat, 0.0), abs=0.01), (code, cat)
            assert line.parcel_count == counts.get(cat, 0), (code, cat)
        union = shapely.union_all(mine.geometry.values)
        assert led.total_planar_m2 == pytest.approx(boundary.area, abs=0.01), code
        assert led.line("gaps").planar_m2 == pytest.approx(
            shapely.difference(boundary, union).area, abs=0.05
        ), code
        assert led.line("outside").planar_m2 == pytest.approx(
            shapely.difference(union, boundary).area, abs=0.05
        ), code
        assert led.line("overlaps").planar_m2 == pytest.approx(
            mine.area.sum() - union.area, abs=0.05
        ), code
        # what the generator made: parcels cut along the boundary, tiling it (data/demo.py)
        budget = boundary.length * SNAP_M
        assert abs(led.line("overlaps").planar_m2) <= 0.05, code
        assert 0 <= led.line("gaps").planar_m2 <= budget, (code, budget)
        assert abs(led.line("outside").planar_m2) <= budget, (code, budget)
        assert led.parcel_count == len(mine), code


def test_ellipsoidal_lines_equal_pyproj_geodesic_areas(layers, ledgers):
    parcels, projects = layers
    for code in ("GM-ZB-001", "GM-ZB-003"):  # a square and the long, rotated ring road
        led = ledgers[code]
        mine = parcels[parcels.project_code == code]
        ellip = geodesic_area(mine.geometry)
        for cat in CATS:
            want = ellip[(mine.category == cat).to_numpy()].sum()
            assert led.line(cat).ellipsoidal_m2 == pytest.approx(want, rel=1e-7, abs=0.01), cat
        boundary = projects.set_index("code").geometry.loc[[code]]
        total = geodesic_area(boundary)[0]
        assert led.total_ellipsoidal_m2 == pytest.approx(total, rel=1e-7)
        # planar is larger by the Gauss-Kruger areal scale: >1 away from 114°E, tiny near it
        assert led.total_planar_m2 / led.total_ellipsoidal_m2 - 1 == pytest.approx(
            boundary.area.iloc[0] / total - 1, abs=1e-9
        )


def test_district_ledger_equals_groupby_and_union(demo_db, layers):
    parcels, _ = layers
    led = area_ledger(demo_db.engine)
    by_cat = parcels.assign(a=parcels.area).groupby("category").a.sum()
    for cat in CATS:
        assert led.line(cat).planar_m2 == pytest.approx(by_cat[cat], abs=0.05), cat
        assert led.line(cat).parcel_count == int((parcels.category == cat).sum()), cat
    union = shapely.union_all(parcels.geometry.values)
    assert led.total_planar_m2 == pytest.approx(union.area, abs=0.5)
    assert led.parcel_count == len(parcels)
    # a valid coverage (test_demo checks it): the overlaps line is float noise
    assert abs(led.line("overlaps").planar_m2) <= 0.5
