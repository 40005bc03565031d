"""Vector tiles decoded with mapbox-vector-tile and checked against the database."""

from __future__ import annotations

import gzip
import threading
import time

import layers_data
import mapbox_vector_tile
import morecantile
import pytest
from fastapi.testclient import TestClient
from psycopg import sql
from pyproj import Transformer
from sqlalchemy import text

from api.app import create_app
from spatial import datasets
from spatial.layers.cql2 import compile_filter
from spatial.layers.features import ItemsQuery, count_items, items_json
from spatial.layers.registry import Collection, Prop
from spatial.layers.tiles import TileAddress, render_tile
from spatial.models import Layer

small_db = layers_data.small_db
small_client = layers_data.small_client
X0, Y0 = layers_data.X0, layers_data.Y0
WMQ = morecantile.tms.get("WebMercatorQuad")


def tile_of(easting: float, northing: float, z: int) -> morecantile.Tile:
    lon, lat = Transformer.from_crs(4547, 4326, always_xy=True).transform(easting, northing)
    return WMQ.tile(lon, lat, z)


P1_CENTRE_Z14 = tile_of(X0 + 500, Y0 + 500, 14)


def url(collection: str, t: morecantile.Tile) -> str:
    return f"/tiles/{collection}/{t.z}/{t.x}/{t.y}.pbf"


def decode(content: bytes) -> dict:
    return mapbox_vector_tile.decode(content)


def db_count_in_tile(engine, relation: str, t: morecantile.Tile, min_size: float = 0) -> int:  # noqa: ANN001
    b = WMQ.xy_bounds(t)
    buf = (b.right - b.left) / 4096 * 64
    with engine.connect() as conn:
        return conn.execute(
            text(
                f"SELECT count(*) FROM {relation} "
                "WHERE geom_3857 && ST_Expand(ST_MakeEnvelope(:a, :b, :c, :d, 3857), :buf) "
                "AND greatest(ST_XMax(geom_3857) - ST_XMin(geom_3857), "
                "ST_YMax(geom_3857) - ST_YMin(geom_3857)) >= :m"
            ),
            {"a": b.left, "b": b.bottom, "c": b.right, "d": b.top, "buf": buf, "m": min_size},
        ).scalar_one()


def test_parcel_tile_features_and_attributes_match_database(small_client, small_db):
    r = small_client.get(url("parcels", P1_CENTRE_Z14))
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    layer = decode(r.content)["parcels"]
    expected = db_count_in_tile(small_db.engine, "current_parcels", P1_CENTRE_Z14)
    assert expected >= 50
    assert len(layer["features"]) == expected
    props = {f["properties"]["code"]: f["properties"] for f in layer["features"]}
    with small_db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT p.code, p.category::text, c.label_zh, ST_Area(p.geom) "
                "FROM current_parcels p JOIN ownership_categories c ON c.code = p.category"
            )
        ).all()
    for code, category, label_zh, area in rows:
        if code in props:
            assert props[code]["category"] == category
            assert props[code]["project_code"] == "P1"
            # The popup fetches the full feature by the id carried in the tile.
            full = small_client.get(f"/collections/parcels/items/{props[code]['id']}").json()
            assert full["properties"]["code"] == code
            assert full["properties"]["category_zh"] == label_zh
            assert full["properties"]["area_m2"] == pytest.approx(area, abs=0.01)
    assert set(props["P1-000"]) == {"id", "code", "category", "project_code"}
    assert props["P1-002"]["category"] == "incomplete_acquisition"


def test_review_attributes_in_retained_land_and_analysis_tiles(small_client):
    site = decode(small_client.get(url("retained_land", P1_CENTRE_Z14)).content)
    (r1,) = [f["properties"] for f in site["retained_land"]["features"]]
    assert (r1["code"], r1["route"], r1["route_zh"]) == ("R1", "city", "报市规划国土部门")
    assert (r1["reserve_m2"], r1["uncovered_m2"], r1["conflict_count"]) == (4000.0, 10000.0, 1)
    conflicts = decode(small_client.get(url("conflicts", P1_CENTRE_Z14)).content)["conflicts"]
    assert [f["properties"]["reason_zh"] for f in conflicts["features"]] == ["需调整法定图则"]
    p2 = tile_of(X0 + 2050, Y0 + 50, 14)
    overlaps = decode(small_client.get(url("reserve_overlaps", p2)).content)["reserve_overlaps"]
    routes = {
        f["properties"]["site_code"]: f["properties"]["route_zh"] for f in overlaps["features"]
    }
    assert routes["R2"] == "区政府审批"


