from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from spatial.categories import OwnershipCategory, parse_category
from spatial.migrate import alembic_config, current_revision


def test_migrations_apply_to_empty_database(db):
    head = ScriptDirectory.from_config(alembic_config(db.url)).get_current_head()
    assert head is not None
    assert current_revision(db.url) == head
    insp = inspect(db.engine)
    tables = set(insp.get_table_names())
    for t in [
        "projects",
        "parcels",
        "retained_land",
        "state_reserve_land",
        "statutory_plans",
        "datasets",
        "users",
        "audit_log",
        "buildings",
        "land_use_compatibility",
    ]:
        assert t in tables
    with db.engine.connect() as conn:
        geoms = dict(
            conn.execute(
                text(
                    "SELECT f_table_name, type || ':' || srid FROM geometry_columns "
                    "WHERE f_table_schema = 'public' AND f_table_name NOT LIKE 'current_%' "
                    "AND f_geometry_column = 'geom'"
                )
            ).all()
        )
        gist = conn.execute(
            text("SELECT count(*) FROM pg_indexes WHERE indexdef ILIKE '%USING gist%'")
        ).scalar()
        labels = dict(
            conn.execute(text("SELECT code::text, label_zh FROM ownership_categories")).all()
        )
    assert geoms["parcels"] == "MULTIPOLYGON:4547"
    assert geoms["statutory_plans"] == "MULTIPOLYGON:4547"
    assert gist >= 6
    assert labels["state_farm"] == "原光明农场国有用地"
    assert labels["incomplete_acquisition"] == "未完善征（转）收地补偿手续用地"


def test_category_aliases():
    assert parse_category("集体") is OwnershipCategory.collective
    assert parse_category("农场") is OwnershipCategory.state_farm
    assert parse_category("未完善征转") is OwnershipCategory.incomplete_acquisition
    assert parse_category(3.0) is OwnershipCategory.incomplete_acquisition
    assert parse_category("宅基地") is None
