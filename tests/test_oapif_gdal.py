"""GDAL's OAPIF driver (ogrinfo, ogr2ogr) reads every collection exactly.

Two districts: the tiny one of tests/layers_data.py (areas known to the m²) and the demo
district (3,548 parcels; retained-land reserve areas such as exactly 3000 m² and 2000 m², the
whole numbers that GDAL used to type as Integer). GDAL 3.6 pages 10 features at a time
unless told otherwise: the tests use ``-oo PAGE_SIZE=1000`` as the README advises.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from urllib.parse import unquote_plus

import clients_data
import layers_data
import pyogrio
import pytest

from spatial.layers.registry import build_registry

small_db = layers_data.small_db
clients_db = clients_data.clients_db

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("ogr2ogr") is None, reason="gdal-bin is not installed"),
]
DISTRICT = ("113.70", "22.60", "114.10", "22.90")
"""A lon/lat box around the whole of Guangming (the demo district)."""
PAGE = ("-oo", "PAGE_SIZE=1000")


@pytest.fixture(scope="module")
def server(small_db):
    with layers_data.running_server(small_db.url) as base:
        yield base


@pytest.fixture(scope="module")
def demo_server(clients_db, tmp_path_factory):
    log = tmp_path_factory.mktemp("gdal") / "server.log"
    with layers_data.running_server(clients_db.url, log_path=log) as base:
        yield base, log


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=300, check=True, env=env)


def api_features(base: str, cid: str, **params: str) -> list[dict]:
    import httpx

    r = httpx.get(f"{base}/collections/{cid}/items", params={"limit": 10000, **params}, timeout=60)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["numberReturned"] == body["numberMatched"]
    return body["features"]


def test_gdal_version_is_the_one_the_readme_names():
    out = run("gdalinfo", "--version").stdout
    assert out.startswith("GDAL 3.6."), out


def test_ogrinfo_lists_every_collection(server):
    out = run("ogrinfo", "-ro", "-q", f"OAPIF:{server}").stdout
    for i, (cid, title) in enumerate(
        [
            ("projects", "整备项目范围 Land readiness projects"),
            ("parcels", "宗地 Parcels"),
            ("retained_land", "留用土地 Retained land"),
            ("state_reserve_land", "国有储备土地 State reserve land"),
            ("statutory_plans", "法定图则 Statutory plan zones"),
            ("reserve_overlaps", "留用土地占用国有储备土地 Retained land on state reserve land"),
            ("uncovered", "法定图则未覆盖部分 Parts not covered by statutory plans"),
            ("conflicts", "用途与法定图则冲突 Planned use conflicts with the zoning"),
        ],
        start=1,
    ):
        assert f"{i}: {cid} (title: {title}) (Multi Polygon)" in out


@pytest.mark.parametrize(("collection", "count"), [("parcels", 105), ("conflicts", 1)])
def test_ogr2ogr_copies_a_collection(server, tmp_path, collection, count):
    out = tmp_path / f"{collection}.gpkg"
    run("ogr2ogr", "-f", "GPKG", str(out), f"OAPIF:{server}", collection)
    info = pyogrio.read_info(out, layer=collection)
    assert info["features"] == count
    df = pyogrio.read_dataframe(out, layer=collection)
    if collection == "parcels":
        assert set(df["category_zh"]) == {
            "原农村集体土地",
            "原光明农场国有用地",
            "未完善征（转）收地补偿手续用地",
            "国有已出让/已完善手续用地",
        }
        assert df["area_m2"].sum() == pytest.approx(100 * 10_000 + 5 * 40_000)
    else:
        assert list(df["reason_zh"]) == ["需调整法定图则"]


def test_gdal_types_fields_from_the_json_schema(demo_server):
    base, _log = demo_server
    env = {**os.environ, "CPL_DEBUG": "ON"}
    res = run("ogrinfo", "-ro", "-so", f"OAPIF:{base}", "retained_land", *PAGE, env=env)
    assert "OAPIF: Using JSON schema" in res.stderr
    assert "OAPIF: CQL text detected" not in res.stderr  # only when a filter is set
    fields = dict(re.findall(r"^(\w+): (\w+)", res.stdout, re.M))
    for name in ("area_m2", "reserve_m2", "project_reserve_m2", "covered_m2", "uncovered_m2"):
        assert fields[name] == "Real", (name, fields)
    assert fields["conflict_count"] == "Integer"
    assert fields["route_zh"] == "String"


@pytest.mark.parametrize("collection", [c.id for c in build_registry()])
def test_ogr2ogr_every_layer_over_the_district(demo_server, tmp_path, collection):
    """-spat over the whole district: every feature, typed from the schema, sums exact."""
    base, _log = demo_server
    out = tmp_path / f"{collection}.gpkg"
    run(
        "ogr2ogr", "-f", "GPKG", str(out), f"OAPIF:{base}", collection, "-spat", *DISTRICT, *PAGE
    )  # fmt: skip
    expected = api_features(base, collection)
    info = pyogrio.read_info(out, layer=collection)
    assert info["features"] == len(expected) > 0
    dtypes = dict(zip(info["fields"], info["dtypes"], strict=True))
    df = pyogrio.read_dataframe(out, layer=collection)
    col = build_registry().get(collection)
    for p in col.properties:
        if p.type == "number":
            assert dtypes[p.name] == "float64", (p.name, dtypes[p.name])
            api_sum = sum(f["properties"][p.name] or 0.0 for f in expected)
            assert df[p.name].fillna(0).sum() == pytest.approx(api_sum, abs=0.01), p.name
        elif p.type == "integer":
            assert dtypes[p.name] in ("int32", "int64"), (p.name, dtypes[p.name])
        elif p.type == "boolean":
            assert dtypes[p.name] == "bool", (p.name, dtypes[p.name])
        else:
            assert dtypes[p.name] == "object", (p.name, dtypes[p.name])
    if "code" in df:
        assert sorted(df["code"]) == sorted(f["properties"]["code"] for f in expected)
    assert df.geometry.is_valid.all()


def test_where_is_evaluated_by_the_server(demo_server, tmp_path):
    base, log = demo_server
    out = tmp_path / "collective.gpkg"
    expected = api_features(base, "parcels", filter="category = 'collective'")
    before = log.read_text().count("\n")
    run(
        "ogr2ogr", "-f", "GPKG", str(out), f"OAPIF:{base}", "parcels",
        "-where", "category = 'collective'", *PAGE,
    )  # fmt: skip
    df = pyogrio.read_dataframe(out, layer="parcels")
    assert len(df) == len(expected) > 0 and set(df["category"]) == {"collective"}
    requests = [
        unquote_plus(line)
        for line in log.read_text().splitlines()[before:]
        if '"GET /collections/parcels/items?' in line
    ]
    filtered = [r for r in requests if "filter=category = 'collective'" in r]
    # Every page of features GDAL read carried the filter, as CQL2 text ("cql-text" is the
    # draft name GDAL 3.6 sends), 1,000 a page: the pages of the filtered set only.
    assert len(filtered) == -(-len(expected) // 1000)
    assert all("filter-lang=cql-text" in r for r in filtered)
    # The one other request is GDAL's look at a first page while it sets up the layer.
    assert len(requests) - len(filtered) == 1


def test_gdal_parsed_geometry_matches_the_stored_parcels(server, tmp_path):
    """GDAL's own geometry, not our area_m2 attribute: reprojected back to EPSG:4547 it has
    the parcel areas the fixture was built with, and its CRS84 vertices are pyproj's."""
    import geopandas as gpd
    import httpx
    import numpy as np
    import shapely
    from pyproj import Transformer

    out = tmp_path / "parcels.gpkg"
    run("ogr2ogr", "-f", "GPKG", str(out), f"OAPIF:{server}", "parcels", *PAGE)
    got = gpd.read_file(out, layer="parcels").set_index("code")
    assert got.crs.to_epsg() == 4326  # OAPIF output is CRS84: lon/lat order
    expected = {r["code"]: r["geometry"] for r in layers_data.parcel_rows()}
    assert set(got.index) == set(expected)
    back = got.to_crs(4547)
    areas = back.area
    # Geographic output has 9 decimals: rounding moves a vertex by at most 0.5e-9° per axis,
    # under 0.08 mm at 22.7°N, so an area moves by at most perimeter × 0.08 mm.
    shift_m = 0.5e-9 * 111_000 * 2**0.5
    for code, geom in expected.items():
        assert areas[code] == pytest.approx(geom.area, abs=geom.length * shift_m), code
        assert shapely.symmetric_difference(back.geometry[code], geom).area < geom.length * shift_m
    # every vertex GDAL parsed equals pyproj's EPSG:4547 → CRS84 transform to 1e-8°
    to_crs84 = Transformer.from_crs(4547, "OGC:CRS84", always_xy=True)
    for code in ("P1-000", "P1-099", "P2-004"):
        ring = shapely.get_coordinates(expected[code])
        lon, lat = to_crs84.transform(ring[:, 0], ring[:, 1])
        parsed = shapely.get_coordinates(got.geometry[code])
        np.testing.assert_allclose(parsed, np.column_stack([lon, lat]), rtol=0, atol=1e-8)
    # and the EPSG:4490 output (latitude first, EPSG axis order) to 1e-8° as well
    to_4490 = Transformer.from_crs(4547, 4490, always_xy=True)
    body = httpx.get(
        f"{server}/collections/parcels/items",
        params={"filter": "code = 'P1-099'", "crs": "http://www.opengis.net/def/crs/EPSG/0/4490"},
        timeout=30,
    ).json()
    (ring,) = body["features"][0]["geometry"]["coordinates"][0]
    xy = shapely.get_coordinates(expected["P1-099"])
    lon, lat = to_4490.transform(xy[:, 0], xy[:, 1])
    np.testing.assert_allclose(np.array(ring), np.column_stack([lat, lon]), rtol=0, atol=1e-8)
