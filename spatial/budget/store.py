"""Budget versions in the database: each save is a complete item list; old versions kept.

Tables (migration 0007): ``budget_versions`` (project, source, the workbook's SHA-256 when
imported, actual payments so far, who and when, ``superseded_at``) and ``budget_items`` (the
lines of a version). Saving a budget supersedes the current version in the same transaction;
the audit log records who saved what.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel
from sqlalchemy import Connection, Engine, text

from spatial.budget.items import (
    CATEGORIES,
    SECTION_LABELS_ZH,
    BudgetItem,
    Section,
    read_items_xlsx,
    totals,
)
from spatial.budget.plan import Budget, compute_budget
from spatial.procedure.projects import Registration, get_registration
from spatial.users import audit


class BudgetVersion(BaseModel):
    """One saved version of a project's items."""

    id: int
    source: str
    file_sha256: str | None
    actual_payments: Decimal | None
    created_by: str
    created_at: datetime
    superseded_at: datetime | None
    item_count: int


class ItemRow(BaseModel):
    """An item as stored, with its line number and Chinese labels."""

    line: int
    section: str
    section_zh: str
    category: str
    category_zh: str
    description: str
    quantity: Decimal | None
    unit: str | None
    amount: Decimal


class ProjectBudget(BaseModel):
    """A project's registration, current items, computed budget and version history."""

    registration: Registration
    version: BudgetVersion | None
    items: list[ItemRow]
    budget: Budget
    versions: list[BudgetVersion]


def save_items(
    engine: Engine,
    code: str,
    items: list[BudgetItem],
    source: str,
    user_name: str,
    role: str | None,
    actual_payments: Decimal | None = None,
    file_sha256: str | None = None,
) -> ProjectBudget:
    """Save ``items`` as the project's new budget version (the old one is kept). Audited."""
    get_registration(engine, code)
    direct, technical = totals(items)
    with engine.begin() as s:
        s.execute(
            text(
                "UPDATE budget_versions SET superseded_at = now() "
                "WHERE project_code = :c AND superseded_at IS NULL"
            ),
            {"c": code},
        )
        vid = s.execute(
            text(
                "INSERT INTO budget_versions (project_code, source, file_sha256, "
                "actual_payments, created_by) VALUES (:c, :s, :h, :p, :u) RETURNING id"
            ),
            {"c": code, "s": source, "h": file_sha256, "p": actual_payments, "u": user_name},
        ).scalar_one()
        s.execute(
            text(
                "INSERT INTO budget_items (version_id, line, section, category, description, "
                "quantity, unit, amount) VALUES (:v, :n, :s, :c, :d, :q, :u, :a)"
            ),
            [
                {
                    "v": vid,
                    "n": n,
                    "s": it.section.value,
                    "c": it.category,
                    "d": it.description,
                    "q": it.quantity,
                    "u": it.unit,
                    "a": it.amount,
                }
                for n, it in enumerate(items, start=1)
            ],
        )
        audit(
            s,
            user_name,
            role,
            "budget.save",
            f"project:{code}",
            {
                "version_id": vid,
                "source": source,
                "items": len(items),
                "direct_compensation": str(direct),
                "technical_fees": str(technical),
                "actual_payments": None if actual_payments is None else str(actual_payments),
            },
        )
    return project_budget(engine, code)


def import_items_xlsx(
    engine: Engine,
    code: str,
    data: bytes,
    file_name: str,
    user_name: str,
    role: str | None,
    actual_payments: Decimal | None = None,
) -> ProjectBudget:
    """Read an Excel sheet of items (all or nothing) and save it as a new version."""
    get_registration(engine, code)
    items = read_items_xlsx(data, file_name)
    return save_items(
        engine,
        code,
        items,
        f"excel:{file_name[:150]}",
        user_name,
        role,
        actual_payments,
        hashlib.sha256(data).hexdigest(),
    )


def _versions(conn: Connection, code: str) -> list[BudgetVersion]:
    rows = conn.execute(
        text(
            "SELECT v.id, v.source, v.file_sha256, v.actual_payments, v.created_by, "
            "v.created_at, v.superseded_at, "
            "(SELECT count(*) FROM budget_items i WHERE i.version_id = v.id) AS item_count "
            "FROM budget_versions v WHERE v.project_code = :c ORDER BY v.id DESC"
        ),
        {"c": code},
    ).mappings()
    return [BudgetVersion(**r) for r in rows]


def version_items(conn: Connection, version_id: int) -> list[ItemRow]:
    """The items of budget version ``version_id``, in line order."""
    rows = conn.execute(
        text(
            "SELECT line, section, category, description, quantity, unit, amount "
            "FROM budget_items WHERE version_id = :v ORDER BY line"
        ),
        {"v": version_id},
    ).mappings()
    out = []
    for r in rows:
        sec = Section(r["section"])
        out.append(
            ItemRow(
                **r,
                section_zh=SECTION_LABELS_ZH[sec],
                category_zh=CATEGORIES[sec].get(r["category"], r["category"]),
            )
        )
    return out


def project_budget(engine: Engine, code: str) -> ProjectBudget:
    """The current budget of project ``code`` (zero amounts when no items were saved yet)."""
    with engine.connect() as conn:
        return project_budget_conn(conn, code)


def project_budget_conn(conn: Connection, code: str) -> ProjectBudget:
    """:func:`project_budget` on an open connection (inside a caller's transaction)."""
    reg = get_registration(conn, code)
    versions = _versions(conn, code)
    current = next((v for v in versions if v.superseded_at is None), None)
    items = version_items(conn, current.id) if current else []
    direct = sum((i.amount for i in items if i.section == "direct"), Decimal("0.00"))
    technical = sum((i.amount for i in items if i.section == "technical"), Decimal("0.00"))
    budget = compute_budget(
        reg.track,
        direct,
        technical,
        current.actual_payments if current else None,
        reg.public_infrastructure,
    )
    return ProjectBudget(
        registration=reg, version=current, items=items, budget=budget, versions=versions
    )
