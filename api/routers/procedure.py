"""Project procedure: registration, events (append-only, corrections), status, bureau list,
the Excel ledger (台账)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.deps import EngineDep, Reader
from api.media import XLSX
from api.params import ProjectCode
from api.routers.procedure_deps import Recorder
from spatial.budget.rates import Track
from spatial.isodate import IsoDate
from spatial.procedure.events import (
    ProcedureSummary,
    ProjectProcedure,
    bureau_list,
    correct_event,
    project_procedure,
    record_event,
)
from spatial.procedure.ledger_xlsx import write_ledger
from spatial.procedure.projects import Registration, get_registration, register_project
from spatial.procedure.status import china_today
from spatial.procedure.steps import RULES, STEPS
from spatial.procedure.text import CleanText

router = APIRouter(prefix="/procedure", tags=["procedure"])

Today = Annotated[
    IsoDate | None, Query(description="the day to compute for (default: today in China)")
]


class RegistrationIn(BaseModel):
    """Which track a project follows, and whether it is public infrastructure (Art. 16)."""

    track: Track
    public_infrastructure: bool = False


class EventIn(BaseModel):
    """A procedure step that happened on a day."""

    step: CleanText = Field(min_length=1, max_length=60)
    occurred_on: IsoDate
    note: CleanText | None = Field(default=None, max_length=1000)


class CorrectionIn(BaseModel):
    """The date an event should have had (or none: withdraw it), and why."""

    occurred_on: IsoDate | None
    reason: CleanText = Field(min_length=1, max_length=1000)


class StepOut(BaseModel):
    """A step of the procedure (read from a :class:`spatial.procedure.steps.Step`)."""

    model_config = ConfigDict(from_attributes=True)

    code: str
    label_zh: str
    label_en: str
    article: str
    tracks: list[Track]
    repeatable: bool

    @field_validator("tracks", mode="before")
    @classmethod
    def _sorted(cls, tracks: Iterable[Track]) -> list[Track]:
        return sorted(tracks)


class RuleOut(BaseModel):
    """A deadline rule: from which step, to which, how long."""

    code: str
    label_zh: str
    article: str
    start: list[str]
    done: str | None
    period_zh: str
    tracks: list[Track]
    kind: str


@router.get("/steps", response_model=list[StepOut])
def get_steps(user: Reader) -> list[StepOut]:
    """The steps of both tracks, in procedure order."""
    return [StepOut.model_validate(s) for s in STEPS]


@router.get("/rules", response_model=list[RuleOut])
def get_rules(user: Reader) -> list[RuleOut]:
    """The deadline rules (Art. 13–29) with their units."""
    return [
        RuleOut(
            code=r.code,
            label_zh=r.label_zh,
            article=r.article,
            start=list(r.start),
            done=r.done,
            period_zh=r.period.label_zh,
            tracks=sorted(r.tracks),
            kind=r.kind.value,
        )
        for r in RULES
    ]


@router.get("/projects", response_model=list[ProcedureSummary])
def get_bureau_list(user: Reader, engine: EngineDep, today: Today = None) -> list[ProcedureSummary]:
    """Every registered project, nearest deadline first."""
    return bureau_list(engine, today or china_today())


@router.get("/projects/{code}", response_model=ProjectProcedure)
def get_project(
    code: ProjectCode, user: Reader, engine: EngineDep, today: Today = None
) -> ProjectProcedure:
    """A project's stage, deadlines, next deadline, days left, overdue, and event history."""
    return project_procedure(engine, code, today or china_today())


@router.put("/projects/{code}/registration", response_model=Registration)
def put_registration(
    code: ProjectCode, body: RegistrationIn, user: Recorder, engine: EngineDep
) -> Registration:
    """Register (or re-register) a current project for procedure tracking (audited)."""
    return register_project(
        engine, code, body.track, body.public_infrastructure, user.name, user.role.value
    )


@router.get("/projects/{code}/registration", response_model=Registration)
def get_project_registration(code: ProjectCode, user: Reader, engine: EngineDep) -> Registration:
    """A project's registration (404 when not registered)."""
    return get_registration(engine, code)


@router.post("/projects/{code}/events", response_model=ProjectProcedure, status_code=201)
def post_event(
    code: ProjectCode, body: EventIn, user: Recorder, engine: EngineDep
) -> ProjectProcedure:
    """Record a step with its date (audited; 409 when already recorded: correct it instead)."""
    return record_event(
        engine,
        code,
        body.step,
        body.occurred_on,
        body.note,
        user.name,
        user.role.value,
        china_today(),
    )


@router.post("/events/{event_id}/correction", response_model=ProjectProcedure, status_code=201)
def post_correction(
    event_id: Annotated[int, Path(ge=1, le=2_147_483_647)],
    body: CorrectionIn,
    user: Recorder,
    engine: EngineDep,
) -> ProjectProcedure:
    """Supersede an event with a corrected date, or withdraw it; the old value is kept."""
    return correct_event(
        engine,
        event_id,
        body.occurred_on,
        body.reason,
        user.name,
        user.role.value,
        china_today(),
    )


def _xlsx(body: bytes, name: str) -> Response:
    disposition = f"attachment; filename=\"ledger.xlsx\"; filename*=UTF-8''{quote(name)}"
    return Response(content=body, media_type=XLSX, headers={"Content-Disposition": disposition})


@router.get("/ledger.xlsx", response_class=Response, responses={200: {"content": {XLSX: {}}}})
def get_ledger(user: Reader, engine: EngineDep, today: Today = None) -> Response:
    """The bureau's ledger (台账) of every registered project: procedure and budget sheets."""
    return _xlsx(write_ledger(engine, None, today or china_today()), "程序预算台账.xlsx")


@router.get(
    "/projects/{code}/ledger.xlsx",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}}},
)
def get_project_ledger(
    code: ProjectCode, user: Reader, engine: EngineDep, today: Today = None
) -> Response:
    """One project's ledger (台账): procedure, deadlines, budget, items, pool."""
    return _xlsx(write_ledger(engine, [code], today or china_today()), f"台账-{code}.xlsx")
