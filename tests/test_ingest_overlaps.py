"""Overlaps within a parcel upload: the numpy edge pre-filter and the exact GEOS check.

``overlap_problems`` must report every overlapping pair with its area (m², EPSG:4547) while
testing exactly only the polygons flagged by ``flag_overlap_candidates``. The configurations
below have hand-computed answers; the property test compares against a brute-force check of
every pair.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from spatial.ingest import geometry
from spatial.ingest.geometry import flag_overlap_candidates, overlap_problems

X, Y = 500_000.0, 2_500_000.0


def box(x0: float, y0: float, x1: float, y1: float, *, ccw: bool = True) -> shapely.Polygon:
    """A box offset to Shenzhen coordinates (EPSG:4547), in metres."""
    return shapely.box(X + x0, Y + y0, X + x1, Y + y1, ccw=ccw)


def run(geoms: list, ok: list[bool] | None = None, sliver: float = 0.0) -> list:
    """Problems of ``overlap_problems`` for ``geoms`` (all good unless ``ok`` says otherwise)."""
    g = np.array(geoms, dtype=object)
    mask = np.ones(len(g), dtype=bool) if ok is None else np.array(ok)
    area = np.where(mask, shapely.area(g), 0.0)
    return overlap_problems(g, mask, area, sliver)


def pairs(problems: list) -> list[tuple[int, int, float]]:
    """(row, other row, area m² rounded to 0.01) of each reported overlap, sorted."""
    return sorted(
        (p.row, int(p.value), round(p.area_m2, 2)) for p in problems if p.code == "overlap"
    )


def brute_pairs(geoms: list) -> list[tuple[int, int, float]]:
    """Reference: every pair whose interiors intersect, over all STRtree candidates."""
    g = np.array(geoms, dtype=object)
    a, b = shapely.STRtree(g).query(g, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    inner = shapely.relate_pattern(g[a], g[b], "T********")
    a, b = a[inner], b[inner]
    areas = shapely.area(shapely.intersection(g[a], g[b]))
    return sorted(
        (int(i) + 1, int(j) + 1, round(float(ar), 2)) for i, j, ar in zip(a, b, areas, strict=True)
    )


def geos_flagged(geoms: list) -> set[int]:
    """Polygons flagged by GEOS's coverage validator (the method used before)."""
    g = np.array(geoms, dtype=object)
    return set(np.flatnonzero(~shapely.is_empty(shapely.coverage_invalid_edges(g))).tolist())


# --- configurations with exact answers ---------------------------------------------------


def test_partial_overlap_area_and_messages() -> None:
    out = run([box(0, 0, 100, 100), box(90, 0, 190, 100)])
    assert [p.code for p in out] == ["overlap_summary", "overlap"]
    summary, ov = out
    assert summary.severity == "warning" and summary.field == "geometry"
    assert summary.message_zh == "上传数据内部有 1 处要素重叠，共 1000.00 m²"
    assert summary.message_en == "1 overlaps between features of the upload, 1000.00 m² in total"
    assert summary.area_m2 == pytest.approx(1000.0, abs=0.01)
    assert (ov.row, ov.value, ov.field, ov.severity) == (1, "2", "geometry", "warning")
    assert ov.message_zh == "与第 2 行重叠 1000.00 m²"
    assert ov.message_en == "overlaps row 2 by 1000.00 m²"
    assert ov.area_m2 == pytest.approx(1000.0, abs=0.01)


def test_duplicates_are_overlaps_whatever_the_ring_order() -> None:
    a = box(0, 0, 50, 40)
    # same polygon, clockwise and starting from another vertex
    b = shapely.Polygon([(X + 50, Y + 40), (X + 50, Y), (X, Y), (X, Y + 40)])
    assert pairs(run([a, b, box(50, 0, 80, 40)])) == [(1, 2, 2000.0)]


def test_containment_sharing_an_edge_and_strictly_inside() -> None:
    big = box(0, 0, 100, 100)
    along_edge = box(0, 0, 30, 20)  # shares parts of two of big's edges
    inside = box(40, 40, 60, 70)  # touches nothing: wholly in big's interior
    assert pairs(run([big, along_edge, inside])) == [(1, 2, 600.0), (1, 3, 600.0)]


def test_interior_polygon_tiled_by_matching_cells_is_still_reported() -> None:
    """A block tiled by four cells lying inside a bigger parcel: every cell overlaps it."""
    big = box(0, 0, 100, 100)
    cells = [box(20, 20, 40, 40), box(40, 20, 60, 40), box(20, 40, 40, 60), box(40, 40, 60, 60)]
    got = pairs(run([big, *cells]))
    assert got == [(1, 2, 400.0), (1, 3, 400.0), (1, 4, 400.0), (1, 5, 400.0)]
    assert got == brute_pairs([big, *cells])


