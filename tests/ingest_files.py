"""Helpers that generate real upload files with pyogrio/GDAL for the ingest tests."""

from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely

CATS = ["集体", "原光明农场国有用地", "未完善征转", "国有"]
OWNERS = ["深圳市光明区凤凰社区股份合作公司", "张三", "李四（代管）", "深圳市土地储备中心"]


def parcels(n: int = 4, x0: float = 500_000.0, y0: float = 2_500_000.0, size: float = 50.0):
    """``n`` adjacent square parcels (size×size m) in EPSG:4547 with Chinese attributes."""
    xs = x0 + np.arange(n) * size
    geoms = shapely.box(xs, y0, xs + size, y0 + size)
    return gpd.GeoDataFrame(
        {
            "宗地编号": [f"GM-{i:04d}" for i in range(n)],
            "权属类型": [CATS[i % 4] for i in range(n)],
            "权利人": [OWNERS[i % 4] for i in range(n)],
            "项目编号": ["XM-科学城" for _ in range(n)],
        },
        geometry=geoms,
        crs=4547,
    )


def write_shp(
    gdf: gpd.GeoDataFrame,
    folder: Path,
    name: str = "zongdi",
    *,
    encoding: str = "cp936",
    cpg: bool = True,
    prj: bool = True,
    ldid: int | None = None,
    prj_text: str | None = None,
) -> Path:
    """Write a shapefile with GDAL; optionally drop .cpg/.prj, set the DBF LDID byte."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.shp"
    pyogrio.write_dataframe(gdf, path, encoding=encoding)
    if not cpg:
        (folder / f"{name}.cpg").unlink(missing_ok=True)
    if not prj:
        (folder / f"{name}.prj").unlink(missing_ok=True)
    if prj_text is not None:
        (folder / f"{name}.prj").write_text(prj_text)
    if ldid is not None:
        dbf = folder / f"{name}.dbf"
        data = bytearray(dbf.read_bytes())
        data[29] = ldid
        dbf.write_bytes(bytes(data))
    return path


def zip_shapefile(shp: Path, zip_path: Path, prefix: str = "", utf8_names: bool = True) -> Path:
    """Zip a shapefile's parts (members under ``prefix``)."""
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
        for part in sorted(shp.parent.glob(shp.stem + ".*")):
            zf.write(part, prefix + part.name)
    return zip_path


ESRI_GK_PRJ = (
    'PROJCS["CGCS2000_3_Degree_GK_CM_114E",GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",'
    'DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],'
    'UNIT["Degree",0.0174532925199433]],PROJECTION["Gauss_Kruger"],'
    'PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",0.0],'
    'PARAMETER["Central_Meridian",114.0],PARAMETER["Scale_Factor",1.0],'
    'PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]'
)
