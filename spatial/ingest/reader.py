"""Read an unpacked upload with pyogrio (Arrow), allowing only the expected GDAL drivers.

Attributes come back as an Arrow table decoded with the encoding chosen in
:mod:`spatial.ingest.encoding`; geometries as shapely objects parsed from WKB in one vectorised
call. Curved geometries (which shapely cannot parse) are read again through GDAL's linearising
path for just those rows.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyogrio
import shapely
from numpy.typing import NDArray
from pyogrio.errors import DataLayerError, DataSourceError, FieldError, GeometryError

from spatial.errors import InvalidInput
from spatial.ingest.containers import EXPECTED_DRIVERS, Source
from spatial.ingest.encoding import EncodingChoice
from spatial.ingest.geometry import CURVE_TYPES, wkb_base_types

_PARSE_CHUNK = 50_000
"""WKB values converted to shapely per step (bounds the temporary bytes objects)."""
PARALLEL_MIN_FEATURES = 200_000
"""From this many features, a file whose driver seeks by index is read in ranges, in threads."""
READ_THREADS = 2
"""Threads reading ranges of a large file (the machine this was tuned on has 2 cores)."""
_GDAL_ERRORS = (DataSourceError, DataLayerError, FieldError, GeometryError, OSError, RuntimeError)


@dataclass
class Read:
    """What was read: attributes, geometries (source CRS), WKB base types, layer metadata."""

    table: pa.Table
    geoms: NDArray
    types: NDArray
    layer: str | None
    crs: str | None
    fields: list[str]


def _corrupt(src: Source, exc: Exception) -> InvalidInput:
    return InvalidInput(
        f"文件无法读取（已损坏或被截断）：{src.display_name}（{exc}）",
        f"the file cannot be read (corrupt or truncated): {src.display_name} ({exc})",
    )


def choose_layer(src: Source, source_layer: str | None) -> str | None:
    """The layer to read: for a GeoPackage with several, ``source_layer`` must name one."""
    if src.driver != "GPKG":
        return None
    try:
        layers = pyogrio.list_layers(src.path)
    except _GDAL_ERRORS as exc:
        raise _corrupt(src, exc) from exc
    spatial_layers = [str(name) for name, gtype in layers if gtype is not None]
    if not spatial_layers:
        raise InvalidInput(
            "GeoPackage 中没有带几何的图层", "the GeoPackage has no layer with geometries"
        )
    if source_layer is not None:
        if source_layer not in spatial_layers:
            raise InvalidInput(
                f"GeoPackage 中没有图层 {source_layer}；可选：{', '.join(spatial_layers)}",
                f"the GeoPackage has no layer {source_layer}; choose one of: "
                f"{', '.join(spatial_layers)}",
                candidates=spatial_layers,
            )
        return source_layer
    if len(spatial_layers) > 1:
        raise InvalidInput(
            f"GeoPackage 有多个图层：{', '.join(spatial_layers)}；请用 --source-layer 指定其一",
            f"the GeoPackage has several layers: {', '.join(spatial_layers)}; choose one with "
            "--source-layer",
            candidates=spatial_layers,
        )
    return spatial_layers[0]


def read_source(src: Source, enc: EncodingChoice, source_layer: str | None) -> Read:
    """Read the chosen layer of ``src``; refuse unexpected drivers and unreadable files."""
    layer = choose_layer(src, source_layer)
    kw: dict[str, Any] = {"layer": layer} if layer is not None else {}
    if src.driver == "ESRI Shapefile":
        kw["encoding"] = enc.gdal_name
    try:
        info = pyogrio.read_info(src.path, **kw)
    except _GDAL_ERRORS as exc:
        raise _corrupt(src, exc) from exc
    if info.get("driver") not in EXPECTED_DRIVERS or info.get("driver") != src.driver:
        raise InvalidInput(
            f"文件被 {info.get('driver')} 驱动识别，不是预期的 {src.driver}；已拒绝",
            f"the file opens with the {info.get('driver')} driver, not the expected "
            f"{src.driver}; refused",
        )
    total = int(info.get("features") or 0)
    caps = info.get("capabilities") or {}
    parts = 1
    if total >= PARALLEL_MIN_FEATURES and caps.get("fast_set_next_by_index"):
        parts = READ_THREADS
    if parts > 1:
        step = -(-total // parts)
        with ThreadPoolExecutor(max_workers=parts, thread_name_prefix="read") as pool:
            pieces = list(
                pool.map(lambda i: _read_range(src, enc, kw, i * step, step), range(parts))
            )
        meta = pieces[0][0]
        table = pa.concat_tables([p[1] for p in pieces])
        geoms = np.concatenate([p[2] for p in pieces])
        types = np.concatenate([p[3] for p in pieces])
        del pieces
    else:
        meta, table, geoms, types = _read_range(src, enc, kw, 0, 0)
    if table.num_rows != total and int(info.get("features", -1)) >= 0:
        raise _corrupt(src, ValueError(f"read {table.num_rows} of {info.get('features')} features"))
    parseable = (types >= 0) & (types <= 7)
    curved = np.isin(types, list(CURVE_TYPES))
    if curved.any():
        geoms[curved] = _linearised(src, kw)[curved]
    other = ~parseable & ~curved & (types >= 0)
    if other.any():
        # keep a marker geometry that the type check refuses (TIN, PolyhedralSurface …)
        geoms[other] = shapely.Point(0, 0)
    fields = [str(f) for f in meta.get("fields", [])]
    return Read(table, geoms, types, layer, meta.get("crs"), fields)


def _read_range(
    src: Source, enc: EncodingChoice, kw: dict[str, Any], skip: int, count: int
) -> tuple[dict[str, Any], pa.Table, NDArray, NDArray]:
    """Read ``count`` features after the first ``skip`` (all when ``count`` is 0).

    Returns the layer metadata, the attribute table, the shapely geometries (None where the WKB
    is not a simple-feature type shapely parses) and the WKB base type codes. GDAL and GEOS
    release the GIL, so ranges read in threads run on separate cores.
    """
    rng: dict[str, Any] = {"skip_features": skip, "max_features": count} if count else {}
    try:
        meta, table = pyogrio.read_arrow(src.path, **kw, **rng)
    except _GDAL_ERRORS as exc:
        raise _corrupt(src, exc) from exc
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"文本无法按 {enc.label} 解码；请用 --encoding 指定正确的编码",
            f"text does not decode as {enc.label}; pass the right one with --encoding",
        ) from exc
    gcol = meta.get("geometry_name") or "wkb_geometry"
    if gcol not in table.column_names:
        raise InvalidInput("文件没有几何列", "the file has no geometry column")
    wkb = table.column(gcol)
    table = table.drop_columns([gcol])
    types = wkb_base_types(wkb)
    arr = wkb.combine_chunks() if isinstance(wkb, pa.ChunkedArray) else wkb
    del wkb
    parseable = (types >= 0) & (types <= 7)
    geoms = np.empty(len(arr), dtype=object)
    for lo in range(0, len(arr), _PARSE_CHUNK):
        values = arr.slice(lo, _PARSE_CHUNK).to_numpy(zero_copy_only=False)
        keep = parseable[lo : lo + len(values)]
        if not keep.all():
            values = np.where(keep, values, None)
        try:
            geoms[lo : lo + len(values)] = shapely.from_wkb(values, on_invalid="ignore")
        except (shapely.errors.GEOSException, ValueError) as exc:
            raise _corrupt(src, exc) from exc
    return meta, table, geoms, types


def _linearised(src: Source, kw: dict[str, Any]) -> NDArray:
    """All geometries of the layer via GDAL's non-Arrow path, which linearises curves."""
    try:
        _, _, wkb, _ = pyogrio.raw.read(src.path, columns=[], **kw)
    except _GDAL_ERRORS as exc:
        raise _corrupt(src, exc) from exc
    return np.asarray(shapely.from_wkb(wkb, on_invalid="ignore"), dtype=object)
