"""superseded parcel versions are detached from ``parcels``, so queries read the active ones only

``current_parcels`` joins ``parcels`` with the active datasets; a join does not prune
partitions, so every query (tiles, items, analyses) planned and scanned every version ever
loaded. From now on :func:`spatial.datasets.publish` detaches the partitions of the versions
it supersedes (they stay, as tables ``parcels_ds_<id>``, for ``restore``, which attaches them
again, and for reading old versions). This migration detaches the superseded partitions of
an existing database; the downgrade attaches them again.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 13:00:00
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

DETACH = """
DO $$
DECLARE r record;
BEGIN
    FOR r IN
        SELECT c.relname FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        JOIN datasets d ON c.relname = 'parcels_ds_' || d.id
        WHERE i.inhparent = 'parcels'::regclass AND d.status = 'superseded'
    LOOP
        EXECUTE format('ALTER TABLE parcels DETACH PARTITION %I', r.relname);
    END LOOP;
END
$$;
"""

ATTACH = """
DO $$
DECLARE r record;
BEGIN
    FOR r IN
        SELECT c.relname, d.id FROM pg_class c
        JOIN datasets d ON c.relname = 'parcels_ds_' || d.id
        WHERE c.relkind = 'r' AND d.status = 'superseded'
          AND NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid)
    LOOP
        EXECUTE format('ALTER TABLE parcels ATTACH PARTITION %I FOR VALUES IN (%s)', r.relname, r.id);
    END LOOP;
END
$$;
"""


def upgrade() -> None:
    op.execute(DETACH)


def downgrade() -> None:
    op.execute(ATTACH)
