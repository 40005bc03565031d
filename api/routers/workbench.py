"""The surveyors' and administrators' pages: upload, my uploads, versions, users, audit.

Thin: each page reads what it shows through the same ``spatial`` functions as the API and the
CLI, and its script (a static file) calls the JSON API with the session's CSRF token.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from api.pages import ROLE_LABELS, PageUser, page_requires, render
from spatial import datasets
from spatial.ingest.options import ingest_layers
from spatial.models import Role
from spatial.sessions import SessionUser

router = APIRouter(prefix="/workbench", tags=["workbench"], include_in_schema=False)

UploaderPage = Annotated[SessionUser, Depends(page_requires(Role.surveyor))]

CRS_CHOICES = [
    ("EPSG:4547", "CGCS2000 / 3 度带 CM 114E（无带号）"),
    ("EPSG:4526", "CGCS2000 / 3 度带第 38 带（东坐标带 38 前缀）"),
    ("EPSG:4490", "CGCS2000 经纬度"),
    ("EPSG:2383", "西安 1980 / 3 度带 CM 114E"),
    ("EPSG:4326", "WGS 84 经纬度"),
    ("gcj02", "GCJ-02（国内网络地图）"),
]
ENCODINGS = ["GBK", "UTF-8", "GB18030", "Big5"]


def layer_choices() -> list[tuple[str, str]]:
    """(layer, Chinese/English title) of every layer an upload can load into."""
    return [(spec.name, f"{spec.title_zh} {spec.title_en}") for spec in ingest_layers()]


@router.get("/upload", response_class=HTMLResponse)
def upload_page(request: Request, su: UploaderPage) -> HTMLResponse:
    """Choose a layer and a file; dry run first, the report laid out, then publish."""
    return render(
        request,
        "upload.html",
        {"layers": layer_choices(), "crs_choices": CRS_CHOICES, "encodings": ENCODINGS},
        user=su,
    )


@router.get("/uploads", response_class=HTMLResponse)
def my_uploads_page(request: Request, su: UploaderPage) -> HTMLResponse:
    """Every upload of the signed-in user with its status, report and dataset version."""
    engine = request.app.state.engine
    rows = datasets.list_datasets(engine, uploaded_by=su.name)
    titles = dict(layer_choices())
    return render(request, "my_uploads.html", {"rows": rows, "titles": titles}, user=su)


AdminPage = Annotated[SessionUser, Depends(page_requires(Role.admin))]


@router.get("/versions", response_class=HTMLResponse)
def versions_page(request: Request, su: PageUser, layer: str = "parcels") -> HTMLResponse:
    """Every version of a layer; diff any two (table and map); restore (admins)."""
    titles = dict(layer_choices())
    if layer not in titles:
        layer = "parcels"
    rows = datasets.list_datasets(request.app.state.engine, layer)
    active = [r["id"] for r in rows if r["status"] == "active"]
    return render(
        request,
        "versions.html",
        {
            "layer": layer,
            "layers": layer_choices(),
            "rows": rows,
            "page": {"layer": layer, "admin": su.role is Role.admin, "active": active},
        },
        user=su,
    )


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request, su: AdminPage) -> HTMLResponse:
    """Create users, change roles, deactivate, reset a password or a token."""
    from spatial.users import list_users

    rows = list_users(request.app.state.engine)
    return render(
        request,
        "users.html",
        {"rows": rows, "roles": [(r.value, ROLE_LABELS[r]) for r in Role]},
        user=su,
    )


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    su: AdminPage,
    user: str | None = None,
    action: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> HTMLResponse:
    """The audit log, filterable by user, action and date; exportable (CSV, Excel)."""
    from datetime import date
    from urllib.parse import urlencode

    from spatial.audit import audit_actions, audit_entries

    def day(value: str | None) -> date | None:
        try:
            return date.fromisoformat(value) if value else None
        except ValueError:
            return None

    engine = request.app.state.engine
    filters = {
        "user": (user or "")[:100] or None,
        "action": (action or "")[:50] or None,
        "since": day(since),
        "until": day(until),
    }
    rows = audit_entries(engine, limit=1000, **filters)  # type: ignore[arg-type]
    query = urlencode({k: str(v) for k, v in filters.items() if v})
    return render(
        request,
        "audit.html",
        {
            "rows": rows,
            "filters": filters,
            "actions": audit_actions(engine),
            "query": query,
        },
        user=su,
    )
