"""Refuse a GeoPackage that would run SQL of its own when GDAL reads it.

A GeoPackage is an SQLite database. Reading a layer that is a *view* runs the view's query,
which the file's author wrote: a recursive query can hold a CPU core for hours, even for a dry
run. Reading never fires *triggers* (uploads are opened read-only, and this check opens the
file ``immutable``), but a view can also replace one of the tables GDAL itself reads
(``gpkg_contents``, ``gpkg_spatial_ref_sys``…). So before GDAL opens the file,
:func:`check_geopackage` lists its schema with SQLite (no statement of the file is run) and
refuses views and virtual tables other than the R-tree spatial index, naming them.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from spatial.errors import InvalidInput

ALLOWED_VIRTUAL = ("rtree",)
"""Virtual-table modules a GeoPackage may use (its spatial index)."""


def check_geopackage(path: Path, display: str) -> None:
    """Refuse (InvalidInput) a GeoPackage holding views or unexpected virtual tables."""
    uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
    try:
        conn = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        raise _corrupt(display, exc) from exc
    try:
        conn.execute("PRAGMA trusted_schema = OFF")
        rows = conn.execute(
            "SELECT type, name, coalesce(sql, '') FROM sqlite_master "
            "WHERE type IN ('view', 'table')"
        ).fetchall()
    except sqlite3.Error as exc:
        raise _corrupt(display, exc) from exc
    finally:
        conn.close()
    views = sorted(name for kind, name, _ in rows if kind == "view")
    virtual = sorted(
        name
        for kind, name, sql in rows
        if kind == "table"
        and sql.upper().lstrip().startswith("CREATE VIRTUAL TABLE")
        and not any(f"USING {m.upper()}" in sql.upper() for m in ALLOWED_VIRTUAL)
    )
    if views or virtual:
        names = ", ".join((views + virtual)[:20])
        raise InvalidInput(
            f"{display}：GeoPackage 含有视图或虚拟表（{names}），读取时会执行文件自带的查询，"
            "已拒绝；请导出为只含普通图层的 GeoPackage 或 shapefile",
            f"{display}: the GeoPackage holds views or virtual tables ({names}), which would run "
            "the file's own queries when read; refused. Export the layers as plain tables "
            "(or as a shapefile)",
            views=views,
            virtual_tables=virtual,
        )


def _corrupt(display: str, exc: Exception) -> InvalidInput:
    return InvalidInput(
        f"{display} 不是有效的 GeoPackage（{exc}）", f"{display} is not a valid GeoPackage ({exc})"
    )
