"""Server-rendered pages: one Jinja2 environment, one layout, the page-side sign-in checks.

Every page extends ``templates/base.html``: the header names the signed-in user and role,
has the sign-out form (with the session's CSRF token) and shows ``示例数据`` while demo data is
loaded. Jinja2 autoescapes all text; data for a page's script goes in a
``<script type="application/json">`` block through ``|tojson`` (which escapes ``<``, ``>``,
``&`` and ``'``), and the scripts themselves are static files under ``/static`` (no inline
script, so the pages work under a Content-Security-Policy without ``'unsafe-inline'``).

Routers use :func:`render` and the dependencies :data:`PageUser` (signed in, any role) or
:func:`page_requires` (signed in with a role); a page visited without a session redirects to
``/login?next=…``, with the wrong role it shows a 403 page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine, text
from starlette.concurrency import run_in_threadpool

from api import html_json
from api.deps import EngineDep, bearer_token, session_of
from spatial.models import Role
from spatial.sessions import SessionUser

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")
html_json.install(templates.env)  # |tojson: the one JSON-in-HTML escaper (api/html_json.py)

ROLE_LABELS = {
    Role.admin: "管理员 admin",
    Role.surveyor: "测绘员 surveyor",
    Role.planner: "规划人员 planner",
    Role.analyst: "分析人员 analyst",
}


@dataclass(frozen=True)
class NavItem:
    """A link in the page header, shown to the roles that may use it."""

    href: str
    label: str
    roles: frozenset[Role] | None = None
    """None: every signed-in user."""


NAV: list[NavItem] = [
    NavItem("/map", "地图 Map"),
    NavItem("/workbench/upload", "上传 Upload", frozenset({Role.surveyor, Role.admin})),
    NavItem("/workbench/uploads", "我的上传 My uploads", frozenset({Role.surveyor, Role.admin})),
    NavItem("/workbench/versions", "版本 Versions"),
    NavItem("/workbench/procedure", "程序与预算 Procedure"),
    NavItem("/workbench/calendar", "工作日历 Calendar"),
    NavItem("/workbench/users", "用户 Users", frozenset({Role.admin})),
    NavItem("/workbench/audit", "审计 Audit", frozenset({Role.admin})),
]
"""Other pages add their links here (one list, so every page shows the same header)."""


def demo_loaded(engine: Engine) -> bool:
    """True while any active dataset is the demo district's (``uploaded_by = 'demo'``)."""
    with engine.connect() as conn:
        return bool(
            conn.execute(
                text(
                    "SELECT EXISTS (SELECT 1 FROM datasets "
                    "WHERE status = 'active' AND uploaded_by = 'demo')"
                )
            ).scalar_one()
        )


class NeedsLogin(Exception):
    """Raised by a page dependency without a session: redirect to the sign-in page."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


class PageForbidden(Exception):
    """Raised by a page dependency for the wrong role: a 403 page."""

    def __init__(self, su: SessionUser, roles: frozenset[Role]) -> None:
        self.su = su
        self.roles = roles


def _here(request: Request) -> str:
    path = request.url.path
    return path + (f"?{request.url.query}" if request.url.query else "")


async def page_session(request: Request, engine: EngineDep) -> SessionUser:
    """The session of a page request; without one the page redirects to ``/login``."""
    su = await run_in_threadpool(session_of, request, engine)
    if su is None:
        raise NeedsLogin(_here(request))
    return su


PageUser = Annotated[SessionUser, Depends(page_session)]


def page_requires(*roles: Role) -> Callable[..., Any]:
    """Page dependency: a session whose user holds one of ``roles`` (admins always pass)."""
    allowed = frozenset(roles) | {Role.admin}

    async def _check(su: PageUser) -> SessionUser:
        if su.role not in allowed:
            raise PageForbidden(su, allowed)
        return su

    return _check


def safe_next(value: str | None, default: str = "/workbench") -> str:
    """A same-site path to go to after sign-in (never another host: no open redirect)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return default
    if any(ord(c) < 32 for c in value) or "\\" in value:
        return default
    return value


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    user: SessionUser | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """Render template ``name`` inside the shared layout (user, role, nav, CSRF, demo badge)."""
    engine = request.app.state.engine
    if user is None and bearer_token(request) is None:
        user = getattr(request.state, "tz_session", None)
    ctx = {
        "user": user,
        "role_label": ROLE_LABELS.get(user.role) if user else None,
        "csrf_token": user.csrf_token if user else "",
        "nav": [
            {"href": n.href, "label": n.label, "current": request.url.path == n.href}
            for n in NAV
            if user and (n.roles is None or user.role in n.roles)
        ],
        "demo": demo_loaded(engine),
        **(context or {}),
    }
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)


def register(app: FastAPI) -> None:
    """Mount ``/static`` and install the redirect/403 handlers of pages."""
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.exception_handler(NeedsLogin)
    async def _login(request: Request, exc: NeedsLogin) -> Response:
        return RedirectResponse(f"/login?next={quote(exc.next_url, safe='/')}", status_code=303)

    @app.exception_handler(PageForbidden)
    async def _forbidden(request: Request, exc: PageForbidden) -> Response:
        roles = "、".join(ROLE_LABELS[r] for r in sorted(exc.roles))
        return await run_in_threadpool(
            render,
            request,
            "forbidden.html",
            {"roles": roles},
            user=exc.su,
            status_code=403,
        )