def test_low_zoom_drops_features_below_a_pixel(small_client, small_db):
    z10 = tile_of(X0 + 500, Y0 + 500, 10)
    pixel = (WMQ.xy_bounds(z10).right - WMQ.xy_bounds(z10).left) / 256
    assert 110 < pixel < 200  # R2 (100 m) is smaller, R1 (300 m) larger
    layer = decode(small_client.get(url("retained_land", z10)).content)["retained_land"]
    codes = sorted(f["properties"]["code"] for f in layer["features"])
    assert codes == ["R1"]
    assert len(codes) == db_count_in_tile(small_db.engine, "current_retained_land", z10, pixel)


def test_low_zoom_parcels_are_a_category_overview(small_client, small_db):
    """At z10 the 100 m parcels are under a pixel: the tile counts them per category instead."""
    z10 = tile_of(X0 + 500, Y0 + 500, 10)
    layer = decode(small_client.get(url("parcels", z10)).content)["parcels"]
    props = [f["properties"] for f in layer["features"]]
    assert all(set(p) == {"category", "n", "area_m2"} for p in props)
    assert sum(p["n"] for p in props) == db_count_in_tile(small_db.engine, "current_parcels", z10)
    assert sum(p["n"] for p in props) == 105
    assert sum(p["area_m2"] for p in props) == pytest.approx(100 * 10_000 + 5 * 40_000)
    assert {p["category"] for p in props} <= set(layers_data.CATEGORIES)
    # from z14 the tiles hold the parcels themselves
    z14 = decode(small_client.get(url("parcels", P1_CENTRE_Z14)).content)["parcels"]
    assert all(f["properties"]["code"].startswith("P1-") for f in z14["features"])