def test_hole_filled_exactly_is_not_an_overlap() -> None:
    hole = [(X + 20, Y + 20), (X + 60, Y + 20), (X + 60, Y + 50), (X + 20, Y + 50)]
    ring = shapely.Polygon([(X, Y), (X + 100, Y), (X + 100, Y + 100), (X, Y + 100)], holes=[hole])
    filler = box(20, 20, 60, 50)
    assert pairs(run([ring, filler])) == []
    # the filler's edges are the hole's, reversed: it is not even flagged
    assert flag_overlap_candidates(np.array([ring, filler])).tolist() == [0]
    # a filler a little larger than the hole overlaps the ring by 2 × 30 = 60 m²
    assert pairs(run([ring, box(20, 20, 62, 50)])) == [(1, 2, 60.0)]
    # and one inside the hole, not touching, overlaps nothing
    assert pairs(run([ring, box(25, 25, 55, 45)])) == []


def test_touching_neighbours_are_not_overlaps() -> None:
    grid = [box(i * 10, j * 10, i * 10 + 10, j * 10 + 10) for i in range(4) for j in range(3)]
    corner = box(40, 30, 50, 40)  # touches the grid at one point
    # T-junctions: a box against two half-height boxes, and a collinear extra vertex
    t_left = box(100, 0, 110, 20)
    t_right = [box(110, 0, 120, 10), box(110, 10, 120, 20)]
    extra_vertex = shapely.Polygon(
        [(X + 130, Y), (X + 140, Y), (X + 140, Y + 20), (X + 130, Y + 20), (X + 130, Y + 10)]
    )
    beside = box(120, 0, 130, 20)
    geoms = [*grid, corner, t_left, *t_right, extra_vertex, beside]
    assert pairs(run(geoms)) == []
    flagged = set(flag_overlap_candidates(np.array(geoms, dtype=object)).tolist())
    # the middle cells of the grid share each edge with one reverse edge: not flagged
    assert {4, 7}.isdisjoint(flagged)
    assert {len(grid) + 1, len(grid) + 2} <= flagged  # the T-junction boxes are


def test_multipolygon_and_refused_rows_keep_their_row_numbers() -> None:
    multi = shapely.MultiPolygon([box(0, 0, 10, 10), box(20, 0, 30, 10)])
    geoms = [box(-100, -100, -90, -90), multi, box(25, 5, 35, 15), box(0, 0, 10, 10)]
    # row 4 (a duplicate of multi's first part) is refused elsewhere: not checked
    out = run(geoms, ok=[True, True, True, False])
    assert pairs(out) == [(2, 3, 25.0)]
    assert pairs(run(geoms)) == [(2, 3, 25.0), (2, 4, 100.0)]


def test_orientation_of_the_input_rings_does_not_matter() -> None:
    left, right = box(0, 0, 10, 10, ccw=False), box(10, 0, 20, 10, ccw=True)
    over = box(5, 0, 15, 10, ccw=False)
    assert pairs(run([left, right])) == []
    assert pairs(run([left, right, over])) == [(1, 3, 50.0), (2, 3, 50.0)]


def test_slivers_and_empty_upload() -> None:
    out = run([box(0, 0, 100, 100), box(200, 0, 200.5, 1)], sliver=1.0)
    assert [(p.code, p.row, p.area_m2) for p in out] == [("sliver", 2, 0.5)]
    assert out[0].message_zh == "碎片面积 0.500 m²，小于阈值 1.0 m²"
    assert out[0].message_en == "sliver: 0.500 m², below the 1.0 m² threshold"
    assert run([]) == []
    assert len(flag_overlap_candidates(np.array([], dtype=object))) == 0


def test_stacked_tessellations_report_at_least_one_pair_per_region() -> None:
    """The documented blind spot, shared with GEOS's coverage validator.

    Two 3 × 3 grids over one block, the second shifted by 1 m inside: their centre cells are
    each fully stitched to their own neighbours, so that pair is not reported, but the rims
    of the stack are, and every pair the old GEOS-based method reported is reported.
    """
    a = [box(i * 10, j * 10, i * 10 + 10, j * 10 + 10) for i in range(3) for j in range(3)]
    cut = [0, 11, 21, 30]
    b = [box(cut[i], cut[j], cut[i + 1], cut[j + 1]) for i in range(3) for j in range(3)]
    geoms = a + b
    got = pairs(run(geoms))
    ref = brute_pairs(geoms)
    assert set(got) < set(ref)
    assert (5, 14, 81.0) in ref and (5, 14, 81.0) not in got  # centre cells: 9 × 9 m²
    flagged = set(flag_overlap_candidates(np.array(geoms, dtype=object)).tolist())
    assert geos_flagged(geoms) <= flagged
    assert {4, 13}.isdisjoint(flagged)


# --- property test against brute force ---------------------------------------------------


