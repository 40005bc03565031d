"""GeoAlchemy2 models of the tuzheng store. All geometries are MultiPolygon in EPSG:4547.

Every row of a layer table belongs to a dataset (one loaded file or demo load). The rows that
are *current* are those whose dataset has ``status = 'active'``; the ``current_*`` views in the
migrations select them. Replacing a dataset flips statuses in one transaction, so old versions
stay readable and restorable.

The layer tables are not written here: :func:`layer_table` derives each from its declaration
(:mod:`spatial.schema`). The tables of users, audit, datasets and lookups are declared below.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    Computed,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy import Column as SAColumn
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from spatial.categories import OwnershipCategory
from spatial.roles import Role
from spatial.schema import BUILTIN, Column, Layer, LayerSpec, layer_spec

STORAGE_SRID = 4547
"""CGCS2000 / 3-degree Gauss-Kruger CM 114E: the SRID of every stored geometry."""


class Base(DeclarativeBase):
    """Declarative base of all tables."""


class DatasetStatus(enum.StrEnum):
    """Life cycle of a dataset version."""

    staging = "staging"
    active = "active"
    superseded = "superseded"
    failed = "failed"


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, values_callable=lambda e: [m.value for m in e])


class User(Base):
    """A person with an API token (stored as its SHA-256 hash only) and an optional password
    (stored as its Argon2id hash only) for signing in with a browser."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[Role] = mapped_column(_enum(Role, "user_role"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    password_hash: Mapped[str | None] = mapped_column(Text)
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebSession(Base):
    """A browser session: the SHA-256 of its cookie value, its CSRF token, when it expires."""

    __tablename__ = "web_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_seen_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class AuditLog(Base):
    """Who changed what, when."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    user_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str | None] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(50))
    target: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    __table_args__ = (Index("ix_audit_log_at", "at"),)


class Dataset(Base):
    """One loaded file (or demo load): who, when, what, and which version of a layer."""

    __tablename__ = "datasets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    layer: Mapped[Layer] = mapped_column(_enum(Layer, "layer_name"))
    status: Mapped[DatasetStatus] = mapped_column(_enum(DatasetStatus, "dataset_status"))
    mode: Mapped[str] = mapped_column(String(10), default="replace", server_default="replace")
    file_name: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(String(64))
    format: Mapped[str | None] = mapped_column(String(30))
    source_crs: Mapped[str | None] = mapped_column(String(40))
    crs_method: Mapped[str | None] = mapped_column(Text)
    encoding: Mapped[str | None] = mapped_column(String(30))
    encoding_method: Mapped[str | None] = mapped_column(Text)
    row_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    area_m2: Mapped[float | None] = mapped_column(Float)
    uploaded_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    superseded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    report: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")

    __table_args__ = (
        Index("ix_datasets_layer_status", "layer", "status"),
        Index("ix_datasets_sha256", "sha256"),
    )


class OwnershipCategoryRow(Base):
    """Lookup of the ownership category codes with Chinese and English labels."""

    __tablename__ = "ownership_categories"
    code: Mapped[OwnershipCategory] = mapped_column(
        _enum(OwnershipCategory, "ownership_category"), primary_key=True
    )
    label_zh: Mapped[str] = mapped_column(Text)
    label_en: Mapped[str] = mapped_column(Text)
    colour: Mapped[str] = mapped_column(String(9))


class LandUseCompatibility(Base):
    """Editable table: may a retained-land planned use sit in a statutory zone of a class?

    A pair that is absent counts as a conflict (需调整法定图则).
    """

    __tablename__ = "land_use_compatibility"
    planned_use: Mapped[str] = mapped_column(String(20), primary_key=True)
    zone_class: Mapped[str] = mapped_column(String(20), primary_key=True)
    compatible: Mapped[bool] = mapped_column(Boolean, default=True)
    note: Mapped[str | None] = mapped_column(Text)


GEOM_3857_SQL = "tz_safe_transform(geom, 3857)"
"""The stored Web Mercator copy of ``geom`` (migration 0002): NULL for broken geometries."""

GEOM_3857_INLINE_SQL = (
    "CASE WHEN geom @ ST_MakeEnvelope(0, 1000000, 1000000, 4000000, 4547) "
    "AND ST_Perimeter(geom) < 'Infinity'::float8 "
    "THEN ST_Transform(geom, 3857) ELSE tz_safe_transform(geom, 3857) END"
)
"""The same for partitioned layers (migration 0004), skipping the PL/pgSQL call when safe."""


def _column_type(col: Column) -> Any:
    if col.vocabulary is not None:
        return Enum(*col.vocabulary.codes, name=col.vocabulary.pg_type)
    if col.kind == "number":
        return Float
    return String(col.max_len) if col.max_len is not None else Text


def layer_table(spec: LayerSpec | str, metadata: MetaData | None = None) -> Table:
    """The SQLAlchemy table of a declared layer, as its migration creates it.

    ``id``, ``dataset_id`` (foreign key to ``datasets``, cascading), the declared columns, the
    ``geom`` column (EPSG:4547) and its generated Web Mercator copy ``geom_3857``, the unique
    ``(dataset_id, key)``, GiST indexes on both geometries and btree indexes on the columns
    declared ``index``. A partitioned layer's primary key holds the partition key
    ``dataset_id``. ``metadata`` defaults to :data:`Base.metadata` (where every declared layer's
    table is already defined); pass another to build a table for DDL in a test.
    """
    spec = layer_spec(spec)
    md = Base.metadata if metadata is None else metadata
    if metadata is None and spec.name in md.tables:
        return md.tables[spec.name]
    fk = ForeignKey(Dataset.__table__.c.id, ondelete="CASCADE")
    columns: list[Any] = [
        SAColumn("id", BigInteger if spec.big_ids else Integer, primary_key=True),
        SAColumn(
            "dataset_id",
            Integer,
            fk,
            nullable=False,
            primary_key=spec.partitioned,
            index=not spec.partitioned,
        ),
    ]
    columns += [
        SAColumn(c.name, _column_type(c), nullable=not c.required, index=c.index)
        for c in spec.columns
    ]
    columns += [
        SAColumn(
            "geom", Geometry(spec.geometry, srid=STORAGE_SRID, spatial_index=False), nullable=False
        ),
        SAColumn(
            "geom_3857",
            Geometry(spec.geometry, srid=3857, spatial_index=False),
            Computed(GEOM_3857_INLINE_SQL if spec.partitioned else GEOM_3857_SQL, persisted=True),
        ),
    ]
    columns += [
        UniqueConstraint("dataset_id", spec.key, name=spec.key_constraint),
        Index(f"ix_{spec.name}_geom", "geom", postgresql_using="gist"),
        Index(f"ix_{spec.name}_geom_3857", "geom_3857", postgresql_using="gist"),
    ]
    options: dict[str, Any] = {}
    if spec.partitioned:
        options["postgresql_partition_by"] = "LIST (dataset_id)"
    return Table(spec.name, md, *columns, **options)


LAYER_TABLES: dict[str, Table] = {spec.name: layer_table(spec) for spec in BUILTIN}
"""The declared layers' tables (in :data:`Base.metadata`), by layer name."""


class StatutoryPlanPart(Base):
    """A piece of a statutory-plan zone (``ST_Subdivide``), kept in step by a trigger (0003)."""

    __tablename__ = "statutory_plan_parts"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    zone_id: Mapped[int] = mapped_column(
        ForeignKey("statutory_plans.id", ondelete="CASCADE"), index=True
    )
    geom: Mapped[Any] = mapped_column(
        Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=False)
    )
    __table_args__ = (Index("ix_statutory_plan_parts_geom", "geom", postgresql_using="gist"),)
