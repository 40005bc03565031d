"""The parcel tiles at low zooms: a category overview where parcels are too small to draw.

At zoom 13 and below a parcel of the city (about 45 m across) is two or three screen pixels or
less, and a tile of a dense district holds tens of thousands of them: megabytes of outlines
nobody can see (a z11 tile of the city demo was 3.5 MB). There, a ``parcels`` tile holds the
overview instead: the tile is cut into 64 × 64 cells (4 screen pixels each; 32 × 32 of 8 pixels
at z12 and z13); each cell takes
the ownership category covering most of it (by planar area of the parcels whose bounding-box
centre lies in it), and the cells of one category are merged into one feature carrying
``category`` (what the map colours by), ``n`` (how many parcels it stands for, of every
category) and ``area_m2`` (their planar area, EPSG:4547 m²). Such a tile has at most four
features and a few kilobytes.

The cells are counted once per dataset version, when it is loaded (:func:`overview_counts`,
:func:`write_overview`), into ``parcel_overview`` (migration 0014) at the zooms of
:data:`LEVELS`; a tile reads them by primary key, never the parcels. A zoom-13 overview tile is
counted from its own parcels when it is drawn (about 13,000 in the densest tile of the city:
one bounding box each, no geometry drawn), which spares storing half a row per parcel.

Which one a tile gets is decided from the stored counts first: the overview when the tile
holds :data:`OVERVIEW_MIN_PARCELS` parcels or more, or when its parcels average less than
:data:`OVERVIEW_MAX_PIXELS` pixels across; otherwise the parcels themselves (so a sparse
district, such as the default demo with its 200 m parcels, still shows each parcel at z11).
From zoom 14 the tiles always hold the parcels.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from pgpq import ArrowToPostgresBinaryEncoder
from psycopg import sql
from pyproj import Transformer

from spatial.categories import OwnershipCategory
from spatial.layers.collection import Collection

OVERVIEW_MAX_ZOOM = 13
"""Parcel tiles at this zoom and below may be the category overview."""
LEVELS = (11, 9)
"""Zooms whose cells ``parcel_overview`` stores (coarser levels are sums of the finest). A z12
tile reads level 11 (cells of 8 pixels); a z13 tile counts its own parcels."""
CELLS_PER_TILE = 64
"""Cells per tile side (4 pixels of a 256-pixel tile)."""
WORLD = 20037508.342789244
"""Half the side of the Web Mercator world, m (EPSG:3857)."""
OVERVIEW_COLLECTIONS = frozenset({"parcels"})
"""Collections whose low-zoom tiles may be the overview."""
OVERVIEW_MIN_PARCELS = 4000
"""A low-zoom tile with this many parcels or more is the overview (4,000 parcels drawn one by
one make a tile of about 200 KB)."""
OVERVIEW_MAX_PIXELS = 2.0
"""A low-zoom tile whose parcels average less than this many pixels across is the overview."""
MERCATOR_SCALE = 1.09
"""EPSG:3857 metres per ground metre over Shenzhen (1 / cos 22.6°), to size parcels in pixels."""
CATEGORIES = tuple(c.value for c in OwnershipCategory)
"""Category codes in the order of the PostgreSQL enum ``ownership_category``."""


def cell_size(zoom: int) -> float:
    """Side of a cell at ``zoom`` (1/64 of a tile), EPSG:3857 m."""
    return 2 * WORLD / (2**zoom) / CELLS_PER_TILE


def may_use_overview(col: Collection, z: int) -> bool:
    """Whether the tile of ``col`` at zoom ``z`` is decided by :func:`wants_overview`."""
    return col.id in OVERVIEW_COLLECTIONS and z <= OVERVIEW_MAX_ZOOM


def wants_overview(z: int, parcels: int, area_m2: float) -> bool:
    """Whether a tile at zoom ``z`` holding ``parcels`` parcels of ``area_m2`` (m²) in total is
    drawn as the overview: many parcels, or parcels averaging under two pixels across."""
    if parcels <= 0:
        return False
    if parcels >= OVERVIEW_MIN_PARCELS:
        return True
    pixel = 2 * WORLD / (2**z) / 256  # EPSG:3857 m per pixel
    side = (area_m2 / parcels) ** 0.5 * MERCATOR_SCALE
    return side < OVERVIEW_MAX_PIXELS * pixel


def stored_level(z: int) -> int:
    """The stored level a tile at zoom ``z`` reads: the coarsest level at least as fine, or
    the finest one above it (z12 draws level-11 cells; z13 only counts its parcels there)."""
    finer = [lvl for lvl in LEVELS if lvl >= z]
    return min(finer) if finer else max(LEVELS)


def cell_zoom(z: int) -> int:
    """The zoom whose 1/64-tile cells a zoom-``z`` overview tile draws: its own up to z11
    (cells of 4 pixels), z11's at z12 and z12's at z13 (8 pixels, 306 m and 153 m: the
    finer 76 m cells at z13 are smaller than the gaps between parcel centres, and would be
    freckled with empty cells)."""
    return z if z <= max(LEVELS) else z - 1


def _cell_range(z: int, x: int, y: int, lvl: int, margin: bool) -> list[int]:
    """First and last cell x and y of level ``lvl`` in tile z/x/y (one z-cell around it)."""
    per = (CELLS_PER_TILE << lvl) >> z  # level cells per tile side (a power of two ≥ 32)
    m = max(1, (1 << lvl) >> z) if margin else 0
    return [x * per - m, (x + 1) * per - 1 + m, y * per - m, (y + 1) * per - 1 + m]


DENSITY = sql.SQL(
    "SELECT coalesce(sum(o.n), 0)::bigint, coalesce(sum(o.area_m2), 0)::float8 "
    "FROM parcel_overview o JOIN datasets d ON d.id = o.dataset_id AND d.status = 'active' "
    "WHERE o.level = %s AND o.cx BETWEEN %s AND %s AND o.cy BETWEEN %s AND %s"
)
"""Parcels counted in a tile and their area. Parameters: level, first/last cell x and y."""


def density_parameters(z: int, x: int, y: int) -> list[int]:
    """Bound parameters of :data:`DENSITY` for tile ``z/x/y`` (its own cells, no margin)."""
    lvl = stored_level(z)
    return [lvl, *_cell_range(z, x, y, lvl, margin=False)]


_CELLS_TO_MVT = """
WITH c AS ({cells}),
d AS (
    SELECT DISTINCT ON (c.x, c.y) c.x, c.y, c.category,
           sum(c.n) OVER (PARTITION BY c.x, c.y) AS n_all,
           sum(c.area) OVER (PARTITION BY c.x, c.y) AS area_all
    FROM c ORDER BY c.x, c.y, c.area DESC, c.category),
