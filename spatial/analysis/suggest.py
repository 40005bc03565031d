"""Siting suggestions (选址建议): up to five placements for a new retained-land site.

:func:`suggest_sitings` proposes rectangles of the required area inside a project boundary
that keep the project's total reserve occupation within 3000 m² where possible and lie wholly
in statutory-plan zones compatible with the planned use. It works in two stages:

1. **Search on a feasibility raster.** The boundary, the state reserve land, the zones
   compatible with the use, every zone, and the sites already there are burnt into grids of
   2–5 m cells (``rasterio.features.rasterize``, EPSG:4547). Summed-area tables give, for
   windows of five shapes (aspect 1:1, 3:2, 2:3, 2:1, 1:2) at positions on a stride of a
   quarter of the window's short side, the count of cells inside the boundary, on reserve
   land, on compatible zones and on existing sites.
   Windows that leave the boundary or touch a site are dropped; the rest are ranked by
   estimated occupation (within the remaining 3000 m² budget first), then incompatible
   cells, then compactness, and picked greedily without overlap.
2. **Exact vector check.** Each picked rectangle is checked with :func:`check_siting` (the
   same vector rule as the review), and the suggestions are ranked on those exact figures:
   route (district before city), planning study not needed first, occupied reserve land,
   uncovered area, then compactness. Only exactly checked figures are returned.

A suggestion is a starting point for the planner, not a decision: the rectangles are
axis-aligned, ignore ownership, buildings and access, and the search is on a grid.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import shapely
from pydantic import BaseModel, PrivateAttr
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Engine, text

from spatial import rules
from spatial.analysis.connection import analysis_connection
from spatial.analysis.projects import project_row
from spatial.analysis.siting import SitingCheck, check_siting
from spatial.errors import InvalidInput
from spatial.rules import Route

NOTE_ZH = "建议仅供选址起点参考，不是审批或规划决定；须由规划人员结合权属、建筑与现场情况核定。"
NOTE_EN = (
    "a suggestion is a starting point, not a decision: the planner confirms it against "
    "ownership, buildings and the site itself."
)
SHAPES = ((1.0, 1.0), (1.5, 1.0), (1.0, 1.5), (2.0, 1.0), (1.0, 2.0))
"""Window aspect ratios (width : height) tried."""
MIN_AREA_M2 = 100.0
MAX_CELLS = 1_500_000
"""Largest feasibility raster (cells); the resolution grows (up to 5 m) to stay below it."""


class SitingSuggestion(BaseModel):
    """One suggested placement with its exact check (areas m², EPSG:4547)."""

    rank: int
    width_m: float
    height_m: float
    compactness: float
    """Polsby–Popper 4πA/P² (1 for a circle; 0.785 for a square)."""
    check: SitingCheck

    _geometry: BaseGeometry | None = PrivateAttr(default=None)

    def geometry(self) -> BaseGeometry | None:
        """The suggested rectangle (EPSG:4547)."""
        return self._geometry


class SitingSuggestions(BaseModel):
    """The suggestions for a project, area and planned use, with how they were found."""

    project_code: str
    area_m2: float
    planned_use: str
    resolution_m: float
    other_sites_occupied_m2: float
    """Reserve land already occupied by the project's other sites (m², to 0.01 m²)."""
    budget_m2: float
    """What remains of the 3000 m² before the route turns to the city (m², ≥ 0)."""
    windows_evaluated: int
    suggestions: list[SitingSuggestion]
    note_zh: str = NOTE_ZH
    note_en: str = NOTE_EN
    method_zh: str = (
        "以 rasterio 栅格化可行性（边界、储备地、兼容地块、现有留用地）后滑动窗口搜索，"
        "每个建议均用矢量规则（与审查相同）精确复核"
    )
    method_en: str = (
        "sliding-window search on a feasibility raster (rasterio), each suggestion re-checked "
        "exactly with the vector rule the review uses"
    )


def _geoms(conn: Any, sql: str, params: dict[str, Any]) -> list[BaseGeometry]:
    return [shapely.from_wkb(bytes(r[0])) for r in conn.execute(text(sql), params).all()]


def _integral(a: np.ndarray) -> np.ndarray:
    out = np.zeros((a.shape[0] + 1, a.shape[1] + 1), dtype=np.int32)
    np.cumsum(np.cumsum(a, axis=0, dtype=np.int32), axis=1, out=out[1:, 1:])
    return out


def _window_sums(ii: np.ndarray, h: int, w: int) -> np.ndarray:
    """Sum of every h×w window (rows, cols of the top-left cell) from a summed-area table."""
    return ii[h:, w:] - ii[:-h, w:] - ii[h:, :-w] + ii[:-h, :-w]


