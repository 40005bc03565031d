"""Tile-cache invalidation through what users do (API uploads, restore, a compatibility edit),
collection by collection, and the cache's byte limit.

After each change, exactly the collections that depend on the changed layer must miss the
cache, the others must still hit, and the tiles that miss show the new data.
"""

from __future__ import annotations

import io
import threading
import time
import zipfile

import geopandas as gpd
import layers_data
import mapbox_vector_tile
import morecantile
import pytest
from fastapi.testclient import TestClient
from pyproj import Transformer
from sqlalchemy import text

from api.app import create_app
from api.settings import ApiSettings
from spatial.users import add_user

X0, Y0 = layers_data.X0, layers_data.Y0
WMQ = morecantile.tms.get("WebMercatorQuad")
COLLECTIONS = [
    "projects",
    "parcels",
    "retained_land",
    "state_reserve_land",
    "statutory_plans",
    "reserve_overlaps",
    "uncovered",
    "conflicts",
]
REVIEW = {"projects", "retained_land", "reserve_overlaps", "uncovered", "conflicts"}


def tile_at(easting: float, northing: float, z: int) -> morecantile.Tile:
    lon, lat = Transformer.from_crs(4547, 4326, always_xy=True).transform(easting, northing)
    return WMQ.tile(lon, lat, z)


P1 = tile_at(X0 + 500, Y0 + 500, 14)


def url(collection: str, t: morecantile.Tile = P1) -> str:
    return f"/tiles/{collection}/{t.z}/{t.x}/{t.y}.pbf"


def features(r) -> list[dict]:  # noqa: ANN001
    if r.status_code == 204:
        return []
    assert r.status_code == 200, r.status_code
    layer = next(iter(mapbox_vector_tile.decode(r.content).values()))
    return layer["features"]


def wait_for_change(cache, before: int) -> None:  # noqa: ANN001
    """Wait until the NOTIFY listener has delivered a change (a condition, not a timer)."""
    done = threading.Event()
    deadline = time.monotonic() + 10
    while not done.is_set():
        if cache.generation > before:
            done.set()
        assert time.monotonic() < deadline, "no dataset change notification arrived"
        done.wait(0.02)


def cache_states(client) -> dict[str, str]:  # noqa: ANN001
    return {c: client.get(url(c)).headers["x-tile-cache"] for c in COLLECTIONS}


def prime(client) -> None:  # noqa: ANN001
    for c in COLLECTIONS:
        client.get(url(c))
    assert set(cache_states(client).values()) == {"hit"}


def zip_layer(rows: list[dict], columns: dict[str, str]) -> bytes:
    """A GBK shapefile of ``rows`` (model field names renamed to surveyors' columns), zipped."""
    import tempfile
    from pathlib import Path

    gdf = gpd.GeoDataFrame(rows, geometry="geometry", crs=4547).rename(columns=columns)
    with tempfile.TemporaryDirectory() as tmp:
        shp = Path(tmp) / "layer.shp"
        gdf.to_file(shp, encoding="cp936")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for part in sorted(Path(tmp).iterdir()):
                zf.write(part, part.name)
    return buf.getvalue()


def upload(client, token: str, layer: str, data: bytes):  # noqa: ANN001, ANN201
    return client.post(
        "/uploads",
        files={"file": ("图层.zip", data, "application/zip")},
        data={"layer": layer, "crs": "EPSG:4547"},
        headers={"Authorization": f"Bearer {token}"},
    )


@pytest.fixture
def setup(db):
    layers_data.load_small(db.engine)
    with db.engine.connect() as conn:
        (parcels_v1,) = conn.execute(
            text("SELECT id FROM datasets WHERE layer = 'parcels' AND status = 'active'")
        ).one()
    tokens = {r: add_user(f"u-{r}", r, db.engine) for r in ("admin", "surveyor")}
    with TestClient(create_app(db_settings=db.settings)) as client:
        assert client.app.state.tiles.cache.listening
        yield db, client, tokens, parcels_v1


