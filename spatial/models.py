"""GeoAlchemy2 models of the tuzheng store. All geometries are MultiPolygon in EPSG:4547.

Every row of a layer table belongs to a dataset (one loaded file or demo load). The rows that
are *current* are those whose dataset has ``status = 'active'``; the ``current_*`` views in the
migrations select them. Replacing a dataset flips statuses in one transaction, so old versions
stay readable and restorable.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from spatial.categories import OwnershipCategory
from spatial.roles import Role

STORAGE_SRID = 4547
"""CGCS2000 / 3-degree Gauss-Kruger CM 114E: the SRID of every stored geometry."""


def _geom() -> Any:
    return Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=False)


class Base(DeclarativeBase):
    """Declarative base of all tables."""


class Layer(enum.StrEnum):
    """The data layers a dataset can load into (table names)."""

    projects = "projects"
    parcels = "parcels"
    retained_land = "retained_land"
    state_reserve_land = "state_reserve_land"
    statutory_plans = "statutory_plans"
    buildings = "buildings"


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


def _dataset_fk() -> Mapped[int]:
    return mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)


class OwnershipCategoryRow(Base):
    """Lookup of the ownership category codes with Chinese and English labels."""

    __tablename__ = "ownership_categories"
    code: Mapped[OwnershipCategory] = mapped_column(
        _enum(OwnershipCategory, "ownership_category"), primary_key=True
    )
    label_zh: Mapped[str] = mapped_column(Text)
    label_en: Mapped[str] = mapped_column(Text)
    colour: Mapped[str] = mapped_column(String(9))


class Project(Base):
    """整备项目: a land readiness project and its boundary."""

    __tablename__ = "projects"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = _dataset_fk()
    code: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(Text)
    district: Mapped[str | None] = mapped_column(Text)
    stage: Mapped[str | None] = mapped_column(Text)
    geom: Mapped[Any] = mapped_column(_geom())
    __table_args__ = (
        UniqueConstraint("dataset_id", "code", name="uq_projects_dataset_code"),
        Index("ix_projects_geom", "geom", postgresql_using="gist"),
    )


class Parcel(Base):
    """宗地: a parcel with its ownership category and the project it belongs to (by code)."""

    __tablename__ = "parcels"
    # Partitioned by dataset (migration 0004): the key holds the partition key.
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(60))
    category: Mapped[OwnershipCategory] = mapped_column(
        _enum(OwnershipCategory, "ownership_category")
    )
    project_code: Mapped[str | None] = mapped_column(String(50), index=True)
    owner: Mapped[str | None] = mapped_column(Text)
    geom: Mapped[Any] = mapped_column(_geom())
    __table_args__ = (
        UniqueConstraint("dataset_id", "code", name="uq_parcels_dataset_code"),
        Index("ix_parcels_geom", "geom", postgresql_using="gist"),
        {"postgresql_partition_by": "LIST (dataset_id)"},
    )


class RetainedLand(Base):
    """留用土地: a retained-land site with its planned land-use class."""

    __tablename__ = "retained_land"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = _dataset_fk()
    code: Mapped[str] = mapped_column(String(60))
    project_code: Mapped[str | None] = mapped_column(String(50), index=True)
    name: Mapped[str | None] = mapped_column(Text)
    land_use: Mapped[str] = mapped_column(String(20))
    geom: Mapped[Any] = mapped_column(_geom())
    __table_args__ = (
        UniqueConstraint("dataset_id", "code", name="uq_retained_land_dataset_code"),
        Index("ix_retained_land_geom", "geom", postgresql_using="gist"),
    )


class StateReserveLand(Base):
    """国有储备土地: land already in the state reserve."""

    __tablename__ = "state_reserve_land"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = _dataset_fk()
    code: Mapped[str] = mapped_column(String(60))
    name: Mapped[str | None] = mapped_column(Text)
    geom: Mapped[Any] = mapped_column(_geom())
    __table_args__ = (
        UniqueConstraint("dataset_id", "code", name="uq_state_reserve_land_dataset_code"),
        Index("ix_state_reserve_land_geom", "geom", postgresql_using="gist"),
    )


class StatutoryPlanZone(Base):
    """法定图则 zone: one land-use zone of a statutory plan."""

    __tablename__ = "statutory_plans"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = _dataset_fk()
    plan_code: Mapped[str] = mapped_column(String(60))
    zone_code: Mapped[str] = mapped_column(String(60))
    plan_name: Mapped[str | None] = mapped_column(Text)
    land_use_class: Mapped[str] = mapped_column(String(20))
    geom: Mapped[Any] = mapped_column(_geom())
    __table_args__ = (
        UniqueConstraint("dataset_id", "zone_code", name="uq_statutory_plans_dataset_zone"),
        Index("ix_statutory_plans_geom", "geom", postgresql_using="gist"),
    )


class Building(Base):
    """建筑物: for compensation and signing progress (权属核查 → … → 拆除)."""

    __tablename__ = "buildings"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    dataset_id: Mapped[int] = _dataset_fk()
    code: Mapped[str] = mapped_column(String(60))
    project_code: Mapped[str | None] = mapped_column(String(50), index=True)
    parcel_code: Mapped[str | None] = mapped_column(String(60))
    structure: Mapped[str | None] = mapped_column(Text)
    floor_area_m2: Mapped[float | None] = mapped_column(Float)
    legal_status: Mapped[str | None] = mapped_column(Text)
    signing_status: Mapped[str | None] = mapped_column(String(30))
    geom: Mapped[Any] = mapped_column(_geom())
    __table_args__ = (
        UniqueConstraint("dataset_id", "code", name="uq_buildings_dataset_code"),
        Index("ix_buildings_geom", "geom", postgresql_using="gist"),
    )


class LandUseCompatibility(Base):
    """Editable table: may a retained-land planned use sit in a statutory zone of a class?

    A pair that is absent counts as a conflict (需调整法定图则).
    """

    __tablename__ = "land_use_compatibility"
    planned_use: Mapped[str] = mapped_column(String(20), primary_key=True)
    zone_class: Mapped[str] = mapped_column(String(20), primary_key=True)
    compatible: Mapped[bool] = mapped_column(Boolean, default=True)
    note: Mapped[str | None] = mapped_column(Text)


LAYER_MODELS: dict[Layer, type[Base]] = {
    Layer.projects: Project,
    Layer.parcels: Parcel,
    Layer.retained_land: RetainedLand,
    Layer.state_reserve_land: StateReserveLand,
    Layer.statutory_plans: StatutoryPlanZone,
    Layer.buildings: Building,
}