k AS (SELECT d.* FROM d WHERE d.x BETWEEN e.gx0 AND e.gx1 AND d.y BETWEEN e.gy0 AND e.gy1),
outline AS (
    SELECT k.category, v.x1, v.y1, v.x2, v.y2
    FROM k CROSS JOIN LATERAL (VALUES
        (k.x, k.y, k.x + 1, k.y), (k.x + 1, k.y, k.x + 1, k.y + 1),
        (k.x, k.y + 1, k.x + 1, k.y + 1), (k.x, k.y, k.x, k.y + 1)) v(x1, y1, x2, y2)
    GROUP BY 1, 2, 3, 4, 5 HAVING count(*) = 1),
f AS (
    SELECT o.category, ST_AsMVTGeom(ST_BuildArea(ST_SetSRID(ST_Collect(ST_MakeLine(
               ST_MakePoint(-{world} + o.x1 * e.cell, {world} - o.y1 * e.cell),
               ST_MakePoint(-{world} + o.x2 * e.cell, {world} - o.y2 * e.cell))), 3857)),
           e.b, 4096, 64, true) AS geom
    FROM outline o GROUP BY o.category),
t AS (SELECT k.category, sum(k.n_all)::bigint AS n,
             round(sum(k.area_all)::numeric, 2)::float8 AS area_m2 FROM k GROUP BY k.category)
SELECT ST_AsMVT(q, {name}, 4096, 'geom') FROM (
    SELECT t.category, t.n, t.area_m2, f.geom FROM f JOIN t ON t.category = f.category
    WHERE f.geom IS NOT NULL) q
