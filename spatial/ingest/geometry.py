"""Geometry checks and repairs, vectorised with shapely 2 (no per-row Python loops).

Policy, applied in this order and reported row by row:

1. Null, EMPTY, NaN or infinite geometries are refused.
2. Curves (CircularString, CurvePolygon, MultiSurface …) are linearised by GDAL and reported.
3. Non-polygon types in a polygon layer are refused.
4. Z and M are dropped (force 2D) and reported.
5. Coordinates are transformed to EPSG:4547; features outside Shenzhen are refused, since they
   signal a wrong CRS.
6. Invalid polygons (bow-ties, touching rings …) are repaired with ``make_valid``, each repair
   listed with its reason and area change in m²; ``strict`` refuses them instead.
7. Polygons become MultiPolygons (on the way into PostGIS, see ``datasets.copy_arrays``).
8. For parcels, overlaps between features of the upload are reported with their area, and
   slivers below the configured threshold are flagged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import shapely
from numpy.typing import NDArray

from spatial.ingest.crs_detect import SZ_STORAGE_BOUNDS, CrsChoice, to_storage
from spatial.ingest.report import IngestReport, Problem

POLYGON = 3
MULTIPOLYGON = 6
GEOMETRYCOLLECTION = 7
CURVE_TYPES = {8, 9, 10, 11, 12, 13, 14}
# WKB type codes (not shapely type ids) → names
TYPE_NAMES = {
    0: "Geometry",
    1: "Point",
    2: "LineString",
    3: "Polygon",
    4: "MultiPoint",
    5: "MultiLineString",
    6: "MultiPolygon",
    7: "GeometryCollection",
    8: "CircularString",
    9: "CompoundCurve",
    10: "CurvePolygon",
    11: "MultiCurve",
    12: "MultiSurface",
    15: "PolyhedralSurface",
    16: "TIN",
    17: "Triangle",
}


@dataclass
class GeometryResult:
    """Checked geometries in EPSG:4547 (MultiPolygon) and the mask of rows that passed."""

    geoms: NDArray
    ok: NDArray
    area_m2: NDArray


def wkb_base_types(wkb: pa.Array | pa.ChunkedArray) -> NDArray:
    """Base geometry type code (ISO/EWKB flags removed) of each WKB value; -1 for null.

    Reads only the five header bytes of each value straight from the Arrow buffers.
    """
    if isinstance(wkb, pa.ChunkedArray):
        wkb = wkb.combine_chunks()
    off_dtype: type[np.int32 | np.int64]
    if pa.types.is_large_binary(wkb.type):
        off_dtype = np.int64
    else:
        wkb = wkb.cast(pa.binary())
        off_dtype = np.int32
    n = len(wkb)
    bufs = wkb.buffers()
    offsets = np.frombuffer(bufs[1], dtype=off_dtype)[wkb.offset : wkb.offset + n + 1]
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, "u1")
    valid = np.asarray(wkb.is_valid()) & (np.diff(offsets) >= 5)
    out = np.full(n, -1, dtype=np.int64)
    if not valid.any():
        return out
    start = offsets[:-1][valid].astype(np.int64)
    b = [data[start + k].astype(np.uint32) for k in range(5)]
    little = b[0] == 1
    t = np.where(
        little,
        b[1] | (b[2] << 8) | (b[3] << 16) | (b[4] << 24),
        (b[1] << 24) | (b[2] << 16) | (b[3] << 8) | b[4],
    )
    out[valid] = (t & 0x0FFFFFFF) % 1000
    return out


def rows_text(idx: NDArray, limit: int = 10) -> str:
    """'1, 5, 9 …' (1-based rows) for messages."""
    rows = [str(int(i) + 1) for i in idx[:limit]]
    return ", ".join(rows) + (f" … (+{len(idx) - limit})" if len(idx) > limit else "")


def _row_problem(
    report: IngestReport, i: int | np.integer, code: str, zh: str, en: str, **kw: Any
) -> None:
    """Report :func:`_geometry_problem` ``i`` (an error unless ``severity=`` says otherwise)."""
    report.add(_geometry_problem(i, code, zh, en, **kw))


def _geometry_problem(i: int | np.integer, code: str, zh: str, en: str, **kw: Any) -> Problem:
    """A problem with the geometry of row ``i`` (0-based; reported 1-based, as surveyors count)."""
    return Problem(code=code, message_zh=zh, message_en=en, row=int(i) + 1, field="geometry", **kw)


def _refuse_rows(
    report: IngestReport, idx: NDArray, code: str, zh: str, en: str, ok: NDArray, **kw: Any
) -> None:
    for i in idx:
        _row_problem(report, i, code, zh, en, **kw)
    ok[idx] = False


def check_geometries(
    geoms: NDArray,
    types: NDArray,
    report: IngestReport,
    crs: CrsChoice,
    *,
    strict: bool = False,
) -> GeometryResult:
    """Apply the module's policy to ``geoms`` (source CRS) and return EPSG:4547 MultiPolygons.

    Parameters
    ----------
    geoms
        Shapely geometries in the source CRS (None for null), curves already linearised.
    types
        Base WKB type code of each source value (see :func:`wkb_base_types`).
    report
        Problems are added here; rows with errors are False in ``GeometryResult.ok``.
    crs
        The source CRS.
    strict
        Refuse invalid geometries instead of repairing them.

    Overlaps and slivers are found separately by :func:`overlap_problems`.
    """
    n = len(geoms)
    ok = np.ones(n, dtype=bool)
    missing = shapely.is_missing(geoms)
    _refuse_rows(
        report, np.flatnonzero(missing), "geometry_null", "几何为空值（null）", "null geometry", ok
    )
    empty = ~missing & shapely.is_empty(geoms)
    _refuse_rows(
        report, np.flatnonzero(empty), "geometry_empty", "几何为空（EMPTY）", "empty geometry", ok
    )
    _refuse_rows(
        report,
        _nonfinite_rows(geoms),
        "geometry_nonfinite",
        "坐标含 NaN 或无穷大",
        "coordinates contain NaN or infinity",
        ok,
    )
    tids = shapely.get_type_id(geoms)
    nonpoly = ok & ~np.isin(tids, (POLYGON, MULTIPOLYGON))
    if nonpoly.any():
        idx = np.flatnonzero(nonpoly)
        for i in idx:
            wkb_code = int(types[i])
            exotic = wkb_code > GEOMETRYCOLLECTION and wkb_code not in CURVE_TYPES
            name = TYPE_NAMES.get(wkb_code, str(wkb_code)) if exotic else geoms[i].geom_type
            _row_problem(
                report,
                i,
                "geometry_type",
                f"几何类型 {name} 不是面（此图层只接受 Polygon/MultiPolygon）",
                f"geometry type {name} is not a polygon (this layer takes Polygon/MultiPolygon)",
                value=name,
            )
        ok[idx] = False
    curved = np.flatnonzero(ok & np.isin(types, list(CURVE_TYPES)))
    if len(curved):
        report.problem(
            "curve_linearised",
            f"{len(curved)} 个曲线几何已线性化（行 {rows_text(curved)}）",
            f"{len(curved)} curved geometries were linearised (rows {rows_text(curved)})",
            severity="warning",
            field="geometry",
        )
    has_z = ok & shapely.has_z(geoms)
    has_m = ok & shapely.has_m(geoms) if hasattr(shapely, "has_m") else np.zeros(n, bool)
    for mask, dim in ((has_z, "Z"), (has_m, "M")):
        if mask.any():
            idx = np.flatnonzero(mask)
            report.problem(
                f"{dim.lower()}_dropped",
                f"{len(idx)} 个几何含 {dim} 值，已去除（转为二维；行 {rows_text(idx)}）",
                f"{len(idx)} geometries had {dim} values, dropped (forced 2D; rows "
                f"{rows_text(idx)})",
                severity="warning",
                field="geometry",
            )
    out = np.full(n, None, dtype=object)
    sel = np.flatnonzero(ok)
    g = geoms[sel]
    if (has_z | has_m).any():
        g = shapely.force_2d(g)
    g = to_storage(g, crs)
    out[sel] = g
    _outside(out, ok, report, geoms)
    _repair(out, ok, report, strict)
    # Polygons stay Polygons here; ``datasets.copy_arrays`` writes them as one-part
    # MultiPolygons (a 9-byte WKB header), which saves a copy of every geometry.
    area = np.zeros(n)
    area[ok] = shapely.area(out[ok])
    return GeometryResult(out, ok, area)


_COORD_CHUNK = 100_000
"""Geometries whose coordinates are inspected at a time (bounds the x/y arrays' memory)."""


def _nonfinite_rows(geoms: NDArray) -> NDArray:
    """Indices of the geometries with a NaN or infinite x or y (Z/M are dropped anyway)."""
    bad = []
    for lo in range(0, len(geoms), _COORD_CHUNK):
        xy, idx = shapely.get_coordinates(geoms[lo : lo + _COORD_CHUNK], return_index=True)
        bad.append(np.unique(idx[~np.isfinite(xy).all(axis=1)]) + lo)
    return np.concatenate(bad) if bad else np.empty(0, dtype=np.intp)


def _outside(out: NDArray, ok: NDArray, report: IngestReport, src: NDArray) -> None:
    b = shapely.bounds(out)
    x0, y0, x1, y1 = SZ_STORAGE_BOUNDS
    inside = (b[:, 0] >= x0) & (b[:, 1] >= y0) & (b[:, 2] <= x1) & (b[:, 3] <= y1)
    bad = np.flatnonzero(ok & ~inside)
    if not len(bad):
        return
    first = int(bad[0])
    sb = shapely.bounds(src[first])
    example = f"第 {first + 1} 行 / row {first + 1}: source bounds {tuple(round(v, 3) for v in sb)}"
    report.problem(
        "outside_shenzhen",
        f"{len(bad)} 个要素转换到 EPSG:4547 后落在深圳以外，坐标系很可能不对（例：{example}）；"
        "请检查 .prj 或用 --crs 指定",
        f"{len(bad)} features fall outside Shenzhen after transformation to EPSG:4547, which "
        f"signals a wrong CRS (example: {example}); check the .prj or pass --crs",
        field="geometry",
        value=str(len(bad)),
    )
    _refuse_rows(
        report,
        bad,
        "outside_shenzhen",
        "要素落在深圳以外",
        "feature outside Shenzhen",
        ok,
    )


def _polygonal(geoms: NDArray) -> NDArray:
    """Keep only the polygonal parts of each geometry, as MultiPolygon (None if none)."""
    parts1, idx1 = shapely.get_parts(geoms, return_index=True)
    parts, idx2 = shapely.get_parts(parts1, return_index=True)
    idx = idx1[idx2]
    keep = shapely.get_type_id(parts) == POLYGON
    keep &= ~shapely.is_empty(parts)
    out = np.full(len(geoms), None, dtype=object)
    if keep.any():
        shapely.multipolygons(parts[keep], indices=idx[keep], out=out)
    return out


def _repair(out: NDArray, ok: NDArray, report: IngestReport, strict: bool) -> None:
    valid = np.ones(len(out), dtype=bool)
    valid[ok] = shapely.is_valid(out[ok])
    bad = np.flatnonzero(ok & ~valid)
    if not len(bad):
        return
    reasons = shapely.is_valid_reason(out[bad])
    before = shapely.area(out[bad])
    if strict:
        for i, r in zip(bad, reasons, strict=True):
            _row_problem(
                report,
                i,
                "geometry_invalid",
                f"几何无效：{r}（--strict 模式下拒绝，未修复）",
                f"invalid geometry: {r} (refused under --strict, not repaired)",
                value=str(r),
            )
        ok[bad] = False
        return
    fixed = _polygonal(shapely.make_valid(out[bad]))
    after = np.where(shapely.is_missing(fixed), 0.0, shapely.area(fixed))
    for k, i in enumerate(bad):
        if fixed[k] is None or after[k] <= 0:
            _row_problem(
                report,
                i,
                "geometry_unrepairable",
                f"几何无效且无法修复为面：{reasons[k]}",
                f"invalid geometry cannot be repaired into a polygon: {reasons[k]}",
                value=str(reasons[k]),
            )
            ok[i] = False
            continue
        _row_problem(
            report,
            i,
            "geometry_repaired",
            f"几何无效（{reasons[k]}），已用 make_valid 修复；面积 {before[k]:.2f} → "
            f"{after[k]:.2f} m²",
            f"invalid geometry ({reasons[k]}) repaired with make_valid; area "
            f"{before[k]:.2f} → {after[k]:.2f} m²",
            severity="warning",
            value=str(reasons[k]),
            area_before_m2=float(before[k]),
            area_after_m2=float(after[k]),
        )
        out[i] = fixed[k]
    report.counts.repaired += int(np.sum(after > 0))


_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_CHUNK_POINTS = 1 << 18  # coordinates hashed per step (bounds the temporaries, ~30 MB)


def _mix(h: NDArray) -> NDArray:
    """Splitmix64 finaliser, in place on a uint64 array (wrapping arithmetic)."""
    h ^= h >> np.uint64(30)
    h *= _MIX1
    h ^= h >> np.uint64(27)
    h *= _MIX2
    h ^= h >> np.uint64(31)
    return h


def _ring_layout(g: NDArray) -> tuple[NDArray, NDArray, NDArray]:
    """Ring offsets into ``shapely.get_coordinates(g)``, whether each ring is a shell, and
    each feature's offset into the coordinates.

    Polygons without holes (nearly all parcels) are one ring each; only the others are split
    into parts and rings by GEOS.
    """
    n = len(g)
    ncoord = shapely.get_num_coordinates(g)
    feat_off = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(ncoord, out=feat_off[1:])
    complex_ = (shapely.get_type_id(g) != POLYGON) | (shapely.get_num_interior_rings(g) > 0)
    nring = np.ones(n, dtype=np.int64)
    if complex_.any():
        parts, pidx = shapely.get_parts(g[complex_], return_index=True)
        rings, ridx = shapely.get_rings(parts, return_index=True)
        c_len = shapely.get_num_coordinates(rings)
        c_shell = np.ones(len(rings), dtype=bool)
        c_shell[1:] = ridx[1:] != ridx[:-1]
        nring[complex_] = np.bincount(pidx[ridx], minlength=int(complex_.sum()))
    ring_complex = np.repeat(complex_, nring)
    ring_len = np.empty(len(ring_complex), dtype=np.int64)
    shell = np.ones(len(ring_complex), dtype=bool)
    ring_len[~ring_complex] = ncoord[~complex_]
    if complex_.any():
        ring_len[ring_complex] = c_len
        shell[ring_complex] = c_shell
    ring_off = np.zeros(len(ring_len) + 1, dtype=np.int64)
    np.cumsum(ring_len, out=ring_off[1:])
    return ring_off, shell, feat_off


def _edge_keys(
    xy: NDArray, ring_off: NDArray, shell: NDArray
) -> tuple[NDArray, NDArray, NDArray, NDArray, int]:
    """Sort keys, direction and start coordinate of every non-degenerate ring edge.

    Edges are oriented so that the polygon's interior lies on their left (shells
    counter-clockwise, holes clockwise, from the shoelace sign of each ring computed relative to
    its first vertex). An edge is keyed by a 64-bit hash of the float64 bits of its two end
    points taken in canonical (lexicographic) order, so an edge and its reverse share a hash;
    ``forward`` says whether the oriented edge runs from the lexicographically smaller point.
    The low ``shift`` bits of each key hold the edge's own index (so one in-place sort of the
    keys also gives the permutation); the high bits hold the hash. Also returns the rings whose
    orientation is numerically uncertain (their polygons are flagged rather than trusted).
    """
    n_pts = len(xy)
    n_rings = len(shell)
    cap = max(n_pts - n_rings, 1)
    shift = cap.bit_length()
    hash_mask = ~np.uint64((1 << shift) - 1)
    key = np.empty(cap, dtype=np.uint64)
    forward = np.empty(cap, dtype=bool)
    start = np.empty(cap, dtype=np.int32 if n_pts < 2**31 else np.int64)
    uncertain = np.zeros(n_rings, dtype=bool)
    bits = xy.view(np.uint64)
    fill = 0
    r0 = 0
    while r0 < n_rings:
        # whole rings per step, about _CHUNK_POINTS coordinates
        r1 = int(np.searchsorted(ring_off, ring_off[r0] + _CHUNK_POINTS, side="right")) - 1
        r1 = min(max(r1, r0 + 1), n_rings)
        p0, p1 = int(ring_off[r0]), int(ring_off[r1])
        lens = np.diff(ring_off[r0 : r1 + 1])
        # edge k runs from point k to k + 1 of the same ring (a ring's last point closes it)
        is_edge = np.ones(p1 - p0 - 1, dtype=bool)
        is_edge[ring_off[r0 + 1 : r1] - 1 - p0] = False
        x, y = xy[p0:p1, 0], xy[p0:p1, 1]
        ax, ay, bx, by = x[:-1], y[:-1], x[1:], y[1:]
        rid = np.repeat(np.arange(r1 - r0), lens)[:-1]
        first = ring_off[r0:r1] - p0
        x0, y0 = np.repeat(x[first], lens)[:-1], np.repeat(y[first], lens)[:-1]
        term = (ax - x0) * (by - y0) - (bx - x0) * (ay - y0)
        term[~is_edge] = 0.0
        del x0, y0
        area2 = np.bincount(rid, weights=term, minlength=r1 - r0)
        scale = np.bincount(rid, weights=np.abs(term), minlength=r1 - r0)
        del term, rid
        flip = np.where(shell[r0:r1], area2 < 0, area2 > 0)
        uncertain[r0:r1] = np.abs(area2) <= 1e-9 * scale
        keep = is_edge & ((ax != bx) | (ay != by))
        k = np.flatnonzero(keep)
        del is_edge, keep
        a_lo = (ax[k] < bx[k]) | ((ax[k] == bx[k]) & (ay[k] < by[k]))
        xb, yb = bits[p0:p1, 0], bits[p0:p1, 1]
        h = _mix(np.where(a_lo, xb[k], xb[k + 1]))
        h ^= np.where(a_lo, yb[k], yb[k + 1])
        _mix(h)
        h ^= np.where(a_lo, xb[k + 1], xb[k])
        _mix(h)
        h ^= np.where(a_lo, yb[k + 1], yb[k])
        _mix(h)
        m = len(k)
        h &= hash_mask
        h |= np.arange(fill, fill + m, dtype=np.uint64)
        key[fill : fill + m] = h
        forward[fill : fill + m] = a_lo ^ np.repeat(flip, lens)[k]
        start[fill : fill + m] = k + p0
        fill += m
        r0 = r1
    return key[:fill], forward[:fill], start[:fill], uncertain, shift


def flag_overlap_candidates(g: NDArray) -> NDArray:
    """Indices into ``g`` (valid polygons, EPSG:4547) of the polygons that may overlap another.

    Vectorised in numpy; a superset of what must be checked exactly (see
    :func:`overlap_problems` for the argument). A polygon is flagged when one of its
    non-degenerate ring edges, oriented with the interior on its left, is not paired with
    exactly one other edge that has the same two end points (bit for bit) in the opposite
    direction and no further copies: an edge on the outer boundary of the upload or of a gap,
    a T-junction, a crossing, a collinear part of a longer edge, or a duplicate. Polygons with a
    ring whose orientation is numerically uncertain are flagged too.

    Edges are matched by sorting a hash of their canonical end points; every pair that the
    hash puts together is verified on the coordinates themselves, and anything a collision
    disturbs (a run of three or more equal hashes, a pair whose coordinates differ) is flagged,
    so a collision can add work but never hide an edge. Extra memory: the coordinates (16 bytes
    a vertex) and about 30 bytes an edge.
    """
    if len(g) == 0:
        return np.zeros(0, dtype=np.int64)
    ring_off, shell, feat_off = _ring_layout(g)
    xy = shapely.get_coordinates(g)
    if len(xy) != ring_off[-1]:  # pragma: no cover - the layouts disagree: check everything
        return np.arange(len(g))
    key, forward, start, uncertain, shift = _edge_keys(xy, ring_off, shell)
    key.sort()
    e = len(key)
    order = (key & np.uint64((1 << shift) - 1)).astype(np.int64)
    key >>= np.uint64(shift)
    good = np.zeros(e, dtype=bool)
    if e >= 2:
        eq = key[1:] == key[:-1]
        del key
        # runs of exactly two equal hashes: eq[p] with no equal neighbour on either side
        two = eq.copy()
        two[1:] &= ~eq[:-1]
        two[:-1] &= ~eq[1:]
        del eq
        p_all = np.flatnonzero(two)
        del two
        pt = xy.view(np.complex128).ravel()  # one number per point: == compares x and y
        for c0 in range(0, len(p_all), _CHUNK_POINTS):
            p = p_all[c0 : c0 + _CHUNK_POINTS]
            e1, e2 = order[p], order[p + 1]
            s1, s2 = start[e1], start[e2]
            a1, b1, a2, b2 = pt[s1], pt[s1 + 1], pt[s2], pt[s2 + 1]
            same = ((a1 == a2) & (b1 == b2)) | ((a1 == b2) & (b1 == a2))
            ok = same & (forward[e1] != forward[e2])
            good[e1[ok]] = True
            good[e2[ok]] = True
    pts = np.concatenate([start[~good].astype(np.int64), ring_off[:-1][uncertain]])
    return np.unique(np.searchsorted(feat_off, pts, side="right") - 1)


def overlap_problems(geoms: NDArray, ok: NDArray, area: NDArray, sliver_m2: float) -> list[Problem]:
    """Overlaps between the good features (with their area) and slivers below ``sliver_m2``.

    Pure function of its inputs (it can run in a worker thread while rows are being copied;
    numpy and shapely release the GIL). :func:`flag_overlap_candidates` first flags, in numpy,
    the polygons whose edges are not each shared with exactly one reverse neighbour edge;
    only those are then tested exactly against their STRtree candidates for interiors that
    intersect (DE-9IM ``T********``), and the intersection area (m², EPSG:4547) is computed
    for each such pair. Touching neighbours, and a polygon exactly filling another's hole, are
    not overlaps (their interiors do not meet).

    Why the pre-filter misses no overlapping region. Orient every ring so that its polygon's
    interior lies on the left of each edge. Let the depth of a point be the number of polygons
    whose interior contains it; an overlap is a connected open region D of depth ≥ 2. D is
    bounded, so its boundary contains a point x in the relative interior of a segment, away
    from every vertex and crossing; all ring edges through x are collinear there, depth is
    constant on each side, and it is ≥ 2 on the D side and ≤ 1 on the other. Group the edges
    through x by their exact end points; in each group g let d_g be the edges with D on their
    left and s_g the others. Crossing from the shallow side into D raises depth by
    Σ (d_g − s_g) ≥ 1, so some group has d_g > s_g:

    - d_g ≥ 2: those edges are same-direction duplicates, so their polygons are flagged, and
      two of them contain the D side next to x: an overlapping pair with a flagged member;
    - d_g = 1, s_g = 0: an edge without a reverse partner, so its polygon P is flagged; P
      contains the D side next to x, where depth ≥ 2, so some Q overlaps P there.

    Hence every connected overlap region yields at least one reported pair, with its exact
    area.

    Which pairs are reported. A pair is reported as soon as one of its two polygons is flagged.
    Both are unflagged only if every edge of each is shared, reversed, with exactly one other
    polygon; two such polygons overlap only when each is an inner cell of a different
    tessellation laid over the same ground (the inner cells of two grids over one block, or a
    parcel stitched to its neighbours with a stitched block of cells inside it). Only such a
    pair can go unreported, and the rim of the stack is still reported, as shown above. So
    duplicates (every edge duplicated), a polygon inside another (touching its boundary or
    not), partial overlaps, stray polygons over a tessellation, and any overlap reaching the
    outer boundary of the upload or a gap are reported pair by pair; tests compare with a
    brute-force check of all pairs on such sets. GEOS's ``CoverageValidator`` (the method used
    before) has the same blind spot: it accepts an edge matched by a reverse edge of an
    adjacent polygon and flags only same-side matches and unmatched edges that interact with a
    neighbour, a subset of what is flagged here (checked by the tests and on the benchmark
    files), so every pair the old method reported is still reported. The price is that
    polygons on the boundary of the upload or of gaps are flagged and checked exactly even
    when nothing overlaps them (all of them in an upload whose parcels share no edges).
    """
    problems: list[Problem] = []
    idx = np.flatnonzero(ok)
    g = geoms[idx]
    flagged = flag_overlap_candidates(g)
    if len(flagged):
        # every polygon whose envelope meets a flagged one's: a tree over the flagged only
        # (usually a few thousand) queried with all envelopes is cheaper than a tree of all
        qb, qa = shapely.STRtree(g[flagged]).query(g)
        a, b = flagged[qa], qb
        del qa, qb
        is_flagged = np.zeros(len(g), dtype=bool)
        is_flagged[flagged] = True
        # a pair of two flagged polygons comes twice: keep it once
        keep = (a < b) | ((a > b) & ~is_flagged[b])
        code = np.sort(np.minimum(a[keep], b[keep]) * len(g) + np.maximum(a[keep], b[keep]))
        a, b = code // len(g), code % len(g)
        del code, keep
        if len(a):
            meet = shapely.intersects(g[a], g[b])
            a, b = a[meet], b[meet]
            inner = shapely.relate_pattern(g[a], g[b], "T********")
            a, b = a[inner], b[inner]
        if len(a):
            inter = shapely.area(shapely.intersection(g[a], g[b]))
            problems.append(
                Problem(
                    code="overlap_summary",
                    severity="warning",
                    field="geometry",
                    message_zh=f"上传数据内部有 {len(a)} 处要素重叠，共 {inter.sum():.2f} m²",
                    message_en=f"{len(a)} overlaps between features of the upload, "
                    f"{inter.sum():.2f} m² in total",
                    area_m2=float(inter.sum()),
                )
            )
            for i, j, ar in zip(idx[a], idx[b], inter, strict=True):
                problems.append(
                    _geometry_problem(
                        i,
                        "overlap",
                        f"与第 {j + 1} 行重叠 {ar:.2f} m²",
                        f"overlaps row {j + 1} by {ar:.2f} m²",
                        severity="warning",
                        value=str(int(j) + 1),
                        area_m2=float(ar),
                    )
                )
    for i in idx[area[idx] < sliver_m2]:
        problems.append(
            _geometry_problem(
                i,
                "sliver",
                f"碎片面积 {area[i]:.3f} m²，小于阈值 {sliver_m2} m²",
                f"sliver: {area[i]:.3f} m², below the {sliver_m2} m² threshold",
                severity="warning",
                area_m2=float(area[i]),
            )
        )
    return problems


def retained_overlap_problems(geoms: NDArray, ok: NDArray, project_codes: NDArray) -> list[Problem]:
    """Errors for retained-land sites of one project whose interiors overlap (m², EPSG:4547).

    The 3000 m² rule totals the state reserve land a project's retained land occupies, so the
    same land allotted twice within a project would be counted twice: such an upload is refused,
    naming both rows. Sites of different projects, and sites that only touch, are accepted.
    """
    idx = np.flatnonzero(ok)
    g = geoms[idx]
    codes = np.asarray(project_codes, dtype=object)[idx]
    a, b = shapely.STRtree(g).query(g, predicate="intersects")
    keep = (a < b) & (codes[a] == codes[b])
    a, b = a[keep], b[keep]
    inner = shapely.relate_pattern(g[a], g[b], "T********")
    a, b = a[inner], b[inner]
    areas = shapely.area(shapely.intersection(g[a], g[b]))
    return [
        Problem(
            code="retained_overlap",
            row=int(idx[i]) + 1,
            field="geometry",
            value=str(int(idx[j]) + 1),
            message_zh=(
                f"与第 {idx[j] + 1} 行同属项目 {codes[i]} 的留用土地重叠 {ar:.2f} m²"
                "（同一土地不能重复安排留用）"
            ),
            message_en=(
                f"overlaps row {idx[j] + 1}, a retained-land site of the same project "
                f"{codes[i]}, by {ar:.2f} m² (land cannot be retained twice)"
            ),
            area_m2=float(ar),
        )
        for i, j, ar in zip(a, b, areas, strict=True)
    ]
