"""The parcel overview (migration 0014): counted when parcels are loaded, or in SQL at commit
for parcels written another way, and what the low-zoom parcel tiles show from it."""

from __future__ import annotations

import mapbox_vector_tile
import morecantile
import pytest
from sqlalchemy import Engine, text

from data.demo import generate, load_into_db
from spatial import datasets
from spatial.layers.overview import CELLS_PER_TILE, stored_level
from spatial.layers.registry import build_registry
from spatial.layers.tiles import TileAddress, render_tile

WMQ = morecantile.tms.get("WebMercatorQuad")


def rows(engine: Engine, ds: int) -> dict[tuple, tuple]:
    with engine.connect() as conn:
        got = conn.execute(
            text(
                "SELECT level, cx, cy, category::text, n, area_m2 FROM parcel_overview "
                "WHERE dataset_id = :d"
            ),
            {"d": ds},
        ).all()
    return {tuple(r[:4]): (r[4], r[5]) for r in got}


def parcels_dataset(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT id FROM datasets WHERE layer = 'parcels' AND status = 'active'")
        ).scalar_one()


def test_counts_written_by_the_load_equal_the_sql_count(db):
    load_into_db(generate(), db.engine)
    ds = parcels_dataset(db.engine)
    loaded = rows(db.engine, ds)
    with db.engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM current_parcels")).scalar_one()
        area = conn.execute(text("SELECT sum(ST_Area(geom)) FROM current_parcels")).scalar_one()
    for lvl in (11, 9):
        assert sum(v[0] for k, v in loaded.items() if k[0] == lvl) == n == 3548
        assert sum(v[1] for k, v in loaded.items() if k[0] == lvl) == pytest.approx(area)
    # the same counts in SQL (what parcels written with SQL get at commit)
    with db.engine.connect() as conn:
        conn.execute(text("SELECT tz_parcel_overview_build(:d)"), {"d": ds})
        counted = {
            tuple(r[:4]): (r[4], r[5])
            for r in conn.execute(
                text(
                    "SELECT level, cx, cy, category::text, n, area_m2 FROM parcel_overview "
                    "WHERE dataset_id = :d"
                ),
                {"d": ds},
            )
        }
        conn.rollback()
    assert counted.keys() == loaded.keys()
    for k, (cn, ca) in counted.items():
        assert loaded[k][0] == cn and loaded[k][1] == pytest.approx(ca, abs=1e-6)


def test_parcels_written_with_sql_are_counted_at_commit_and_after_edits(db):
    with db.engine.begin() as conn:
        ds = conn.execute(
            text(
                "INSERT INTO datasets (layer, status, file_name, uploaded_by) "
                "VALUES ('parcels', 'staging', 'sql', 't') RETURNING id"
            )
        ).scalar_one()
        conn.execute(text("SELECT tz_parcels_partition(:d)"), {"d": ds})
        conn.execute(
            text(
                "INSERT INTO parcels (dataset_id, code, category, geom) "
                "SELECT :d, 'S-' || i, 'collective', ST_Multi(ST_MakeEnvelope("
                "500000 + 50 * i, 2500000, 500050 + 50 * i, 2500050, 4547)) "
                "FROM generate_series(0, 9) i"
            ),
            {"d": ds},
        )
        assert rows(db.engine, ds) == {}  # nothing is counted for a staging dataset
        conn.execute(text("UPDATE datasets SET status = 'active' WHERE id = :d"), {"d": ds})
    counted = rows(db.engine, ds)
    assert sum(v[0] for k, v in counted.items() if k[0] == 11) == 10
    assert {k[3] for k in counted} == {"collective"}
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE parcels SET category = 'state_farm' WHERE code = 'S-0'"))
    counted = rows(db.engine, ds)
    assert sum(v[0] for k, v in counted.items() if k[0] == 11 and k[3] == "state_farm") == 1


def test_a_failed_load_leaves_no_counts(db):
    load_into_db(generate(), db.engine)
    ds = parcels_dataset(db.engine)
    with db.engine.begin() as conn:
        datasets.mark_failed(conn, ds, {"note": "test"})
    assert rows(db.engine, ds) == {}


def test_low_zoom_tiles_count_every_parcel(demo_db):
    """At z9 the demo's 200 m parcels are under two pixels: one overview tile per area, whose
    features stand for every parcel in it."""
    col = build_registry().get("parcels")
    with demo_db.engine.connect() as conn:
        lon, lat = conn.execute(
            text(
                "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Transform(ST_Centroid(ST_SetSRID("
                "ST_Extent(geom)::geometry, 4547)), 4326) AS c FROM current_parcels) x"
            )
        ).one()
    t = WMQ.tile(lon, lat, 9)
    tile = render_tile(demo_db.engine, col, TileAddress(9, t.x, t.y))
    feats = mapbox_vector_tile.decode(tile.data)["parcels"]["features"]
    per = (CELLS_PER_TILE << stored_level(9)) >> 9
    with demo_db.engine.connect() as conn:
        in_tile = conn.execute(
            text(
                "SELECT sum(n) FROM parcel_overview WHERE level = :l AND cx BETWEEN :x0 AND :x1 "
                "AND cy BETWEEN :y0 AND :y1"
            ),
            {
                "l": stored_level(9),
                "x0": t.x * per,
                "x1": (t.x + 1) * per - 1,
                "y0": t.y * per,
                "y1": (t.y + 1) * per - 1,
            },
        ).scalar_one()
        total = conn.execute(text("SELECT count(*) FROM current_parcels")).scalar_one()
    assert sum(f["properties"]["n"] for f in feats) >= in_tile > 0.5 * total
    assert {f["properties"]["category"] for f in feats} <= {
        "collective",
        "state_farm",
        "incomplete_acquisition",
        "state_owned",
    }
    assert len(tile.data) < 20_000


def test_deleted_datasets_leave_no_counts(db):
    load_into_db(generate(), db.engine)
    ds = parcels_dataset(db.engine)
    assert rows(db.engine, ds)
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM datasets WHERE id = :d"), {"d": ds})
    assert rows(db.engine, ds) == {}
    load_into_db(generate(), db.engine)
    with db.engine.begin() as conn:
        conn.execute(text("TRUNCATE datasets RESTART IDENTITY CASCADE"))
        left = conn.execute(text("SELECT count(*) FROM parcel_overview")).scalar_one()
    assert left == 0
