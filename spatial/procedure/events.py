"""Procedure events in the database: append-only, corrections supersede, every write audited.

Table ``procedure_events`` (migration 0008) refuses ``UPDATE`` and ``DELETE`` (a trigger): an
event is never changed. A correction is a new row whose ``supersedes`` names the row it
replaces (with the date it should have had, and why); a withdrawal is a new row with no date.
``supersedes`` is unique, so a value is replaced at most once and a chain never forks. The
*current* events are the rows no other row supersedes, that carry a date.

Every write also refreshes the project's row of ``procedure_status`` (stage, the due dates of
its open deadlines) in the same transaction; the map layer reads it, so the map and the
project page come from one computation.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, Engine, text

from spatial.budget.rates import Track
from spatial.db import first_row, transaction
from spatial.errors import Conflict, InvalidInput, NotFound
from spatial.procedure.calendar import WorkingCalendar, describe_years
from spatial.procedure.calendar_store import load_calendar
from spatial.procedure.projects import Registration, get_registration, listed_codes
from spatial.procedure.status import (
    DeadlineStatus,
    Event,
    current_stage,
    deadline_statuses,
    next_deadline,
    stage_label,
)
from spatial.procedure.steps import RULES, STEP_BY_CODE, steps_for
from spatial.users import audit


class EventRow(BaseModel):
    """A row of a project's event history (current, corrected or withdrawn)."""

    id: int
    step: str
    step_zh: str
    article: str
    occurred_on: date | None
    note: str | None
    supersedes: int | None
    superseded_by: int | None
    reason: str | None
    recorded_by: str
    recorded_at: datetime
    current: bool


class ProjectProcedure(BaseModel):
    """A project's procedure as of ``today``: stage, deadlines, next deadline, overdue."""

    registration: Registration
    today: date
    stage: str | None
    stage_zh: str
    events: list[EventRow]
    history: list[EventRow]
    deadlines: list[DeadlineStatus]
    next_deadline: DeadlineStatus | None
    overdue: list[DeadlineStatus]
    known_years: list[int]
    known_years_zh: str


class ProcedureSummary(BaseModel):
    """One line of the bureau-wide list."""

    project_code: str
    project_name: str | None
    track: Track
    track_zh: str
    stage: str | None
    stage_zh: str
    next_rule: str | None
    next_label_zh: str | None
    next_due: date | None
    days_left: int | None
    next_status: str | None
    overdue_count: int
    calendar_unknown: bool


_HISTORY = text(
    "SELECT e.id, e.step, e.occurred_on, e.note, e.supersedes, e.reason, e.recorded_by, "
    "e.recorded_at, s.id AS superseded_by FROM procedure_events e "
    "LEFT JOIN procedure_events s ON s.supersedes = e.id "
    "WHERE e.project_code = :c ORDER BY e.id"
)


def _event_not_found(event_id: int) -> NotFound:
    return NotFound(f"没有此事项：#{event_id}", f"no procedure event #{event_id}")


def _history(conn: Connection, code: str) -> list[EventRow]:
    rows = conn.execute(_HISTORY, {"c": code}).mappings()
    out = []
    for r in rows:
        step = STEP_BY_CODE[r["step"]]
        out.append(
            EventRow(
                **r,
                step_zh=step.label_zh,
                article=step.article,
                current=r["superseded_by"] is None and r["occurred_on"] is not None,
            )
        )
    return out


def _current(history: list[EventRow]) -> list[Event]:
    return [
        Event(id=h.id, step=h.step, occurred_on=h.occurred_on)
        for h in history
        if h.current and h.occurred_on
    ]


def _procedure(
    conn: Connection, code: str, today: date, cal: WorkingCalendar | None = None
) -> ProjectProcedure:
    reg = get_registration(conn, code)
    cal = cal or load_calendar(conn)
    history = _history(conn, code)
    events = _current(history)
    deadlines = deadline_statuses(reg.track, events, cal, today)
    stage = current_stage(events)
    current_rows = sorted((h for h in history if h.current), key=lambda h: (h.occurred_on, h.id))
    return ProjectProcedure(
        registration=reg,
        today=today,
        stage=stage,
        stage_zh=stage_label(stage),
        events=current_rows,
        history=history,
        deadlines=deadlines,
        next_deadline=next_deadline(deadlines),
        overdue=[d for d in deadlines if d.status == "overdue"],
        known_years=sorted(cal.known_years),
        known_years_zh=describe_years(cal.known_years),
    )


def project_procedure(engine: Engine, code: str, today: date) -> ProjectProcedure:
    """Project ``code``'s procedure as of ``today`` (404 when not registered)."""
    with engine.connect() as conn:
        return _procedure(conn, code, today)


