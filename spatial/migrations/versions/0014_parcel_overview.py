"""parcel overview: parcels counted per category on a grid, for the low-zoom parcel tiles

At zoom 13 and below a parcel is two or three screen pixels or less, and a tile holds tens of
thousands of them (a z11 tile of the city demo was 3.5 MB). The parcel tiles there show a
category overview instead (:mod:`spatial.layers.overview`): cells of 4 screen pixels coloured by
the category covering most of the cell, with the number of parcels they stand for. This
migration keeps the counts those tiles read, per dataset version (a version never changes once
loaded, so a restore needs no recount):

``parcel_overview`` (dataset_id, level, cx, cy, category, n, area_m2)
    For each grid ``level`` (11 and 9: cells of 1/64 of a tile of that zoom, 305.7 m and
    1,222.99 m in EPSG:3857) and each cell (``cx`` from the west edge of the Web Mercator world,
    ``cy`` from the north edge, as tile x/y), the parcels of each category whose EPSG:4547
    bounding-box centre lies in the cell (in EPSG:3857): their number ``n`` and planar area
    ``area_m2`` (EPSG:4547, m²). Level-9 cells are sums of level-11 cells. About one row per
    20 parcels of the city.
``tz_parcel_overview_build(dataset_id)``
    Counts a dataset's parcels in SQL (several seconds per million parcels). Loads write their
    counts themselves (``spatial.layers.overview.write_overview``, computed from the arrays
    being loaded, a fraction of that); this builds them for parcels written another way.

At commit, a deferred trigger builds the counts of every parcels dataset that became active
without them (rows written with SQL; a version from before this migration restored), and
rebuilds them for an active dataset whose rows were edited with SQL. The counts of a dataset
that failed, or is deleted, are deleted with it.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 16:00:00
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

WORLD = 20037508.342789244
"""Half the side of the Web Mercator world, m (EPSG:3857)."""
LEVELS = (11, 9)
CELLS_PER_TILE = 64
"""Cells per tile side: a cell is 4 pixels of a 256-pixel tile."""


def cell_size(level: int) -> float:
    """Side of a cell of ``level``, EPSG:3857 m."""
    return 2 * WORLD / (2**level) / CELLS_PER_TILE


BASE = max(LEVELS)

ROLL_UP = "".join(
    f"""
    INSERT INTO parcel_overview (dataset_id, level, cx, cy, category, n, area_m2)
    SELECT ds, {lvl}, o.cx >> {finer - lvl}, o.cy >> {finer - lvl}, o.category, sum(o.n),
           sum(o.area_m2)
    FROM parcel_overview o WHERE o.dataset_id = ds AND o.level = {finer}
    GROUP BY 3, 4, 5;"""
    for finer, lvl in zip(LEVELS, LEVELS[1:], strict=False)
)
"""Each coarser level summed from the one below it."""

BUILD = f"""
CREATE FUNCTION tz_parcel_overview_build(ds integer) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    counted bigint;
BEGIN
    PERFORM set_config('jit', 'off', true);
    DELETE FROM parcel_overview o WHERE o.dataset_id = ds;
    INSERT INTO parcel_overview (dataset_id, level, cx, cy, category, n, area_m2)
    SELECT ds, {BASE}, c.cx, c.cy, c.category, count(*), sum(c.area)
    FROM (
        SELECT floor((ST_X(m) + {WORLD!r}) / {cell_size(BASE)!r})::int AS cx,
               floor(({WORLD!r} - ST_Y(m)) / {cell_size(BASE)!r})::int AS cy,
               p.category, ST_Area(p.geom) AS area
        FROM parcels p
        CROSS JOIN LATERAL (SELECT p.geom::box2d AS b) x
        CROSS JOIN LATERAL (SELECT ST_Transform(ST_SetSRID(ST_MakePoint(
            (ST_XMin(x.b) + ST_XMax(x.b)) / 2, (ST_YMin(x.b) + ST_YMax(x.b)) / 2), 4547), 3857)
            AS m) c0
        WHERE p.dataset_id = ds AND p.geom_3857 IS NOT NULL
    ) c
    GROUP BY c.cx, c.cy, c.category
    ORDER BY c.cx, c.cy, c.category;
    GET DIAGNOSTICS counted = ROW_COUNT;
    {ROLL_UP}
    RETURN counted;
END
$$;
"""

NOTE = """
CREATE FUNCTION tz_parcel_overview_note() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'datasets' THEN
        INSERT INTO parcel_overview_pending (dataset_id) VALUES (NEW.id);
        RETURN NULL;
    END IF;
    -- rows written straight into an active dataset (loads go to staging datasets)
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO parcel_overview_pending (dataset_id, edited)
        SELECT DISTINCT r.dataset_id, true FROM new_rows r
        JOIN datasets d ON d.id = r.dataset_id AND d.status = 'active';
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO parcel_overview_pending (dataset_id, edited)
        SELECT DISTINCT r.dataset_id, true FROM old_rows r
        JOIN datasets d ON d.id = r.dataset_id AND d.status = 'active';
    END IF;
    RETURN NULL;
