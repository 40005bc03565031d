"""GET /health: is the database there, migrated, and loaded? (503 while it is not.)"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import EngineDep
from spatial.errors import Unavailable
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
    """Report whether the database answers, its PostGIS version, revision and row counts.

    503 with the JSON error body (``code: unavailable`` and the state fields) while the
    database cannot be reached or is not migrated, so health checks see the outage.
    """
    state = database_status(engine)
    if state["status"] != "ok":
        raise Unavailable(
            "数据库无法连接或未迁移", "the database is unreachable or not migrated", **state
        )
    return Health(**state)
