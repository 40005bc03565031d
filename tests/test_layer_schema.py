"""The layer declarations (spatial.schema) and the migrated database agree, column by column.

Migrations are hand-written; the ORM tables are derived from the declarations. Alembic's own
comparison (what ``alembic revision --autogenerate`` would write) must find nothing to change,
and each declared column must have the type, length and nullability the declaration says.
"""

from __future__ import annotations

import dataclasses

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, text

from spatial.models import Base, layer_table
from spatial.schema import BUILTIN, Column, Layer, declared, layer_spec


def _diff(conn, metadata: MetaData) -> list:
    ctx = MigrationContext.configure(
        conn,
        opts={
            "compare_type": True,
            # tables the ORM does not describe (PostGIS's, and those of modules that use
            # plain SQL) are not compared; every table it does describe is, in full
            "include_object": lambda obj, name, type_, reflected, compare_to: (
                not (type_ == "table" and reflected and compare_to is None)
            ),
        },
    )
    return compare_metadata(ctx, metadata)


def test_migrated_database_matches_the_tables_derived_from_the_declarations(template_db):
    assert {s.name for s in BUILTIN} <= set(Base.metadata.tables)
    with template_db.engine.connect() as conn:
        assert _diff(conn, Base.metadata) == []


def test_a_declaration_that_disagrees_with_the_database_is_caught(template_db):
    parcels = layer_spec(Layer.parcels)
    longer = dataclasses.replace(parcels.column("project_code"), max_len=51, name="project_code")
    wrong = dataclasses.replace(
        parcels,
        columns=tuple(longer if c.name == "project_code" else c for c in parcels.columns),
    )
    md = MetaData()
    layer_table(wrong, md)
    with template_db.engine.connect() as conn:
        diff = [d for d in _diff(conn, md) if not (d[0] == "remove_table")]
    changes = [(d[0][0], d[0][2], d[0][3]) for d in diff if isinstance(d, list)]
    assert ("modify_type", "parcels", "project_code") in changes


DB_TYPES = {"text": "text", "number": "double precision", "code": "USER-DEFINED"}


@pytest.mark.parametrize("spec", BUILTIN, ids=lambda s: s.name)
def test_each_declared_column_has_its_type_length_and_nullability(template_db, spec):
    with template_db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT column_name, data_type, character_maximum_length, is_nullable, udt_name "
                "FROM information_schema.columns WHERE table_schema = 'public' "
                "AND table_name = :t ORDER BY ordinal_position"
            ),
            {"t": spec.name},
        ).all()
        view = conn.execute(
            text(
                "SELECT column_name FROM information_schema.columns WHERE table_name = :v "
                "ORDER BY ordinal_position"
            ),
            {"v": spec.current_view},
        ).scalars()
        geom = conn.execute(
            text(
                "SELECT type, srid FROM geometry_columns "
                "WHERE f_table_name = :t AND f_geometry_column = 'geom'"
            ),
            {"t": spec.name},
        ).one()
        key = conn.execute(
            text(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conname = :c AND conrelid = to_regclass(:t)"
            ),
            {"c": spec.key_constraint, "t": spec.name},
        ).scalar_one()
    names = [r.column_name for r in rows]
    assert names == ["id", "dataset_id", *spec.column_names, "geom", "geom_3857"]
    assert list(view) == names
    assert tuple(geom) == (spec.geometry, 4547)
    assert key == f"UNIQUE (dataset_id, {spec.key})"
    by_name = {r.column_name: r for r in rows}
    for col in spec.columns:
        row = by_name[col.name]
        want = DB_TYPES[col.kind]
        if col.kind == "text" and col.max_len is not None:
            want = "character varying"
        assert row.data_type == want, col.name
        assert row.character_maximum_length == col.max_len, col.name
        assert (row.is_nullable == "NO") is col.required, col.name
        if col.vocabulary is not None:
            assert row.udt_name == col.vocabulary.pg_type


def test_enums_hold_the_declared_layers_and_codes(template_db):
    with template_db.engine.connect() as conn:

        def labels(name: str) -> list[str]:
            return list(
                conn.execute(
                    text(
                        "SELECT enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid "
                        "WHERE t.typname = :n ORDER BY e.enumsortorder"
                    ),
                    {"n": name},
                ).scalars()
            )

        assert labels("layer_name") == [s.name for s in BUILTIN] == list(Layer)
        vocabularies = {c.vocabulary for s in declared() for c in s.columns if c.vocabulary}
        for vocab in vocabularies:
            assert labels(vocab.pg_type) == list(vocab.codes)
            assert set(vocab.labels_zh) == set(vocab.codes)


def test_one_length_for_a_shared_column():
    # project_code is declared once and used by three layers: one length, one label
    users = [s for s in declared() if s.has_column("project_code")]
    assert [s.name for s in users] == ["parcels", "retained_land", "buildings"]
    assert {s.column("project_code") for s in users} == {users[0].column("project_code")}
    assert layer_spec("projects").column("code").max_len == 50
    assert users[0].column("project_code").max_len == 50


def test_declarations_refuse_inconsistent_specs():
    with pytest.raises(ValueError, match="identifier"):
        Column("Bad Name", "text", "坏", "Bad")
    with pytest.raises(ValueError, match="vocabulary"):
        Column("category", "code", "权属类型", "Category")
    with pytest.raises(ValueError, match="max_len"):
        Column("area", "number", "面积", "Area", max_len=10)
    spec = layer_spec("state_reserve_land")
    with pytest.raises(ValueError, match="key"):
        dataclasses.replace(spec, key="nope")
    with pytest.raises(ValueError, match="required"):
        dataclasses.replace(spec, key="name")
    with pytest.raises(ValueError, match="implied"):
        dataclasses.replace(
            spec, columns=(*spec.columns, Column("area_m2", "number", "面积", "Area"))
        )
