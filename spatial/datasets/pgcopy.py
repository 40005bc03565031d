"""PostgreSQL's binary COPY format, encoded from Arrow and numpy buffers with no per-row Python.

:func:`chunk_builder` turns a load's columns (Arrow arrays or pandas Series, per the layer's
declaration) and EPSG:4547 shapely geometries into chunks of ``COPY … FROM STDIN WITH (FORMAT
binary)`` data: ``dataset_id``, the declared columns (text and codes as UTF-8, numbers as
float8) and the geometry as little-endian WKB (Polygons wrapped as one-part MultiPolygons on the
wire). Nothing here talks to a database.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import shapely

from spatial.schema import LayerRef, layer_spec

_PGCOPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"


_PGCOPY_TRAILER = b"\xff\xff"


_MULTI_PREFIX = b"\x01\x06\x00\x00\x00\x01\x00\x00\x00"
"""Little-endian WKB header of a MultiPolygon with one part: prepended to Polygon WKB."""


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


Builder = Callable[[int, int, bool, bool], memoryview]
"""``build(lo, hi, first, last)``: binary COPY data of rows ``lo:hi`` (header/trailer flags)."""


def chunk_builder(
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
        return encode_chunk(dataset_id, fields, first, last)

    return build, n
