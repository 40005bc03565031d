"""GeoDataFrames (EPSG:4547) as GeoJSON FeatureCollections in CRS84 for the web map."""

from __future__ import annotations

import json
from typing import Any

import geopandas as gpd


def feature_collection(gdf: gpd.GeoDataFrame, precision: int = 7) -> dict[str, Any]:
    """``gdf`` as a GeoJSON FeatureCollection in CRS84 (lon/lat), properties as columns."""
    if len(gdf) == 0:
        return {"type": "FeatureCollection", "features": []}
    out = gdf.to_crs(4326)
    out["geometry"] = out.geometry.set_precision(10**-precision)
    return json.loads(out.to_json(drop_id=True))  # type: ignore[no-any-return]
