"""Budgets (Art. 15, 16, 33–38) and the Art. 36 adjustment pool."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import Engine

from api.deps import EngineDep, Reader
from api.params import ProjectCode
from api.routers.procedure_deps import Recorder
from spatial.budget.items import MAX_XLSX_BYTES, BudgetItem
from spatial.budget.money import parse_yuan
from spatial.budget.plan import Budget, compute_budget
from spatial.budget.pool import MovementKind, PoolStatus, move, pool_status
from spatial.budget.rates import Track
from spatial.budget.store import ProjectBudget, import_items_xlsx, project_budget, save_items
from spatial.errors import InvalidInput, TooLarge
from spatial.isodate import IsoDate
from spatial.models import User
from spatial.procedure.text import CleanText

router = APIRouter(prefix="/budget", tags=["budget"])


def _amount(value: object, field: str) -> Decimal:
    """``parse_yuan`` with its message turned into a 422 naming ``field``."""
    try:
        return parse_yuan(value)
    except ValueError as exc:
        zh, _, en = str(exc).partition(" / ")
        raise InvalidInput(f"{field}：{zh}", f"{field}: {en or zh}", field=field) from exc


class ItemsIn(BaseModel):
    """A complete item list (replaces the current version, which is kept)."""

    items: list[BudgetItem] = Field(min_length=1, max_length=10_000)
    actual_payments: Decimal | None = Field(
        default=None, description="paid so far to those compensated (yuan), if any"
    )

    @field_validator("actual_payments", mode="before")
    @classmethod
    def _payments(cls, v: object) -> Decimal | None:
        if v is None:
            return None
        d = parse_yuan(v)
        if d < 0:
            raise ValueError("实际支付不能为负 / actual payments cannot be negative")
        return d


class PoolMovementIn(BaseModel):
    """A draw from or a repayment to the adjustment pool (yuan)."""

    project_code: CleanText = Field(min_length=1, max_length=50)
    amount: Decimal
    on_date: IsoDate
    note: CleanText | None = Field(default=None, max_length=500)

    @field_validator("amount", mode="before")
    @classmethod
    def _amount(cls, v: object) -> Decimal:
        return parse_yuan(v)


@router.get("/compute", response_model=Budget)
def get_compute(
    user: Reader,
    track: Annotated[Track, Query()],
    direct: Annotated[str, Query(max_length=40, description="direct compensation, yuan")],
    technical: Annotated[str, Query(max_length=40, description="technical fees, yuan")] = "0",
    payments: Annotated[str | None, Query(max_length=40, description="actual payments")] = None,
    public_infrastructure: bool = False,
) -> Budget:
    """The budget for given amounts (yuan as text: exact decimals), saving nothing."""
    p = None if payments is None else _amount(payments, "payments")
    return compute_budget(
        track,
        _amount(direct, "direct"),
        _amount(technical, "technical"),
        p,
        public_infrastructure,
    )


@router.get("/projects/{code}", response_model=ProjectBudget)
def get_project_budget(code: ProjectCode, user: Reader, engine: EngineDep) -> ProjectBudget:
    """A project's items, computed budget, Art. 16 decision and version history."""
    return project_budget(engine, code)


@router.put("/projects/{code}/items", response_model=ProjectBudget)
def put_items(code: ProjectCode, body: ItemsIn, user: Recorder, engine: EngineDep) -> ProjectBudget:
    """Save a complete item list as the project's new budget version (audited)."""
    return save_items(
        engine, code, body.items, "api", user.name, user.role.value, body.actual_payments
    )


@router.post("/projects/{code}/items.xlsx", response_model=ProjectBudget)
def post_items_xlsx(
    code: ProjectCode,
    user: Recorder,
    engine: EngineDep,
    file: Annotated[UploadFile, File(description="an .xlsx sheet of items")],
    actual_payments: Annotated[str | None, Form(max_length=40)] = None,
) -> ProjectBudget:
    """Import items from an Excel sheet (all or nothing; bad rows → 422 naming row and field)."""
    data = file.file.read(MAX_XLSX_BYTES + 1)
    if len(data) > MAX_XLSX_BYTES:
        raise TooLarge("文件过大", f"file larger than {MAX_XLSX_BYTES} bytes")
    payments = _amount(actual_payments, "actual_payments") if actual_payments else None
    name = (file.filename or "upload.xlsx")[-150:]
    return import_items_xlsx(engine, code, data, name, user.name, user.role.value, payments)


@router.get("/pool", response_model=PoolStatus)
def get_pool(user: Reader, engine: EngineDep) -> PoolStatus:
    """The Art. 36 adjustment pool: capacity, drawn, repaid, available, per project."""
    return pool_status(engine)


def _move(engine: Engine, kind: MovementKind, body: PoolMovementIn, user: User) -> PoolStatus:
    return move(
        engine,
        kind,
        body.project_code,
        body.amount,
        body.on_date,
        body.note,
        user.name,
        user.role.value,
    )


@router.post("/pool/draws", response_model=PoolStatus)
def post_draw(body: PoolMovementIn, user: Recorder, engine: EngineDep) -> PoolStatus:
    """Draw from the pool (409 beyond what remains)."""
    return _move(engine, "draw", body, user)


@router.post("/pool/repayments", response_model=PoolStatus)
def post_repayment(body: PoolMovementIn, user: Recorder, engine: EngineDep) -> PoolStatus:
    """Repay the pool (409 beyond what the project owes)."""
    return _move(engine, "repay", body, user)
