"""Dataset versions: stage rows under a new dataset, publish atomically, list, restore.

A layer's current content is the union of its *active* datasets. ``replace`` supersedes every
active dataset of the layer when the new one is published; ``append`` adds to them. Both happen
in one transaction, under a per-layer advisory lock, so concurrent loads never interleave.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from psycopg import sql
from sqlalchemy import Connection, Engine, text

from spatial.errors import Conflict, NotFound
from spatial.models import STORAGE_SRID, DatasetStatus, Layer

# Columns written for each layer, in order (geometry last). A fixed mapping: identifiers are
# never built from user input.
LAYER_COLUMNS: dict[Layer, tuple[str, ...]] = {
    Layer.projects: ("code", "name", "district", "stage"),
    Layer.parcels: ("code", "category", "project_code", "owner"),
    Layer.retained_land: ("code", "project_code", "name", "land_use"),
    Layer.state_reserve_land: ("code", "name"),
    Layer.statutory_plans: ("plan_code", "zone_code", "plan_name", "land_use_class"),
    Layer.buildings: (
        "code",
        "project_code",
        "parcel_code",
        "structure",
        "floor_area_m2",
        "legal_status",
        "signing_status",
    ),
}
KEY_COLUMN: dict[Layer, str] = {
    layer: ("zone_code" if layer is Layer.statutory_plans else "code") for layer in Layer
}


def lock_layer(conn: Connection, layer: Layer, wait: bool = True) -> bool:
    """Take the transaction-scoped advisory lock of ``layer``; False if busy and not waiting."""
    fn = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
    res = conn.execute(text(f"SELECT {fn}(hashtext(:k))"), {"k": f"tuzheng.layer.{layer.value}"})
    return True if wait else bool(res.scalar_one())


def new_dataset(
    conn: Connection, layer: Layer, file_name: str, uploaded_by: str, **meta: Any
) -> int:
    """Insert a dataset row in status ``staging`` and return its id."""
    cols = {
        "layer": layer.value,
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
        import json

        cols["report"] = json.dumps(cols["report"], ensure_ascii=False, default=str)
    raw = conn.connection.driver_connection
    with raw.cursor() as cur:  # type: ignore[union-attr]
        cur.execute(stmt, cols)
        row = cur.fetchone()
    assert row is not None
    return int(row[0])


def _copy_text(values: Sequence[Any]) -> str:
    out = []
    for v in values:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            out.append("\\N")
        else:
            s = str(v)
            out.append(
                s.replace("\\", "\\\\")
                .replace("\t", "\\t")
                .replace("\n", "\\n")
                .replace("\r", "\\r")
            )
    return "\t".join(out)


def copy_rows(conn: Connection, layer: Layer, dataset_id: int, gdf: gpd.GeoDataFrame) -> int:
    """COPY the rows of ``gdf`` (EPSG:4547 MultiPolygons) into ``layer`` under ``dataset_id``.

    ``gdf`` must have the columns of ``LAYER_COLUMNS[layer]`` (missing ones are written NULL)
    and a geometry column. Returns the number of rows written.
    """
    if gdf.crs is None or gdf.crs.to_epsg() != STORAGE_SRID:
        raise ValueError(f"geometries must be in EPSG:{STORAGE_SRID}, got {gdf.crs}")
    cols = LAYER_COLUMNS[layer]
    geoms = shapely.to_wkb(gdf.geometry.values, hex=True, include_srid=True, output_dimension=2)
    frame = pd.DataFrame({c: (gdf[c] if c in gdf.columns else None) for c in cols})
    frame = frame.astype(object).where(frame.notna(), None)
    buf = io.StringIO()
    ds = str(dataset_id)
    for row, g in zip(frame.itertuples(index=False, name=None), geoms, strict=True):
        buf.write(ds + "\t" + _copy_text(row) + "\t" + g + "\n")
    stmt = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(layer.value),
        sql.SQL(", ").join(sql.Identifier(c) for c in ("dataset_id", *cols, "geom")),
    )
    raw = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy(stmt) as cp:  # type: ignore[union-attr]
        cp.write(buf.getvalue())
    return len(frame)


def publish(conn: Connection, layer: Layer, dataset_id: int, mode: str = "replace") -> None:
    """Make ``dataset_id`` active, superseding the layer's active datasets for ``replace``.

    Runs inside the caller's transaction; takes the layer lock first. For ``append``, codes that
    already exist in the layer's current rows are refused with Conflict.
    """
    lock_layer(conn, layer)
    if mode == "append":
        dup = _append_duplicates(conn, layer, dataset_id)
        if dup:
            raise Conflict(
                f"追加的数据与现有数据编号重复：{', '.join(map(str, dup[:50]))}",
                f"appended codes already exist in the layer: {', '.join(map(str, dup[:50]))}",
                duplicates=list(dup[:50]),
            )
    elif mode == "replace":
        conn.execute(
            text(
                "UPDATE datasets SET status = 'superseded', superseded_at = now() "
                "WHERE layer = :layer AND status = 'active' AND id <> :id"
            ),
            {"layer": layer.value, "id": dataset_id},
        )
    else:
        raise ValueError(f"mode must be replace or append, not {mode!r}")
    conn.execute(
        text(
            "UPDATE datasets SET status = 'active', published_at = now(), mode = :mode "
            "WHERE id = :id"
        ),
        {"id": dataset_id, "mode": mode},
    )


def _append_duplicates(conn: Connection, layer: Layer, dataset_id: int) -> list[str]:
    key = sql.Identifier(KEY_COLUMN[layer])
    table = sql.Identifier(layer.value)
    view = sql.Identifier(f"current_{layer.value}")
    stmt = sql.SQL(
        "SELECT n.{k} FROM {t} n JOIN {v} c ON c.{k} = n.{k} WHERE n.dataset_id = %s "
        "ORDER BY 1 LIMIT 50"
    ).format(k=key, t=table, v=view)
    raw = conn.connection.driver_connection
    with raw.cursor() as cur:  # type: ignore[union-attr]
        cur.execute(stmt, [dataset_id])
        return [r[0] for r in cur.fetchall()]


def restore(engine: Engine, dataset_id: int, user_name: str = "system") -> dict[str, Any]:
    """Make an older dataset version active again (``replace`` semantics) and audit it."""
    with engine.begin() as conn:
        row = conn.execute(
            text("SELECT layer, status FROM datasets WHERE id = :id"), {"id": dataset_id}
        ).one_or_none()
        if row is None:
            raise NotFound(f"数据集不存在：{dataset_id}", f"no dataset {dataset_id}")
        layer = Layer(row.layer)
        if row.status not in (DatasetStatus.superseded.value, DatasetStatus.active.value):
            raise Conflict(
                f"数据集 {dataset_id} 状态为 {row.status}，不能恢复",
                f"dataset {dataset_id} is {row.status} and cannot be restored",
            )
        publish(conn, layer, dataset_id, "replace")
        conn.execute(
            text(
                "INSERT INTO audit_log (user_name, action, target, detail) "
                "VALUES (:u, 'dataset.restore', :t, CAST(:d AS jsonb))"
            ),
            {"u": user_name, "t": f"dataset:{dataset_id}", "d": f'{{"layer": "{layer.value}"}}'},
        )
    return {"dataset_id": dataset_id, "layer": layer.value, "status": "active"}


def list_datasets(engine: Engine, layer: Layer | None = None) -> list[dict[str, Any]]:
    """Every dataset version, newest first, optionally for one layer."""
    q = (
        "SELECT id, layer, status, mode, file_name, sha256, format, source_crs, encoding, "
        "row_count, area_m2, uploaded_by, created_at, published_at, superseded_at "
        "FROM datasets"
    )
    params: dict[str, Any] = {}
    if layer is not None:
        q += " WHERE layer = :layer"
        params["layer"] = Layer(layer).value
    q += " ORDER BY id DESC"
    with engine.connect() as conn:
        rows = conn.execute(text(q), params).mappings().all()
    return [
        {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in r.items()} for r in rows
    ]
