"""Map figures rendered on the server (matplotlib, Agg): for the PDF review report and for
printing the web map's current view.

One renderer, :func:`render_map_figure`, draws the current data inside a box (EPSG:4547):
statutory-plan zones, optionally parcels by ownership category, state reserve land, retained
land coloured by approval route, the reserve land it occupies, uncovered and conflicting parts,
project boundaries, and any extra layers (a siting candidate and its evidence), with a title,
a legend, a scale bar and a north arrow. Colours come from :mod:`spatial.layers.styles`, the
same as the web map's. Output is PNG bytes; the same data and arguments give the same bytes
(no timestamp or software name in the file).
"""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import shapely
from sqlalchemy import Engine, text

from spatial.analysis.connection import analysis_connection
from spatial.categories import COLOURS, OwnershipCategory
from spatial.errors import InvalidInput
from spatial.layers import styles
from spatial.report.fonts import matplotlib_font
from spatial.rules import ROUTE_LABELS_ZH, Route

MAX_PARCELS = 20_000
"""Parcels drawn in one figure at most; a larger view leaves them out and says so."""
MAX_EXTENT_M = 120_000.0
"""Largest box side accepted (m): all of Shenzhen fits."""


@dataclass
class ExtraLayer:
    """Geometries to draw on top (EPSG:4547), e.g. a siting candidate and its evidence."""

    geometries: Sequence[Any]
    label_zh: str
    facecolor: str = "none"
    edgecolor: str = "#000000"
    linewidth: float = 1.5
    hatch: str | None = None
    alpha: float = 1.0


@dataclass
class FigureSpec:
    """What to draw: the box (EPSG:4547 m), a title, and which context layers to include."""

    bbox: tuple[float, float, float, float]
    title: str
    subtitle: str | None = None
    parcels: bool = False
    project_code: str | None = None
    """Only this project's boundary, sites and evidence (None: everything in the box)."""
    extra: list[ExtraLayer] = field(default_factory=list)
    width_mm: float = 170.0
    height_mm: float = 125.0
    dpi: int = 200


def _frame(engine: Engine, sql: str, params: dict[str, Any]) -> gpd.GeoDataFrame:
    with analysis_connection(engine) as conn:
        rows = conn.execute(text(sql), params).mappings().all()
    wkb = [bytes(r["wkb"]) for r in rows]
    data = [{k: v for k, v in r.items() if k != "wkb"} for r in rows]
    return gpd.GeoDataFrame(data, geometry=shapely.from_wkb(wkb) if wkb else [], crs=4547)


ENV = "ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4547)"


def figure_data(engine: Engine, spec: FigureSpec) -> dict[str, gpd.GeoDataFrame]:
    """The layers inside ``spec.bbox`` (EPSG:4547), read from the current views.

    Keys: ``zones``, ``parcels`` (empty unless ``spec.parcels`` and at most
    :data:`MAX_PARCELS`), ``reserve``, ``sites`` (with ``route``), ``occupied``,
    ``uncovered``, ``conflicts``, ``projects``.
    """
    x0, y0, x1, y1 = spec.bbox
    p: dict[str, Any] = {"x0": x0, "y0": y0, "x1": x1, "y1": y1, "code": spec.project_code}
    only = "(CAST(:code AS text) IS NULL OR project_code = :code)"
    out = {
        "zones": _frame(
            engine,
            f"SELECT zone_code, land_use_class, ST_AsBinary(geom) AS wkb "
            f"FROM current_statutory_plans WHERE geom && {ENV} ORDER BY zone_code",
            p,
        ),
        "reserve": _frame(
            engine,
            f"SELECT code, ST_AsBinary(geom) AS wkb FROM current_state_reserve_land "
            f"WHERE geom && {ENV} ORDER BY code",
            p,
        ),
        "sites": _frame(
            engine,
            "SELECT r.code, r.project_code, a.route, ST_AsBinary(r.geom) AS wkb "
            "FROM current_retained_land r JOIN analysis_site_reserve a ON a.id = r.id "
            "WHERE a.project_code IN (SELECT project_code FROM current_retained_land "
            f"WHERE geom && {ENV}) AND r.geom && {ENV} "
            f"AND (CAST(:code AS text) IS NULL OR r.project_code = :code) ORDER BY r.code",
            p,
        ),
        "occupied": _frame(
            engine,
            "SELECT site_code, ST_AsBinary(geom) AS wkb FROM analysis_reserve_overlaps "
            "WHERE project_code IN (SELECT project_code FROM current_retained_land "
            f"WHERE geom && {ENV}) AND geom && {ENV} AND {only} ORDER BY site_code",
            p,
        ),
        "uncovered": _frame(
            engine,
            "SELECT site_code, ST_AsBinary(geom) AS wkb FROM analysis_uncovered "
            f"WHERE geom && {ENV} AND {only} ORDER BY site_code",
            p,
        ),
        "conflicts": _frame(
            engine,
            "SELECT site_code, zone_code, ST_AsBinary(geom) AS wkb FROM analysis_conflicts "
            f"WHERE geom && {ENV} AND {only} ORDER BY site_code, zone_code",
            p,
        ),
        "projects": _frame(
            engine,
            "SELECT code, name, ST_AsBinary(geom) AS wkb FROM current_projects "
            f"WHERE geom && {ENV} AND (CAST(:code AS text) IS NULL OR code = :code) "
            "ORDER BY code",
            p,
        ),
        "parcels": gpd.GeoDataFrame({"category": []}, geometry=[], crs=4547),
    }
    if spec.parcels:
        with analysis_connection(engine) as conn:
            n = conn.execute(
                text(f"SELECT count(*) FROM current_parcels WHERE geom && {ENV}"), p
            ).scalar_one()
        if n <= MAX_PARCELS:
            out["parcels"] = _frame(
                engine,
                "SELECT category::text AS category, ST_AsBinary(geom) AS wkb "
                f"FROM current_parcels WHERE geom && {ENV} ORDER BY id",
                p,
            )
        out["parcels"].attrs["count"] = int(n)
    return out


