"""Benchmark binary COPY encoders on parcel rows: tuzheng's former numpy encoder against pgpq.

Usage::

    .venv/bin/python bench/copy_encoder.py --rows 100000 1000000 --repeat 3

``numpy`` is the encoder ``spatial/datasets.py`` had until pgpq replaced it (a private copy
below, kept only here); ``pgpq`` is ``ArrowToPostgresBinaryEncoder``, which
:mod:`spatial.datasets.pgcopy` now uses. Both encoders get the same Arrow arrays:
``dataset_id`` (int32), parcel code, category code, project code and a Chinese owner name
(strings, some NULL), and the geometry as little-endian WKB (already MultiPolygons, so the
Polygon wrapping does nothing), in chunks of
``COPY_CHUNK_ROWS`` rows, as an upload sends them. Timed: encoding every chunk, not building the
inputs (WKB comes from the same ``shapely.to_wkb`` for both). Checked: the two streams are byte
for byte the same, and (with ``--copy``) that PostgreSQL loads each into a bare parcels table.

Printed: seconds per run (best of ``--repeat``) and MB/s of COPY data, for each encoder. This is
not a test: nothing is asserted except the byte equality.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import shapely  # noqa: E402

from spatial.datasets.loading import COPY_CHUNK_ROWS  # noqa: E402

OWNERS = ["深圳市光明区凤凰社区股份合作公司", "张三", "李四（代管）", None]
CATS = ["collective", "state_farm", "incomplete_acquisition", "state_owned"]


# --- the former encoder (a copy kept only here) ------------------------------------------

_PGCOPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"


_PGCOPY_TRAILER = b"\xff\xff"


_MULTI_PREFIX = b"\x01\x06\x00\x00\x00\x01\x00\x00\x00"
"""Little-endian WKB header of a MultiPolygon with one part: prepended to Polygon WKB."""


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


def encode_chunk(dataset_id: int, fields: list[tuple[str, Any]], first: bool, last: bool):
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


# --- the benchmark ------------------------------------------------------------------------


def inputs(n: int) -> dict[str, Any]:
    """Arrow columns of ``n`` parcel rows, their MultiPolygons and their WKB."""
    rng = np.random.default_rng(7)
    xs = 480_000 + rng.random(n) * 80_000
    ys = 2_490_000 + rng.random(n) * 35_000
    boxes = shapely.box(xs, ys, xs + 40, ys + 30)
    geoms = shapely.multipolygons(boxes.reshape(-1, 1))
    wkb = shapely.to_wkb(geoms, output_dimension=2, include_srid=False, byte_order=1)
    return {
        "code": pa.array([f"GM-{i:07d}" for i in range(n)], pa.string()),
        "category": pa.array([CATS[i % 4] for i in range(n)], pa.string()),
        "project_code": pa.array([None if i % 3 else "GM-ZB-001" for i in range(n)], pa.string()),
        "owner": pa.array([OWNERS[i % 4] for i in range(n)], pa.string()),
        "geom": pa.array(wkb, pa.binary()),
        "shapes": geoms,
    }


def ours(cols: dict[str, Any], dataset_id: int) -> list[bytes]:
    """Chunks from the former numpy encoder (:func:`encode_chunk` above)."""
    n = len(cols["code"])
    out = []
    no_promotion = np.zeros(COPY_CHUNK_ROWS, dtype=bool)
    for lo in range(0, n, COPY_CHUNK_ROWS):
        hi = min(lo + COPY_CHUNK_ROWS, n)
        fields: list[tuple[str, Any]] = [
            ("var", cols[c].slice(lo, hi - lo))
            for c in ("code", "category", "project_code", "owner")
        ]
        fields.append(("wkb", (cols["geom"].slice(lo, hi - lo), no_promotion[: hi - lo])))
        out.append(bytes(encode_chunk(dataset_id, fields, lo == 0, hi == n)))
    return out


def peer(cols: dict[str, Any], dataset_id: int) -> list[bytes]:
    """Chunks from pgpq's ``ArrowToPostgresBinaryEncoder`` (header, batches, trailer)."""
    from pgpq import ArrowToPostgresBinaryEncoder

    n = len(cols["code"])
    attrs = {c: cols[c] for c in ("code", "category", "project_code", "owner", "geom")}
    ids = pa.array(np.full(n, dataset_id, dtype=np.int32))
    table = pa.table({"dataset_id": ids, **attrs})
    encoder = ArrowToPostgresBinaryEncoder(table.schema)
    out = [bytes(encoder.write_header())]
    for batch in table.to_batches(max_chunksize=COPY_CHUNK_ROWS):
        out.append(bytes(encoder.write_batch(batch)))
    out.append(bytes(encoder.finish()))
    return out


