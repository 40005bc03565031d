"""The typed spec of a layer: its columns, key and geometry, written once and read by all.

A :class:`LayerSpec` says everything the rest of tuzheng needs to know about a layer table:
each :class:`Column` with its type, length, nullability, unit, Chinese and English labels and
the source-column names surveyors use, which column is the key, and the geometry type. The ORM
tables (:mod:`spatial.models`), the COPY column lists (:mod:`spatial.datasets`), the attribute
mapping and its messages (:mod:`spatial.ingest.attributes`), the OGC collections with their
properties, titles and queryables (:mod:`spatial.layers.tables`), the workbench's views
(:mod:`spatial.workbench`) and the ingestable layers are all derived from it. Migrations stay
hand-written; ``tests/test_layer_schema.py`` fails when a declaration and the migrated
database disagree.

The declared layers live in :mod:`spatial.schema.layers`. :func:`register` adds one more at
run time (a layer whose table a migration, or a test, has created).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

ColumnKind = Literal["text", "number", "code"]
"""``text``: a string (``varchar(max_len)``, or ``text`` without a length); ``number``: a
float8 measurement; ``code``: one code of a closed :class:`Vocabulary` (a PostgreSQL enum)."""

GeometryType = Literal["MULTIPOLYGON"]
"""Stored geometry types. Every layer so far is MultiPolygon (Polygons are promoted)."""

_IDENTIFIER_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


def _check_identifier(name: str, what: str) -> None:
    """Refuse a table or column name that is not a plain lower-case SQL identifier."""
    if not name or not set(name) <= _IDENTIFIER_CHARS or name[0].isdigit() or len(name) > 40:
        raise ValueError(f"{what} {name!r} must be a lower-case identifier of at most 40 chars")


@dataclass(frozen=True, eq=False)
class Vocabulary:
    """A closed set of codes a ``code`` column takes, stored as a PostgreSQL enum.

    Parameters
    ----------
    pg_type : str
        Name of the PostgreSQL enum type (created by a migration).
    codes : tuple of str
        The codes, in the enum's order.
    labels_zh, labels_en : mapping of code to label
        What each code means; served as ``<column>_zh`` next to the code.
    parse : callable
        Maps a surveyor's spelling (Chinese, abbreviation, code) to a code, or None.
    choices_zh, choices_en : str
        How refusal messages list the accepted values.
    """

    pg_type: str
    codes: tuple[str, ...]
    labels_zh: Mapping[str, str]
    labels_en: Mapping[str, str]
    parse: Callable[[object], str | None]
    choices_zh: str
    choices_en: str


@dataclass(frozen=True)
class Column:
    """One attribute column of a layer table.

    Parameters
    ----------
    name : str
        Column name (also the served property name and the mapping-file field name).
    kind : {"text", "number", "code"}
        See :data:`ColumnKind`.
    label_zh, label_en : str
        Chinese and English labels: collection properties, queryables, refusal messages.
    max_len : int, optional
        Maximum length in characters of a ``text`` column (``varchar(max_len)``); longer
        uploaded values are refused. None: unlimited (``text``).
    required : bool
        ``NOT NULL``; an upload must give a value in every row.
    unit : str, optional
        Unit of a ``number`` column, e.g. ``"m²"``.
    aliases : tuple of str
        Source-column names surveyors use for it (Chinese, pinyin initials, the forms the
        10-byte DBF limit leaves), tried in order and case-insensitively; the column's own
        name is tried last.
    index : bool
        Whether the column has a btree index (columns that filter, e.g. ``project_code``).
    vocabulary : Vocabulary, optional
        The codes of a ``code`` column.
    """

    name: str
    kind: ColumnKind
    label_zh: str
    label_en: str
    max_len: int | None = None
    required: bool = False
    unit: str | None = None
    aliases: tuple[str, ...] = ()
    index: bool = False
    vocabulary: Vocabulary | None = None

    def __post_init__(self) -> None:
        _check_identifier(self.name, "column")
        if (self.kind == "code") != (self.vocabulary is not None):
            raise ValueError(f"column {self.name}: a vocabulary goes with kind 'code' only")
        if self.max_len is not None and self.kind != "text":
            raise ValueError(f"column {self.name}: only text columns have a max_len")
        if self.unit is not None and self.kind != "number":
            raise ValueError(f"column {self.name}: only number columns have a unit")

    @property
    def source_names(self) -> tuple[str, ...]:
        """The source-column names to try, in order: the aliases, then the name itself."""
        if self.name in self.aliases:
            return self.aliases
        return (*self.aliases, self.name)


@dataclass(frozen=True)
class LayerSpec:
    """One layer table, declared once.

    Parameters
    ----------
    name : str
        Table name, ``datasets.layer`` value and collection id.
    title_zh, title_en : str
        Chinese and English titles (collections, the map, messages).
    columns : tuple of Column
        Attribute columns in table (and COPY) order; ``id``, ``dataset_id`` and the geometry
        are implied.
    key : str
        The column whose values are unique within a dataset (duplicates are refused).
    geometry : {"MULTIPOLYGON"}
        Stored geometry type, in EPSG:4547 (:data:`STORAGE_SRID`).
    names : tuple of str
        Other names notebooks may use for the layer (``"宗地"``, ``"parcel"``); the name and
        the Chinese title are always accepted.
    project_column : str, optional
        The column naming the project a row belongs to; layers without one are matched to
        projects spatially.
    ingest : bool
        Whether surveyors may upload files into it.
    serve : bool
        Whether it is served as an OGC collection and as vector tiles.
    tiles : tuple of str, optional
        The properties carried in vector tiles; default every column and the area.
    big_ids : bool
        ``bigint`` row ids (layers expected to hold millions of rows).
    partitioned : bool
        Stored ``PARTITION BY LIST (dataset_id)``, one partition per dataset version.
    """

    name: str
    title_zh: str
    title_en: str
    columns: tuple[Column, ...]
    key: str
    geometry: GeometryType = "MULTIPOLYGON"
    names: tuple[str, ...] = ()
    project_column: str | None = None
    ingest: bool = True
    serve: bool = True
    tiles: tuple[str, ...] | None = None
    big_ids: bool = False
    partitioned: bool = False
    _by_name: dict[str, Column] = field(init=False, default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        _check_identifier(self.name, "layer")
        self._by_name.update({c.name: c for c in self.columns})
        if len(self._by_name) != len(self.columns):
            raise ValueError(f"layer {self.name}: duplicate column names")
        implied = {"id", "dataset_id", "geom", "geom_3857", "area_m2"} & set(self._by_name)
        if implied:
            raise ValueError(f"layer {self.name}: {sorted(implied)} are implied, not declared")
        for what, col in (("key", self.key), ("project_column", self.project_column)):
            if col is not None and col not in self._by_name:
                raise ValueError(f"layer {self.name}: {what} {col!r} is not a column")
        if not self.column(self.key).required:
            raise ValueError(f"layer {self.name}: the key {self.key!r} must be required")

    @property
    def value(self) -> str:
        """The layer name (so a spec reads like the :class:`~spatial.schema.Layer` enum)."""
        return self.name

    @property
    def column_names(self) -> tuple[str, ...]:
        """Attribute column names in table order: the COPY list, without the geometry."""
        return tuple(c.name for c in self.columns)

    @property
    def current_view(self) -> str:
        """The view of the layer's current rows (those of active datasets)."""
        return f"current_{self.name}"

    @property
    def key_constraint(self) -> str:
        """Name of the unique constraint on ``(dataset_id, key)``."""
        return f"uq_{self.name}_dataset_{self.key.removesuffix('_code') or self.key}"

    def column(self, name: str) -> Column:
        """The declared column ``name`` (KeyError if the layer has none)."""
        return self._by_name[name]

    def has_column(self, name: str) -> bool:
        """Whether the layer declares a column ``name``."""
        return name in self._by_name


LayerRef = str | LayerSpec
"""A layer by name (a :class:`~spatial.schema.Layer` member is one) or by its declaration."""

_DECLARED: dict[str, LayerSpec] = {}


def register(spec: LayerSpec) -> LayerSpec:
    """Declare a layer (its table must exist: a migration creates it). Returns ``spec``.

    Raises
    ------
    ValueError
        If another layer of that name is declared already.
    """
    if spec.name in _DECLARED and _DECLARED[spec.name] is not spec:
        raise ValueError(f"layer {spec.name} is declared already")
    _DECLARED[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Forget a layer declared with :func:`register` (tests that declare throwaway layers)."""
    _DECLARED.pop(name, None)


def declared() -> Iterator[LayerSpec]:
    """Every declared layer, in declaration order."""
    return iter(list(_DECLARED.values()))


def layer_spec(layer: LayerRef) -> LayerSpec:
    """The declaration of ``layer`` (a name, a ``Layer`` member or a spec).

    Raises
    ------
    KeyError
        For a name no layer is declared under.
    """
    if isinstance(layer, LayerSpec):
        return layer
    return _DECLARED[str(layer)]