def nice_scale_length(width_m: float) -> float:
    """A round scale-bar length (1, 2 or 5 × 10ⁿ m) of about a fifth of ``width_m``.

    Examples
    --------
    >>> nice_scale_length(1000), nice_scale_length(4300), nice_scale_length(27000)
    (200.0, 500.0, 5000.0)
    """
    target = width_m / 5
    exp = math.floor(math.log10(target))
    for m in (5, 2, 1):
        if m * 10**exp <= target:
            return float(m * 10**exp)
    return float(10**exp)


def _scale_label(length_m: float) -> str:
    return f"{length_m / 1000:g} km" if length_m >= 1000 else f"{length_m:g} m"


def check_bbox(bbox: Sequence[float]) -> tuple[float, float, float, float]:
    """``bbox`` as (xmin, ymin, xmax, ymax) in EPSG:4547 m, checked (finite, ordered, sized)."""
    if len(bbox) != 4 or not all(math.isfinite(float(v)) for v in bbox):
        raise InvalidInput("范围须为四个有限数值", "the box must be four finite numbers")
    x0, y0, x1, y1 = (float(v) for v in bbox)
    if not (x1 > x0 and y1 > y0):
        raise InvalidInput(
            "范围的最小值须小于最大值", "the box's minimum must be below its maximum"
        )
    if max(x1 - x0, y1 - y0) > MAX_EXTENT_M:
        raise InvalidInput(
            f"范围过大（边长上限 {MAX_EXTENT_M / 1000:g} km）",
            f"the box is too large (sides up to {MAX_EXTENT_M / 1000:g} km)",
        )
    return x0, y0, x1, y1


_LayerStyle = tuple[str, str, dict[str, Any]]
"""A layer of :func:`figure_data` drawn by :func:`render_map_figure`: key, legend label, style."""

_UNDER_SITES: tuple[_LayerStyle, ...] = (
    (
        "zones",
        "法定图则地块",
        {
            "facecolor": "#ce93d8",
            "edgecolor": styles.PLAN_COLOUR,
            "linewidth": 0.5,
            "linestyle": "--",
            "alpha": 0.35,
        },
    ),
    (
        "reserve",
        "国有储备土地",
        {
            "facecolor": styles.RESERVE_COLOUR,
            "edgecolor": "#5d4037",
            "linewidth": 0.6,
            "alpha": 0.45,
        },
    ),
)
"""Drawn over the parcels, under the retained-land sites."""

_OVER_SITES: tuple[_LayerStyle, ...] = (
    (
        "occupied",
        "占用国有储备土地",
        {
            "facecolor": styles.OCCUPIED_COLOUR,
            "edgecolor": "#000000",
            "linewidth": 0.6,
            "hatch": "////",
            "alpha": 0.75,
        },
    ),
    (
        "uncovered",
        "法定图则未覆盖",
        {
            "facecolor": styles.UNCOVERED_COLOUR,
            "edgecolor": "#8a7a00",
            "linewidth": 0.6,
            "hatch": "....",
        },
    ),
    (
        "conflicts",
        "需调整法定图则（用途冲突）",
        {
            "facecolor": styles.CONFLICT_COLOUR,
            "edgecolor": "#7a3b63",
            "linewidth": 0.6,
            "hatch": "xxx",
        },
    ),
    (
        "projects",
        "整备项目范围",
        {"facecolor": "none", "edgecolor": "#000000", "linewidth": 1.6},
    ),
)
"""Drawn over the retained-land sites (the review's evidence, then the project boundary)."""


