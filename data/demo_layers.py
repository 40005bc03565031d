"""Building blocks of the demo district (:mod:`data.demo`): villages, the state farm, parcels,
projects, hand-placed rule cases, statutory-plan zones, reserve land and retained land.

Everything is in EPSG:4547 metres and driven by one ``numpy.random.Generator``, called in a
fixed order by :func:`data.demo.generate`, so a seed always gives the same district.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import shapely
from numpy.typing import NDArray

from data.demo_cases import FRAMES, NAMED_PROJECTS, NamedProject
from data.tessellate import sample_points, tessellate
from spatial.errors import InvalidInput

VILLAGES: tuple[str, ...] = (
    "玉塘",
    "凤凰",
    "马田",
    "田寮",
    "玉律",
    "东周",
    "合水口",
    "新羌",
    "塘家",
    "楼村",
    "甲子塘",
    "将石",
    "长圳",
    "塘尾",
    "木墩",
    "迳口",
    "白花",
    "碧眼",
    "圳美",
    "根竹园",
    "西田",
    "李松蓢",
    "红星",
    "上村",
    "下村",
    "南庄",
    "薯田埔",
    "石围",
    "翠湖",
    "新陂头",
    "公明",
    "光明",
    "羌下",
    "迳背",
    "章阁",
    "新庄",
    "大围",
    "茜坑",
    "高峰",
    "黄麻布",
)
"""Village / community names used for owners, villages and generic projects."""

STAGES: tuple[str, ...] = ("前期研究", "立项", "实施", "验收", "已入库")
ZONE_CLASSES: tuple[str, ...] = ("R2", "R3", "C1", "M0", "M1", "W1", "GIC", "G1", "S1", "U1")
ZONE_WEIGHTS: tuple[float, ...] = (0.18, 0.07, 0.10, 0.12, 0.15, 0.05, 0.10, 0.13, 0.06, 0.04)
PROJECT_SHARE = 0.14
"""Target share of the district inside projects (Guangming readied 14% in three years)."""
RESERVE_SHARE = 0.04
"""Share of state-owned parcels that are state reserve land."""
PLAN_UNCOVERED = (0.10, 0.15)
"""Target share of the district NOT covered by statutory plans."""
VILLAGE_GRID_M = 100.0
"""Cell size of the nearest-village lookup grid (m)."""
FARM_SHARE = 0.20
"""Share of the district (at most of 160 km²) that was the state farm."""

_CN_NUMERALS = [*"〇一二三四五六七八九十", *(f"十{d}" for d in "一二三四五六七八九")]


# ---------------------------------------------------------------------------------------------
# Helpers


def to_multi(geoms: NDArray) -> NDArray:
    """Promote Polygons to MultiPolygons (one output per input), dropping non-polygonal parts."""
    parts, idx = shapely.get_parts(geoms, return_index=True)
    keep = shapely.get_type_id(parts) == 3
    out = np.empty(len(geoms), dtype=object)
    return shapely.multipolygons(parts[keep], indices=idx[keep], out=out)


def to_multi_in_place(geoms: NDArray, chunk: int = 50_000) -> NDArray:
    """:func:`to_multi` chunk by chunk, replacing ``geoms`` so old geometries free as it goes."""
    for a in range(0, len(geoms), chunk):
        geoms[a : a + chunk] = to_multi(geoms[a : a + chunk])
    return geoms


def _village_names(n: int) -> list[str]:
    suffixes = ("", "新村", "二村", "三村", "老村", "东村", "西村", "南村", "北村")
    return [
        VILLAGES[i % len(VILLAGES)] + suffixes[i // len(VILLAGES) % len(suffixes)] for i in range(n)
    ]


def _wobble_factor(theta: NDArray, amp: NDArray, phase: NDArray) -> NDArray:
    """Radius factor 1 + Σ a_m sin(mθ + φ_m), m = 2, 3, 5: organic, irregular patch edges."""
    f = np.ones_like(theta)
    for j, m in enumerate((2, 3, 5)):
        f = f + amp[..., j] * np.sin(m * theta + phase[..., j])
    return f


@dataclass
class Setting:
    """Where the former state farm and the villages are (EPSG:4547 m)."""

    farm_x: float
    farm_y: float
    farm_r: float
    farm_amp: NDArray
    farm_phase: NDArray
    vx: NDArray
    vy: NDArray
    vr: NDArray
    v_amp: NDArray
    v_phase: NDArray
    vnames: list[str]
    bounds: tuple[float, float, float, float]

    def in_farm(self, x: NDArray, y: NDArray) -> NDArray:
        """True where (x, y) lies in the former state farm."""
        dx, dy = x - self.farm_x, y - self.farm_y
        f = _wobble_factor(np.arctan2(dy, dx), self.farm_amp, self.farm_phase)
        return np.hypot(dx, dy) < self.farm_r * f

    def _nearest_brute(self, x: NDArray, y: NDArray) -> NDArray:
        idx = np.empty(len(x), dtype=np.int64)
        step = max(1, 4_000_000 // max(len(self.vx), 1))
        for a in range(0, len(x), step):
            dx = x[a : a + step, None] - self.vx[None, :]
            dy = y[a : a + step, None] - self.vy[None, :]
            idx[a : a + step] = np.argmin(dx * dx + dy * dy, axis=1)
        return idx

    @cached_property
    def _village_grid(self) -> NDArray:
        """Nearest village of each 100 m grid cell centre over the bounds (brute force once)."""
        minx, miny, maxx, maxy = self.bounds
        nx = int((maxx - minx) // VILLAGE_GRID_M) + 1
        ny = int((maxy - miny) // VILLAGE_GRID_M) + 1
        gx, gy = np.meshgrid(
            minx + (np.arange(nx) + 0.5) * VILLAGE_GRID_M,
            miny + (np.arange(ny) + 0.5) * VILLAGE_GRID_M,
        )
        return self._nearest_brute(gx.ravel(), gy.ravel()).reshape(ny, nx)

    def nearest_village(self, x: NDArray, y: NDArray) -> tuple[NDArray, NDArray]:
        """Index of the nearest village centre and the distance to it (m), vectorised.

        The index is looked up in a 100 m grid (exact except within about 100 m of the
        bisector between two villages); the distance is exact for that village.
        """
        grid = self._village_grid
        minx, miny, _, _ = self.bounds
        ix = np.clip(((x - minx) // VILLAGE_GRID_M).astype(np.int64), 0, grid.shape[1] - 1)
        iy = np.clip(((y - miny) // VILLAGE_GRID_M).astype(np.int64), 0, grid.shape[0] - 1)
        idx = grid[iy, ix]
        return idx, np.hypot(x - self.vx[idx], y - self.vy[idx])

    def in_village(self, x: NDArray, y: NDArray) -> tuple[NDArray, NDArray, NDArray]:
        """(inside a village's patch, nearest village index, distance to its centre)."""
        vi, d = self.nearest_village(x, y)
        theta = np.arctan2(y - self.vy[vi], x - self.vx[vi])
        f = _wobble_factor(theta, self.v_amp[vi], self.v_phase[vi])
        return d < self.vr[vi] * f, vi, d


def make_setting(boundary: shapely.Geometry, rng: np.random.Generator) -> Setting:
    """Place the former state farm (one region, west-centre) and the village centres."""
    minx, miny, maxx, maxy = boundary.bounds
    area = boundary.area
    # The former state farm: one region near the west-centre (where Guangming's farm was).
    tx = minx + (0.30 + rng.uniform(-0.04, 0.04)) * (maxx - minx)
    ty = miny + (0.50 + rng.uniform(-0.04, 0.04)) * (maxy - miny)
    target = shapely.Point(tx, ty)
    inner = shapely.buffer(boundary, -1000.0)
    if inner.is_empty:
        inner = boundary
    if not inner.contains(target):
        target = shapely.shortest_line(inner, target).coords[0]
        target = shapely.Point(target)
    farm_r = float(np.sqrt(FARM_SHARE * min(area, 160e6) / np.pi))
    farm_amp = rng.uniform(0.05, 0.15, 3)
    farm_phase = rng.uniform(0, 2 * np.pi, 3)
    # Villages: about one per 10 km², at least 8, at least 1.5 km apart, outside the farm.
    n_v = max(8, int(round(area / 10e6)))
    cx, cy = sample_points(boundary, n_v * 8, rng)
    keep_x: list[float] = []
    keep_y: list[float] = []
    for x, y in zip(cx, cy, strict=True):
        if np.hypot(x - target.x, y - target.y) < farm_r * 1.25:
            continue
        if keep_x and np.min(np.hypot(np.array(keep_x) - x, np.array(keep_y) - y)) < 1500.0:
            continue
        keep_x.append(float(x))
        keep_y.append(float(y))
        if len(keep_x) == n_v:
            break
    k = len(keep_x)
    return Setting(
        farm_x=target.x,
        farm_y=target.y,
        farm_r=farm_r,
        farm_amp=farm_amp,
        farm_phase=farm_phase,
        vx=np.array(keep_x),
        vy=np.array(keep_y),
        vr=rng.uniform(450.0, 900.0, k),
        v_amp=rng.uniform(0.05, 0.2, (k, 3)),
        v_phase=rng.uniform(0, 2 * np.pi, (k, 3)),
        vnames=_village_names(k),
        bounds=boundary.bounds,
    )


# ---------------------------------------------------------------------------------------------
# Parcels


def make_parcels(
    boundary: shapely.Geometry, n: int, rng: np.random.Generator, s: Setting, prefix: str
) -> tuple[NDArray, dict[str, NDArray], NDArray, NDArray]:
    """Parcel cells and attributes (without project codes) and their representative points."""

    def weight(x: NDArray, y: NDArray) -> NDArray:
        _, d = s.nearest_village(x, y)
        w = 0.3 + 0.7 * np.exp(-((d / 900.0) ** 2))
        return np.where(s.in_farm(x, y), 0.12, w)

    x, y = sample_points(boundary, n, rng, weight)
    cells = tessellate(boundary, x, y).cells
    rp = shapely.point_on_surface(cells)
    px, py = shapely.get_x(rp), shapely.get_y(rp)
    # Codes run north to south in 500 m bands, west to east within a band.
    band = np.floor((np.max(py) - py) / 500.0)
    order = np.lexsort((px, band))
    cells, px, py = cells[order], px[order], py[order]
    m = len(cells)

    in_village, vi, vd = s.in_village(px, py)
    in_farm = s.in_farm(px, py)
    # Incomplete acquisition: scattered, more likely close to a village.
    edge = np.clip(vd - s.vr[vi], 0.0, None)
    incomplete = rng.random(m) < 0.04 + 0.30 * np.exp(-((edge / 1200.0) ** 2))

    category = np.full(m, "state_owned", dtype=object)
    category[incomplete] = "incomplete_acquisition"
    category[in_village] = "collective"
    category[in_farm] = "state_farm"
    companies = np.array([f"{v}社区股份合作公司" for v in s.vnames], dtype=object)
    owner = np.full(m, None, dtype=object)
    held = (category == "collective") | (category == "incomplete_acquisition")
    owner[held] = companies[vi[held]]
    owner[category == "state_farm"] = "光明农场"
    width = max(6, len(str(m)))
    codes = np.array([f"{prefix}-{i:0{width}d}" for i in range(1, m + 1)], dtype=object)
    attrs = {"code": codes, "category": category, "owner": owner}
    return cells, attrs, px, py


# ---------------------------------------------------------------------------------------------
# Projects


def _named_shape(p: NamedProject) -> shapely.Polygon:
    if p.ring:
        return shapely.Polygon(p.ring)
    return shapely.buffer(
        shapely.LineString(p.centreline), p.width / 2, cap_style="flat", join_style="mitre"
    )


def _translated(shape: shapely.Polygon, dx: NDArray, dy: NDArray) -> NDArray:
    """``shape`` (a polygon without holes) translated by each (dx, dy), vectorised."""
    ring = shapely.get_coordinates(shape.exterior)
    coords = ring[None, :, :] + np.column_stack([dx, dy])[:, None, :]
    return shapely.polygons(coords)


def _fits(
    cand: NDArray, inner: shapely.Geometry, taken: list[shapely.Geometry], gap: float
) -> NDArray:
    ok = shapely.contains(inner, cand)
    if taken and ok.any():
        tree = shapely.STRtree(np.array(taken, dtype=object))
        hit = tree.query(cand[ok], predicate="dwithin", distance=gap)[0]
        sub = np.ones(int(ok.sum()), dtype=bool)
        sub[hit] = False
        ok[np.flatnonzero(ok)] = sub
    return ok


def _place_near(
    shape: shapely.Polygon,
    target: tuple[float, float],
    inner: shapely.Geometry,
    taken: list[shapely.Geometry],
    step: float = 100.0,
    radius: float = 15_000.0,
) -> shapely.Polygon | None:
    """``shape`` moved by an integer offset so it lies inside ``inner`` clear of ``taken``.

    Offsets are tried nearest to ``target`` first, so the result is deterministic.
    """
    c = shape.centroid
    k = int(radius // step)
    g = np.arange(-k, k + 1) * step
    dx, dy = (a.ravel() for a in np.meshgrid(g, g))
    order = np.lexsort((dx, dy, np.hypot(dx, dy)))
    dx = dx[order] + round(target[0] - c.x)
    dy = dy[order] + round(target[1] - c.y)
    for start in range(0, len(dx), 4000):
        sl = slice(start, start + 4000)
        cand = _translated(shape, dx[sl], dy[sl])
        hit = np.flatnonzero(_fits(cand, inner, taken, 150.0))
        if len(hit):
            return cand[hit[0]]
    return None


def make_projects(
    boundary: shapely.Geometry, rng: np.random.Generator, s: Setting, prefix: str
) -> tuple[list[dict[str, object]], dict[str, tuple[float, float]]]:
    """Named projects (fixed codes) then generic ones up to PROJECT_SHARE of the district.

    Returns the project records and, for each named project, its integer origin offset.
    """
    minx, miny, maxx, maxy = boundary.bounds
    inner = shapely.buffer(boundary, -50.0)
    shapely.prepare(inner)
    records: list[dict[str, object]] = []
    taken: list[shapely.Geometry] = []
    origins: dict[str, tuple[float, float]] = {}
    for p in NAMED_PROJECTS:
        shape = _named_shape(p)
        target = (minx + p.anchor[0] * (maxx - minx), miny + p.anchor[1] * (maxy - miny))
        placed = _place_near(shape, target, inner, taken)
        if placed is None:
            raise InvalidInput(
                f"边界太小，放不下示例项目 {p.name}",
                f"the boundary is too small for demo project {p.code}",
            )
        ring0 = shapely.get_coordinates(shape.exterior)[0]
        ring1 = shapely.get_coordinates(placed.exterior)[0]
        origins[p.code] = (float(ring1[0] - ring0[0]), float(ring1[1] - ring0[1]))
        taken.append(placed)
        records.append({"code": p.code, "name": p.name, "stage": p.stage, "geometry": placed})

    target_area = PROJECT_SHARE * boundary.area
    total = sum(g.area for g in taken)
    i = 101
    attempts = 0
    phases: dict[str, int] = {}  # a second project near the same village is its 二期, 三期…
    while total < target_area and attempts < 200:
        w = float(np.round(rng.uniform(600.0, 1500.0), 0))
        h = float(np.round(rng.uniform(400.0, 1000.0), 0))
        angle = rng.uniform(-np.pi / 4, np.pi / 4)
        ca, sa = np.cos(angle), np.sin(angle)
        local = np.array([(0, 0), (w, 0), (w, h), (0, h)], dtype=float)
        if rng.random() < 0.5:  # an L-shaped project
            cw, ch = np.round(w * rng.uniform(0.2, 0.4)), np.round(h * rng.uniform(0.2, 0.4))
            local = np.array(
                [(0, 0), (w, 0), (w, h - ch), (w - cw, h - ch), (w - cw, h), (0, h)], dtype=float
            )
        rot = local @ np.array([[ca, sa], [-sa, ca]])
        shape = shapely.Polygon(np.round(rot, 3))
        k = 300
        dx = np.round(rng.uniform(minx, maxx, k))
        dy = np.round(rng.uniform(miny, maxy, k))
        cand = _translated(shape, dx, dy)
        hit = np.flatnonzero(_fits(cand, inner, taken, 150.0))
        attempts += 1
        if not len(hit):
            continue
        geom = cand[hit[0]]
        c = geom.centroid
        vi, _ = s.nearest_village(np.array([c.x]), np.array([c.y]))
        village = s.vnames[int(vi[0])]
        phases[village] = phases.get(village, 0) + 1
        n = phases[village]
        phase = "" if n == 1 else f"（{_CN_NUMERALS[n] if n < len(_CN_NUMERALS) else n}期）"
        records.append(
            {
                "code": f"{prefix}-ZB-{i:03d}",
                "name": f"{village}片区土地整备利益统筹项目{phase}",
                "stage": STAGES[int(rng.integers(len(STAGES)))],
                "geometry": geom,
                "angle": angle,
            }
        )
        taken.append(geom)
        total += geom.area
        i += 1
    return records, origins


# ---------------------------------------------------------------------------------------------
# Hand-placed cases


def _rect(origin: tuple[float, float], r: tuple[int, int, int, int]) -> shapely.Polygon:
    ox, oy = origin
    return shapely.box(ox + r[0], oy + r[1], ox + r[2], oy + r[3])


def case_layers(
    origins: dict[str, tuple[float, float]],
) -> tuple[list[shapely.Polygon], list[dict], list[dict], list[dict]]:
    """Frames, reserve rectangles, retained sites and zones of :data:`FRAMES` (EPSG:4547)."""
    frames: list[shapely.Polygon] = []
    reserve: list[dict] = []
    sites: list[dict] = []
    zones: list[dict] = []
    by_code = {p.code: p for p in NAMED_PROJECTS}
    for f in FRAMES:
        px, py = origins[f.project]
        fx, fy = by_code[f.project].frames[f.index]
        o = (px + fx, py + fy)
        frames.append(_rect(o, (0, 0, f.size[0], f.size[1])))
        for code, r in f.reserve:
            reserve.append(
                {"code": code, "name": "国有储备土地（已入库）", "geometry": _rect(o, r)}
            )
        for site in f.sites:
            sites.append(
                {
                    "code": site.code,
                    "project_code": f.project,
                    "name": site.name,
                    "land_use": site.land_use,
                    "geometry": _rect(o, site.rect),
                }
            )
        for suffix, cls, r in f.zones:
            zones.append(
                {
                    "plan_code": f.plan_code,
                    "zone_code": f"{f.plan_code}-{suffix}",
                    "plan_name": f.plan_name,
                    "land_use_class": cls,
                    "geometry": _rect(o, r),
                }
            )
    return frames, reserve, sites, zones


# ---------------------------------------------------------------------------------------------
# Statutory plans


def make_zones(
    boundary: shapely.Geometry,
    rng: np.random.Generator,
    frames: list[shapely.Polygon],
    prefix: str,
) -> list[dict]:
    """Generic statutory-plan zones covering 85–90% of the district, minus the case frames."""
    area = boundary.area
    n_z = max(60, int(area / 0.35e6))
    zx, zy = sample_points(boundary, n_z, rng)
    cells = tessellate(boundary, zx, zy).cells
    # Plans are blocks of a grid (about 16 over the district); a zone belongs to the plan of
    # the block holding its seed.
    minx, miny, _, _ = boundary.bounds
    side = max(2000.0, float(np.round(np.sqrt(area / 16.0), -2)))
    bx = ((zx - minx) // side).astype(np.int64)
    by = ((zy - miny) // side).astype(np.int64)
    block = by * (bx.max() + 1) + bx
    blocks, block_idx = np.unique(block, return_inverse=True)
    zone_area = shapely.area(cells)
    block_share = np.bincount(block_idx, weights=zone_area) / area
    lo, hi = PLAN_UNCOVERED
    dropped_blocks: set[int] = set()
    uncovered = 0.0
    for b in rng.permutation(len(blocks)):
        if uncovered >= lo:
            break
        if uncovered + block_share[b] <= hi:
            dropped_blocks.add(int(b))
            uncovered += block_share[b]
    keep = ~np.isin(block_idx, list(dropped_blocks))
    for z in rng.permutation(len(cells)):
        if uncovered >= lo:
            break
        if keep[z] and uncovered + zone_area[z] / area <= hi:
            keep[z] = False
            uncovered += zone_area[z] / area
    # Carve the case frames out of the generic zones.
    frame_union = shapely.union_all(frames)
    touch = shapely.intersects(frame_union, cells)
    cells = cells.copy()
    cells[touch] = shapely.difference(cells[touch], frame_union)
    # Drop fragments under 1 m² that carving or clipping left (zones need not tile).
    parts, owner = shapely.get_parts(cells, return_index=True)
    big = shapely.area(parts) >= 1.0
    cells = shapely.multipolygons(parts[big], indices=owner[big], out=np.empty(len(cells), object))
    classes = rng.choice(len(ZONE_CLASSES), size=len(cells), p=ZONE_WEIGHTS)
    out: list[dict] = []
    counters: dict[int, int] = {}
    for z in range(len(cells)):
        if not keep[z] or cells[z] is None or shapely.is_empty(cells[z]) or cells[z].area <= 0:
            continue
        b = int(block_idx[z])
        counters[b] = counters.get(b, 0) + 1
        plan_code = f"{prefix}-FT-{b + 1:02d}"
        out.append(
            {
                "plan_code": plan_code,
                "zone_code": f"{plan_code}-{counters[b]:03d}",
                "plan_name": f"{VILLAGES[b % len(VILLAGES)]}片区法定图则",
                "land_use_class": ZONE_CLASSES[int(classes[z])],
                "geometry": cells[z],
            }
        )
    return out


# ---------------------------------------------------------------------------------------------
# Reserve land and generic retained land


def generic_reserve(
    cells: NDArray, category: NDArray, rng: np.random.Generator, frames: list[shapely.Polygon]
) -> list[dict]:
    """About RESERVE_SHARE of the state-owned parcels, away from the case frames."""
    candidates = np.flatnonzero(category == "state_owned")
    pick = candidates[rng.random(len(candidates)) < RESERVE_SHARE]
    if frames and len(pick):
        tree = shapely.STRtree(cells[pick])
        near = tree.query(np.array(frames, dtype=object), predicate="dwithin", distance=30.0)[1]
        pick = np.delete(pick, np.unique(near))
    return [
        {"code": f"CB-{i:05d}", "name": "国有储备土地", "geometry": cells[j]}
        for i, j in enumerate(np.sort(pick), start=1)
    ]


def generic_sites(
    projects: list[dict], zones: list[dict], rng: np.random.Generator, s: Setting
) -> list[dict]:
    """One or two retained-land sites inside each generic project."""
    zone_geoms = np.array([z["geometry"] for z in zones], dtype=object)
    zone_cls = [z["land_use_class"] for z in zones]
    tree = shapely.STRtree(zone_geoms)
    out: list[dict] = []
    i = 101
    for p in projects:
        if "angle" not in p:
            continue
        geom = p["geometry"]
        inner = shapely.buffer(geom, -60.0)
        if inner.is_empty:
            continue
        ca, sa = np.cos(p["angle"]), np.sin(p["angle"])
        placed: list[shapely.Geometry] = []
        for _ in range(int(rng.integers(1, 3))):
            w, h = np.round(rng.uniform(60.0, 160.0, 2))
            local = np.array([(0, 0), (w, 0), (w, h), (0, h)]) @ np.array([[ca, sa], [-sa, ca]])
            shape = shapely.Polygon(np.round(local, 3))
            x0, y0, x1, y1 = inner.bounds
            cand = _translated(
                shape, np.round(rng.uniform(x0, x1, 60)), np.round(rng.uniform(y0, y1, 60))
            )
            fits = shapely.contains(inner, cand)
            for other in placed:  # sites of one project keep 20 m apart
                fits &= ~shapely.dwithin(other, cand, 20.0)
            ok = np.flatnonzero(fits)
            if not len(ok):
                continue
            site = cand[ok[0]]
            placed.append(site)
            c = site.centroid
            hit = tree.query(c, predicate="intersects")
            if len(hit) and rng.random() < 0.85:
                use = zone_cls[int(hit[0])]
            else:
                use = ZONE_CLASSES[int(rng.integers(len(ZONE_CLASSES)))]
            vi, _ = s.nearest_village(np.array([c.x]), np.array([c.y]))
            out.append(
                {
                    "code": f"LY-{i:03d}",
                    "project_code": p["code"],
                    "name": f"{s.vnames[int(vi[0])]}社区留用土地",
                    "land_use": use,
                    "geometry": site,
                }
            )
            i += 1
    return out
