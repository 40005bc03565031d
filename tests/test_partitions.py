"""Parcels partitioned by dataset (migration 0004): bulk staging, attach, rollback, migration."""

from __future__ import annotations

import uuid

import geopandas as gpd
import pytest
import shapely
from alembic import command
from conftest import _drop, _make_db
from psycopg.errors import UniqueViolation
from sqlalchemy import text

from spatial import datasets, migrate
from spatial.models import Layer

X0, Y0 = 500_000.0, 2_500_000.0


def _parcels(codes: list[str]) -> gpd.GeoDataFrame:
    boxes = [shapely.box(X0 + 100 * i, Y0, X0 + 100 * i + 50, Y0 + 40) for i in range(len(codes))]
    return gpd.GeoDataFrame(
        {
            "code": codes,
            "category": ["collective"] * len(codes),
            "project_code": ["P1"] * len(codes),
            "owner": ["玉塘股份合作公司"] * len(codes),
        },
        geometry=gpd.GeoSeries(boxes).apply(lambda g: shapely.MultiPolygon([g])),
        crs=4547,
    )


def _indexes(conn, table: str) -> dict[str, str]:  # noqa: ANN001
    rows = conn.execute(
        text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = :t"), {"t": table}
    ).all()
    return dict(rows)


def test_bulk_load_stages_indexes_and_attaches_a_partition(db):
    with db.engine.begin() as conn:
        ds = datasets.new_dataset(conn, Layer.parcels, "宗地.shp", "tester")
        assert datasets.copy_rows(conn, Layer.parcels, ds, _parcels(["Z-1", "Z-2", "Z-3"])) == 3
        part = f"parcels_ds_{ds}"
        # staged: a table of its own, indexed, not yet part of the layer
        attached = conn.execute(
            text("SELECT count(*) FROM pg_inherits WHERE inhrelid = to_regclass(:p)"), {"p": part}
        ).scalar_one()
        assert attached == 0
        assert conn.execute(text("SELECT count(*) FROM parcels")).scalar_one() == 0
        datasets.publish(conn, Layer.parcels, ds)
    with db.engine.connect() as conn:
        parent = conn.execute(
            text(
                "SELECT inhparent::regclass::text FROM pg_inherits WHERE inhrelid = to_regclass(:p)"
            ),
            {"p": part},
        ).scalar_one()
        assert parent == "parcels"
        idx = _indexes(conn, part)
        assert "USING gist (geom)" in idx[f"{part}_geom"]
        assert "USING gist (geom_3857)" in idx[f"{part}_geom_3857"]
        assert "(dataset_id, code)" in idx[f"{part}_key"]
        # the partition's indexes were adopted by the parent's partitioned indexes
        adopted = conn.execute(
            text(
                "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE c.relname LIKE :p AND c.relkind = 'i'"
            ),
            {"p": f"{part}_%"},
        ).scalar_one()
        assert adopted == 5
        rows = conn.execute(
            text(
                "SELECT code, owner, round(ST_Area(geom)::numeric, 2), geom_3857 IS NOT NULL "
                "FROM current_parcels ORDER BY code"
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("Z-1", "玉塘股份合作公司", 2000, True),
        ("Z-2", "玉塘股份合作公司", 2000, True),
        ("Z-3", "玉塘股份合作公司", 2000, True),
    ]


def test_rolled_back_load_leaves_no_partition_behind(db):
    conn = db.engine.connect()
    trans = conn.begin()
    ds = datasets.new_dataset(conn, Layer.parcels, "宗地.shp", "tester")
    datasets.copy_rows(conn, Layer.parcels, ds, _parcels(["A", "B"]))
    trans.rollback()
    conn.close()
    with db.engine.connect() as conn:
        assert (
            conn.execute(text("SELECT to_regclass(:p)"), {"p": f"parcels_ds_{ds}"}).scalar() is None
        )
        assert conn.execute(text("SELECT count(*) FROM parcels")).scalar_one() == 0


def test_duplicate_codes_fail_the_bulk_index_build(db):
    with pytest.raises(UniqueViolation, match="parcels_ds_.*_key"):
        with db.engine.begin() as conn:
            ds = datasets.new_dataset(conn, Layer.parcels, "宗地.shp", "tester")
            datasets.copy_rows(conn, Layer.parcels, ds, _parcels(["A", "A"]))
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM parcels")).scalar_one() == 0


def _count(conn, table: str) -> int:  # noqa: ANN001
    return conn.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one()


def _plan(conn) -> str:  # noqa: ANN001
    return "\n".join(conn.execute(text("EXPLAIN SELECT code FROM current_parcels")).scalars().all())


def test_replace_keeps_old_partition_and_failed_dataset_drops_its_rows(db):
    ids = []
    for codes in (["A", "B"], ["C"]):
        with db.engine.begin() as conn:
            ds = datasets.new_dataset(conn, Layer.parcels, "宗地.shp", "tester")
            datasets.copy_rows(conn, Layer.parcels, ds, _parcels(codes))
            datasets.publish(conn, Layer.parcels, ds)
            ids.append(ds)
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT code FROM current_parcels")).scalars().all() == ["C"]
        # the superseded version is kept, detached: the layer holds the active one only
        assert _count(conn, "parcels") == 1
        assert _count(conn, f"parcels_ds_{ids[0]}") == 2
    datasets.restore(db.engine, ids[0])
    with db.engine.begin() as conn:
        assert sorted(conn.execute(text("SELECT code FROM current_parcels")).scalars()) == [
            "A",
            "B",
        ]
        datasets.mark_failed(conn, ids[0], {"why": "test"})
    with db.engine.connect() as conn:
        assert _count(conn, "parcels") == 0
        # the attached partition stays (dropping it would lock the layer); its rows are gone
        assert conn.execute(text("SELECT to_regclass(:p)"), {"p": f"parcels_ds_{ids[0]}"}).scalar()


def test_current_parcels_reads_only_the_active_partition(db):
    """Superseded versions are detached: EXPLAIN shows the active partition alone."""
    ids = []
    for codes in (["A", "B"], ["C"], ["D", "E", "F"]):
        with db.engine.begin() as conn:
            ds = datasets.new_dataset(conn, Layer.parcels, "宗地.shp", "tester")
            datasets.copy_rows(conn, Layer.parcels, ds, _parcels(codes))
            datasets.publish(conn, Layer.parcels, ds)
            ids.append(ds)
    with db.engine.connect() as conn:
        plan = _plan(conn)
        assert f"parcels_ds_{ids[2]}" in plan, plan
        assert f"parcels_ds_{ids[0]}" not in plan and f"parcels_ds_{ids[1]}" not in plan, plan
        assert sorted(conn.execute(text("SELECT code FROM current_parcels")).scalars()) == [
            "D",
            "E",
            "F",
        ]
        # every old version can still be read, from its own table
        assert [_count(conn, f"parcels_ds_{i}") for i in ids] == [2, 1, 3]
    datasets.restore(db.engine, ids[1])  # restore attaches the old version again
    with db.engine.connect() as conn:
        plan = _plan(conn)
        assert f"parcels_ds_{ids[1]}" in plan and f"parcels_ds_{ids[2]}" not in plan, plan
        assert conn.execute(text("SELECT code FROM current_parcels")).scalars().all() == ["C"]
    # append keeps both versions active, and both attached
    with db.engine.begin() as conn:
        ds = datasets.new_dataset(conn, Layer.parcels, "宗地.shp", "tester")
        datasets.copy_rows(conn, Layer.parcels, ds, _parcels(["G"]))
        datasets.publish(conn, Layer.parcels, ds, mode="append")
    with db.engine.connect() as conn:
        plan = _plan(conn)
        assert f"parcels_ds_{ids[1]}" in plan and f"parcels_ds_{ds}" in plan, plan
        assert f"parcels_ds_{ids[0]}" not in plan and f"parcels_ds_{ids[2]}" not in plan, plan
        assert sorted(conn.execute(text("SELECT code FROM current_parcels")).scalars()) == [
            "C",
            "G",
        ]


def test_migration_moves_existing_parcels_into_partitions_and_back(pg_settings):
    name = f"tz_mig_{uuid.uuid4().hex[:10]}"
    tdb = _make_db(pg_settings, name)
    try:
        migrate.upgrade(tdb.url, "0003")
        with tdb.engine.begin() as conn:
            ds = conn.execute(
                text(
                    "INSERT INTO datasets (layer, status, file_name, uploaded_by) "
                    "VALUES ('parcels', 'active', '旧.shp', 't') RETURNING id"
                )
            ).scalar_one()
            for code in ("旧-1", "旧-2"):
                conn.execute(
                    text(
                        "INSERT INTO parcels (dataset_id, code, category, geom) VALUES "
                        "(:d, :c, 'state_farm', ST_Multi(ST_MakeEnvelope(500000, 2500000, "
                        "500030, 2500020, 4547)))"
                    ),
                    {"d": ds, "c": code},
                )
            before = conn.execute(text("SELECT id, code FROM parcels ORDER BY id")).all()
        migrate.upgrade(tdb.url, "0004")
        with tdb.engine.begin() as conn:
            kind = conn.execute(
                text("SELECT relkind FROM pg_class WHERE relname = 'parcels'")
            ).scalar_one()
            assert kind == "p"
            assert conn.execute(text("SELECT id, code FROM parcels ORDER BY id")).all() == before
            assert conn.execute(
                text("SELECT sum(ST_Area(geom)) FROM current_parcels")
            ).scalar_one() == pytest.approx(1200.0)
            assert (
                conn.execute(
                    text("SELECT to_regclass(:p)::text"), {"p": f"parcels_ds_{ds}"}
                ).scalar()
                == f"parcels_ds_{ds}"
            )
            # new ids continue the old sequence
            conn.execute(
                text(
                    "INSERT INTO parcels (dataset_id, code, category, geom) VALUES "
                    "(:d, '新-1', 'collective', ST_Multi(ST_MakeEnvelope(500100, 2500000, "
                    "500110, 2500010, 4547)))"
                ),
                {"d": ds},
            )
            new_id = conn.execute(text("SELECT id FROM parcels WHERE code = '新-1'")).scalar_one()
            assert new_id > max(r.id for r in before)
        command.downgrade(migrate.alembic_config(tdb.url), "0003")
        with tdb.engine.connect() as conn:
            kind = conn.execute(
                text("SELECT relkind FROM pg_class WHERE relname = 'parcels'")
            ).scalar_one()
            assert kind == "r"
            codes = conn.execute(text("SELECT code FROM current_parcels ORDER BY id")).scalars()
            assert list(codes) == ["旧-1", "旧-2", "新-1"]
        migrate.upgrade(tdb.url)
        with tdb.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM current_parcels")).scalar_one() == 3
    finally:
        _drop(pg_settings, tdb)
