"""The audit log for admins: ``GET /audit`` (JSON, CSV or Excel), filterable."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import Admin, EngineDep
from api.media import XLSX
from spatial.audit import MAX_ROWS, audit_csv, audit_entries, audit_xlsx
from spatial.isodate import IsoDate

router = APIRouter(tags=["audit"])


@router.get(
    "/audit",
    response_model=None,
    responses={200: {"content": {"application/json": {}, "text/csv": {}, XLSX: {}}}},
)
def audit(
    admin: Admin,
    engine: EngineDep,
    user: Annotated[str | None, Query(max_length=100, description="user name")] = None,
    action: Annotated[
        str | None, Query(max_length=50, description="action, or a prefix ending in '.'")
    ] = None,
    since: Annotated[IsoDate | None, Query(description="from this day (included)")] = None,
    until: Annotated[IsoDate | None, Query(description="to this day (included)")] = None,
    target: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_ROWS)] = 500,
    format: Annotated[Literal["json", "csv", "xlsx"], Query()] = "json",
) -> Any:
    """Who did what, when, to which dataset or user (admin only), newest first."""
    rows = audit_entries(
        engine, user=user, action=action, since=since, until=until, target=target, limit=limit
    )
    if format == "csv":
        return Response(
            audit_csv(rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
        )
    if format == "xlsx":
        return Response(
            audit_xlsx(rows),
            media_type=XLSX,
            headers={"Content-Disposition": 'attachment; filename="audit.xlsx"'},
        )
    return rows
