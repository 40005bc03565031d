"""What a served layer is: a :class:`Collection` of features with declared :class:`Prop` s.

Shared by the table layers (:mod:`spatial.layers.tables`, derived from the layer declarations),
the analysis layers (:mod:`spatial.layers.analysis`) and everything that serves them (features,
tiles, CQL2), so none of them imports another to get these types.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from psycopg import sql

from spatial.rules import ROUTE_LABELS_ZH
from spatial.schema import Layer

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
    max_length : int, optional
        Longest string value (a declared column's ``max_len``).
    enum : tuple of str, optional
        The values a string takes (a declared vocabulary's codes).
    unit : str, optional
        Unit of a number (e.g. ``"m²"``).
    required : bool
        Whether every feature has a value (a declared ``NOT NULL`` column).
    """

    name: str
    type: PropType
    title_zh: str
    title_en: str
    column: str | None = None
    expr: sql.Composable | None = None
    max_length: int | None = None
    enum: tuple[str, ...] | None = None
    unit: str | None = None
    required: bool = False

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
        Dataset layers, ``land_use_compatibility`` and :data:`ANALYSIS_RESULTS` whose changes
        change this collection; a notification naming one invalidates its cached tiles. The
        tile cache key is built from them (:func:`spatial.layers.tiles.version_sql`).
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


ANALYSIS_RESULTS = "analysis_results"
"""The stored reserve/coverage/conflict results (migration 0013) as a dependency: their version
(``analysis_versions.sites``) changes exactly when a refresh rewrites them, and a refresh sends
``NOTIFY tuzheng_datasets, 'analysis_results'``."""

REVIEW_DEPENDS = (
    Layer.projects.value,
    Layer.retained_land.value,
    Layer.state_reserve_land.value,
    Layer.statutory_plans.value,
    "land_use_compatibility",
    ANALYSIS_RESULTS,
)
"""What the review results served with a layer depend on: the stored results, and the inputs
whose changes rewrite them in the same transaction (listed so that a change of an input
invalidates cached tiles at once, whichever notification the listener reads first)."""


def case_sql(column: sql.Composable, mapping: Iterable[tuple[str, str]]) -> sql.Composable:
    """``CASE column WHEN k THEN v … END`` for the ``(k, v)`` pairs (NULL for any other value)."""
    whens = sql.SQL(" ").join(
        sql.SQL("WHEN {} THEN {}").format(sql.Literal(k), sql.Literal(v)) for k, v in mapping
    )
    return sql.SQL("CASE {} {} END").format(column, whens)


def route_label_sql(column: sql.Composable) -> sql.Composable:
    """``CASE`` mapping a route code column to its Chinese label (from :mod:`spatial.rules`)."""
    return case_sql(column, ((r.value, label) for r, label in ROUTE_LABELS_ZH.items()))


def route_zh() -> Prop:
    """The Chinese label of the ``route`` column (approval route of the 3000 m² rule)."""
    return Prop(
        "route_zh", "string", "审批路径", "Approval route", expr=route_label_sql(sql.SQL("t.route"))
    )
