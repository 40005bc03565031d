"""Tile a polygon with Voronoi cells: no overlaps, no gaps, vectorised and chunked.

The bounding box of the area is cut into square tiles with integer-metre edges. Inside each
tile the Voronoi diagram of that tile's seed points is clipped to (tile ∩ area). A Voronoi
diagram covers the plane, so the clipped cells partition each tile's piece of the area, and the
tiles partition the box: the cells partition the area. Cells along tile edges are cut straight
(like a road grid); the cost stays O(n log n) with bounded memory per tile, so a million
parcels over all of Shenzhen is practical.

Finally every coordinate is put on a 1 mm grid. Cells that the area boundary cuts are
snap-rounded (``shapely.set_precision``), which removes the last-bit differences GEOS can
leave where neighbouring cells were cut by the boundary separately; the other cells only have
their coordinates rounded (:func:`snap_to_grid`, ten times cheaper). Neighbours
share their Voronoi vertices exactly, so shared edges stay identical either way, and tiles
meet on integer-metre lines that rounding does not move.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray

GRID_M = 0.001
"""Coordinate precision of generated geometries (metres)."""
SLIVER_M2 = 1.0
"""Detached cell fragments smaller than this (m²) are merged into a neighbour."""
POINTS_PER_TILE = 20_000
"""Voronoi diagrams are computed for at most about this many seeds at a time."""


@dataclass
class Tessellation:
    """Cells (shapely Polygons/MultiPolygons, EPSG:4547) and the seed point of each cell."""

    cells: NDArray
    x: NDArray
    y: NDArray


def sample_points(
    area: shapely.Geometry,
    n: int,
    rng: np.random.Generator,
    weight: callable | None = None,  # type: ignore[valid-type]
) -> tuple[NDArray, NDArray]:
    """Draw ``n`` distinct points inside ``area`` (rejection sampling, 1 cm grid).

    Parameters
    ----------
    area : shapely geometry
        Polygonal area (projected metres).
    n : int
        Number of points.
    rng : numpy.random.Generator
        Source of randomness (the result is deterministic for a given state).
    weight : callable, optional
        ``weight(x, y) -> ndarray`` in [0, 1]: the acceptance probability, to make the point
        density (and hence parcel size) vary in space.
    """
    shapely.prepare(area)
    minx, miny, maxx, maxy = area.bounds
    fill = max(area.area / ((maxx - minx) * (maxy - miny)), 0.05)
    xs: list[NDArray] = []
    ys: list[NDArray] = []
    have = 0
    accept_rate = 1.0
    while have < n:
        k = int((n - have) / (fill * accept_rate) * 1.2) + 1000
        x = np.round(rng.uniform(minx, maxx, k), 2)
        y = np.round(rng.uniform(miny, maxy, k), 2)
        keep = shapely.contains_xy(area, x, y)
        if weight is not None:
            u = rng.random(k)
            inside = max(int(keep.sum()), 1)
            keep &= u < weight(x, y)
            accept_rate = max(keep.sum() / inside, 0.05)
        xs.append(x[keep])
        ys.append(y[keep])
        have += int(keep.sum())
    x = np.concatenate(xs)
    y = np.concatenate(ys)
    # Drop duplicates (keeping first occurrences in draw order), then take the first n.
    key = np.round(x * 100).astype(np.int64) * (1 << 31) + np.round(y * 100).astype(np.int64)
    _, first = np.unique(key, return_index=True)
    order = np.sort(first)
    if len(order) < n:  # pragma: no cover - astronomically unlikely on a 1 cm grid
        extra_x, extra_y = sample_points(area, n - len(order), rng, weight)
        return np.concatenate([x[order], extra_x]), np.concatenate([y[order], extra_y])
    order = order[:n]
    return x[order], y[order]


def _polygonal(geoms: NDArray) -> NDArray:
    """Keep only the polygonal parts of each geometry; return Polygon or MultiPolygon each."""
    out = geoms.copy()
    types = shapely.get_type_id(geoms)
    mixed = np.flatnonzero(~np.isin(types, (3, 6)))
    for i in mixed:
        parts = shapely.get_parts(geoms[i])
        parts = parts[np.isin(shapely.get_type_id(parts), (3, 6))]
        parts = shapely.get_parts(parts)  # flatten MultiPolygons
        if len(parts) == 1:
            out[i] = parts[0]
        else:
            out[i] = shapely.multipolygons(parts)
    return out


def tessellate(area: shapely.Geometry, x: NDArray, y: NDArray) -> Tessellation:
    """Partition ``area`` into one cell per seed point ``(x, y)`` (all inside ``area``).

    Returns cells in the order of the seeds. Every seed lies inside its own cell. When a tile's
    piece of the area holds no seed (possible only for tiny fragments with very many tiles),
    it becomes an extra cell whose seed is its representative point.
    """
    n = len(x)
    minx, miny, maxx, maxy = area.bounds
    gx0, gy0 = np.floor(minx) - 1.0, np.floor(miny) - 1.0
    gx1, gy1 = np.ceil(maxx) + 1.0, np.ceil(maxy) + 1.0
    n_tiles = max(1, int(np.ceil(n / POINTS_PER_TILE)))
    if n_tiles == 1:
        side_x, side_y = gx1 - gx0, gy1 - gy0
    else:
        side_x = side_y = float(np.ceil(np.sqrt(area.area / n_tiles)))
    ntx = max(1, int(np.ceil((gx1 - gx0) / side_x)))
    nty = max(1, int(np.ceil((gy1 - gy0) / side_y)))
    tx = np.minimum(((x - gx0) // side_x).astype(np.int64), ntx - 1)
    ty = np.minimum(((y - gy0) // side_y).astype(np.int64), nty - 1)
    tile_of = ty * ntx + tx

    mesh_x, mesh_y = np.meshgrid(np.arange(ntx), np.arange(nty))
    ix, iy = mesh_x.ravel(), mesh_y.ravel()
    boxes = shapely.box(
        gx0 + ix * side_x, gy0 + iy * side_y, gx0 + (ix + 1) * side_x, gy0 + (iy + 1) * side_y
    )
    shapely.prepare(area)
    touching = shapely.intersects(area, boxes)
    inside = shapely.contains(area, boxes)

    cells = np.empty(n, dtype=object)
    cut = np.zeros(n, dtype=bool)  # cells that the area boundary cuts
    extra_cells: list[shapely.Geometry] = []
    extra_xy: list[tuple[float, float]] = []
    order = np.argsort(tile_of, kind="stable")
    sorted_tiles = tile_of[order]
    starts = np.searchsorted(sorted_tiles, np.arange(len(boxes)), side="left")
    ends = np.searchsorted(sorted_tiles, np.arange(len(boxes)), side="right")
    for t in np.flatnonzero(touching):
        idx = order[starts[t] : ends[t]]
        box = boxes[t]
        piece = box if inside[t] else _polygonal(np.array([shapely.intersection(area, box)]))[0]
        if len(idx) == 0:
            if piece.area > 0:
                extra_cells.append(piece)
                rp = shapely.point_on_surface(piece)
                extra_xy.append((rp.x, rp.y))
            continue
        if len(idx) == 1:
            cells[idx[0]] = piece
            cut[idx[0]] = not inside[t]
            continue
        pts = shapely.multipoints(np.column_stack([x[idx], y[idx]]))
        vor = shapely.get_parts(shapely.voronoi_polygons(pts, extend_to=box, ordered=True))
        if inside[t]:
            b = box.bounds
            vb = shapely.bounds(vor)
            out = (vb[:, 0] < b[0]) | (vb[:, 1] < b[1]) | (vb[:, 2] > b[2]) | (vb[:, 3] > b[3])
            vor[out] = shapely.clip_by_rect(vor[out], *b)
        else:
            shapely.prepare(piece)
            whole = shapely.contains(piece, vor)
            vor[~whole] = shapely.intersection(vor[~whole], piece)
            cut[idx[~whole]] = True
        cells[idx] = _polygonal(vor)
    if extra_cells:
        cells = np.concatenate([cells, np.array(extra_cells, dtype=object)])
        cut = np.concatenate([cut, np.ones(len(extra_cells), dtype=bool)])
        x = np.concatenate([x, [p[0] for p in extra_xy]])
        y = np.concatenate([y, [p[1] for p in extra_xy]])
    # Cells cut by the boundary: full snap rounding, so that neighbours cut separately end on
    # identical vertices. The others: cheap coordinate rounding, which rounds the vertices they
    # share with cut cells to the same values.
    cells[cut] = shapely.set_precision(cells[cut], GRID_M)
    cells[~cut] = snap_to_grid(cells[~cut])
    x_lines = gx0 + np.arange(1, ntx) * side_x
    y_lines = gy0 + np.arange(1, nty) * side_y
    cells = node_tile_edges(cells, x_lines, y_lines)
    cells = absorb_slivers(cells)
    return Tessellation(cells=cells, x=x, y=y)


def node_tile_edges(cells: NDArray, x_lines: NDArray, y_lines: NDArray) -> NDArray:
    """Insert, into cell edges lying on tile lines, the vertices of the cells across the line.

    Cells of neighbouring tiles meet along the (integer-metre) tile lines but have their
    vertices at different places there (T-junctions). Adding each other's vertices makes the
    cells a valid polygonal coverage (every shared edge matched vertex for vertex), which
    ``shapely.coverage_union`` and PostGIS ``ST_CoverageUnion`` need.
    """
    if not len(x_lines) and not len(y_lines):
        return cells
    coords, owner = shapely.get_coordinates(cells, return_index=True)
    on = np.isin(coords[:, 0], x_lines) | np.isin(coords[:, 1], y_lines)
    if not on.any():
        return cells
    key = np.round(coords[on, 0] * 1000).astype(np.int64) * (1 << 32) + np.round(
        coords[on, 1] * 1000
    ).astype(np.int64)
    _, first = np.unique(key, return_index=True)
    pts = shapely.points(coords[on][first])
    cand = np.unique(owner[on])
    ci, pi = shapely.STRtree(pts).query(cells[cand], predicate="intersects")
    ref = shapely.multipoints(pts[pi], indices=ci, out=np.empty(len(cand), dtype=object))
    has = ~shapely.is_missing(ref)
    cells = cells.copy()
    sel = cand[has]
    cells[sel] = shapely.snap(cells[sel], ref[has], GRID_M / 10)
    return cells


def absorb_slivers(cells: NDArray, min_area: float = SLIVER_M2) -> NDArray:
    """Give each detached part smaller than ``min_area`` (m²) to the neighbour it shares most
    boundary with, so cells have no sliver fragments and the tiling stays gap-free.

    Only multi-part cells are examined (the area boundary can cut a cell into pieces).
    """
    multi = np.flatnonzero(shapely.get_num_geometries(cells) > 1)
    if not len(multi):
        return cells
    cells = cells.copy()
    tree = shapely.STRtree(cells)
    for i in multi:
        parts = shapely.get_parts(cells[i])
        small = shapely.area(parts) < min_area
        if not small.any() or small.all():
            continue
        keep = np.ones(len(parts), dtype=bool)
        for k in np.flatnonzero(small):
            near = tree.query(parts[k], predicate="intersects")
            near = near[near != i]
            if not len(near):
                continue
            shared = shapely.length(shapely.intersection(cells[near], parts[k].boundary))
            if shared.max() <= 0:
                continue  # touches its neighbours only at points: leave it where it is
            j = int(near[np.argmax(shared)])
            cells[j] = _polygonal(np.array([shapely.union(cells[j], parts[k])]))[0]
            keep[k] = False
        rest = parts[keep]
        cells[i] = rest[0] if len(rest) == 1 else shapely.multipolygons(rest)
    return cells


def snap_to_grid(geoms: NDArray, grid: float = GRID_M) -> NDArray:
    """Round every coordinate to ``grid`` metres; snap-round only what that made invalid.

    Rounding coordinates is cheap and maps equal vertices to equal vertices, so cells that
    shared an edge still share it exactly. Full snap rounding (``set_precision``) is about ten
    times slower and only needed for the rare cell whose rounding creates a self-intersection.
    """
    decimals = int(round(-np.log10(grid)))
    out = shapely.transform(geoms, lambda c: np.round(c, decimals))
    bad = ~shapely.is_valid(out)
    if bad.any():
        out[bad] = shapely.set_precision(out[bad], grid)
    return out
