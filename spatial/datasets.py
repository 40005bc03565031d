"""Dataset versions: stage rows under a new dataset, publish atomically, list, restore.

A layer's current content is the union of its *active* datasets. ``replace`` supersedes every
active dataset of the layer when the new one is published; ``append`` adds to them. Both happen
in one transaction, under a per-layer advisory lock, so concurrent loads never interleave.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import shapely
from psycopg import sql
from sqlalchemy import Connection, Engine, text

from spatial.errors import Conflict, NotFound
from spatial.models import STORAGE_SRID, DatasetStatus
from spatial.schema import LayerSpec, layer_spec

if TYPE_CHECKING:
    import geopandas as gpd

LayerRef = str | LayerSpec
"""A layer by name (a :class:`~spatial.schema.Layer` member is one) or by its declaration.

Every table and column name below comes from the layer's declaration (:mod:`spatial.schema`),
never from user input."""


def lock_layer(conn: Connection, layer: LayerRef, wait: bool = True) -> bool:
    """Take the transaction-scoped advisory lock of ``layer``; False if busy and not waiting."""
    fn = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
    key = f"tuzheng.layer.{layer_spec(layer).name}"
    res = conn.execute(text(f"SELECT {fn}(hashtext(:k))"), {"k": key})
    return True if wait else bool(res.scalar_one())


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
        import json

        cols["report"] = json.dumps(cols["report"], ensure_ascii=False, default=str)
    raw = conn.connection.driver_connection
    with raw.cursor() as cur:  # type: ignore[union-attr]
        cur.execute(stmt, cols)
        row = cur.fetchone()
    assert row is not None
    return int(row[0])


COPY_CHUNK_ROWS = 20_000
"""Rows per COPY chunk: bounds the memory of the binary buffer (and its index arrays)."""

_PGCOPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
_PGCOPY_TRAILER = b"\xff\xff"
_MULTI_PREFIX = b"\x01\x06\x00\x00\x00\x01\x00\x00\x00"
"""Little-endian WKB header of a MultiPolygon with one part: prepended to Polygon WKB."""


def _write_chunk(cp: Any, data: bytes) -> None:
    """Send one chunk to an open COPY (a seam tests use to interrupt a load)."""
    cp.write(data)


def _text_array(values: Any, n: int) -> pa.Array:
    if values is None:
        return pa.nulls(n, pa.string())
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not isinstance(values, pa.Array):
        if type(values).__module__.startswith("pandas"):  # a Series: NaN/None → NULL
            values = values.astype(object).where(values.notna(), None).to_numpy()
        values = pa.array(values, from_pandas=True)
    if pa.types.is_null(values.type):
        return pa.nulls(n, pa.string())
    return values


def _floats(values: Any) -> np.ndarray:
    """Float64 values with NaN for missing or non-numeric entries."""
    import pandas as pd

    return np.asarray(pd.to_numeric(pd.Series(values), errors="coerce"), dtype=float)


def _put_be32(buf: np.ndarray, pos: np.ndarray, values: np.ndarray) -> None:
    v = values.astype(np.int64) & 0xFFFFFFFF
    buf[pos] = v >> 24
    buf[pos + 1] = (v >> 16) & 0xFF
    buf[pos + 2] = (v >> 8) & 0xFF
    buf[pos + 3] = v & 0xFF


def _var_field(arr: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(data bytes, start offsets, lengths, valid) of a string/binary Arrow array."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_large_string(arr.type) or pa.types.is_large_binary(arr.type):
        arr = arr.cast(pa.large_binary())
        odt: type = np.int64
    else:
        arr = arr.cast(pa.binary())
        odt = np.int32
    n = len(arr)
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=odt)[arr.offset : arr.offset + n + 1].astype(np.int64)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, "u1")
    valid = np.asarray(arr.is_valid(), dtype=bool)
    lens = np.where(valid, np.diff(offsets), 0)
    return data, offsets[:-1], lens, valid


def _gather(buf: np.ndarray, dst: np.ndarray, data: np.ndarray, src: np.ndarray, lens: np.ndarray):
    """Copy ``data[src[i]:src[i]+lens[i]]`` to ``buf[dst[i]:…]`` for every i, vectorised."""
    total = int(lens.sum())
    if total == 0:
        return
    keep = lens > 0
    src, dst, lens = src[keep], dst[keep], lens[keep]
    seg = np.repeat(np.arange(len(lens)), lens)
    rel = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(lens) - lens, lens)
    buf[dst[seg] + rel] = data[src[seg] + rel]


def _binary_chunk(dataset_id: int, fields: list[tuple[str, Any]], first: bool, last: bool):
    """One chunk of PostgreSQL binary COPY data: (dataset_id, *fields), built with numpy.

    ``fields`` are ("var", Arrow string/binary array) or ("f8", float64 numpy + valid mask).
    """
    n = len(fields[0][1]) if fields[0][0] == "var" else len(fields[0][1][0])
    parsed: list[tuple[str, np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray]] = []
    row_size = np.full(n, 2 + 8, dtype=np.int64)
    for kind, values in fields:
        if kind == "var":
            data, src, lens, valid = _var_field(values)
            parsed.append((kind, data, src, lens, valid))
            row_size += 4 + lens
        elif kind == "wkb":
            arr, promote = values
            data, src, lens, valid = _var_field(arr)
            parsed.append((kind, data, src, lens, valid & promote))
            row_size += 4 + lens + np.where(valid & promote, len(_MULTI_PREFIX), 0)
        else:
            vals, valid = values
            parsed.append((kind, vals, None, None, valid))
            row_size += 4 + np.where(valid, 8, 0)
    head = len(_PGCOPY_HEADER) if first else 0
    starts = head + np.concatenate([[0], np.cumsum(row_size)[:-1]]).astype(np.int64)
    total = head + int(row_size.sum()) + (2 if last else 0)
    buf = np.empty(total, dtype=np.uint8)
    if first:
        buf[:head] = np.frombuffer(_PGCOPY_HEADER, dtype=np.uint8)
    nfields = 1 + len(fields)
    buf[starts] = nfields >> 8
    buf[starts + 1] = nfields & 0xFF
    _put_be32(buf, starts + 2, np.full(n, 4))
    _put_be32(buf, starts + 6, np.full(n, dataset_id))
    pos = starts + 10
    for kind, data, field_src, field_lens, valid in parsed:
        if field_src is None or field_lens is None:
            # a float8 field ("f8": values + valid mask)
            _put_be32(buf, pos, np.where(valid, 8, -1))
            pos = pos + 4
            raw = np.ascontiguousarray(data.astype(">f8")).view(np.uint8).reshape(-1, 8)
            vp = pos[valid]
            for k in range(8):
                buf[vp + k] = raw[valid, k]
            pos = pos + np.where(valid, 8, 0)
        elif kind == "wkb":
            # valid here marks Polygons to be wrapped as one-part MultiPolygons on the wire
            extra = np.where(valid, len(_MULTI_PREFIX), 0)
            _put_be32(buf, pos, field_lens + extra)
            pos = pos + 4
            wp = pos[valid]
            for k, byte in enumerate(_MULTI_PREFIX):
                buf[wp + k] = byte
            pos = pos + extra
            _gather(buf, pos, data, field_src, field_lens)
            pos = pos + field_lens
        else:
            # a "var" field (text or bytea)
            _put_be32(buf, pos, np.where(valid, field_lens, -1))
            pos = pos + 4
            _gather(buf, pos, data, field_src, field_lens)
            pos = pos + field_lens
    if last:
        buf[-2:] = 0xFF
    return buf.data


def _prefetch(build: Any, bounds: list[tuple[int, int]]) -> Any:
    """Yield ``build(lo, hi)`` for each bound, building the next chunk in a worker thread.

    At most two chunks wait at a time, so memory stays bounded while numpy/shapely (which
    release the GIL) prepare one chunk and the caller sends the previous one.
    """
    q: queue.Queue[Any] = queue.Queue(maxsize=2)
    stop = threading.Event()
    end = object()

    def work() -> None:
        try:
            for lo, hi in bounds:
                item = build(lo, hi)
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(end)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            q.put(exc)

    worker = threading.Thread(target=work, name="copy-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = q.get()
            if item is end:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def copy_arrays(
    conn: Connection,
    layer: LayerRef,
    dataset_id: int,
    columns: dict[str, Any],
    geoms: Any,
    timings: dict[str, float] | None = None,
) -> int:
    """COPY columns and EPSG:4547 MultiPolygon geometries into ``layer`` under ``dataset_id``.

    Parameters
    ----------
    columns
        Model column name → Arrow array, pandas Series or sequence (missing ones are NULL).
    geoms
        Shapely MultiPolygons in EPSG:4547 (numpy object array).
    timings
        If given, receives the seconds spent copying rows and building a staged partition's
        indexes.

    Returns the number of rows written. Rows go out in PostgreSQL's binary COPY format,
    assembled with numpy from the Arrow buffers, geometries as WKB (PostGIS assigns the
    column's SRID; Polygons are wrapped as one-part MultiPolygons on the wire), in chunks of
    :data:`COPY_CHUNK_ROWS` built by a worker thread while the previous one is sent; nothing
    is looped over per row in Python.
    """
    build, n = _copy_builder(layer, dataset_id, columns, geoms)
    raw_conn = conn.connection.driver_connection
    created = False
    target = layer_spec(layer).name
    if layer_spec(layer).partitioned:
        created = _stage_partition(raw_conn, layer, dataset_id)
        target = partition_name(layer, dataset_id)
    t0 = time.perf_counter()
    _send(raw_conn, layer, target, build, _bounds(0, n))
    if timings is not None:
        timings["copy_rows"] = round(time.perf_counter() - t0, 3)
    if created:
        t0 = time.perf_counter()
        with raw_conn.cursor() as cur:  # type: ignore[union-attr]
            for stmt in _index_statements(layer, dataset_id):
                cur.execute(stmt)
        if timings is not None:
            timings["build_indexes"] = round(time.perf_counter() - t0, 3)
    return n


Builder = Callable[[int, int, bool, bool], memoryview]
"""``build(lo, hi, first, last)``: binary COPY data of rows ``lo:hi`` (header/trailer flags)."""


def _copy_builder(
    layer: LayerRef, dataset_id: int, columns: dict[str, Any], geoms: Any
) -> tuple[Builder, int]:
    """The chunk builder for a load, and its row count."""
    spec = layer_spec(layer)
    cols = spec.column_names
    numbers = {c.name for c in spec.columns if c.kind == "number"}
    geoms = np.asarray(geoms, dtype=object)
    n = len(geoms)
    arrays: dict[str, Any] = {}
    for c in cols:
        if c in numbers:
            raw = columns.get(c)
            vals = np.full(n, np.nan) if raw is None else _floats(raw)
            arrays[c] = vals
        else:
            arr = _text_array(columns.get(c), n)
            if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
                arr = arr.cast(pa.string())
            arrays[c] = arr

    def build(lo: int, hi: int, first: bool, last: bool) -> memoryview:
        chunk = geoms[lo:hi]
        wkb = shapely.to_wkb(chunk, output_dimension=2, include_srid=False, byte_order=1)
        promote = shapely.get_type_id(chunk) == 3
        fields: list[tuple[str, Any]] = []
        for c in cols:
            if c in numbers:
                v = arrays[c][lo:hi]
                fields.append(("f8", (v, ~np.isnan(v))))
            else:
                fields.append(("var", arrays[c].slice(lo, hi - lo)))
        fields.append(("wkb", (pa.array(wkb, pa.binary()), promote)))
        return _binary_chunk(dataset_id, fields, first, last)

    return build, n


def _bounds(lo: int, hi: int) -> list[tuple[int, int]]:
    """Chunk bounds covering rows ``lo:hi`` (one empty chunk when there are none)."""
    return [(a, min(a + COPY_CHUNK_ROWS, hi)) for a in range(lo, max(hi, lo + 1), COPY_CHUNK_ROWS)]


def _send(
    raw_conn: Any, layer: LayerRef, table: str, build: Builder, bounds: list[tuple[int, int]]
) -> None:
    """One binary COPY of the chunks ``bounds`` into ``table`` (the layer's or its partition)."""
    stmt = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT binary)").format(
        sql.Identifier(table),
        sql.SQL(", ").join(
            sql.Identifier(c) for c in ("dataset_id", *layer_spec(layer).column_names, "geom")
        ),
    )
    first, last = bounds[0][0], bounds[-1][1]

    def chunk(lo: int, hi: int) -> memoryview:
        return build(lo, hi, lo == first, hi == last)

    with raw_conn.cursor() as cur, cur.copy(stmt) as cp:
        for data in _prefetch(chunk, bounds):
            _write_chunk(cp, data)


