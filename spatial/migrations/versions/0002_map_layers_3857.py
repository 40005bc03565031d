"""map layers: indexed EPSG:3857 geometry copies, safe transform, dataset change notifications

Adds to every layer table a stored generated column ``geom_3857`` (Web Mercator, for vector
tiles) with a GiST index, computed by ``tz_safe_transform``, which returns NULL instead of
raising for EMPTY geometries, NaN/Infinity coordinates and coordinates outside the projection
domain (so one bad row never breaks a tile). The ``current_*`` views are recreated so they
carry the new column. A trigger on ``datasets`` (and ``land_use_compatibility``) sends
``NOTIFY tuzheng_datasets`` with the layer name: the tile cache listens to it and invalidates
exactly the layers whose dataset versions changed.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 08:50:00
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

LAYER_TABLES = [
    "projects",
    "parcels",
    "retained_land",
    "state_reserve_land",
    "statutory_plans",
    "buildings",
]

SAFE_TRANSFORM = """
CREATE OR REPLACE FUNCTION tz_safe_transform(g geometry, srid integer) RETURNS geometry
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    IF ST_IsEmpty(g) OR NOT (ST_Perimeter(g) < 'Infinity'::float8) THEN
        RETURN NULL;
    END IF;
    IF ST_SRID(g) = srid THEN
        RETURN g;
    END IF;
    RETURN ST_Transform(g, srid);
EXCEPTION WHEN OTHERS THEN
    RETURN NULL;
END
$$;
"""

NOTIFY_DATASETS = """
CREATE OR REPLACE FUNCTION tz_notify_datasets() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('tuzheng_datasets', OLD.layer::text);
    ELSE
        PERFORM pg_notify('tuzheng_datasets', NEW.layer::text);
        IF TG_OP = 'UPDATE' AND OLD.layer <> NEW.layer THEN
            PERFORM pg_notify('tuzheng_datasets', OLD.layer::text);
        END IF;
    END IF;
    RETURN NULL;
END
$$;
"""

NOTIFY_COMPAT = """
CREATE OR REPLACE FUNCTION tz_notify_compatibility() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tuzheng_datasets', 'land_use_compatibility');
    RETURN NULL;
END
$$;
"""


def upgrade() -> None:
    op.execute(SAFE_TRANSFORM)
    for t in LAYER_TABLES:
        op.execute(
            f"ALTER TABLE {t} ADD COLUMN geom_3857 geometry(MultiPolygon, 3857) "
            f"GENERATED ALWAYS AS (tz_safe_transform(geom, 3857)) STORED"
        )
        op.execute(f"CREATE INDEX ix_{t}_geom_3857 ON {t} USING gist (geom_3857)")
        op.execute(
            f"CREATE OR REPLACE VIEW current_{t} AS SELECT t.* FROM {t} t "
            f"JOIN datasets d ON d.id = t.dataset_id WHERE d.status = 'active'"
        )
    op.execute(NOTIFY_DATASETS)
    op.execute(
        "CREATE TRIGGER tz_datasets_notify AFTER INSERT OR UPDATE OR DELETE ON datasets "
        "FOR EACH ROW EXECUTE FUNCTION tz_notify_datasets()"
    )
    op.execute(NOTIFY_COMPAT)
    op.execute(
        "CREATE TRIGGER tz_compatibility_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
        "ON land_use_compatibility FOR EACH STATEMENT EXECUTE FUNCTION tz_notify_compatibility()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS tz_compatibility_notify ON land_use_compatibility")
    op.execute("DROP FUNCTION IF EXISTS tz_notify_compatibility()")
    op.execute("DROP TRIGGER IF EXISTS tz_datasets_notify ON datasets")
    op.execute("DROP FUNCTION IF EXISTS tz_notify_datasets()")
    for t in LAYER_TABLES:
        # Views that select t.* must be rebuilt without the column before it can be dropped.
        op.execute(f"DROP VIEW IF EXISTS current_{t} CASCADE")
        op.execute(f"ALTER TABLE {t} DROP COLUMN geom_3857")
        op.execute(
            f"CREATE VIEW current_{t} AS SELECT t.* FROM {t} t "
            f"JOIN datasets d ON d.id = t.dataset_id WHERE d.status = 'active'"
        )
    op.execute("DROP FUNCTION IF EXISTS tz_safe_transform(geometry, integer)")