def test_gzip_etag_and_cache_headers(small_client):
    u = url("parcels", P1_CENTRE_Z14)
    plain = small_client.get(u, headers={"Accept-Encoding": "identity"})
    zipped = small_client.get(u, headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in plain.headers
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == plain.content  # httpx decompresses transparently
    assert int(zipped.headers["content-length"]) < len(plain.content)
    # the bytes on the wire are a gzip stream of exactly the plain tile
    with small_client.stream("GET", u, headers={"Accept-Encoding": "gzip"}) as raw:
        wire = b"".join(raw.iter_raw())
    assert wire[:2] == b"\x1f\x8b" and len(wire) == int(zipped.headers["content-length"])
    assert gzip.decompress(wire) == plain.content
    assert plain.headers["etag"] == zipped.headers["etag"]
    assert "max-age" in plain.headers["cache-control"]
    assert plain.headers["vary"] == "Accept-Encoding"
    again = small_client.get(u, headers={"If-None-Match": plain.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


def test_empty_tiles_are_always_204(small_client):
    far = morecantile.Tile(0, 0, 14)
    for _ in range(2):  # a miss, then a cache hit
        r = small_client.get(url("parcels", far))
        assert r.status_code == 204 and r.content == b""
    # a low-zoom tile far from the district: the overview path finds nothing either
    assert small_client.get("/tiles/parcels/3/0/0.pbf").status_code == 204


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/tiles/parcels/a/0/0.pbf", 400),
        ("/tiles/parcels/1/x/0.pbf", 400),
        ("/tiles/parcels/-1/0/0.pbf", 400),
        ("/tiles/parcels/1.5/0/0.pbf", 400),
        ("/tiles/parcels/23/0/0.pbf", 404),
        ("/tiles/parcels/99999999999/0/0.pbf", 400),
        ("/tiles/parcels/3/8/0.pbf", 404),
        ("/tiles/parcels/3/0/8.pbf", 404),
        ("/tiles/nope/1/0/0.pbf", 404),
        ("/tiles/parcels;drop/1/0/0.pbf", 404),
        ("/tiles/nope.json", 404),
    ],
)
def test_invalid_tile_addresses(small_client, path, status):
    assert small_client.get(path).status_code == status


def test_tilejson(small_client):
    tj = small_client.get("/tiles/parcels.json").json()
    assert tj["tilejson"] == "3.0.0"
    assert tj["tiles"][0].endswith("/tiles/parcels/{z}/{x}/{y}.pbf")
    assert tj["vector_layers"][0]["id"] == "parcels"
    assert (
        tj["vector_layers"][0]["fields"]["category"]
        == "权属类型代码 Ownership category code (string)"
    )
    assert 113.9 < tj["bounds"][0] < 114.1


def test_chinese_and_hyphenated_column_names(small_db):
    """RELIABILITY 20: identifiers with Chinese letters and hyphens are quoted everywhere."""
    with small_db.engine.begin() as conn:
        conn.execute(
            text(
                'CREATE VIEW "测试-图层" AS SELECT id, code AS "宗地-编号", '
                'owner AS "权利人", geom, geom_3857 FROM current_parcels'
            )
        )
    col = Collection(
        id="test_zh",
        title_zh="测试",
        title_en="Test",
        relation="测试-图层",
        id_column="id",
        properties=(
            Prop("宗地-编号", "string", "宗地编号", "Parcel code"),
            Prop("权利人", "string", "权利人", "Owner"),
        ),
        depends_on=(Layer.parcels.value,),
        tile_properties=("宗地-编号", "权利人"),
    )
    try:
        q = ItemsQuery(cql_filter="\"宗地-编号\" = 'P1-001' AND 权利人 LIKE '凤凰%'")
        assert count_items(small_db.engine, col, q) == 1
        body, n = items_json(small_db.engine, col, q, 1, [])
        assert n == 1 and '"宗地-编号" : "P1-001"' in body and "凤凰社区股份合作公司" in body
        t = P1_CENTRE_Z14
        tile = render_tile(small_db.engine, col, TileAddress(t.z, t.x, t.y))
        feats = decode(tile.data)["test_zh"]["features"]
        assert len(feats) == db_count_in_tile(small_db.engine, "current_parcels", t)
        assert {f["properties"]["宗地-编号"] for f in feats} >= {"P1-000", "P1-001"}
        with pytest.raises(Exception, match="not a queryable"):
            compile_filter("宗地 = 'x'", col)
    finally:
        with small_db.engine.begin() as conn:
            conn.execute(text('DROP VIEW "测试-图层"'))


def test_bad_geometry_rows_do_not_break_tiles_or_features(db):
    """RELIABILITY 17: NaN, EMPTY and out-of-range rows are skipped; the rest still render."""
    layers_data.load_layer(db.engine, Layer.parcels, layers_data.parcel_rows())
    with db.engine.begin() as conn:
        ds = conn.execute(text("SELECT max(dataset_id) FROM parcels")).scalar_one()
        for code, wkt in [
            ("BAD-NAN", f"MULTIPOLYGON((({X0} {Y0}, NaN {Y0}, {X0 + 50} {Y0 + 50}, {X0} {Y0})))"),
            ("BAD-EMPTY", "MULTIPOLYGON EMPTY"),
            ("BAD-FAR", "MULTIPOLYGON(((5e12 0, 5e12 1, 5.1e12 1, 5e12 0)))"),
            (
                "BAD-BOWTIE",
                f"MULTIPOLYGON((({X0} {Y0}, {X0 + 90} {Y0 + 90}, {X0 + 90} {Y0}, "
                f"{X0} {Y0 + 90}, {X0} {Y0})))",
            ),
        ]:
            conn.execute(
                text(
                    "INSERT INTO parcels (dataset_id, code, category, geom) "
                    "VALUES (:ds, :code, 'collective', ST_GeomFromText(:wkt, 4547))"
                ),
                {"ds": ds, "code": code, "wkt": wkt},
            )
    app = create_app(db_settings=db.settings)
    with TestClient(app) as client:
        r = client.get(url("parcels", P1_CENTRE_Z14))
        assert r.status_code == 200
        codes = {f["properties"]["code"] for f in decode(r.content)["parcels"]["features"]}
        assert {"P1-000", "P1-001", "BAD-BOWTIE"} <= codes
        assert not codes & {"BAD-NAN", "BAD-EMPTY", "BAD-FAR"}
        # Below z13 parcels are a category overview (a z0 pixel is 156 km, a z5 pixel 4.9 km,
        # the largest parcel 200 m): over the district it counts the parcels with a geometry
        # (not a 500 from the bad rows); the z14 tile at the map's origin is empty.
        for z, x, y in [(0, 0, 0), (5, 26, 13)]:
            r = client.get(f"/tiles/parcels/{z}/{x}/{y}.pbf")
            assert r.status_code == 200, z
            props = [f["properties"] for f in decode(r.content)["parcels"]["features"]]
            assert all(set(p) == {"category", "n", "area_m2"} for p in props), z
            # the 105 parcels and the bow-tie (whose two lobes' signed areas cancel); the NaN,
            # EMPTY and far rows are not counted
            assert sum(p["n"] for p in props) == 105 + 1, z
            assert sum(p["area_m2"] for p in props) == pytest.approx(100 * 10_000 + 5 * 40_000)
        assert client.get("/tiles/parcels/14/0/0.pbf").status_code == 204
        feats = client.get("/collections/parcels/items", params={"filter": "code LIKE 'BAD%'"})
        assert feats.status_code == 200
        by_code = {f["properties"]["code"]: f for f in feats.json()["features"]}
        assert by_code["BAD-NAN"]["geometry"] is None
        assert by_code["BAD-EMPTY"]["geometry"] is None
        assert by_code["BAD-FAR"]["geometry"] is None
        assert by_code["BAD-BOWTIE"]["geometry"]["type"] == "MultiPolygon"
        assert client.get("/collections/parcels").status_code == 200
        assert client.get("/map").status_code == 200


def _wait_for_generation(cache, before: int) -> None:  # noqa: ANN001
    """Wait for the NOTIFY listener to deliver a change (an event, not a timing assertion)."""
    done = threading.Event()
    for _ in range(200):
        if cache.generation > before:
            done.set()
            break
        time.sleep(0.05)
    assert done.is_set(), "no dataset change notification arrived"


def test_tile_cache_is_invalidated_exactly_when_a_dataset_changes(db):
    layers_data.load_small(db.engine)
    u = url("parcels", P1_CENTRE_Z14)
    with TestClient(create_app(db_settings=db.settings)) as client:
        cache = client.app.state.tiles.cache
        assert cache.listening
        first = client.get(u)
        assert first.headers["x-tile-cache"] == "miss"
        assert client.get(u).headers["x-tile-cache"] == "hit"
        plan = client.get(url("statutory_plans", P1_CENTRE_Z14))
        assert client.get(url("statutory_plans", P1_CENTRE_Z14)).headers["x-tile-cache"] == "hit"

        # Another layer changes: parcel tiles stay cached, statutory plan tiles do not.
        gen = cache.generation
        zones = [dict(z, land_use_class="R2") for z in layers_data.LAYERS[Layer.statutory_plans]]
        layers_data.load_layer(db.engine, Layer.statutory_plans, zones)
        _wait_for_generation(cache, gen)
        still = client.get(u)
        assert still.headers["x-tile-cache"] == "hit"
        assert still.headers["etag"] == first.headers["etag"]
        replot = client.get(url("statutory_plans", P1_CENTRE_Z14))
        assert replot.headers["x-tile-cache"] == "miss"
        assert replot.headers["etag"] != plan.headers["etag"]

        # The parcel layer is replaced by 10 parcels: the next tile is rebuilt from them.
        gen = cache.generation
        layers_data.load_layer(db.engine, Layer.parcels, layers_data.parcel_rows()[:10])
        _wait_for_generation(cache, gen)
        fresh = client.get(u)
        assert fresh.headers["x-tile-cache"] == "miss"
        assert fresh.headers["etag"] != first.headers["etag"]
        assert len(decode(fresh.content)["parcels"]["features"]) == 10
        assert client.get(u).headers["x-tile-cache"] == "hit"

        # Restoring the old version (a status flip and re-attaching its partition, no new rows)
        # also invalidates.
        gen = cache.generation
        with db.engine.connect() as conn:
            old_id = conn.execute(
                text("SELECT min(id) FROM datasets WHERE layer = 'parcels'")
            ).scalar_one()
        datasets.restore(db.engine, old_id)
        _wait_for_generation(cache, gen)
        back = client.get(u)
        assert back.headers["x-tile-cache"] == "miss"
        assert back.headers["etag"] == first.headers["etag"]

        # Without the listener nothing is served from the cache.
        client.app.state.tiles.listener.stop()
        assert client.get(u).headers["x-tile-cache"] == "miss"


def test_identifiers_in_tile_sql_are_quoted(small_db):
    from spatial.layers.features import raw_connection
    from spatial.layers.registry import build_registry
    from spatial.layers.tiles import tile_statement

    col = build_registry().get("parcels")
    stmt = tile_statement(col)
    assert isinstance(stmt, sql.Composed)
    assert stmt is tile_statement(col)  # one fixed text per collection (prepared once)
    with raw_connection(small_db.engine) as conn:
        text_sql = stmt.as_string(conn)
    # the relation, the id column and every tile property are quoted identifiers
    assert 'FROM "current_parcels" t' in text_sql
    assert 't."id"::bigint AS fid' in text_sql
    for name in col.tile_properties:
        assert f'AS "{name}"' in text_sql, name
    # values are bound, never formatted: the tile envelope is seven placeholders
    assert text_sql.count("%s") == 7
