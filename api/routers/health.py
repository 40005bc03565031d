"""GET /health: is the database there, migrated, and loaded?"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import EngineDep
from spatial.status import database_status

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """Database state as reported by /health."""

    status: str
    database: str
    postgis_version: str | None = None
    migration: str | None = None
    counts: dict[str, int] = {}
    error: str | None = None


@router.get("/health", response_model=Health)
def health(engine: EngineDep) -> Health:
    """Report whether the database answers, its PostGIS version, revision and row counts."""
    return Health(**database_status(engine))
