"""The table layers as OGC collections, derived from their declarations (:mod:`spatial.schema`).

Each served layer becomes a collection of its ``current_*`` view: one property per declared
column (a ``code`` column also gets its Chinese label as ``<name>_zh``), the planar area and the
dataset version, titled with the declared Chinese and English labels. Projects and retained
land are served with their review results as well (:data:`REVIEW_ATTRIBUTES`), read from the
stored analysis results (migration 0013), per feature, and never recomputed here.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from spatial.layers.collection import REVIEW_DEPENDS, Collection, Prop, route_zh
from spatial.schema import Column, Layer, LayerSpec, declared

AREA = Prop(
    "area_m2",
    "number",
    "面积（平方米）",
    "Area (m², EPSG:4547 planar)",
    expr=sql.SQL("round(ST_Area(t.geom)::numeric, 2)::float8"),
    unit="m²",
)
"""Planar area of a feature's geometry in EPSG:4547, m² to 0.01."""

DATASET = Prop("dataset_id", "integer", "数据集版本", "Dataset version", required=True)
"""The dataset version a feature belongs to."""


def column_props(col: Column) -> tuple[Prop, ...]:
    """The served properties of a declared column: itself, and a code column's Chinese label."""
    if col.vocabulary is not None:
        vocab = col.vocabulary
        ident = sql.Identifier(col.name)
        label = sql.SQL("CASE t.{}::text {} END").format(
            ident,
            sql.SQL(" ").join(
                sql.SQL("WHEN {} THEN {}").format(sql.Literal(code), sql.Literal(text))
                for code, text in vocab.labels_zh.items()
            ),
        )
        return (
            Prop(
                col.name,
                "string",
                f"{col.label_zh}代码",
                f"{col.label_en} code",
                expr=sql.SQL("t.{}::text").format(ident),
                enum=vocab.codes,
                required=col.required,
            ),
            Prop(f"{col.name}_zh", "string", col.label_zh, col.label_en, expr=label),
        )
    if col.kind == "number":
        prop = Prop(
            col.name, "number", col.label_zh, col.label_en, unit=col.unit, required=col.required
        )
        return (prop,)
    prop = Prop(
        col.name,
        "string",
        col.label_zh,
        col.label_en,
        max_length=col.max_len,
        required=col.required,
    )
    return (prop,)


@dataclass(frozen=True)
class Review:
    """Review results served with a table layer: a fixed source exposing them, and their props.

    ``source`` selects ``t.*`` of the layer's ``current_*`` view joined with the analysis
    views, so it stays right whatever columns the layer declares.
    """

    source: sql.Composable
    properties: tuple[Prop, ...]


def _reserve() -> Prop:
    return Prop("reserve_m2", "number", "占用国有储备土地（平方米）", "Reserve land occupied (m²)")


def _uncovered() -> Prop:
    return Prop("uncovered_m2", "number", "图则未覆盖面积（平方米）", "Uncovered by plans (m²)")


def _route() -> Prop:
    return Prop("route", "string", "审批路径代码", "Approval route code")


def _conflicts() -> Prop:
    return Prop("conflict_count", "integer", "用途冲突数", "Use conflicts")


REVIEW_ATTRIBUTES: dict[str, Review] = {
    Layer.projects: Review(
        sql.SQL(
            "SELECT p.*, coalesce(a.site_count, 0)::int AS site_count, "
            "coalesce(a.reserve_m2, 0)::float8 AS reserve_m2, "
            "tuzheng_approval_route(coalesce(a.reserve_m2, 0)::numeric) AS route, "
            "coalesce(a.uncovered_m2, 0)::float8 AS uncovered_m2, "
            "coalesce(a.conflict_count, 0)::int AS conflict_count "
            "FROM current_projects p LEFT JOIN LATERAL ("
            "SELECT count(*) AS site_count, sum(sr.area_m2) AS reserve_m2, "
            "sum(cov.uncovered_m2) AS uncovered_m2, sum(cov.conflict_count) AS conflict_count "
            "FROM analysis_site_reserve sr JOIN analysis_site_coverage cov ON cov.id = sr.id "
            "WHERE sr.project_code = p.code) a ON true"
        ),
        (
            Prop("site_count", "integer", "留用土地宗数", "Retained-land sites"),
            _reserve(),
            _route(),
            route_zh(),
            _uncovered(),
            _conflicts(),
        ),
    ),
    Layer.retained_land: Review(
        sql.SQL(
            "SELECT r.*, coalesce(sr.area_m2, 0)::float8 AS reserve_m2, "
            "sr.project_total_m2::float8 AS project_reserve_m2, sr.route, "
            "cov.covered_m2, cov.uncovered_m2, cov.conflict_count "
            "FROM current_retained_land r "
            "LEFT JOIN analysis_site_reserve sr ON sr.id = r.id "
            "LEFT JOIN analysis_site_coverage cov ON cov.id = r.id"
        ),
        (
            _reserve(),
            Prop(
                "project_reserve_m2",
                "number",
                "项目合计占用储备地（平方米）",
                "Project total reserve land occupied (m²)",
            ),
            _route(),
            route_zh(),
            Prop("covered_m2", "number", "图则覆盖面积（平方米）", "Covered by plans (m²)"),
            _uncovered(),
            _conflicts(),
        ),
    ),
}
"""The layers served with review results (the 3000 m² route, plan coverage, conflicts)."""


def table_collection(spec: LayerSpec) -> Collection:
    """The collection of a declared layer (see the module docstring).

    Vector tiles carry the properties the declaration lists in ``tiles`` (default: every
    column and the area), then the review results, if any.
    """
    review = REVIEW_ATTRIBUTES.get(spec.name)
    extra = review.properties if review is not None else ()
    tiles = list(spec.tiles) if spec.tiles is not None else [*spec.column_names, AREA.name]
    tiles += [p.name for p in extra]
    return Collection(
        id=spec.name,
        title_zh=spec.title_zh,
        title_en=spec.title_en,
        relation=spec.current_view,
        id_column="id",
        properties=(*(p for c in spec.columns for p in column_props(c)), AREA, *extra, DATASET),
        depends_on=REVIEW_DEPENDS if review is not None else (spec.name,),
        tile_properties=tuple(tiles),
        source=review.source if review is not None else None,
    )


def table_collections() -> tuple[Collection, ...]:
    """The collections of every declared layer that is served, in declaration order."""
    return tuple(table_collection(spec) for spec in declared() if spec.serve)
