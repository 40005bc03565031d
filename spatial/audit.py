"""Reading the audit log: who did what, when, to which dataset or user; filtered, exported."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from spatial.db import read_rows, read_scalars

MAX_ROWS = 100_000
"""Most rows one query (or export) returns."""


def audit_entries(
    engine: Engine,
    *,
    user: str | None = None,
    action: str | None = None,
    since: date | None = None,
    until: date | None = None,
    target: str | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """Audit-log rows, newest first, optionally filtered.

    Parameters
    ----------
    user
        Exactly this user name.
    action
        Exactly this action (``upload``, ``dataset.restore``, ``login``, ``user.update`` …), or a
        prefix ending in ``.`` (``user.`` for every user change).
    since, until
        Calendar days, both included (server time zone).
    target
        Exactly this target (``dataset:12``, ``user:li``).
    limit
        At most this many rows (≤ :data:`MAX_ROWS`).
    """
    where = ["true"]
    params: dict[str, Any] = {"lim": max(1, min(int(limit), MAX_ROWS))}
    if user:
        where.append("user_name = :user")
        params["user"] = user
    if action:
        if action.endswith("."):
            where.append("starts_with(action, :action)")
        else:
            where.append("action = :action")
        params["action"] = action
    if since:
        where.append("at >= :since")
        params["since"] = since
    if until:
        where.append("at < :until")
        params["until"] = until + timedelta(days=1)
    if target:
        where.append("target = :target")
        params["target"] = target
    q = (
        "SELECT id, at, user_name, role, action, target, detail FROM audit_log WHERE "
        + " AND ".join(where)  # fixed fragments only; every value is bound
        + " ORDER BY at DESC, id DESC LIMIT :lim"
    )
    return [dict(r) for r in read_rows(engine, q, params)]


def audit_actions(engine: Engine) -> list[str]:
    """Every action that occurs in the log (for a filter's choices)."""
    return read_scalars(engine, "SELECT DISTINCT action FROM audit_log ORDER BY 1")


COLUMNS = [
    ("编号", "id"),
    ("时间", "at"),
    ("用户", "user"),
    ("角色", "role"),
    ("操作", "action"),
    ("对象", "target"),
    ("详情", "detail"),
]


def _cells(row: dict[str, Any]) -> list[Any]:
    at = row["at"]
    return [
        row["id"],
        at.isoformat(timespec="seconds") if isinstance(at, datetime) else at,
        row["user_name"],
        row["role"],
        row["action"],
        row["target"],
        json.dumps(row["detail"], ensure_ascii=False, sort_keys=True),
    ]


def audit_csv(rows: list[dict[str, Any]]) -> bytes:
    """The rows as CSV (UTF-8 with BOM, so Excel shows the Chinese text)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([f"{zh} {en}" for zh, en in COLUMNS])
    for r in rows:
        w.writerow(_cells(r))
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def audit_xlsx(rows: list[dict[str, Any]]) -> bytes:
    """The rows as an Excel workbook (one sheet 审计日志)."""
    from spatial.analysis.excel import write_sheets

    out = write_sheets({"审计日志 Audit": (COLUMNS, [_cells(r) for r in rows])})
    assert out is not None
    return out