def suggest_sitings(
    engine: Engine,
    project_code: str,
    area_m2: float,
    planned_use: str,
    *,
    n: int = 5,
    resolution_m: float | None = None,
    replaces_site_code: str | None = None,
) -> SitingSuggestions:
    """Suggest up to ``n`` (≤ 5) placements of a site of ``area_m2`` m² for ``planned_use``.

    Parameters
    ----------
    engine
        SQLAlchemy engine of the tuzheng store (read only).
    project_code
        Code of a current project; suggestions lie inside its boundary.
    area_m2
        Required site area (m², planar EPSG:4547), 100 m² up to the project's area.
    planned_use
        Planned land-use class (``R2``, ``M1``…), matched through ``land_use_compatibility``.
    n
        Number of suggestions wanted (1–5).
    resolution_m
        Cell size of the feasibility raster (m); default 2 m, coarser (up to 5 m) for large
        projects so the raster stays below :data:`MAX_CELLS` cells.
    replaces_site_code
        An existing site the new one would replace (it leaves the total and is not an
        obstacle).

    Returns
    -------
    SitingSuggestions
        The suggestions, each a rectangle of exactly ``area_m2`` m² with its exact
        :class:`~spatial.analysis.siting.SitingCheck`, ranked as the module docstring says;
        possibly fewer than ``n`` (none when nothing fits), and the note that a suggestion is
        a starting point, not a decision.

    Examples
    --------
    >>> s = suggest_sitings(engine, "GM-ZB-002", 5000, "R2")  # doctest: +SKIP
    >>> [x.check.after.route.value for x in s.suggestions]  # doctest: +SKIP
    ['district', 'district', 'district', 'district', 'district']
    """
    from affine import Affine
    from rasterio.features import rasterize

    project_row(engine, project_code)
    if not (1 <= n <= 5):
        raise InvalidInput("建议数量须为 1–5", "n must be 1 to 5")
    if not math.isfinite(area_m2) or area_m2 < MIN_AREA_M2:
        raise InvalidInput(
            f"所需面积须不小于 {MIN_AREA_M2:g} m²", f"the area must be at least {MIN_AREA_M2:g} m²"
        )
    use = (planned_use or "").strip()
    if not use or len(use) > 50:
        raise InvalidInput("请填写规划用途（如 R2）", "give the planned use (e.g. R2)")
    p = {"code": project_code, "use": use, "replaces": replaces_site_code}
    with analysis_connection(engine) as conn:
        boundary = shapely.union_all(
            _geoms(conn, "SELECT ST_AsBinary(geom) FROM current_projects WHERE code = :code", p)
        )
        env = "(SELECT ST_Extent(geom)::geometry FROM current_projects WHERE code = :code)"
        reserve = _geoms(
            conn,
            f"SELECT ST_AsBinary(geom) FROM current_state_reserve_land WHERE geom && {env}",
            p,
        )
        zones = conn.execute(
            text(
                "SELECT ST_AsBinary(z.geom), coalesce(k.compatible, false) "
                "FROM current_statutory_plans z LEFT JOIN land_use_compatibility k "
                "ON upper(btrim(k.planned_use)) = upper(btrim(:use)) "
                "AND upper(btrim(k.zone_class)) = upper(btrim(z.land_use_class)) "
                f"WHERE z.geom && {env}"
            ),
            p,
        ).all()
        sites = _geoms(
            conn,
            "SELECT ST_AsBinary(geom) FROM current_retained_land "
            f"WHERE geom && {env} AND NOT (project_code = :code "
            "AND code IS NOT DISTINCT FROM :replaces)",
            p,
        )
        other = conn.execute(
            text(
                "SELECT coalesce(sum(area_m2), 0)::float8 FROM analysis_site_reserve "
                "WHERE project_code = :code AND site_code IS DISTINCT FROM :replaces"
            ),
            p,
        ).scalar_one()
    if area_m2 > boundary.area:
        raise InvalidInput(
            f"所需面积 {area_m2:,.2f} m² 大于项目范围 {boundary.area:,.2f} m²",
            f"the area {area_m2:,.2f} m² exceeds the project's {boundary.area:,.2f} m²",
        )
    x0, y0, x1, y1 = boundary.bounds
    res = resolution_m or max(2.0, math.sqrt((x1 - x0) * (y1 - y0) / MAX_CELLS))
    if not (0.5 <= res <= 5.0):
        raise InvalidInput("栅格分辨率须为 0.5–5 m", "the raster resolution must be 0.5–5 m")
    cols, rows = int(math.ceil((x1 - x0) / res)), int(math.ceil((y1 - y0) / res))
    transform = Affine(res, 0.0, x0, 0.0, -res, y1)  # north-up, origin at the top-left
    shape = (rows, cols)

    def burn(geoms: list[BaseGeometry], touched: bool = False) -> np.ndarray:
        geoms = [g for g in geoms if not g.is_empty]
        if not geoms:
            return np.zeros(shape, dtype=np.uint8)
        return rasterize(
            geoms,
            out_shape=shape,
            transform=transform,
            fill=0,
            default_value=1,
            all_touched=touched,
            dtype="uint8",
        )

    # a cell counts as inside / compatible only if the edge does not cross it
    inside = burn([boundary]) & (1 - burn([boundary.boundary], touched=True))
    compat_union = (
        shapely.union_all([shapely.from_wkb(bytes(w)) for w, ok in zones if ok])
        if any(ok for _, ok in zones)
        else shapely.Polygon()
    )
    compat = (
        burn([compat_union]) & (1 - burn([compat_union.boundary], touched=True))
        if not compat_union.is_empty
        else np.zeros(shape, dtype=np.uint8)
    )
    on_reserve = burn(reserve, touched=True)
    blocked = burn(sites, touched=True)
    ii_in, ii_res, ii_ok, ii_blk = (_integral(a) for a in (inside, on_reserve, compat, blocked))

    budget = max(0.0, float(rules.RESERVE_THRESHOLD_M2) - float(other))
    # candidates: every window position on a stride of a quarter of the window's short side,
    # ranked once (within budget, no incompatible cells, least occupation, most compact)
    cands: list[tuple[float, float, int, int, int, int, float, float]] = []
    evaluated = 0
    for ar_w, ar_h in SHAPES:
        w_m = math.sqrt(area_m2 * ar_w / ar_h)
        h_m = area_m2 / w_m
        wc, hc = int(math.ceil(w_m / res)), int(math.ceil(h_m / res))
        if wc > cols or hc > rows:
            continue
        step = max(1, min(wc, hc) // 4)
        cells = wc * hc
        sl = (slice(None, None, step), slice(None, None, step))
        ok = (_window_sums(ii_in, hc, wc)[sl] == cells) & (_window_sums(ii_blk, hc, wc)[sl] == 0)
        rr, cc = np.nonzero(ok)
        evaluated += len(rr)
        if not len(rr):
            continue
        occ = _window_sums(ii_res, hc, wc)[sl][rr, cc].astype(np.float64) * res * res
        bad = cells - _window_sums(ii_ok, hc, wc)[sl][rr, cc]
        compact = 4 * math.pi * area_m2 / (2 * (w_m + h_m)) ** 2
        key = (occ > budget) * 1e12 + np.minimum(bad, 1e5) * 1e6 + occ - compact
        best = np.argsort(key, kind="stable")[:4000]
        cands.extend(
            (float(key[i]), -compact, int(rr[i]) * step, int(cc[i]) * step, wc, hc, w_m, h_m)
            for i in best
        )
    cands.sort(key=lambda t: t[:2])
    want = 3 * n
    picked_cells: list[tuple[int, int, int, int]] = []
    picked: list[tuple[float, float, float, float, float]] = []  # x, y, w, h, compactness
    for _, neg_compact, r, c, wc, hc, w_m, h_m in cands:
        pad = max(1, int(round(3 / res)), min(wc, hc) // 2)  # spread the placements out
        if any(
            r < r1 + pad and r0 < r + hc + pad and c < c1 + pad and c0 < c + wc + pad
            for r0, c0, r1, c1 in picked_cells
        ):
            continue
        picked_cells.append((r, c, r + hc, c + wc))
        # centre the exact rectangle in its window of whole cells
        wx = x0 + c * res + (wc * res - w_m) / 2
        wy = y1 - (r + hc) * res + (hc * res - h_m) / 2
        picked.append((wx, wy, w_m, h_m, -neg_compact))
        if len(picked) >= want:
            break

    checked: list[tuple[tuple[Any, ...], SitingSuggestion]] = []
    for wx, wy, w_m, h_m, compact in picked:
        geom = shapely.box(wx, wy, wx + w_m, wy + h_m)
        chk = check_siting(engine, project_code, geom, use, replaces_site_code=replaces_site_code)
        if chk.overlapping_sites or chk.outside_project_m2 > 0:
            continue  # the grid was too coarse here: never show a placement the rule refuses
        s = SitingSuggestion(
            rank=0,
            width_m=round(w_m, 2),
            height_m=round(h_m, 2),
            compactness=round(compact, 4),
            check=chk,
        )
        s._geometry = geom
        key = (
            chk.after.route is Route.city,
            chk.coverage.planning_study_required,
            chk.occupied_reserve_m2,
            chk.coverage.uncovered_m2,
            -compact,
        )
        checked.append((key, s))
    checked.sort(key=lambda t: t[0])
    out = [s for _, s in checked[:n]]
    for i, s in enumerate(out, 1):
        s.rank = i
    return SitingSuggestions(
        project_code=project_code,
        area_m2=round(float(area_m2), 2),
        planned_use=use,
        resolution_m=round(res, 3),
        other_sites_occupied_m2=rules.area_2dp(other),
        budget_m2=rules.area_2dp(budget),
        windows_evaluated=evaluated,
        suggestions=out,
    )
