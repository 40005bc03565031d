"""Writing a load's rows: binary COPY in chunks, and parallel staging of large loads.

:func:`copy_arrays` sends the rows in the caller's transaction; :func:`bulk_load` stages a
large load of a partitioned layer over parallel sessions (committed unattached, so invisible
until :func:`~spatial.datasets.lifecycle.publish` attaches it). The wire format is built by
:mod:`spatial.datasets.pgcopy`, the partition DDL by :mod:`spatial.datasets.partitions`.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from psycopg import sql
from sqlalchemy import Connection, Engine

from spatial.datasets.partitions import index_statements, partition_name, stage_partition
from spatial.datasets.pgcopy import Builder, chunk_builder
from spatial.errors import Conflict
from spatial.layers.overview import load_overview, write_overview
from spatial.models import STORAGE_SRID
from spatial.schema import LayerRef, layer_spec

if TYPE_CHECKING:
    import geopandas as gpd


COPY_CHUNK_ROWS = 20_000
"""Rows per COPY chunk: bounds the memory of the binary buffer (and its index arrays)."""


def _write_chunk(cp: Any, data: bytes) -> None:
    """Send one chunk to an open COPY (a seam tests use to interrupt a load)."""
    cp.write(data)


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
    on_phase: Callable[[str], None] | None = None,
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
    on_phase
        If given, called with ``"index"`` when the index builds of a staged partition start.

    Returns the number of rows written. Rows go out in PostgreSQL's binary COPY format,
    assembled with numpy from the Arrow buffers, geometries as WKB (PostGIS assigns the
    column's SRID; Polygons are wrapped as one-part MultiPolygons on the wire), in chunks of
    :data:`COPY_CHUNK_ROWS` built by a worker thread while the previous one is sent; nothing
    is looped over per row in Python.
    """
    build, n = chunk_builder(layer, dataset_id, columns, geoms)
    raw_conn = conn.connection.driver_connection
    created = False
    target = layer_spec(layer).name
    if layer_spec(layer).partitioned:
        created = stage_partition(raw_conn, layer, dataset_id)
        target = partition_name(layer, dataset_id)
    t0 = time.perf_counter()
    _send(raw_conn, layer, target, build, _bounds(0, n))
    counts = load_overview(layer_spec(layer).name, columns, geoms)
    if counts is not None:  # the parcel tiles' low-zoom overview (spatial.layers.overview)
        write_overview(raw_conn, dataset_id, counts)
    if timings is not None:
        timings["copy_rows"] = round(time.perf_counter() - t0, 3)
    if created:
        if on_phase is not None:
            on_phase("index")
        t0 = time.perf_counter()
        with raw_conn.cursor() as cur:  # type: ignore[union-attr]
            for stmt in index_statements(layer, dataset_id):
                cur.execute(stmt)
        if timings is not None:
            timings["build_indexes"] = round(time.perf_counter() - t0, 3)
    return n


def copy_rows(conn: Connection, layer: LayerRef, dataset_id: int, gdf: gpd.GeoDataFrame) -> int:
    """COPY the rows of ``gdf`` (EPSG:4547 MultiPolygons) into ``layer`` under ``dataset_id``.

    ``gdf`` has the layer's declared columns (missing ones are written NULL) and a geometry
    column. Returns the number of rows written.
    """
    if gdf.crs is None or gdf.crs.to_epsg() != STORAGE_SRID:
        raise ValueError(f"geometries must be in EPSG:{STORAGE_SRID}, got {gdf.crs}")
    cols = {c: gdf[c] for c in layer_spec(layer).column_names if c in gdf.columns}
    return copy_arrays(conn, layer, dataset_id, cols, gdf.geometry.values.to_numpy())


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

    def chunk(lo: int, hi: int) -> bytes:
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
    on_phase: Callable[[str], None] | None = None,
) -> int:
    """Stage a large load of a partitioned layer over parallel connections; return the rows.

    ``on_phase`` is called with ``"index"`` when the index builds start.

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
    build, n = chunk_builder(layer, dataset_id, columns, geoms)
    table = partition_name(layer, dataset_id)
    # Each session works on the psycopg connection and commits it itself.
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        if not stage_partition(raw, layer, dataset_id):
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
    if on_phase is not None:
        on_phase("index")
    t0 = time.perf_counter()
    stmts = index_statements(layer, dataset_id)
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

    # the parcel tiles' low-zoom overview is counted while the server builds the indexes
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="overview") as pool:
        counting = pool.submit(load_overview, layer_spec(layer).name, columns, geoms)
        _in_parallel(build_indexes, [g for g in groups if g])
        counts = counting.result()
    if counts is not None:
        with engine.connect() as conn:
            raw = conn.connection.driver_connection
            write_overview(raw, dataset_id, counts)
            raw.commit()  # type: ignore[union-attr]
    if timings is not None:
        timings["build_indexes"] = round(time.perf_counter() - t0, 3)
    return n


def _in_parallel(fn: Callable[[Any], None], items: list[Any]) -> None:
    """Run ``fn`` over ``items`` in threads; re-raise the first failure after all finish."""
    with ThreadPoolExecutor(max_workers=len(items), thread_name_prefix="bulk") as pool:
        futures = [pool.submit(fn, item) for item in items]
    for f in futures:
        f.result()
