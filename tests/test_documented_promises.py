"""README promises: ``TUZHENG_API_PUBLIC_READ=false`` with tokens, and ``tz_parcels_partition``
for anyone writing parcels with plain SQL."""

from __future__ import annotations

import layers_data
import mapbox_vector_tile
import morecantile
import psycopg
import pytest
from fastapi.testclient import TestClient
from pyproj import Transformer
from sqlalchemy import text

from api.app import create_app
from spatial.analysis import area_ledger
from spatial.users import add_user

small_db = layers_data.small_db
TILE = "/tiles/parcels/14/13380/7131.pbf"
READS = [
    "/collections",
    "/collections/parcels",
    "/collections/parcels/items?limit=5",
    "/collections/parcels/queryables",
    "/tiles/parcels.json",
    TILE,
    "/map",
]


def _same(body: dict) -> dict:
    """A response body without its time stamp."""
    return {k: v for k, v in body.items() if k != "timeStamp"}


def test_public_read_false_needs_a_reader_token(small_db, monkeypatch):
    roles = ("planner", "analyst", "surveyor", "admin")
    tokens = {r: add_user(f"pr-{r}", r, small_db.engine) for r in roles}
    with TestClient(create_app(db_settings=small_db.settings)) as open_client:
        public = {u: open_client.get(u) for u in READS}
    assert {u: r.status_code for u, r in public.items()} == {u: 200 for u in READS}
    monkeypatch.setenv("TUZHENG_API_PUBLIC_READ", "false")
    with TestClient(create_app(db_settings=small_db.settings)) as client:
        assert client.app.state.settings.public_read is False
        for u in READS:
            r = client.get(u)
            assert r.status_code == 401, u
            assert r.headers["www-authenticate"] == "Bearer", u
            assert client.get(u, headers={"Authorization": "Bearer tz_nope"}).status_code == 401
        for role, token in tokens.items():
            for u in READS:
                r = client.get(u, headers={"Authorization": f"Bearer {token}"})
                assert r.status_code == 200, (role, u, r.text[:200])
                if u == TILE:
                    assert r.content == public[u].content, role
                elif u != "/map":
                    assert _same(r.json()) == _same(public[u].json()), (role, u)
        # a protected tile never comes from the public fast path's cache
        auth = {"Authorization": f"Bearer {tokens['planner']}"}
        assert client.get(TILE).status_code == 401
        assert client.get(TILE, headers=auth).status_code == 200


def test_plain_sql_writers_create_the_partition_first(db):
    with db.engine.begin() as conn:
        ds = conn.execute(
            text(
                "INSERT INTO datasets (layer, status, file_name, uploaded_by) "
                "VALUES ('parcels', 'staging', 'sql-import', 'dba') RETURNING id"
            )  # fmt: skip
        ).scalar_one()
    insert = text(
        "INSERT INTO parcels (dataset_id, code, category, owner, geom) VALUES (:d, :c, "
        "'collective', '王喆', ST_Multi(ST_MakeEnvelope(500000, 2510000, 500100, 2510050, 4547)))"
    )
    # without the partition there is nowhere to put the row (no default partition, by design)
    with pytest.raises(Exception, match="no partition of relation"):
        with db.engine.begin() as conn:
            conn.execute(insert, {"d": ds, "c": "SQL-1"})
    with db.engine.begin() as conn:
        part = conn.execute(text("SELECT tz_parcels_partition(:d)::text"), {"d": ds}).scalar_one()
        assert part == f"parcels_ds_{ds}"
        again = conn.execute(text("SELECT tz_parcels_partition(:d)::text"), {"d": ds}).scalar_one()
        assert again == part  # idempotent
        conn.execute(insert, {"d": ds, "c": "SQL-1"})
    with pytest.raises(Exception) as dup:  # the layer's unique key holds in the new partition
        with db.engine.begin() as conn:
            conn.execute(insert, {"d": ds, "c": "SQL-1"})
    assert isinstance(dup.value.orig, psycopg.errors.UniqueViolation)
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM current_parcels")).scalar_one() == 0
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE datasets SET status = 'active' WHERE id = :d"), {"d": ds})
        code, owner, area, has_3857 = conn.execute(
            text("SELECT code, owner, ST_Area(geom), geom_3857 IS NOT NULL FROM current_parcels")
        ).one()
    assert (code, owner, area, has_3857) == ("SQL-1", "王喆", 5000.0, True)
    assert area_ledger(db.engine).line("collective").planar_m2 == pytest.approx(5000.0, abs=0.01)
    with TestClient(create_app(db_settings=db.settings)) as client:
        r = client.get("/collections/parcels/items")
        assert [f["properties"]["code"] for f in r.json()["features"]] == ["SQL-1"]
        lon, lat = Transformer.from_crs(4547, 4326, always_xy=True).transform(500050, 2510025)
        tile = morecantile.tms.get("WebMercatorQuad").tile(lon, lat, 16)
        t = client.get(f"/tiles/parcels/16/{tile.x}/{tile.y}.pbf")
        assert t.status_code == 200
        feats = mapbox_vector_tile.decode(t.content)["parcels"]["features"]
        assert [f["properties"]["code"] for f in feats] == ["SQL-1"]