def render_map_figure(engine: Engine, spec: FigureSpec) -> bytes:
    """Render the map figure of ``spec`` as PNG bytes (deterministic for the same data).

    The box ``spec.bbox`` is EPSG:4547 metres; it is widened to the figure's aspect ratio, so
    the map has one scale in both directions (planar, as measured). The scale bar is in metres
    of EPSG:4547; the north arrow points to grid north, which over Shenzhen differs from true
    north by less than 0.2° (meridian convergence near the central meridian 114°E).

    Examples
    --------
    >>> png = render_map_figure(engine, FigureSpec((500000, 2516000, 501000, 2517000), "示例"))
    ... # doctest: +SKIP
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrow, Patch, Rectangle

    x0, y0, x1, y1 = check_bbox(spec.bbox)
    # widen to the axes' aspect ratio (the map area below the title)
    map_w_mm, map_h_mm = spec.width_mm, spec.height_mm - 12
    cx, cy, w, h = (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0
    if w / h < map_w_mm / map_h_mm:
        w = h * map_w_mm / map_h_mm
    else:
        h = w * map_h_mm / map_w_mm
    box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    data = figure_data(engine, FigureSpec(**{**spec.__dict__, "bbox": box}))

    font = matplotlib_font()
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)  # one weight only
    with matplotlib.rc_context(
        {
            "font.family": "sans-serif",
            "font.sans-serif": [font],
            "axes.unicode_minus": False,
            "hatch.linewidth": 0.6,
            "svg.hashsalt": "tuzheng",
        }
    ):
        fig = plt.figure(figsize=(spec.width_mm / 25.4, spec.height_mm / 25.4), dpi=spec.dpi)
        ax = fig.add_axes((0.01, 0.01, 0.98, map_h_mm / spec.height_mm - 0.01))
        ax.set_xlim(box[0], box[2])
        ax.set_ylim(box[1], box[3])
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.xaxis.get_offset_text().set_visible(False)
        ax.yaxis.get_offset_text().set_visible(False)
        ax.set_facecolor("#f7f7f4")
        handles: list[Any] = []

        def draw(gdf: gpd.GeoDataFrame, label: str | None, **kw: Any) -> None:
            if len(gdf) == 0:
                return
            gdf.plot(ax=ax, **kw)
            if label:
                handles.append(
                    Patch(
                        facecolor=kw.get("facecolor", "none"),
                        edgecolor=kw.get("edgecolor", "#000"),
                        hatch=kw.get("hatch"),
                        alpha=kw.get("alpha", 1.0),
                        label=label,
                    )
                )

        parcels = data["parcels"]
        for cat in OwnershipCategory:
            sub = parcels[parcels["category"] == cat.value] if len(parcels) else parcels
            draw(
                sub,
                f"宗地：{cat.label_zh}",
                facecolor=COLOURS[cat],
                edgecolor="#777",
                linewidth=0.2,
                alpha=0.45,
            )
        for key, label, style in _UNDER_SITES:
            draw(data[key], label, **style)
        sites = data["sites"]
        for route in Route:
            sub = sites[sites["route"] == route.value] if len(sites) else sites
            sign = "≤" if route is Route.district else ">"
            draw(
                sub,
                f"留用土地：{ROUTE_LABELS_ZH[route]}（{sign}3000 m²）",
                facecolor=styles.ROUTE_COLOURS[route],
                edgecolor="#1b1b1b",
                linewidth=0.8,
            )
        for key, label, style in _OVER_SITES:
            draw(data[key], label, **style)
        for layer in spec.extra:
            gdf = gpd.GeoDataFrame(geometry=list(layer.geometries), crs=4547)
            draw(
                gdf,
                layer.label_zh,
                facecolor=layer.facecolor,
                edgecolor=layer.edgecolor,
                linewidth=layer.linewidth,
                hatch=layer.hatch,
                alpha=layer.alpha,
            )
        for _, row in sites.iterrows():
            c = row.geometry.representative_point()
            if box[0] < c.x < box[2] and box[1] < c.y < box[3] and len(sites) <= 60:
                ax.annotate(
                    row["code"],
                    (c.x, c.y),
                    fontsize=5.5,
                    ha="center",
                    va="center",
                    color="#000",
                    bbox={"boxstyle": "round,pad=0.15", "fc": "#ffffffcc", "ec": "none"},
                    parse_math=False,  # codes and titles are data: "$" is not mathtext
                )

        ax.set_xlim(box[0], box[2])
        ax.set_ylim(box[1], box[3])
        ax.tick_params(left=False, bottom=False, labelleft=False, labelbottom=False)
        ax.set_xlabel("")
        ax.set_ylabel("")
        # scale bar (EPSG:4547 metres), lower left
        length = nice_scale_length(w)
        sx, sy = box[0] + 0.04 * w, box[1] + 0.05 * h
        bar_h = 0.012 * h
        for i in range(4):
            ax.add_patch(
                Rectangle(
                    (sx + i * length / 4, sy),
                    length / 4,
                    bar_h,
                    facecolor="#000" if i % 2 == 0 else "#fff",
                    edgecolor="#000",
                    linewidth=0.6,
                    zorder=10,
                )
            )
        ax.text(sx, sy + bar_h * 1.6, "0", fontsize=6, ha="center", zorder=10)
        ax.text(
            sx + length, sy + bar_h * 1.6, _scale_label(length), fontsize=6, ha="center", zorder=10
        )
        ax.text(
            sx,
            sy - bar_h * 2.2,
            "平面坐标 EPSG:4547（CGCS2000 / 3° GK CM 114E）",
            fontsize=5,
            zorder=10,
        )
        # north arrow (grid north), upper right
        nx, ny = box[2] - 0.05 * w, box[3] - 0.16 * h
        ax.add_patch(
            FancyArrow(
                nx,
                ny,
                0,
                0.09 * h,
                width=0.012 * w,
                head_width=0.03 * w,
                head_length=0.035 * h,
                length_includes_head=True,
                color="#000",
                zorder=10,
            )
        )
        ax.text(nx, ny + 0.105 * h, "北 N", fontsize=8, ha="center", va="bottom", zorder=10)

        if handles:
            leg = ax.legend(
                handles=handles,
                loc="lower right",
                fontsize=5.5,
                framealpha=0.92,
                title="图例",
                title_fontsize=6.5,
                borderpad=0.5,
                labelspacing=0.35,
            )
            leg.set_zorder(20)
        if spec.parcels and parcels.attrs.get("count", 0) > MAX_PARCELS:
            ax.text(
                box[0] + 0.02 * w,
                box[3] - 0.04 * h,
                f"宗地 {parcels.attrs['count']:,} 宗，超过 {MAX_PARCELS:,} 宗未绘出，请放大",
                fontsize=6,
                color="#a00",
                zorder=10,
            )
        _heading(fig, spec, spec.title, 5.5, fontsize=11, weight="bold")
        if spec.subtitle:
            _heading(fig, spec, spec.subtitle, 10, fontsize=7, color="#333")
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=spec.dpi, metadata={"Software": None})
        plt.close(fig)
    return buf.getvalue()


def _heading(fig: Any, spec: FigureSpec, text: str, below_top_mm: float, **style: Any) -> None:
    """A line of ``text`` centred across ``fig``, its middle ``below_top_mm`` under the top."""
    fig.text(
        0.5,
        1 - below_top_mm / spec.height_mm,
        text,
        ha="center",
        va="center",
        parse_math=False,  # titles are data: "$" is not mathtext
        **style,
    )


def project_bbox(
    engine: Engine, project_code: str, margin: float = 0.08
) -> tuple[float, float, float, float]:
    """The box (EPSG:4547 m) of a current project's boundary, widened by ``margin`` per side."""
    from spatial.analysis.projects import project_row

    project_row(engine, project_code)
    with engine.connect() as conn:
        x0, y0, x1, y1 = conn.execute(
            text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                "(SELECT ST_Extent(geom)::geometry AS e FROM current_projects "
                "WHERE code = :c) x"
            ),
            {"c": project_code},
        ).one()
    dx, dy = (x1 - x0) * margin + 20, (y1 - y0) * margin + 20
    return (x0 - dx, y0 - dy, x1 + dx, y1 + dy)


def project_figure(
    engine: Engine, project_code: str, title: str, extra: Sequence[ExtraLayer] = ()
) -> bytes:
    """The review report's map of one project (its boundary, sites, evidence), PNG bytes."""
    spec = FigureSpec(
        bbox=project_bbox(engine, project_code),
        title=title,
        subtitle="留用土地、占用国有储备土地、法定图则覆盖与用途冲突",
        project_code=project_code,
        extra=list(extra),
    )
    return render_map_figure(engine, spec)
