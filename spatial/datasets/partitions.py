"""DDL of partitioned layers: one partition per dataset version, staged bare, then attached.

A load into a partitioned layer (``LayerSpec.partitioned``, migration 0004) COPYs into a bare
table with no index (:func:`stage_partition`), builds its indexes in bulk
(:func:`index_statements`, matching the parent's so ``ATTACH PARTITION`` adopts them) and is
attached when it is published (:func:`attach_partition`); the versions it supersedes are
detached (:func:`detach_partition`, migration 0010), so the layer holds the active ones only.
Every name comes from the layer's declaration and an integer dataset id, never from input.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql
from sqlalchemy import Connection

from spatial.schema import LayerRef, layer_spec

MAINTENANCE_WORK_MEM = "256MB"
"""Sort memory for the bulk index builds of a staged partition (transaction-local)."""


def partition_name(layer: LayerRef, dataset_id: int) -> str:
    """Table name of the partition holding ``dataset_id``'s rows (from an integer, never input).

    It is attached to the layer while the version is active and detached, but kept, once it is
    superseded: read an old version's rows from this table, not from the layer's table.
    """
    return f"{layer_spec(layer).name}_ds_{int(dataset_id)}"


def partition_state(raw_conn: Any, layer: LayerRef, dataset_id: int) -> tuple[bool, bool]:
    """(exists, attached) for the partition of ``dataset_id``."""
    with raw_conn.cursor() as cur:
        cur.execute(
            "SELECT to_regclass(%s) IS NOT NULL, EXISTS (SELECT 1 FROM pg_inherits "
            "WHERE inhrelid = to_regclass(%s))",
            [partition_name(layer, dataset_id)] * 2,
        )
        exists, attached = cur.fetchone()
    return bool(exists), bool(attached)


def stage_partition(raw_conn: Any, layer: LayerRef, dataset_id: int) -> bool:
    """Create the bare (index-free, unattached) partition table; False if it already exists."""
    exists, _ = partition_state(raw_conn, layer, dataset_id)
    if exists:
        return False
    part = sql.Identifier(partition_name(layer, dataset_id))
    with raw_conn.cursor() as cur:
        cur.execute(
            sql.SQL(
                "CREATE TABLE {part} (LIKE {parent} INCLUDING DEFAULTS INCLUDING GENERATED, "
                "CONSTRAINT {check} CHECK (dataset_id = {ds}))"
            ).format(
                part=part,
                parent=sql.Identifier(layer_spec(layer).name),
                check=sql.Identifier(f"{partition_name(layer, dataset_id)}_dataset"),
                ds=sql.Literal(int(dataset_id)),
            )
        )
    return True


def index_statements(layer: LayerRef, dataset_id: int) -> list[sql.Composed]:
    """A staged partition's keys and indexes, built in bulk, after a sort-memory setting.

    They match the parent's, so ``ATTACH PARTITION`` adopts them instead of building its own.
    Ordered longest first (the two GiST builds, then the btrees).
    """
    name = partition_name(layer, dataset_id)
    part = sql.Identifier(name)
    key = sql.Identifier(layer_spec(layer).key)
    return [
        sql.SQL("SET LOCAL maintenance_work_mem = {}").format(sql.Literal(MAINTENANCE_WORK_MEM)),
        sql.SQL("CREATE INDEX {} ON {} USING gist (geom)").format(
            sql.Identifier(f"{name}_geom"), part
        ),
        sql.SQL("CREATE INDEX {} ON {} USING gist (geom_3857)").format(
            sql.Identifier(f"{name}_geom_3857"), part
        ),
        # unique indexes, not constraints: ALTER TABLE would lock out the concurrent builds;
        # attach_partition turns them into the constraints (metadata only)
        sql.SQL("CREATE UNIQUE INDEX {} ON {} (dataset_id, {})").format(
            sql.Identifier(f"{name}_key"), part, key
        ),
        sql.SQL("CREATE UNIQUE INDEX {} ON {} (dataset_id, id)").format(
            sql.Identifier(f"{name}_pkey"), part
        ),
    ] + [
        sql.SQL("CREATE INDEX {} ON {} ({})").format(
            sql.Identifier(f"{name}_{c.name}"), part, sql.Identifier(c.name)
        )
        for c in layer_spec(layer).columns
        if c.index
    ]


def attach_partition(conn: Connection, layer: LayerRef, dataset_id: int) -> None:
    """Attach a staged partition to its layer (its CHECK constraint spares the scan)."""
    raw = conn.connection.driver_connection
    exists, attached = partition_state(raw, layer, dataset_id)
    if not exists or attached:
        return
    name = partition_name(layer, dataset_id)
    with raw.cursor() as cur:  # type: ignore[union-attr]
        cur.execute(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = to_regclass(%s) AND contype = 'p'",
            [name],
        )
        row = cur.fetchone()
        if row is not None and row[0] == 0:
            cur.execute(
                sql.SQL(
                    "ALTER TABLE {part} ADD CONSTRAINT {pkey} PRIMARY KEY USING INDEX {pkey}, "
                    "ADD CONSTRAINT {key} UNIQUE USING INDEX {key}"
                ).format(
                    part=sql.Identifier(name),
                    pkey=sql.Identifier(f"{name}_pkey"),
                    key=sql.Identifier(f"{name}_key"),
                )
            )
        cur.execute(
            sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES IN ({})").format(
                sql.Identifier(layer_spec(layer).name),
                sql.Identifier(partition_name(layer, dataset_id)),
                sql.Literal(int(dataset_id)),
            )
        )


DEFERRED_TO_COMMIT = ("tz_analysis_refresh", "tz_parcel_overview_build")
"""The constraint triggers that run at commit: the stored analysis results brought up to date
(migration 0013) and the parcel overview of a new version built (migration 0014)."""


def run_deferred_now(conn: Connection) -> None:
    """Run now, in ``conn``'s transaction, the work :data:`DEFERRED_TO_COMMIT` queued so far
    (``SET CONSTRAINTS … IMMEDIATE`` fires it), then defer what comes later again."""
    names = sql.SQL(", ").join(sql.Identifier(n) for n in DEFERRED_TO_COMMIT)
    raw = conn.connection.driver_connection
    with raw.cursor() as cur:  # type: ignore[union-attr]
        cur.execute(sql.SQL("SET CONSTRAINTS {} IMMEDIATE").format(names))
        cur.execute(sql.SQL("SET CONSTRAINTS {} DEFERRED").format(names))


def detach_partition(conn: Connection, layer: LayerRef, dataset_id: int) -> None:
    """Detach a superseded version's partition: it stays, as a table of its own, for restore
    (which attaches it again) and for reading old versions, but queries of the layer, which
    see the active versions only, no longer plan or scan it.

    Done last in ``publish``, after :func:`run_deferred_now`: ``DETACH`` holds an exclusive
    lock on the layer until the transaction commits, so readers wait only for the moment until
    the commit, not for the load nor for the results refreshed at commit.
    """
    raw = conn.connection.driver_connection
    exists, attached = partition_state(raw, layer, dataset_id)
    if exists and attached:
        with raw.cursor() as cur:  # type: ignore[union-attr]
            cur.execute(
                sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(
                    sql.Identifier(layer_spec(layer).name),
                    sql.Identifier(partition_name(layer, dataset_id)),
                )
            )


def drop_partition(raw_conn: Any, layer: LayerRef, dataset_id: int) -> None:
    """Drop the partition table of ``dataset_id`` (only ever one that was never attached)."""
    with raw_conn.cursor() as cur:
        cur.execute(
            sql.SQL("DROP TABLE {}").format(sql.Identifier(partition_name(layer, dataset_id)))
        )
