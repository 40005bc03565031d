"""What state the store is in: reachable, migrated, loaded."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from spatial.schema import declared


def layer_counts(engine: Engine) -> dict[str, int]:
    """Number of current (active) rows in every layer."""
    out: dict[str, int] = {}
    with engine.connect() as conn:
        for spec in declared():
            # identifiers come from the layer declarations, never from user input
            out[spec.name] = int(
                conn.execute(text(f"SELECT count(*) FROM {spec.current_view}")).scalar_one()
            )
    return out


def database_status(engine: Engine) -> dict[str, Any]:
    """A health summary: status ok/error, PostGIS version, Alembic revision, layer counts."""
    try:
        with engine.connect() as conn:
            version = conn.execute(text("SELECT postgis_full_version()")).scalar_one()
            rev = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        return {
            "status": "ok",
            "database": "reachable",
            "postgis_version": str(version).split('"')[1] if '"' in str(version) else version,
            "migration": rev,
            "counts": layer_counts(engine),
        }
    except SQLAlchemyError as exc:
        return {
            "status": "error",
            "database": "unreachable or not migrated",
            "error": str(exc.__class__.__name__),
        }