END
$$;
"""

DROP_FAILED = """
CREATE FUNCTION tz_parcel_overview_drop() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        TRUNCATE parcel_overview;
    ELSIF TG_OP = 'DELETE' THEN
        DELETE FROM parcel_overview o WHERE o.dataset_id = OLD.id;
    ELSE
        DELETE FROM parcel_overview o WHERE o.dataset_id = NEW.id;
    END IF;
    RETURN NULL;
END
$$;
"""

AT_COMMIT = """
CREATE FUNCTION tz_parcel_overview_at_commit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    ds integer;
    was_edited boolean;
BEGIN
    FOR ds, was_edited IN
        WITH d AS (DELETE FROM parcel_overview_pending p RETURNING p.dataset_id, p.edited)
        SELECT d.dataset_id, bool_or(d.edited) FROM d GROUP BY 1
    LOOP
        -- active datasets only; a new version once, an edited one again
        CONTINUE WHEN NOT EXISTS (
            SELECT 1 FROM datasets d WHERE d.id = ds AND d.status = 'active');
        CONTINUE WHEN NOT was_edited AND EXISTS (
            SELECT 1 FROM parcel_overview o WHERE o.dataset_id = ds);
        PERFORM tz_parcel_overview_build(ds);
    END LOOP;
    RETURN NULL;
END
$$;
"""


def upgrade() -> None:
    op.execute(
        "CREATE TABLE parcel_overview ("
        # no foreign key: checking one per row would triple the cost of writing the counts
        # of a load (a trigger deletes the counts of a deleted dataset instead)
        " dataset_id integer NOT NULL,"
        " level smallint NOT NULL, cx integer NOT NULL, cy integer NOT NULL,"
        " category ownership_category NOT NULL, n integer NOT NULL, area_m2 float8 NOT NULL,"
        " PRIMARY KEY (dataset_id, level, cx, cy, category))"
    )
    op.execute(
        "CREATE TABLE parcel_overview_pending (dataset_id integer NOT NULL,"
        " edited boolean NOT NULL DEFAULT false)"
    )
    op.execute(BUILD)
    op.execute(NOTE)
    op.execute(DROP_FAILED)
    op.execute(AT_COMMIT)
    op.execute(
        "CREATE TRIGGER tz_parcel_overview_dataset AFTER INSERT OR UPDATE OF status ON datasets "
        "FOR EACH ROW WHEN (NEW.layer = 'parcels' AND NEW.status = 'active') "
        "EXECUTE FUNCTION tz_parcel_overview_note()"
    )
    op.execute(
        "CREATE TRIGGER tz_parcel_overview_failed AFTER UPDATE OF status ON datasets "
        "FOR EACH ROW WHEN (NEW.layer = 'parcels' AND NEW.status = 'failed') "
        "EXECUTE FUNCTION tz_parcel_overview_drop()"
    )
    op.execute(
        "CREATE TRIGGER tz_parcel_overview_deleted AFTER DELETE ON datasets "
        "FOR EACH ROW WHEN (OLD.layer = 'parcels') EXECUTE FUNCTION tz_parcel_overview_drop()"
    )
    op.execute(
        "CREATE TRIGGER tz_parcel_overview_truncated AFTER TRUNCATE ON datasets "
        "FOR EACH STATEMENT EXECUTE FUNCTION tz_parcel_overview_drop()"
    )
    for event, refs in (
        ("insert", "NEW TABLE AS new_rows"),
        ("update", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
        ("delete", "OLD TABLE AS old_rows"),
    ):
        op.execute(
            f"CREATE TRIGGER tz_parcel_overview_{event} AFTER {event.upper()} ON parcels "
            f"REFERENCING {refs} FOR EACH STATEMENT EXECUTE FUNCTION tz_parcel_overview_note()"
        )
    op.execute(
        "CREATE CONSTRAINT TRIGGER tz_parcel_overview_build AFTER INSERT "
        "ON parcel_overview_pending DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
        "EXECUTE FUNCTION tz_parcel_overview_at_commit()"
    )
    op.execute(
        "SELECT tz_parcel_overview_build(id) FROM datasets "
        "WHERE layer = 'parcels' AND status = 'active'"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS tz_parcel_overview_build ON parcel_overview_pending")
    for event in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS tz_parcel_overview_{event} ON parcels")
    op.execute("DROP TRIGGER IF EXISTS tz_parcel_overview_truncated ON datasets")
    op.execute("DROP TRIGGER IF EXISTS tz_parcel_overview_deleted ON datasets")
    op.execute("DROP TRIGGER IF EXISTS tz_parcel_overview_failed ON datasets")
    op.execute("DROP TRIGGER IF EXISTS tz_parcel_overview_dataset ON datasets")
    op.execute("DROP FUNCTION IF EXISTS tz_parcel_overview_drop()")
    op.execute("DROP FUNCTION IF EXISTS tz_parcel_overview_at_commit()")
    op.execute("DROP FUNCTION IF EXISTS tz_parcel_overview_note()")
    op.execute("DROP FUNCTION IF EXISTS tz_parcel_overview_build(integer)")
    op.execute("DROP TABLE IF EXISTS parcel_overview_pending")
    op.execute("DROP TABLE IF EXISTS parcel_overview")