"""
"""Cells (x, y, category, n, area at the cell zoom) to the tile. Each cell takes its dominant
category; the cells of a category are merged by keeping the cell edges that only one cell of
that category has (an edge two such cells share is inside their union) and building the area
they enclose (``ST_BuildArea``: the edges meet only at grid vertices, so nothing needs noding,
and the union is exact, unlike an overlay of thousands of squares and many times faster).
Reads ``e``: the cell grid (gx0..gx1, gy0..gy1 at the cell zoom, ``cell`` m) and the tile
envelope ``b``."""

_GRID = (
    "%s::int AS gx0, %s::int AS gx1, %s::int AS gy0, %s::int AS gy1, %s::float8 AS cell,"
    " ST_MakeEnvelope(%s, %s, %s, %s, 3857) AS b"
)


def _mvt_statement(
    col: Collection, version: sql.Composable, cells: str, params: str
) -> sql.Composed:
    body = _CELLS_TO_MVT.replace("{cells}", cells)
    return sql.SQL("SELECT {version}, (" + body + ") FROM (SELECT " + params + ") e").format(
        version=version, name=sql.Literal(col.id), world=sql.Literal(WORLD), rel=col.relation_sql()
    )


def overview_statement(col: Collection, version: sql.Composable) -> sql.Composed:
    """The overview tile statement from the stored counts (fixed text, prepared once).

    Parameters, in order: level, shift (level − cell zoom), first and last cell x and y of the
    level (one cell of the cell zoom around the tile), then the cell grid (first and last x,
    y at the cell zoom), the cell side (m) and the tile's envelope xmin, ymin, xmax, ymax
    (EPSG:3857 m).
    """
    cells = (
        "SELECT o.cx >> e.s AS x, o.cy >> e.s AS y, o.category::text AS category,"
        " sum(o.n) AS n, sum(o.area_m2) AS area "
        "FROM parcel_overview o JOIN datasets d ON d.id = o.dataset_id AND d.status = 'active' "
        "WHERE o.level = e.lvl AND o.cx BETWEEN e.x0 AND e.x1 AND o.cy BETWEEN e.y0 AND e.y1 "
        "GROUP BY 1, 2, 3"
    )
    params = (
        "%s::int AS lvl, %s::int AS s, %s::int AS x0, %s::int AS x1, %s::int AS y0,"
        " %s::int AS y1, " + _GRID
    )
    return _mvt_statement(col, version, cells, params)


def _grid(z: int, x: int, y: int) -> list[int]:
    """The tile's cells at its cell zoom, one around it: first and last x, first and last y."""
    per = CELLS_PER_TILE >> (z - cell_zoom(z))
    return [x * per - 1, (x + 1) * per, y * per - 1, (y + 1) * per]


def overview_parameters(z: int, x: int, y: int, bounds: tuple[float, ...]) -> list[float]:
    """Bound parameters of :func:`overview_statement` for tile ``z/x/y`` with ``bounds``."""
    lvl = stored_level(z)
    cz = cell_zoom(z)
    return [
        lvl,
        lvl - cz,
        *_cell_range(z, x, y, lvl, margin=True),
        *_grid(z, x, y),
        cell_size(cz),
        *bounds,
    ]


def live_overview_statement(col: Collection, version: sql.Composable) -> sql.Composed:
    """The zoom-13 overview statement, counting the tile's parcels (fixed text).

    Cells from the centre of each parcel's EPSG:3857 bounding box. Parameters: the cell grid
    (first and last x, y), the cell side (m), the tile's envelope (EPSG:3857 m).
    """
    cells = (
        "SELECT floor(((ST_XMin(t.geom_3857) + ST_XMax(t.geom_3857)) / 2 + {world}) / e.cell)"
        "::int AS x, floor(({world} - (ST_YMin(t.geom_3857) + ST_YMax(t.geom_3857)) / 2) /"
        " e.cell)::int AS y, t.category::text AS category, count(*) AS n,"
        " sum(ST_Area(t.geom)) AS area "
        "FROM {rel} t WHERE t.geom_3857 && ST_Expand(e.b, e.cell) GROUP BY 1, 2, 3"
    )
    return _mvt_statement(col, version, cells, _GRID)


def live_overview_parameters(z: int, x: int, y: int, bounds: tuple[float, ...]) -> list[float]:
    """Bound parameters of :func:`live_overview_statement`."""
    return [*_grid(z, x, y), cell_size(cell_zoom(z)), *bounds]


_TO_3857 = Transformer.from_crs(4547, 3857, always_xy=True)


def uses_live_overview(z: int) -> bool:
    """Whether an overview tile at zoom ``z`` counts its own parcels (finer than the store)."""
    return z > max(LEVELS) + 1