def numpy_load(cols: dict[str, Any], dataset_id: int) -> list[bytes]:
    """The former load path: WKB from the geometries, then the numpy encoder, per chunk."""
    n = len(cols["code"])
    out = []
    for lo in range(0, n, COPY_CHUNK_ROWS):
        hi = min(lo + COPY_CHUNK_ROWS, n)
        chunk = cols["shapes"][lo:hi]
        wkb = shapely.to_wkb(chunk, output_dimension=2, include_srid=False, byte_order=1)
        promote = shapely.get_type_id(chunk) == 3
        fields: list[tuple[str, Any]] = [
            ("var", cols[c].slice(lo, hi - lo))
            for c in ("code", "category", "project_code", "owner")
        ]
        fields.append(("wkb", (pa.array(wkb, pa.binary()), promote)))
        out.append(bytes(encode_chunk(dataset_id, fields, lo == 0, hi == n)))
    return out


def pgpq_load(cols: dict[str, Any], dataset_id: int) -> list[bytes]:
    """The load path now: :func:`spatial.datasets.pgcopy.chunk_builder`, per chunk."""
    from spatial.datasets.pgcopy import chunk_builder

    columns = {c: cols[c] for c in ("code", "category", "project_code", "owner")}
    build, n = chunk_builder("parcels", dataset_id, columns, cols["shapes"])
    bounds = [(lo, min(lo + COPY_CHUNK_ROWS, n)) for lo in range(0, n, COPY_CHUNK_ROWS)]
    return [build(lo, hi, lo == 0, hi == n) for lo, hi in bounds]


def best(fn: Any, cols: dict[str, Any], repeat: int) -> tuple[float, bytes]:
    times = []
    data = b""
    for _ in range(repeat):
        t0 = time.perf_counter()
        chunks = fn(cols, 42)
        times.append(time.perf_counter() - t0)
        data = b"".join(chunks)
    return min(times), data


def copy_check(data: bytes, label: str) -> int:
    """COPY ``data`` into a temporary bare parcels table; the number of rows loaded."""
    from spatial.db import get_engine

    engine = get_engine()
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        with raw.cursor() as cur:  # type: ignore[union-attr]
            cur.execute(
                "CREATE TEMP TABLE bench_parcels (LIKE parcels INCLUDING DEFAULTS "
                "INCLUDING GENERATED)"
            )
            with cur.copy(
                "COPY bench_parcels (dataset_id, code, category, project_code, owner, geom) "
                "FROM STDIN WITH (FORMAT binary)"
            ) as cp:
                cp.write(data)
            cur.execute("SELECT count(*), sum(ST_Area(geom)) FROM bench_parcels")
            n, area = cur.fetchone()
        raw.rollback()  # type: ignore[union-attr]
    print(f"  COPY of the {label} stream: {n} rows, {area:.0f} m²")
    return int(n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--copy", action="store_true", help="also COPY both streams into PostGIS")
    args = ap.parse_args()
    import pgpq  # noqa: F401 - fail early when the peer is missing

    for n in args.rows:
        cols = inputs(n)
        for label, old_fn, new_fn in (
            ("encoding only", ours, peer),
            ("load path (WKB + encoding)", numpy_load, pgpq_load),
        ):
            t_old, d_old = best(old_fn, cols, args.repeat)
            t_new, d_new = best(new_fn, cols, args.repeat)
            same = d_old == d_new
            mb = len(d_old) / 1e6
            print(
                f"{n:>9} rows, {mb:.1f} MB, {label}: numpy {t_old:.3f} s "
                f"({mb / t_old:.0f} MB/s), pgpq {t_new:.3f} s ({mb / t_new:.0f} MB/s); "
                f"numpy/pgpq = {t_old / t_new:.2f}; identical bytes: {same}"
            )
            if not same:
                raise SystemExit("the two encoders disagree")
        if args.copy:
            copy_check(d_old, "numpy")
            copy_check(d_new, "pgpq")


if __name__ == "__main__":
    main()