def _summary(p: ProjectProcedure) -> ProcedureSummary:
    nd = p.next_deadline
    return ProcedureSummary(
        project_code=p.registration.project_code,
        project_name=p.registration.project_name,
        track=p.registration.track,
        track_zh=p.registration.track_zh,
        stage=p.stage,
        stage_zh=p.stage_zh,
        next_rule=nd.rule if nd else None,
        next_label_zh=nd.label_zh if nd else None,
        next_due=nd.due if nd else None,
        days_left=nd.days_left if nd else None,
        next_status=nd.status if nd else None,
        overdue_count=len(p.overdue),
        calendar_unknown=any(d.status == "calendar_unknown" for d in p.deadlines),
    )


def bureau_list(engine: Engine, today: date) -> list[ProcedureSummary]:
    """Every registered project, nearest deadline first (overdue ones are nearest; projects
    without a computable next deadline last, then by code)."""
    with engine.connect() as conn:
        codes = listed_codes(conn)
        cal = load_calendar(conn)  # once for the whole list
        items = [_summary(_procedure(conn, c, today, cal)) for c in codes]
    return sorted(items, key=lambda s: (s.next_due is None, s.next_due or date.max, s.project_code))


def refresh_status(
    conn: Connection, code: str, today: date, cal: WorkingCalendar | None = None
) -> None:
    """Rewrite ``procedure_status`` for ``code`` (stage and open due dates) in ``conn``."""
    p = _procedure(conn, code, today, cal)
    open_dues = sorted(d.due for d in p.deadlines if d.due and d.status in ("open", "overdue"))
    nd = p.next_deadline
    conn.execute(
        text(
            "INSERT INTO procedure_status (project_code, stage, stage_zh, open_dues, next_due, "
            "next_label_zh, calendar_unknown, refreshed_at) "
            "VALUES (:c, :s, :sz, :d, :nd, :nl, :cu, now()) ON CONFLICT (project_code) DO UPDATE "
            "SET stage = excluded.stage, stage_zh = excluded.stage_zh, "
            "open_dues = excluded.open_dues, next_due = excluded.next_due, "
            "next_label_zh = excluded.next_label_zh, calendar_unknown = excluded.calendar_unknown, "
            "refreshed_at = now()"
        ),
        {
            "c": code,
            "s": p.stage,
            "sz": p.stage_zh,
            "d": open_dues,
            "nd": nd.due if nd else None,
            "nl": nd.label_zh if nd else None,
            "cu": any(d.status == "calendar_unknown" for d in p.deadlines),
        },
    )
    conn.execute(text("SELECT pg_notify('tuzheng_datasets', 'procedure')"))


def refresh_all(conn: Connection, today: date) -> None:
    """Refresh every project's status (after a calendar change)."""
    cal = load_calendar(conn)
    codes = conn.execute(text("SELECT project_code FROM procedure_projects")).scalars().all()
    for code in codes:
        refresh_status(conn, code, today, cal)


def _check_order(conn: Connection, code: str, step: str, on: date, ignore: int | None) -> None:
    """The event fulfilling a rule cannot come before the event that started it."""
    hist = [h for h in _history(conn, code) if h.current and h.id != ignore]
    for rule in RULES:
        if rule.done == step:
            starts = [h.occurred_on for h in hist if h.step in rule.start and h.occurred_on]
            if starts and min(starts) > on:
                first = STEP_BY_CODE[rule.start[0]]
                raise InvalidInput(
                    f"{STEP_BY_CODE[step].label_zh}（{on}）不能早于{first.label_zh}（{min(starts)}）",
                    f"{step} ({on}) cannot be before {rule.start[0]} ({min(starts)})",
                    field="occurred_on",
                )


def _check_step(reg: Registration, step: str) -> None:
    if step not in STEP_BY_CODE:
        raise InvalidInput(
            f"未知程序步骤：{step[:60]}", f"unknown procedure step {step[:60]!r}", field="step"
        )
    if reg.track not in STEP_BY_CODE[step].tracks:
        raise InvalidInput(
            f"{STEP_BY_CODE[step].label_zh} 不属于{reg.track_zh}程序",
            f"step {step} is not part of the {reg.track.value} procedure",
            field="step",
            steps=[s.code for s in steps_for(reg.track)],
        )


def _check_date(on: date, today: date) -> None:
    if on > today:
        raise InvalidInput(
            f"日期 {on} 晚于今天 {today}：只能登记已发生的事项",
            f"{on} is after today ({today}): only what has happened can be recorded",
            field="occurred_on",
        )


def _check_exemption(conn: Connection, code: str) -> None:
    from spatial.budget.store import project_budget_conn

    decision = project_budget_conn(conn, code).budget.art16
    if not decision.exempt:
        raise Conflict(
            f"不能适用第十六条：{decision.reason_zh}",
            f"Art. 16 does not apply: {decision.reason_en}",
            art16=decision.model_dump(mode="json"),
        )