BULK_MIN_ROWS = 50_000
"""From this many rows, :func:`bulk_load` COPYs and indexes over parallel connections."""
BULK_WORKERS = 2
"""Connections used by :func:`bulk_load` (the machine this was tuned on has 2 cores)."""


def bulk_load(
    engine: Engine,
    layer: LayerRef,
    dataset_id: int,
    columns: dict[str, Any],
    geoms: Any,
    timings: dict[str, float] | None = None,
) -> int:
    """Stage a large load of a partitioned layer over parallel connections; return the rows.

    The bare partition table is created and committed unattached (invisible in the layer and
    its ``current_*`` view), filled by :data:`BULK_WORKERS` concurrent COPYs of row ranges and
    indexed by concurrent ``CREATE INDEX`` sessions, so the server's per-row work (WKB parsing,
    the generated EPSG:3857 column) and the index builds use every core. :func:`publish`
    attaches it. If the process dies first, the dataset stays ``staging`` with no live lock,
    and :func:`cleanup_staging` drops the table. Layers that are not partitioned and small
    loads go through :func:`copy_arrays` in the caller's transaction instead.
    """
    if not layer_spec(layer).partitioned:
        raise ValueError(f"{layer_spec(layer).name} is not partitioned; use copy_arrays")
    build, n = _copy_builder(layer, dataset_id, columns, geoms)
    table = partition_name(layer, dataset_id)
    # Each session works on the psycopg connection and commits it itself.
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        if not _stage_partition(raw, layer, dataset_id):
            raise Conflict(
                f"数据集 {dataset_id} 的分区已存在", f"dataset {dataset_id} already has rows"
            )
        raw.commit()  # type: ignore[union-attr]
    t0 = time.perf_counter()
    step = -(-n // BULK_WORKERS)
    ranges = [(lo, min(lo + step, n)) for lo in range(0, n, step)] if n else [(0, 0)]

    def copy_range(r: tuple[int, int]) -> None:
        with engine.connect() as conn:
            raw = conn.connection.driver_connection
            _send(raw, layer, table, build, _bounds(*r))
            raw.commit()  # type: ignore[union-attr]

    _in_parallel(copy_range, ranges)
    if timings is not None:
        timings["copy_rows"] = round(time.perf_counter() - t0, 3)
    t0 = time.perf_counter()
    stmts = _index_statements(layer, dataset_id)
    setting, builds = stmts[0], stmts[1:]
    # longest first, dealt round-robin: the two GiST builds land on different sessions
    groups = [builds[i::BULK_WORKERS] for i in range(BULK_WORKERS)]

    def build_indexes(group: list[sql.Composable]) -> None:
        with engine.connect() as conn:
            raw = conn.connection.driver_connection
            with raw.cursor() as cur:  # type: ignore[union-attr]
                cur.execute(setting)
                for stmt in group:
                    cur.execute(stmt)
            raw.commit()  # type: ignore[union-attr]

    _in_parallel(build_indexes, [g for g in groups if g])
    if timings is not None:
        timings["build_indexes"] = round(time.perf_counter() - t0, 3)
    return n


def _in_parallel(fn: Callable[[Any], None], items: list[Any]) -> None:
    """Run ``fn`` over ``items`` in threads; re-raise the first failure after all finish."""
    with ThreadPoolExecutor(max_workers=len(items), thread_name_prefix="bulk") as pool:
        futures = [pool.submit(fn, item) for item in items]
    for f in futures:
        f.result()


MAINTENANCE_WORK_MEM = "256MB"
"""Sort memory for the bulk index builds of a staged partition (transaction-local)."""


def partition_name(layer: LayerRef, dataset_id: int) -> str:
    """Table name of the partition holding ``dataset_id``'s rows (from an integer, never input)."""
    return f"{layer_spec(layer).name}_ds_{int(dataset_id)}"


def _partition_state(raw_conn: Any, layer: LayerRef, dataset_id: int) -> tuple[bool, bool]:
    """(exists, attached) for the partition of ``dataset_id``."""
    with raw_conn.cursor() as cur:
        cur.execute(
            "SELECT to_regclass(%s) IS NOT NULL, EXISTS (SELECT 1 FROM pg_inherits "
            "WHERE inhrelid = to_regclass(%s))",
            [partition_name(layer, dataset_id)] * 2,
        )
        exists, attached = cur.fetchone()
    return bool(exists), bool(attached)


def _stage_partition(raw_conn: Any, layer: LayerRef, dataset_id: int) -> bool:
    """Create the bare (index-free, unattached) partition table; False if it already exists."""
    exists, _ = _partition_state(raw_conn, layer, dataset_id)
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


def _index_statements(layer: LayerRef, dataset_id: int) -> list[sql.Composed]:
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
        # _attach_partition turns them into the constraints (metadata only)
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


def _attach_partition(conn: Connection, layer: LayerRef, dataset_id: int) -> None:
    """Attach a staged partition to its layer (its CHECK constraint spares the scan)."""
    raw = conn.connection.driver_connection
    exists, attached = _partition_state(raw, layer, dataset_id)
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


def copy_rows(conn: Connection, layer: LayerRef, dataset_id: int, gdf: gpd.GeoDataFrame) -> int:
    """COPY the rows of ``gdf`` (EPSG:4547 MultiPolygons) into ``layer`` under ``dataset_id``.

    ``gdf`` has the layer's declared columns (missing ones are written NULL) and a geometry
    column. Returns the number of rows written.
    """
    if gdf.crs is None or gdf.crs.to_epsg() != STORAGE_SRID:
        raise ValueError(f"geometries must be in EPSG:{STORAGE_SRID}, got {gdf.crs}")
    cols = {c: gdf[c] for c in layer_spec(layer).column_names if c in gdf.columns}
    return copy_arrays(conn, layer, dataset_id, cols, gdf.geometry.values.to_numpy())


def publish(conn: Connection, layer: LayerRef, dataset_id: int, mode: str = "replace") -> list[int]:
    """Make ``dataset_id`` active, superseding the layer's active datasets for ``replace``.

    Runs inside the caller's transaction; takes the layer lock first. For ``append``, codes that
    already exist in the layer's current rows are refused with Conflict. Returns the ids of
    the datasets superseded.
    """
    lock_layer(conn, layer)
    if layer_spec(layer).partitioned:
        _attach_partition(conn, layer, dataset_id)
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
    if not spec.partitioned or _partition_state(raw, spec, dataset_id)[0]:
        with raw.cursor() as cur:  # type: ignore[union-attr]
            cur.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(target)))
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


