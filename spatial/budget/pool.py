"""The Art. 36 adjustment pool (调剂资金池): 50,000,000 yuan for urgent housing compensation.

第三十六条 …设立调剂资金池，额度为 5000 万元，用于区级财政承担的房屋补偿工作应急支出。待应急
项目符合资金申请条件后，街道办事处应按程序申请补偿资金，并补回调剂资金额度。

Table ``adjustment_pool_movements`` (migration 0007): draws (``draw``) and repayments
(``repay``), each with project, amount, date, who and when. What remains is the capacity less
draws plus repayments. A draw beyond what remains, or a repayment beyond what the project still
owes, is refused (409); concurrent movements are serialised by a transaction advisory lock, so
two draws cannot both take the last of the pool.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import Engine, text

from spatial.budget.money import format_yuan
from spatial.errors import Conflict, InvalidInput
from spatial.procedure.projects import get_registration
from spatial.users import audit

POOL_CAPACITY = Decimal("50000000.00")
"""5000 万元 (Art. 36)."""
_LOCK_KEY = 360036  # pg_advisory_xact_lock key of the pool
MovementKind = Literal["draw", "repay"]


class PoolMovement(BaseModel):
    """One draw or repayment."""

    id: int
    kind: str
    project_code: str
    amount: Decimal
    on_date: date
    note: str | None
    recorded_by: str
    recorded_at: datetime


class ProjectPoolBalance(BaseModel):
    """What one project drew, repaid and still owes."""

    project_code: str
    drawn: Decimal
    repaid: Decimal
    outstanding: Decimal


class PoolStatus(BaseModel):
    """The pool: capacity, drawn, repaid, outstanding, available, per project, movements."""

    capacity: Decimal = POOL_CAPACITY
    drawn: Decimal
    repaid: Decimal
    outstanding: Decimal
    available: Decimal
    projects: list[ProjectPoolBalance]
    movements: list[PoolMovement]
    article: str = "第三十六条"


_BALANCES = text(
    "SELECT project_code, "
    "coalesce(sum(amount) FILTER (WHERE kind = 'draw'), 0)::numeric(16,2) AS drawn, "
    "coalesce(sum(amount) FILTER (WHERE kind = 'repay'), 0)::numeric(16,2) AS repaid "
    "FROM adjustment_pool_movements GROUP BY project_code ORDER BY project_code"
)


def pool_status(engine: Engine) -> PoolStatus:
    """The pool's current state (amounts in yuan)."""
    with engine.connect() as conn:
        bal = conn.execute(_BALANCES).all()
        moves = conn.execute(
            text(
                "SELECT id, kind, project_code, amount, on_date, note, recorded_by, recorded_at "
                "FROM adjustment_pool_movements ORDER BY on_date, id"
            )
        ).mappings()
        movements = [PoolMovement(**m) for m in moves]
    projects = [
        ProjectPoolBalance(
            project_code=b.project_code,
            drawn=b.drawn,
            repaid=b.repaid,
            outstanding=b.drawn - b.repaid,
        )
        for b in bal
    ]
    drawn = sum((p.drawn for p in projects), Decimal("0.00"))
    repaid = sum((p.repaid for p in projects), Decimal("0.00"))
    return PoolStatus(
        drawn=drawn,
        repaid=repaid,
        outstanding=drawn - repaid,
        available=POOL_CAPACITY - drawn + repaid,
        projects=projects,
        movements=movements,
    )


def move(
    engine: Engine,
    kind: MovementKind,
    code: str,
    amount: Decimal,
    on: date,
    note: str | None,
    user_name: str,
    role: str | None,
) -> PoolStatus:
    """Draw ``amount`` yuan from the pool for project ``code``, or repay it, on day ``on``.

    A draw is refused (409) beyond what the pool has left, a repayment beyond what the project
    owes; an amount of 0 or less is refused (422). The movement is audited as ``pool.<kind>``.
    Answers the pool's status after the movement.
    """
    if amount <= 0:
        raise InvalidInput("金额须大于 0", "the amount must be more than 0", field="amount")
    get_registration(engine, code)
    with engine.begin() as s:
        s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        row = s.execute(
            text(
                "SELECT coalesce(sum(amount) FILTER (WHERE kind = 'draw'), 0) AS drawn, "
                "coalesce(sum(amount) FILTER (WHERE kind = 'repay'), 0) AS repaid, "
                "coalesce(sum(amount) FILTER (WHERE kind = 'draw' AND project_code = :c), 0) "
                "AS p_drawn, "
                "coalesce(sum(amount) FILTER (WHERE kind = 'repay' AND project_code = :c), 0) "
                "AS p_repaid FROM adjustment_pool_movements"
            ),
            {"c": code},
        ).one()
        available = POOL_CAPACITY - row.drawn + row.repaid
        owed = row.p_drawn - row.p_repaid
        if kind == "draw" and amount > available:
            raise Conflict(
                f"调剂资金池余额不足：申请 {format_yuan(amount)} 元，"
                f"剩余 {format_yuan(available)} 元（第三十六条，额度 5000 万元）",
                f"the adjustment pool has {format_yuan(available)} yuan left, less than the "
                f"{format_yuan(amount)} yuan asked for (Art. 36, 50,000,000 yuan)",
                available=str(available),
                requested=str(amount),
            )
        if kind == "repay" and amount > owed:
            raise Conflict(
                f"项目 {code} 尚欠调剂资金 {format_yuan(owed)} 元，"
                f"不能补回 {format_yuan(amount)} 元",
                f"project {code} owes the pool {format_yuan(owed)} yuan, it cannot repay "
                f"{format_yuan(amount)} yuan",
                outstanding=str(owed),
                requested=str(amount),
            )
        mid = s.execute(
            text(
                "INSERT INTO adjustment_pool_movements "
                "(kind, project_code, amount, on_date, note, recorded_by) "
                "VALUES (:k, :c, :a, :d, :n, :u) RETURNING id"
            ),
            {"k": kind, "c": code, "a": amount, "d": on, "n": note, "u": user_name},
        ).scalar_one()
        audit(
            s,
            user_name,
            role,
            f"pool.{kind}",
            f"project:{code}",
            {"movement_id": mid, "amount": str(amount), "on_date": on.isoformat()},
        )
    return pool_status(engine)