def _jittered_grid(rng: np.random.Generator, nx: int, ny: int, s: float) -> list:
    """A valid coverage of quads (some split into triangles), random ring order/orientation."""
    vx = np.arange(nx + 1)[:, None] * s + np.zeros((1, ny + 1))
    vy = np.arange(ny + 1)[None, :] * s + np.zeros((nx + 1, 1))
    jit = rng.uniform(-0.3 * s, 0.3 * s, size=(2, nx + 1, ny + 1))
    if rng.random() < 0.5:
        jit = np.round(jit)  # integer coordinates: exact coincidences elsewhere
    vx, vy = X + vx + jit[0], Y + vy + jit[1]
    out = []
    for i in range(nx):
        for j in range(ny):
            q = [(vx[i, j], vy[i, j]), (vx[i + 1, j], vy[i + 1, j]),
                 (vx[i + 1, j + 1], vy[i + 1, j + 1]), (vx[i, j + 1], vy[i, j + 1])]  # fmt: skip
            pieces = [q] if rng.random() < 0.8 else [[q[0], q[1], q[2]], [q[0], q[2], q[3]]]
            for ring in pieces:
                k = int(rng.integers(len(ring)))
                ring = ring[k:] + ring[:k]
                if rng.random() < 0.5:
                    ring = ring[::-1]
                out.append(shapely.Polygon(ring))
    return out


def _random_set(rng: np.random.Generator) -> list:
    s = float(rng.choice([1.0, 10.0, 37.5]))
    geoms = _jittered_grid(rng, int(rng.integers(1, 8)), int(rng.integers(1, 8)), s)
    extent = 7 * s
    for _ in range(int(rng.integers(0, 4))):  # random boxes, integer or not
        x0, y0 = rng.uniform(-s, extent, 2)
        w, h = rng.uniform(0.2 * s, 2 * s, 2)
        if rng.random() < 0.5:
            x0, y0, w, h = (np.round(v) for v in (x0, y0, w + 1, h + 1))
        geoms.append(box(x0, y0, x0 + w, y0 + h, ccw=bool(rng.random() < 0.5)))
    for _ in range(int(rng.integers(0, 3))):  # duplicates, re-ordered
        p = geoms[int(rng.integers(len(geoms)))]
        geoms.append(shapely.reverse(p) if rng.random() < 0.5 else p)
    if rng.random() < 0.4:  # a ring with a hole, filled exactly or not, beside the grid
        # (over the grid, ring + filler would be a second tessellation: the documented case)
        x0 = float(rng.uniform(8 * s, 10 * s))
        outer, inner = box(x0, 0, x0 + 4 * s, 4 * s), box(x0 + s, s, x0 + 2 * s, 3 * s)
        geoms.append(outer.difference(inner))
        grow = 0.0 if rng.random() < 0.6 else float(rng.choice([-0.25, 0.25])) * s
        geoms.append(box(x0 + s, s, x0 + 2 * s + grow, 3 * s))
    if rng.random() < 0.3 and len(geoms) > 1:  # two touching cells merged: overlaps both
        a, b = geoms[0], geoms[1]
        if shapely.touches(a, b):
            merged = shapely.union(a, b)
            if merged.geom_type == "Polygon":
                geoms.append(merged)
    return geoms


@pytest.mark.parametrize("seed", range(4))
def test_same_pairs_and_areas_as_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(100):
        geoms = _random_set(rng)
        got = pairs(run(geoms))
        assert got == brute_pairs(geoms), [g.wkt for g in geoms]
        flagged = set(flag_overlap_candidates(np.array(geoms, dtype=object)).tolist())
        assert geos_flagged(geoms) <= flagged


def test_hash_collisions_add_work_but_never_hide_an_overlap(monkeypatch) -> None:
    """With a 12-bit hash, unrelated edges share keys (also in runs of exactly two, where only
    the coordinate check tells them apart); the pairs found must not change."""
    rng = np.random.default_rng(99)
    sets = [_random_set(rng) for _ in range(40)]
    expected = [pairs(run(g)) for g in sets]

    mix = geometry._mix

    def weak(h: np.ndarray) -> np.ndarray:
        mix(h)
        h &= np.uint64(0xFFF << 52)
        return h

    flagged = [len(flag_overlap_candidates(np.array(g, dtype=object))) for g in sets]
    monkeypatch.setattr(geometry, "_mix", weak)
    assert [pairs(run(g)) for g in sets] == expected
    weak_flagged = [len(flag_overlap_candidates(np.array(g, dtype=object))) for g in sets]
    assert all(w >= f for w, f in zip(weak_flagged, flagged, strict=True))
    assert sum(weak_flagged) > sum(flagged)
    grid = [box(i * 10, j * 10, i * 10 + 10, j * 10 + 10) for i in range(4) for j in range(4)]
    assert pairs(run(grid)) == []
