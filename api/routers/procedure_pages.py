"""Web pages of the procedure and budgets: the bureau list, a project's page, the calendar.

Jinja2 templates extending the shared layout (:mod:`api.pages`); everything they show comes
from the same ``spatial`` functions as the API (nothing recomputed here). Forms post to the
JSON API from ``/static/js/procedure.js`` with the session's CSRF token; the forms are shown
to planners and admins only (the API checks the role again).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.deps import EngineDep
from api.pages import PageUser, render
from api.params import ProjectCode
from spatial.budget.money import format_yuan
from spatial.budget.pool import pool_status
from spatial.budget.store import project_budget
from spatial.models import Role
from spatial.procedure.calendar_store import calendar_years
from spatial.procedure.events import bureau_list, project_procedure
from spatial.procedure.report import percent_label
from spatial.procedure.status import china_today
from spatial.procedure.steps import PHASES, steps_for

router = APIRouter(tags=["pages"], include_in_schema=False)

WRITERS = {Role.planner, Role.admin}


def _phase(stage: str | None, overdue: int) -> str:
    if overdue:
        return "overdue"
    for ph in PHASES:
        if (stage or "not_started") in ph.steps:
            return ph.code
    return "not_started"


@router.get("/workbench/procedure", response_class=HTMLResponse)
def procedure_list_page(request: Request, su: PageUser, engine: EngineDep) -> HTMLResponse:
    """Every registered project, nearest deadline first, overdue ones marked."""
    today = china_today()
    rows = bureau_list(engine, today)
    pool = pool_status(engine)
    return render(
        request,
        "procedure_list.html",
        {
            "today": today,
            "rows": rows,
            "phase": _phase,
            "pool": pool,
            "yuan": format_yuan,
        },
        user=su,
    )


@router.get("/workbench/procedure/{code}", response_class=HTMLResponse)
def procedure_project_page(
    request: Request, code: ProjectCode, su: PageUser, engine: EngineDep
) -> HTMLResponse:
    """A project's stage, deadlines, event history and budget, with the recording forms."""
    today = china_today()
    p = project_procedure(engine, code, today)
    b = project_budget(engine, code)
    return render(
        request,
        "procedure_project.html",
        {
            "today": today,
            "p": p,
            "b": b,
            "steps": steps_for(p.registration.track),
            "can_write": su.role in WRITERS,
            "yuan": format_yuan,
            "pct": percent_label,
            "page_data": {"project_code": code},
        },
        user=su,
    )


@router.get("/workbench/calendar", response_class=HTMLResponse)
def calendar_page(request: Request, su: PageUser, engine: EngineDep) -> HTMLResponse:
    """The years the working calendar knows; administrators enter a year's notice here."""
    return render(
        request,
        "procedure_calendar.html",
        {"years": calendar_years(engine), "is_admin": su.role is Role.admin},
        user=su,
    )