def record_event(
    engine: Engine | Connection,
    code: str,
    step: str,
    occurred_on: date,
    note: str | None,
    user_name: str,
    role: str | None,
    today: date,
) -> ProjectProcedure:
    """Record that ``step`` happened on ``occurred_on`` (audited; 409 if already recorded).

    On a Connection it runs in the caller's transaction (the demo loader's).
    """
    with transaction(engine) as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:c))"), {"c": f"procedure:{code}"})
        reg = get_registration(conn, code)
        _check_step(reg, step)
        _check_date(occurred_on, today)
        s = STEP_BY_CODE[step]
        if not s.repeatable:
            have = [h for h in _history(conn, code) if h.current and h.step == step]
            if have:
                raise Conflict(
                    f"{s.label_zh}已于 {have[0].occurred_on} 登记（事项 #{have[0].id}），"
                    "如有错误请更正",
                    f"{step} was already recorded on {have[0].occurred_on} (event #{have[0].id}); "
                    "correct it instead",
                    event_id=have[0].id,
                )
        if step == "budget_exempted":
            _check_exemption(conn, code)
        _check_order(conn, code, step, occurred_on, None)
        eid = conn.execute(
            text(
                "INSERT INTO procedure_events (project_code, step, occurred_on, note, recorded_by) "
                "VALUES (:c, :s, :d, :n, :u) RETURNING id"
            ),
            {"c": code, "s": step, "d": occurred_on, "n": note, "u": user_name},
        ).scalar_one()
        audit(
            conn,
            user_name,
            role,
            "procedure.event",
            f"project:{code}",
            {"event_id": eid, "step": step, "occurred_on": occurred_on.isoformat()},
        )
        refresh_status(conn, code, today)
        return _procedure(conn, code, today)


def _event_row(conn: Connection, event_id: int) -> Any:
    row = conn.execute(
        text(
            "SELECT e.id, e.project_code, e.step, e.occurred_on, s.id AS superseded_by "
            "FROM procedure_events e LEFT JOIN procedure_events s ON s.supersedes = e.id "
            "WHERE e.id = :i"
        ),
        {"i": event_id},
    ).first()
    if row is None:
        raise _event_not_found(event_id)
    if row.superseded_by is not None:
        raise Conflict(
            f"事项 #{event_id} 已被 #{row.superseded_by} 更正，请更正最新的记录",
            f"event #{event_id} was already superseded by #{row.superseded_by}; correct that one",
            superseded_by=row.superseded_by,
        )
    if row.occurred_on is None:
        raise Conflict(f"事项 #{event_id} 是撤销记录", f"event #{event_id} is a withdrawal")
    return row


def correct_event(
    engine: Engine | Connection,
    event_id: int,
    occurred_on: date | None,
    reason: str,
    user_name: str,
    role: str | None,
    today: date,
) -> ProjectProcedure:
    """Supersede event ``event_id`` with a new date (or withdraw it: ``occurred_on`` None).

    The old row stays; the audit log records both values and the reason. On a Connection it
    runs in the caller's transaction (the demo unload's).
    """
    if not reason.strip():
        raise InvalidInput("须说明更正原因", "a reason is required", field="reason")
    with transaction(engine) as conn:
        first = first_row(
            conn,
            "SELECT project_code FROM procedure_events WHERE id = :i",
            {"i": event_id},
            missing=_event_not_found(event_id),
        )["project_code"]
        conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:c))"), {"c": f"procedure:{first}"}
        )
        old = _event_row(conn, event_id)
        if occurred_on is not None:
            _check_date(occurred_on, today)
            _check_order(conn, old.project_code, old.step, occurred_on, event_id)
        eid = conn.execute(
            text(
                "INSERT INTO procedure_events (project_code, step, occurred_on, supersedes, "
                "reason, recorded_by) VALUES (:c, :s, :d, :old, :r, :u) RETURNING id"
            ),
            {
                "c": old.project_code,
                "s": old.step,
                "d": occurred_on,
                "old": event_id,
                "r": reason.strip(),
                "u": user_name,
            },
        ).scalar_one()
        audit(
            conn,
            user_name,
            role,
            "procedure.correct" if occurred_on else "procedure.withdraw",
            f"project:{old.project_code}",
            {
                "event_id": eid,
                "supersedes": event_id,
                "step": old.step,
                "old_occurred_on": old.occurred_on.isoformat(),
                "occurred_on": occurred_on.isoformat() if occurred_on else None,
                "reason": reason.strip(),
            },
        )
        refresh_status(conn, old.project_code, today)
        return _procedure(conn, old.project_code, today)
