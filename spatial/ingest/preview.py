"""What a person checks before publishing: the first rows as stored, and where the problems are.

:func:`preview_rows` gives the first :data:`PREVIEW_ROWS` rows exactly as they will be written
(the mapped columns' text, unchanged, and the area in m² of the checked EPSG:4547 geometry), so
a surveyor sees with their own eyes that the Chinese text is right. :func:`problem_features` is
a GeoJSON FeatureCollection (CRS84, for the page's small map) of the rows that have problems,
each classed ``refused``, ``overlap`` or ``repaired``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import shapely
from pyproj import Transformer

from spatial.ingest.report import IngestReport
from spatial.models import STORAGE_SRID

PREVIEW_ROWS = 20
"""Rows shown in the preview."""
MAX_MAP_FEATURES = 500
"""At most this many problem rows are drawn on the map (the table lists them all)."""

_OVERLAP_CODES = {"overlap", "retained_overlap", "sliver"}


def preview_rows(values: dict[str, pa.Array], area_m2: np.ndarray) -> list[dict[str, Any]]:
    """The first rows as stored: ``row`` (1-based), every mapped column, ``area_m2`` (0.01)."""
    n = min(PREVIEW_ROWS, len(area_m2))
    cols = {name: arr.slice(0, n).to_pylist() for name, arr in values.items()}
    out = []
    for i in range(n):
        row: dict[str, Any] = {"row": i + 1}
        for name, vals in cols.items():
            row[name] = vals[i]
        a = float(area_m2[i])
        row["area_m2"] = round(a, 2) if np.isfinite(a) else None
        out.append(row)
    return out


def _kind(codes: set[str], severities: set[str]) -> str:
    if "error" in severities:
        return "refused"
    if codes & _OVERLAP_CODES:
        return "overlap"
    return "repaired"


def problem_features(report: IngestReport, geoms: np.ndarray) -> dict[str, Any]:
    """GeoJSON (CRS84) of the rows with listed problems; ``geoms`` are EPSG:4547 per row."""
    by_row: dict[int, list[Any]] = {}
    for p in report.problems:
        if p.row is not None and 1 <= p.row <= len(geoms):
            by_row.setdefault(p.row, []).append(p)
    rows = sorted(by_row)[:MAX_MAP_FEATURES]
    to_lonlat = Transformer.from_crs(STORAGE_SRID, 4326, always_xy=True)
    features = []
    for r in rows:
        g = geoms[r - 1]
        if g is None or shapely.is_empty(g) or not np.isfinite(shapely.bounds(g)).all():
            continue
        g84 = shapely.transform(g, lambda xy: np.column_stack(to_lonlat.transform(*xy.T)))
        probs = by_row[r]
        features.append(
            {
                "type": "Feature",
                "geometry": shapely.geometry.mapping(g84),
                "properties": {
                    "row": r,
                    "kind": _kind({p.code for p in probs}, {p.severity for p in probs}),
                    "codes": sorted({p.code for p in probs}),
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}
