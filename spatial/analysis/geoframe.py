"""Turn query rows with WKB geometry into GeoDataFrames in EPSG:4547."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from spatial.models import STORAGE_SRID


def to_geodataframe(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[str], geom_key: str = "wkb"
) -> gpd.GeoDataFrame:
    """A GeoDataFrame (EPSG:4547) with ``columns`` and a ``geometry`` from WKB ``geom_key``.

    Rows whose WKB is NULL get a missing geometry. An empty input gives an empty frame with
    the same columns, so callers can always rely on the schema.
    """
    rows = list(rows)
    frame = pd.DataFrame([{c: r[c] for c in columns} for r in rows], columns=list(columns))
    wkb = [bytes(r[geom_key]) if r[geom_key] is not None else None for r in rows]
    geoms = shapely.from_wkb(wkb) if wkb else []
    return gpd.GeoDataFrame(
        frame, geometry=gpd.GeoSeries(geoms, crs=STORAGE_SRID), crs=STORAGE_SRID
    )
