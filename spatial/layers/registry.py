"""The layer registry: every map layer (collection) with a stable id, titles and a schema.

This is the only place that names relations and columns for the OGC API, the vector tiles and
the web map. Requests name collections and properties; both are looked up here and anything
else is refused, so no identifier ever comes from user input.

Every geometry is read from ``geom`` (EPSG:4547) for features and from ``geom_3857`` (an
indexed, generated Web Mercator copy, migration 0002) for tiles.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from psycopg import sql

from spatial.errors import NotFound
from spatial.models import Layer
from spatial.rules import ROUTE_LABELS_ZH

PropType = Literal["string", "integer", "number", "boolean"]


@dataclass(frozen=True)
class Prop:
    """A queryable property of a collection.

    Parameters
    ----------
    name : str
        Property name as served (GeoJSON properties, tile attributes, CQL2 filters).
    type : {"string", "integer", "number", "boolean"}
        JSON Schema type; CQL2 literals are checked against it.
    title_zh, title_en : str
        Chinese and English titles (queryables, popups).
    column : str, optional
        Column of the relation (aliased ``t``) holding the value; defaults to ``name``.
    expr : psycopg.sql.Composable, optional
        A fixed SQL expression over alias ``t`` used instead of a column (e.g. area in m²).
    """

    name: str
    type: PropType
    title_zh: str
    title_en: str
    column: str | None = None
    expr: sql.Composable | None = None

    def sql(self) -> sql.Composable:
        """The SQL expression of the value, over the relation alias ``t``."""
        if self.expr is not None:
            return self.expr
        return sql.SQL("t.{}").format(sql.Identifier(self.column or self.name))


@dataclass(frozen=True)
class Collection:
    """One layer served as an OGC API collection and as vector tiles.

    Parameters
    ----------
    id : str
        Stable collection id (URL segment, tile layer name).
    title_zh, title_en : str
        Chinese and English titles.
    relation : str
        View or table the features come from (``current_*`` views or analysis views).
    id_column : str
        Integer column identifying a feature (the GeoJSON ``id``).
    properties : tuple of Prop
        The declared schema; the only properties that may be filtered, sorted or selected.
    depends_on : tuple of str
        Dataset layers (and ``land_use_compatibility``) whose changes change this collection;
        the tile cache key is built from their active dataset ids.
    tile_properties : tuple of str
        Properties carried in vector tiles (styling and popups); every tile feature also
        carries its ``id``, with which the map's popup fetches the full feature.
    kind : {"table", "analysis"}
        Whether the layer is a data table or an analysis result.
    source : psycopg.sql.Composable, optional
        A fixed subquery used instead of ``relation`` (e.g. a table view joined with analysis
        results for popups). It must expose ``geom`` (EPSG:4547) and ``geom_3857``.
    """

    id: str
    title_zh: str
    title_en: str
    relation: str
    id_column: str
    properties: tuple[Prop, ...]
    depends_on: tuple[str, ...]
    tile_properties: tuple[str, ...]
    kind: Literal["table", "analysis"] = "table"
    description: str = ""
    source: sql.Composable | None = None
    _by_name: dict[str, Prop] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name.update({p.name: p for p in self.properties})
        missing = set(self.tile_properties) - set(self._by_name)
        if missing:
            raise ValueError(f"{self.id}: tile properties not in schema: {sorted(missing)}")

    @property
    def title(self) -> str:
        """Chinese title with the English one alongside."""
        return f"{self.title_zh} {self.title_en}"

    def prop(self, name: str) -> Prop | None:
        """The declared property ``name``, or None if it is not in the schema."""
        return self._by_name.get(name)

    def relation_sql(self) -> sql.Composable:
        """The relation: a quoted identifier, or the fixed ``source`` subquery."""
        if self.source is not None:
            return sql.SQL("({})").format(self.source)
        return sql.Identifier(self.relation)

    def id_sql(self) -> sql.Composable:
        """The feature id column over alias ``t``."""
        return sql.SQL("t.{}").format(sql.Identifier(self.id_column))


def _area() -> Prop:
    return Prop(
        "area_m2",
        "number",
        "面积（平方米）",
        "Area (m², EPSG:4547 planar)",
        expr=sql.SQL("round(ST_Area(t.geom)::numeric, 2)::float8"),
    )


def _dataset() -> Prop:
    return Prop("dataset_id", "integer", "数据集版本", "Dataset version")


_CATEGORY_ZH = sql.SQL(
    "(SELECT oc.label_zh FROM ownership_categories oc WHERE oc.code = t.category)"
)

_REVIEW_DEPENDS = (
    Layer.projects.value,
    Layer.retained_land.value,
    Layer.state_reserve_land.value,
    Layer.statutory_plans.value,
    "land_use_compatibility",
)
"""Layers the project review (and so the review attributes of a layer) depends on."""


def route_label_sql(column: sql.Composable) -> sql.Composable:
    """``CASE`` mapping a route code column to its Chinese label (from :mod:`spatial.rules`)."""
    whens = sql.SQL(" ").join(
        sql.SQL("WHEN {} THEN {}").format(sql.Literal(r.value), sql.Literal(label))
        for r, label in ROUTE_LABELS_ZH.items()
    )
    return sql.SQL("CASE {} {} END").format(column, whens)


def _route_zh() -> Prop:
    return Prop(
        "route_zh", "string", "审批路径", "Approval route", expr=route_label_sql(sql.SQL("t.route"))
    )


# Review results come from the analysis views (migration 0003), never recomputed here.
_RETAINED_SOURCE = sql.SQL(
    "SELECT r.*, coalesce(sr.area_m2, 0)::float8 AS reserve_m2, "
    "sr.project_total_m2::float8 AS project_reserve_m2, sr.route, "
    "cov.covered_m2, cov.uncovered_m2, cov.conflict_count "
    "FROM current_retained_land r "
    "LEFT JOIN analysis_site_reserve sr ON sr.id = r.id "
    "LEFT JOIN analysis_site_coverage cov ON cov.id = r.id"
)
_PROJECTS_SOURCE = sql.SQL(
    "SELECT p.*, coalesce(a.site_count, 0)::int AS site_count, "
    "coalesce(a.reserve_m2, 0)::float8 AS reserve_m2, "
    "tuzheng_approval_route(coalesce(a.reserve_m2, 0)::numeric) AS route, "
    "coalesce(a.uncovered_m2, 0)::float8 AS uncovered_m2, "
    "coalesce(a.conflict_count, 0)::int AS conflict_count "
    "FROM current_projects p LEFT JOIN ("
    "SELECT sr.project_code, count(*) AS site_count, sum(sr.area_m2) AS reserve_m2, "
    "sum(cov.uncovered_m2) AS uncovered_m2, sum(cov.conflict_count) AS conflict_count "
    "FROM analysis_site_reserve sr JOIN analysis_site_coverage cov ON cov.id = sr.id "
    "GROUP BY sr.project_code) a ON a.project_code = p.code"
)

TABLE_COLLECTIONS: tuple[Collection, ...] = (
    Collection(
        id="projects",
        title_zh="整备项目范围",
        title_en="Land readiness projects",
        relation="current_projects",
        id_column="id",
        source=_PROJECTS_SOURCE,
        properties=(
            Prop("code", "string", "项目编号", "Project code"),
            Prop("name", "string", "项目名称", "Project name"),
            Prop("district", "string", "所属区", "District"),
            Prop("stage", "string", "项目阶段", "Stage"),
            _area(),
            Prop("site_count", "integer", "留用土地宗数", "Retained-land sites"),
            Prop(
                "reserve_m2", "number", "占用国有储备土地（平方米）", "Reserve land occupied (m²)"
            ),
            Prop("route", "string", "审批路径代码", "Approval route code"),
            _route_zh(),
            Prop("uncovered_m2", "number", "图则未覆盖面积（平方米）", "Uncovered by plans (m²)"),
            Prop("conflict_count", "integer", "用途冲突数", "Use conflicts"),
            _dataset(),
        ),
        depends_on=_REVIEW_DEPENDS,
        tile_properties=(
            "code",
            "name",
            "stage",
            "area_m2",
            "site_count",
            "reserve_m2",
            "route",
            "route_zh",
            "uncovered_m2",
            "conflict_count",
        ),
    ),
    Collection(
        id="parcels",
        title_zh="宗地",
        title_en="Parcels",
        relation="current_parcels",
        id_column="id",
        properties=(
            Prop("code", "string", "宗地编号", "Parcel code"),
            Prop(
                "category",
                "string",
                "权属类型代码",
                "Ownership category code",
                expr=sql.SQL("t.category::text"),
            ),
            Prop("category_zh", "string", "权属类型", "Ownership category", expr=_CATEGORY_ZH),
            Prop("project_code", "string", "项目编号", "Project code"),
            Prop("owner", "string", "权利人", "Owner"),
            _area(),
            _dataset(),
        ),
        depends_on=(Layer.parcels.value,),
        # Only what styling and the first popup line need: the popup fetches the rest from
        # /collections/parcels/items/{id}. Keeps tiles of a million parcels light.
        tile_properties=("code", "category", "project_code"),
    ),
    Collection(
        id="retained_land",
        title_zh="留用土地",
        title_en="Retained land",
        relation="current_retained_land",
        id_column="id",
        source=_RETAINED_SOURCE,
        properties=(
            Prop("code", "string", "留用地编号", "Retained land code"),
            Prop("project_code", "string", "项目编号", "Project code"),
            Prop("name", "string", "名称", "Name"),
            Prop("land_use", "string", "规划用途", "Planned land use"),
            _area(),
            Prop(
                "reserve_m2", "number", "占用国有储备土地（平方米）", "Reserve land occupied (m²)"
            ),
            Prop(
                "project_reserve_m2",
                "number",
                "项目合计占用储备地（平方米）",
                "Project total reserve land occupied (m²)",
            ),
            Prop("route", "string", "审批路径代码", "Approval route code"),
            _route_zh(),
            Prop("covered_m2", "number", "图则覆盖面积（平方米）", "Covered by plans (m²)"),
            Prop("uncovered_m2", "number", "图则未覆盖面积（平方米）", "Uncovered by plans (m²)"),
            Prop("conflict_count", "integer", "用途冲突数", "Use conflicts"),
            _dataset(),
        ),
        depends_on=_REVIEW_DEPENDS,
        tile_properties=(
            "code",
            "project_code",
            "name",
            "land_use",
            "area_m2",
            "reserve_m2",
            "project_reserve_m2",
            "route",
            "route_zh",
            "covered_m2",
            "uncovered_m2",
            "conflict_count",
        ),
    ),
    Collection(
        id="state_reserve_land",
        title_zh="国有储备土地",
        title_en="State reserve land",
        relation="current_state_reserve_land",
        id_column="id",
        properties=(
            Prop("code", "string", "储备地编号", "Reserve land code"),
            Prop("name", "string", "名称", "Name"),
            _area(),
            _dataset(),
        ),
        depends_on=(Layer.state_reserve_land.value,),
        tile_properties=("code", "name", "area_m2"),
    ),
    Collection(
        id="statutory_plans",
        title_zh="法定图则",
        title_en="Statutory plan zones",
        relation="current_statutory_plans",
        id_column="id",
        properties=(
            Prop("plan_code", "string", "图则编号", "Plan code"),
            Prop("zone_code", "string", "地块编号", "Zone code"),
            Prop("plan_name", "string", "图则名称", "Plan name"),
            Prop("land_use_class", "string", "用地性质", "Land-use class"),
            _area(),
            _dataset(),
        ),
        depends_on=(Layer.statutory_plans.value,),
        tile_properties=("plan_code", "zone_code", "plan_name", "land_use_class", "area_m2"),
    ),
)


class Registry:
    """An ordered, immutable set of collections looked up by id."""

    def __init__(self, collections: tuple[Collection, ...]) -> None:
        self._items = {c.id: c for c in collections}
        if len(self._items) != len(collections):
            raise ValueError("duplicate collection ids")

    def __iter__(self):  # noqa: ANN204
        return iter(self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def ids(self) -> list[str]:
        """Collection ids in registry order."""
        return list(self._items)

    def get(self, collection_id: str) -> Collection:
        """The collection ``collection_id``; NotFound (404) if it is not registered."""
        try:
            return self._items[collection_id]
        except KeyError:
            raise NotFound("没有此图层", f"no such collection: {collection_id[:100]!r}") from None


@lru_cache(maxsize=1)
def default_registry() -> Registry:
    """All table layers and the analysis layers (see :mod:`spatial.layers.analysis`)."""
    from spatial.layers.analysis import ANALYSIS_COLLECTIONS

    return Registry(TABLE_COLLECTIONS + ANALYSIS_COLLECTIONS)