def test_each_change_misses_exactly_the_dependent_collections(setup):
    db, client, tokens, parcels_v1 = setup
    cache = client.app.state.tiles.cache
    first_parcels = client.get(url("parcels"))
    first_codes = sorted(f["properties"]["code"] for f in features(first_parcels))
    assert len(first_codes) > 50 and all(c.startswith("P1-") for c in first_codes)
    (r1,) = [f for f in features(client.get(url("retained_land"))) if f["properties"]]
    assert r1["properties"]["route"] == "city"  # S1 occupies 4,000 m² of R1
    prime(client)

    # 1. a new state reserve version by upload: S1 moves off R1 → R1 occupies nothing
    gen = cache.generation
    reserve = [{"code": "S9", "name": "新储备地", "geometry": layers_data.box(600, 600, 700, 700)}]
    r = upload(client, tokens["surveyor"], "state_reserve_land",
               zip_layer(reserve, {"code": "储备地编号", "name": "名称"}))  # fmt: skip
    assert r.status_code == 201, r.text
    wait_for_change(cache, gen)
    misses = {c for c, s in cache_states(client).items() if s == "miss"}
    assert misses == REVIEW | {"state_reserve_land"}
    assert features(client.get(url("reserve_overlaps"))) == []
    (r1,) = features(client.get(url("retained_land")))
    assert (r1["properties"]["route"], r1["properties"]["reserve_m2"]) == ("district", 0.0)
    assert [f["properties"]["code"] for f in features(client.get(url("state_reserve_land")))] == [
        "S9"
    ]
    prime(client)

    # 2. a new statutory-plan version by upload: R1 (M1) now fully in an M1 zone
    gen = cache.generation
    zones = [
        {
            "plan_code": "GM-03",
            "zone_code": "GM-03-01",
            "land_use_class": "M1",
            "geometry": layers_data.box(0, 0, 1000, 1000),
        }
    ]
    r = upload(client, tokens["surveyor"], "statutory_plans",
               zip_layer(zones, {"plan_code": "图则编号", "zone_code": "地块编号",
                                 "land_use_class": "用地性质"}))  # fmt: skip
    assert r.status_code == 201, r.text
    wait_for_change(cache, gen)
    misses = {c for c, s in cache_states(client).items() if s == "miss"}
    assert misses == REVIEW | {"statutory_plans"}
    assert features(client.get(url("uncovered"))) == []
    assert features(client.get(url("conflicts"))) == []
    prime(client)

    # 3. an edit of land_use_compatibility: M1 in M1 becomes a conflict
    gen = cache.generation
    with db.engine.begin() as conn:
        n = conn.execute(
            text(
                "UPDATE land_use_compatibility SET compatible = false "
                "WHERE planned_use = 'M1' AND zone_class = 'M1'"
            )
        ).rowcount
    assert n == 1
    wait_for_change(cache, gen)
    misses = {c for c, s in cache_states(client).items() if s == "miss"}
    assert misses == REVIEW
    assert [f["properties"]["reason_zh"] for f in features(client.get(url("conflicts")))] == [
        "需调整法定图则"
    ]
    prime(client)

    # 4. a new parcel version by upload, then the first one restored through the API
    gen = cache.generation
    new_parcels = [{"code": "N-1", "category": "集体", "geometry": layers_data.box(0, 0, 500, 500)}]
    r = upload(client, tokens["surveyor"], "parcels",
               zip_layer(new_parcels, {"code": "宗地编号", "category": "权属类型"}))  # fmt: skip
    assert r.status_code == 201, r.text
    wait_for_change(cache, gen)
    assert {c for c, s in cache_states(client).items() if s == "miss"} == {"parcels"}
    assert [f["properties"]["code"] for f in features(client.get(url("parcels")))] == ["N-1"]
    prime(client)
    gen = cache.generation
    r = client.post(
        f"/datasets/{parcels_v1}/restore", headers={"Authorization": f"Bearer {tokens['admin']}"}
    )
    assert r.status_code == 200, r.text
    wait_for_change(cache, gen)
    assert {c for c, s in cache_states(client).items() if s == "miss"} == {"parcels"}
    back = client.get(url("parcels"))
    assert back.headers["x-tile-cache"] == "hit"  # cache_states just re-rendered it
    assert back.headers["etag"] == first_parcels.headers["etag"]
    assert sorted(f["properties"]["code"] for f in features(back)) == first_codes


def test_cache_stays_under_its_byte_limit(db):
    layers_data.load_small(db.engine)
    a, b = url("parcels"), url("parcels", tile_at(X0 + 250, Y0 + 250, 15))
    with TestClient(create_app(db_settings=db.settings)) as client:
        size = {
            u: len(client.get(u, headers={"Accept-Encoding": "identity"}).content) for u in (a, b)
        }
    assert min(size.values()) > 200
    # CachedTile.size counts raw bytes twice (room for the gzip copy) plus 64: one tile fits
    limit = 2 * max(size.values()) + 64 + 100
    assert 2 * size[a] + 2 * size[b] + 128 > limit
    settings = ApiSettings(tile_cache_bytes=limit)
    with TestClient(create_app(settings, db_settings=db.settings)) as client:
        cache = client.app.state.tiles.cache
        assert client.get(a).headers["x-tile-cache"] == "miss"
        assert client.get(a).headers["x-tile-cache"] == "hit"
        assert client.get(b).headers["x-tile-cache"] == "miss"  # evicts a
        assert cache.stats()["bytes"] <= limit and cache.stats()["tiles"] == 1
        assert client.get(b).headers["x-tile-cache"] == "hit"
        assert client.get(a).headers["x-tile-cache"] == "miss"
        assert cache.stats()["bytes"] == 2 * size[a] + 64