def restore(engine: Engine, dataset_id: int, user_name: str = "system") -> dict[str, Any]:
    """Make an older dataset version active again (``replace`` semantics) and audit it."""
    with engine.begin() as conn:
        row = conn.execute(
            text("SELECT layer, status FROM datasets WHERE id = :id"), {"id": dataset_id}
        ).one_or_none()
        if row is None:
            raise NotFound(f"数据集不存在：{dataset_id}", f"no dataset {dataset_id}")
        layer = layer_spec(row.layer)
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
            {"u": user_name, "t": f"dataset:{dataset_id}", "d": f'{{"layer": "{layer.name}"}}'},
        )
    return {"dataset_id": dataset_id, "layer": layer.name, "status": "active"}


def list_datasets(engine: Engine, layer: LayerRef | None = None) -> list[dict[str, Any]]:
    """Every dataset version, newest first, optionally for one layer."""
    q = (
        "SELECT id, layer, status, mode, file_name, sha256, format, source_crs, encoding, "
        "row_count, area_m2, uploaded_by, created_at, published_at, superseded_at "
        "FROM datasets"
    )
    params: dict[str, Any] = {}
    if layer is not None:
        q += " WHERE layer = :layer"
        params["layer"] = layer_spec(layer).name
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
        exists, attached = _partition_state(raw, layer, dataset_id)
        if not exists:
            return
        if not attached:  # dropping an attached partition would lock the whole layer
            with raw.cursor() as cur:  # type: ignore[union-attr]
                cur.execute(
                    sql.SQL("DROP TABLE {}").format(
                        sql.Identifier(partition_name(layer, dataset_id))
                    )
                )
            return
    table = sql.Identifier(layer_spec(layer).name)
    stmt = sql.SQL("DELETE FROM {} WHERE dataset_id = %s").format(table)
    with raw.cursor() as cur:  # type: ignore[union-attr]
        cur.execute(stmt, [dataset_id])


def mark_failed(conn: Connection, dataset_id: int, report: dict[str, Any]) -> None:
    """Set a dataset to ``failed`` with its report and no rows (runs in the caller's txn)."""
    import json

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
    with engine.connect() as conn:
        row = (
            conn.execute(
                text(
                    "SELECT id, layer, status, mode, file_name, sha256, format, source_crs, "
                    "crs_method, encoding, encoding_method, row_count, area_m2, uploaded_by, "
                    "created_at, published_at, superseded_at, report FROM datasets WHERE id = :id"
                ),
                {"id": dataset_id},
            )
            .mappings()
            .one_or_none()
        )
    if row is None:
        raise NotFound(f"数据集不存在：{dataset_id}", f"no dataset {dataset_id}")
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}