def overview_counts(categories: Any, geoms: Any) -> dict[str, np.ndarray]:
    """The ``parcel_overview`` rows of a load: parcels per category and cell at each level.

    Parameters
    ----------
    categories
        Each parcel's category code (Arrow array, pandas Series or sequence of str).
    geoms
        Each parcel's geometry, EPSG:4547 (shapely array).

    Returns
    -------
    dict of numpy arrays
        ``level``, ``cx``, ``cy``, ``category`` (index into :data:`CATEGORIES`), ``n`` and
        ``area_m2`` (planar EPSG:4547 m²), finest level first, then by cx, cy, category. A parcel is
        counted in the cell of the centre of its EPSG:4547 bounding box (in EPSG:3857);
        parcels without a finite Web Mercator position (empty, NaN, far away) are not counted,
        as their tiles skip them.
    """
    geoms = np.asarray(geoms, dtype=object)
    codes = categories if isinstance(categories, pa.Array | pa.ChunkedArray) else None
    if codes is None:
        codes = pa.array(np.asarray(categories, dtype=object), type=pa.string(), from_pandas=True)
    found = pc.index_in(codes.cast(pa.string()), value_set=pa.array(CATEGORIES))
    cats = np.asarray(found.fill_null(-1), dtype="i8")
    b = shapely.bounds(geoms)
    x, y = _TO_3857.transform((b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2)
    x, y = np.asarray(x), np.asarray(y)
    ok = np.isfinite(x) & np.isfinite(y) & (cats >= 0) & (np.abs(x) < WORLD) & (np.abs(y) < WORLD)
    area = shapely.area(geoms[ok])
    base = max(LEVELS)
    cx = np.floor((x[ok] + WORLD) / cell_size(base)).astype("i8")
    cy = np.floor((WORLD - y[ok]) / cell_size(base)).astype("i8")
    cat = cats[ok]
    n = np.ones(len(cat), "i8")
    parts: list[dict[str, np.ndarray]] = []
    prev = base
    for lvl in sorted(LEVELS, reverse=True):  # each level summed from the one below it
        shift, prev = prev - lvl, lvl
        key = ((cx >> shift) << 22 | (cy >> shift)) << 2 | cat  # cx, cy < 2**22 up to z16
        uniq, inv = np.unique(key, return_inverse=True)
        n = np.bincount(inv, weights=n).astype("i8")
        area = np.bincount(inv, weights=area)
        cx, cy, cat = uniq >> 24, (uniq >> 2) & ((1 << 22) - 1), uniq & 3
        parts.append(
            {
                "_lvl": np.full(len(uniq), lvl, "i8"),
                "cx": cx,
                "cy": cy,
                "category": cat,
                "n": n,
                "area_m2": area,
            }  # fmt: skip
        )
    out = {k: np.concatenate([p[k] for p in parts]) for k in ("cx", "cy", "category", "n")}
    out["level"] = np.concatenate([p["_lvl"] for p in parts])
    out["area_m2"] = np.concatenate([p["area_m2"] for p in parts])
    return out


def write_overview(raw_conn: Any, dataset_id: int, counts: dict[str, np.ndarray]) -> int:
    """COPY the :func:`overview_counts` of ``dataset_id`` into ``parcel_overview``; rows.

    Binary COPY encoded by pgpq from Arrow arrays (the category as its enum label).
    """
    m = len(counts["n"])
    batch = pa.record_batch(
        [
            pa.array(np.full(m, dataset_id, np.int32)),
            pa.array(counts["level"].astype(np.int16)),
            pa.array(counts["cx"].astype(np.int32)),
            pa.array(counts["cy"].astype(np.int32)),
            pa.array(np.asarray(CATEGORIES, dtype=object)[counts["category"]], pa.string()),
            pa.array(counts["n"].astype(np.int32)),
            pa.array(counts["area_m2"].astype(np.float64)),
        ],
        names=["dataset_id", "level", "cx", "cy", "category", "n", "area_m2"],
    )
    encoder = ArrowToPostgresBinaryEncoder(batch.schema)
    data = bytes(encoder.write_header()) + bytes(encoder.write_batch(batch))
    data += bytes(encoder.finish())
    stmt = (
        "COPY parcel_overview (dataset_id, level, cx, cy, category, n, area_m2) "
        "FROM STDIN WITH (FORMAT binary)"
    )
    with raw_conn.cursor() as cur, cur.copy(stmt) as cp:
        cp.write(data)
    return m


def load_overview(layer: str, columns: dict[str, Any], geoms: Any) -> dict[str, np.ndarray] | None:
    """The overview counts of a load of ``layer`` (None for a layer without an overview)."""
    if layer not in OVERVIEW_COLLECTIONS:
        return None
    return overview_counts(columns.get("category", pa.nulls(len(geoms), pa.string())), geoms)
