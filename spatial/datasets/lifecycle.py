"""Dataset versions: stage rows under a new dataset, publish atomically, list, restore.

A layer's current content is the union of its *active* datasets. ``replace`` supersedes every
active dataset of the layer when the new one is published; ``append`` adds to them. Both happen
in one transaction, under a per-layer advisory lock, so concurrent loads never interleave. Every
write to the ``datasets`` table goes through this module.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from psycopg import sql
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError

from spatial.datasets.partitions import (
    attach_partition,
    detach_partition,
    drop_partition,
    partition_name,
    partition_state,
    run_deferred_now,
)
from spatial.db import first_row, read_row
from spatial.errors import Conflict, NotFound
from spatial.models import DatasetStatus
from spatial.schema import LayerRef, layer_spec


def dataset_not_found(dataset_id: int) -> NotFound:
    """The error for a dataset id the store does not know (404)."""
    return NotFound(f"数据集不存在：{dataset_id}", f"no dataset {dataset_id}")


def lock_layer(conn: Connection, layer: LayerRef, wait: bool = True) -> bool:
    """Take the transaction-scoped advisory lock of ``layer``; False if busy and not waiting."""
    fn = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
    key = f"tuzheng.layer.{layer_spec(layer).name}"
    res = conn.execute(text(f"SELECT {fn}(hashtext(:k))"), {"k": key})
    return True if wait else bool(res.scalar_one())


def lock_layer_within(conn: Connection, layer: LayerRef, timeout_s: float) -> None:
    """Take the layer lock, waiting at most ``timeout_s`` seconds (in the caller's transaction).

    Raises
    ------
    Conflict
        Another load is publishing to the layer and did not finish in time (HTTP 409).
    """
    name = layer_spec(layer).name
    conn.execute(
        text("SELECT set_config('lock_timeout', :t, true)"), {"t": f"{int(timeout_s * 1000)}ms"}
    )
    try:
        lock_layer(conn, layer)
    except OperationalError as exc:
        raise Conflict(
            f"图层 {name} 正在被另一个上传写入，请稍后重试",
            f"another upload is writing layer {name}; retry later",
        ) from exc
    conn.execute(text("SELECT set_config('lock_timeout', '0', true)"))


def new_dataset(
    conn: Connection, layer: LayerRef, file_name: str, uploaded_by: str, **meta: Any
) -> int:
    """Insert a dataset row in status ``staging`` and return its id."""
    cols = {
        "layer": layer_spec(layer).name,
        "status": DatasetStatus.staging.value,
        "file_name": file_name,
        "uploaded_by": uploaded_by,
        **meta,
    }
    allowed = {
        "layer",
        "status",
        "file_name",
        "uploaded_by",
        "mode",
        "sha256",
        "format",
        "source_crs",
        "crs_method",
        "encoding",
        "encoding_method",
        "row_count",
        "area_m2",
        "report",
    }
    unknown = set(cols) - allowed
    if unknown:
        raise ValueError(f"unknown dataset fields: {sorted(unknown)}")
    names = list(cols)
    stmt = sql.SQL("INSERT INTO datasets ({}) VALUES ({}) RETURNING id").format(
        sql.SQL(", ").join(sql.Identifier(n) for n in names),
        sql.SQL(", ").join(
            sql.SQL("CAST({} AS jsonb)").format(sql.Placeholder(n))
            if n == "report"
            else sql.Placeholder(n)
            for n in names
        ),
    )
    if "report" in cols and not isinstance(cols["report"], str):
        cols["report"] = json.dumps(cols["report"], ensure_ascii=False, default=str)
    raw = conn.connection.driver_connection
    with raw.cursor() as cur:  # type: ignore[union-attr]
        cur.execute(stmt, cols)
        row = cur.fetchone()
    assert row is not None
    return int(row[0])


def publish(conn: Connection, layer: LayerRef, dataset_id: int, mode: str = "replace") -> list[int]:
    """Make ``dataset_id`` active, superseding the layer's active datasets for ``replace``.

    Runs inside the caller's transaction; takes the layer lock first. For ``append``, codes that
    already exist in the layer's current rows are refused with Conflict. Returns the ids of
    the datasets superseded.
    """
    lock_layer(conn, layer)
    if layer_spec(layer).partitioned:
        attach_partition(conn, layer, dataset_id)
    superseded_ids: list[int] = []
    if mode == "append":
        dup = _append_duplicates(conn, layer, dataset_id)
        if dup:
            raise Conflict(
                f"追加的数据与现有数据编号重复：{', '.join(map(str, dup[:50]))}",
                f"appended codes already exist in the layer: {', '.join(map(str, dup[:50]))}",
                duplicates=list(dup[:50]),
            )
    elif mode == "replace":
        superseded = conn.execute(
            text(
                "UPDATE datasets SET status = 'superseded', superseded_at = now() "
                "WHERE layer = :layer AND status = 'active' AND id <> :id RETURNING id"
            ),
            {"layer": layer_spec(layer).name, "id": dataset_id},
        ).scalars()
        superseded_ids = sorted(int(i) for i in superseded)
    else:
        raise ValueError(f"mode must be replace or append, not {mode!r}")
    conn.execute(
        text(
            "UPDATE datasets SET status = 'active', published_at = now(), mode = :mode "
            "WHERE id = :id"
        ),
        {"id": dataset_id, "mode": mode},
    )
    # Fresh planner statistics for the layer (a bulk load otherwise leaves the planner guessing
    # until autovacuum runs). Rows COPYed by this transaction count as live for ANALYZE. A
    # partitioned layer analyses just the new partition.
    spec = layer_spec(layer)
    raw = conn.connection.driver_connection
    target = partition_name(spec, dataset_id) if spec.partitioned else spec.name
    if not spec.partitioned or partition_state(raw, spec, dataset_id)[0]:
        with raw.cursor() as cur:  # type: ignore[union-attr]
            cur.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(target)))
    if spec.partitioned and superseded_ids:
        # DETACH locks the layer against readers until the commit: run the work deferred to
        # the commit (stored analysis results, parcel overview: seconds at city scale) first,
        # while readers still read the old version, so the commit follows the DETACH at once
        run_deferred_now(conn)
        for old in superseded_ids:
            detach_partition(conn, spec, old)
    return superseded_ids


def _append_duplicates(conn: Connection, layer: LayerRef, dataset_id: int) -> list[str]:
    key = sql.Identifier(layer_spec(layer).key)
    table = sql.Identifier(layer_spec(layer).name)
    view = sql.Identifier(layer_spec(layer).current_view)
    stmt = sql.SQL(
        "SELECT n.{k} FROM {t} n JOIN {v} c ON c.{k} = n.{k} WHERE n.dataset_id = %s "
        "ORDER BY 1 LIMIT 50"
    ).format(k=key, t=table, v=view)
    raw = conn.connection.driver_connection
    with raw.cursor() as cur:  # type: ignore[union-attr]
        cur.execute(stmt, [dataset_id])
        return [r[0] for r in cur.fetchall()]


def restore(
    engine: Engine, dataset_id: int, user_name: str = "system", role: str | None = None
) -> dict[str, Any]:
    """Make an older dataset version active again (``replace`` semantics) and audit it.

    Returns the dataset id, its layer, its new status and the ids it superseded.
    """
    with engine.begin() as conn:
        row = first_row(
            conn,
            "SELECT layer, status FROM datasets WHERE id = :id",
            {"id": dataset_id},
            missing=dataset_not_found(dataset_id),
        )
        layer = layer_spec(row["layer"])
        if row["status"] not in (DatasetStatus.superseded.value, DatasetStatus.active.value):
            raise Conflict(
                f"数据集 {dataset_id} 状态为 {row['status']}，不能恢复",
                f"dataset {dataset_id} is {row['status']} and cannot be restored",
            )
        superseded = publish(conn, layer, dataset_id, "replace")
        conn.execute(
            text(
                "INSERT INTO audit_log (user_name, role, action, target, detail) "
                "VALUES (:u, :r, 'dataset.restore', :t, CAST(:d AS jsonb))"
            ),
            {
                "u": user_name,
                "r": role,
                "t": f"dataset:{dataset_id}",
                "d": json.dumps({"layer": layer.name, "superseded": superseded}),
            },
        )
    return {
        "dataset_id": dataset_id,
        "layer": layer.name,
        "status": "active",
        "superseded_dataset_ids": superseded,
    }


def remove_dataset(engine: Engine, dataset_id: int, user_name: str = "system") -> None:
    """Delete a dataset version and its rows for good (scratch data, e.g. a notebook's test
    load), and audit it.

    Refused (Conflict) for an active version loaded with ``replace``: it superseded the
    layer's previous versions, so removing it would leave the layer without them. Restore
    another version first. Removing an attached partition briefly locks the layer.
    """
    with engine.begin() as conn:
        row = conn.execute(
            text("SELECT layer, status, mode FROM datasets WHERE id = :id FOR UPDATE"),
            {"id": dataset_id},
        ).one_or_none()
        if row is None:
            raise dataset_not_found(dataset_id)
        if row.status == DatasetStatus.active.value and row.mode == "replace":
            raise Conflict(
                f"数据集 {dataset_id} 是以替换方式发布的当前版本，请先恢复其他版本再删除",
                f"dataset {dataset_id} is the active version published with replace; "
                "restore another version before removing it",
            )
        spec = layer_spec(row.layer)
        raw = conn.connection.driver_connection
        if spec.partitioned:
            exists, attached = partition_state(raw, spec, dataset_id)
            if attached:
                detach_partition(conn, spec, dataset_id)
            if exists:
                drop_partition(raw, spec, dataset_id)
        else:
            _delete_rows(conn, spec, dataset_id)
        conn.execute(text("DELETE FROM datasets WHERE id = :id"), {"id": dataset_id})
        conn.execute(
            text(
                "INSERT INTO audit_log (user_name, action, target, detail) "
                "VALUES (:u, 'dataset.remove', :t, CAST(:d AS jsonb))"
            ),
            {
                "u": user_name,
                "t": f"dataset:{dataset_id}",
                "d": json.dumps({"layer": spec.name, "status": row.status}),
            },
        )


def list_datasets(
    engine: Engine, layer: LayerRef | None = None, uploaded_by: str | None = None
) -> list[dict[str, Any]]:
    """Every dataset version, newest first, optionally of one layer or one uploader."""
    q = (
        "SELECT id, layer, status, mode, file_name, sha256, format, source_crs, encoding, "
        "row_count, area_m2, uploaded_by, created_at, published_at, superseded_at "
        "FROM datasets WHERE true"
    )
    params: dict[str, Any] = {}
    if layer is not None:
        q += " AND layer = :layer"
        params["layer"] = layer_spec(layer).name
    if uploaded_by is not None:
        q += " AND uploaded_by = :by"
        params["by"] = uploaded_by
    q += " ORDER BY id DESC"
    with engine.connect() as conn:
        rows = conn.execute(text(q), params).mappings().all()
    return [
        {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in r.items()} for r in rows
    ]


def dataset_lock_key(dataset_id: int) -> str:
    """Key of the session advisory lock an ingest holds on its staging dataset."""
    return f"tuzheng.dataset.{dataset_id}"


def hold_dataset(conn: Connection, dataset_id: int) -> None:
    """Take the *session* advisory lock of a staging dataset (released when the session ends).

    While held, :func:`cleanup_staging` leaves the dataset alone; once the owning process dies
    (even by SIGKILL), PostgreSQL releases it and the next run cleans up.
    """
    conn.execute(text("SELECT pg_advisory_lock(hashtext(:k))"), {"k": dataset_lock_key(dataset_id)})


def release_dataset(conn: Connection, dataset_id: int) -> None:
    """Release the session advisory lock taken by :func:`hold_dataset`."""
    conn.execute(
        text("SELECT pg_advisory_unlock(hashtext(:k))"), {"k": dataset_lock_key(dataset_id)}
    )


def cleanup_staging(conn: Connection) -> list[int]:
    """Mark orphaned ``staging`` datasets failed and delete their rows; return their ids.

    A staging dataset is orphaned when no live session holds its advisory lock (its ingest was
    killed). Runs in the caller's transaction.
    """
    rows = conn.execute(
        text("SELECT id, layer FROM datasets WHERE status = 'staging' ORDER BY id")
    ).all()
    cleaned: list[int] = []
    for ds_id, layer in rows:
        got = conn.execute(
            text("SELECT pg_try_advisory_xact_lock(hashtext(:k))"),
            {"k": dataset_lock_key(ds_id)},
        ).scalar_one()
        if not got:
            continue
        _delete_rows(conn, layer, ds_id)
        conn.execute(
            text(
                "UPDATE datasets SET status = 'failed', row_count = 0, report = report || "
                "CAST(:note AS jsonb) WHERE id = :id"
            ),
            {
                "id": ds_id,
                "note": '{"interrupted": true, "cleanup_note_zh": "导入中断，暂存数据已清理", '
                '"cleanup_note_en": "ingest was interrupted; staging data removed"}',
            },
        )
        cleaned.append(int(ds_id))
    return cleaned


def _delete_rows(conn: Connection, layer: LayerRef, dataset_id: int) -> None:
    """Remove a dataset's rows: drop its partition if it was never attached."""
    raw = conn.connection.driver_connection
    if layer_spec(layer).partitioned:
        exists, attached = partition_state(raw, layer, dataset_id)
        if not exists:
            return
        if not attached:  # dropping an attached partition would lock the whole layer
            drop_partition(raw, layer, dataset_id)
            return
    table = sql.Identifier(layer_spec(layer).name)
    stmt = sql.SQL("DELETE FROM {} WHERE dataset_id = %s").format(table)
    with raw.cursor() as cur:  # type: ignore[union-attr]
        cur.execute(stmt, [dataset_id])


def record_written(
    conn: Connection, dataset_id: int, rows: int, area_m2: float | None, report: dict[str, Any]
) -> None:
    """Store a published load's row count, total area (m², EPSG:4547) and final report."""
    conn.execute(
        text(
            "UPDATE datasets SET row_count = :n, area_m2 = :a, report = CAST(:r AS jsonb) "
            "WHERE id = :id"
        ),
        {
            "n": rows,
            "a": area_m2,
            "r": json.dumps(report, ensure_ascii=False, default=str),
            "id": dataset_id,
        },
    )


def mark_failed(conn: Connection, dataset_id: int, report: dict[str, Any]) -> None:
    """Set a dataset to ``failed`` with its report and no rows (runs in the caller's txn)."""
    ds = conn.execute(
        text("SELECT layer FROM datasets WHERE id = :id"), {"id": dataset_id}
    ).scalar_one()
    _delete_rows(conn, ds, dataset_id)
    conn.execute(
        text(
            "UPDATE datasets SET status = 'failed', row_count = 0, "
            "report = CAST(:r AS jsonb) WHERE id = :id"
        ),
        {"id": dataset_id, "r": json.dumps(report, ensure_ascii=False, default=str)},
    )


def active_with_sha(
    conn: Connection,
    layer: LayerRef,
    sha256: str,
    source_crs: str | None = None,
    encoding: str | None = None,
) -> int | None:
    """The id of an active dataset of ``layer`` loaded from a file with this SHA-256, if any.

    With ``source_crs``/``encoding``, the earlier load must also have used the same CRS and
    encoding (the same file read differently is different data).
    """
    q = "SELECT id FROM datasets WHERE layer = :l AND sha256 = :s AND status = 'active'"
    params: dict[str, Any] = {"l": layer_spec(layer).name, "s": sha256}
    if source_crs is not None:
        q += " AND source_crs = :c"
        params["c"] = source_crs
    if encoding is not None:
        q += " AND encoding = :e"
        params["e"] = encoding
    return conn.execute(text(q + " ORDER BY id DESC LIMIT 1"), params).scalar_one_or_none()


def get_dataset(engine: Engine, dataset_id: int) -> dict[str, Any]:
    """One dataset row with its stored report (NotFound if absent)."""
    row = read_row(
        engine,
        "SELECT id, layer, status, mode, file_name, sha256, format, source_crs, "
        "crs_method, encoding, encoding_method, row_count, area_m2, uploaded_by, "
        "created_at, published_at, superseded_at, report FROM datasets WHERE id = :id",
        {"id": dataset_id},
        missing=dataset_not_found(dataset_id),
    )
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}
