"""The demo's projects under procedure tracking (程序跟踪): tracks, events on fixed dates.

Five of the demo's projects are registered, both tracks represented: the land readiness
projects (土地整备, Art. 17 implementation plan, publicity, reserve entry) and the two
government-invested infrastructure projects whose houses are compensated (房屋补偿, Art. 4:
轨道6号线 and 外环高速, public infrastructure). Their events are recorded through
:func:`spatial.procedure.events.record_event`, so every step-order, track and date check
applies, and the dates lie in 2025–2026, years the working calendar knows. On 1 Dec 2026 the
bureau list shows, nearest deadline first:

========================  ==========  ===============  =====================================
project                   track       stage            next deadline on 2026-12-01
========================  ==========  ===============  =====================================
GM-ZB-002 轨道6号线       房屋补偿    补偿工作完成     settlement plan due 2026-11-02 (31 Oct
                                                       is a Saturday, Art. 203): overdue
first 立项 project        土地整备    委托街道办事处   letters due 2026-11-27: overdue
GM-ZB-003 外环高速        房屋补偿    签订补偿协议     2nd fund opinion due 2026-12-03: open
first 实施 project        土地整备    实施方案公告     publicity runs until 2026-12-23
GM-ZB-001 科学城启动区    土地整备    结算方案报审     none: every deadline met (2025)
========================  ==========  ===============  =====================================

The two 利益统筹 projects are the first projects (by code) other than the named ones whose
layer stage is 实施 and 立项 (GM-ZB-101 and GM-ZB-102 in the default district), so the
procedure agrees with the project layer's stage; a district without such a project has them
left out. Registrations and events are the demo's (``registered_by``/``recorded_by`` ``demo``):
:func:`spatial.demo.unload_demo` withdraws the events and the bureau list then leaves the
registrations out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection, text

from data.demo_cases import NAMED_PROJECTS
from spatial.budget.rates import Track
from spatial.demo import DEMO_UPLOADER, demo_procedure_events
from spatial.procedure.events import record_event
from spatial.procedure.projects import register_project

H, L = Track.housing_compensation, Track.land_readiness


@dataclass(frozen=True)
class DemoProcedure:
    """A demo project under procedure: which project, its track and its events.

    ``code`` names a project of :data:`data.demo_cases.NAMED_PROJECTS`; without it the first
    other project (by code) whose layer ``stage`` is ``layer_stage`` is taken.
    """

    code: str | None
    layer_stage: str | None
    track: Track
    public_infrastructure: bool
    events: tuple[tuple[str, date, str | None], ...]


D = date
RESERVE_OVER_NOTE = "留用土地占用国有储备土地 4200 平方米，超过 3000 平方米，报市规划国土部门"
"""GM-ZB-001 is the demo's over-3000 m² case (:data:`data.demo_cases.RULE_CASES`)."""
DEMO_PROCEDURES: tuple[DemoProcedure, ...] = (
    # 科学城启动区: the seed's model project, every deadline met; signing done in 22 days.
    DemoProcedure(
        "GM-ZB-001",
        None,
        L,
        False,
        (
            ("entrusted", D(2025, 3, 3), "区土地整备部门委托光明街道办事处"),
            ("verification_letters_sent", D(2025, 3, 7), None),
            ("implementation_plan_submitted", D(2025, 4, 14), None),
            ("review_submitted", D(2025, 4, 22), None),
            ("preliminary_exam_done", D(2025, 4, 30), None),
            ("leading_group_approved", D(2025, 5, 13), None),
            ("publicity_started", D(2025, 5, 15), None),
            ("supply_plan_submitted", D(2025, 6, 20), RESERVE_OVER_NOTE),
            ("fund_requested", D(2025, 6, 23), None),
            ("funds_allocated", D(2025, 6, 27), None),
            ("agreements_signed", D(2025, 7, 19), "用时 22 天全部完成计划签约任务"),
            ("handover", D(2025, 8, 15), None),
            ("work_completed", D(2025, 9, 30), None),
            ("reserve_entry", D(2025, 11, 20), None),
            ("settlement_submitted", D(2025, 12, 19), None),
        ),
    ),
    # 轨道6号线: housing compensation done, the settlement plan (Art. 29) not yet submitted;
    # the quota came a working day late (28 Sep a make-up Sunday, the National Day break
    # not counted: due 10 Oct, issued 13 Oct).
    DemoProcedure(
        "GM-ZB-002",
        None,
        H,
        True,
        (
            ("documents_received", D(2025, 6, 3), "市轨道办送达项目用地范围图"),
            ("entrusted", D(2025, 6, 9), None),
            ("verification_letters_sent", D(2025, 6, 13), None),
            ("budget_plan_submitted", D(2025, 8, 8), None),
            ("review_submitted", D(2025, 8, 19), None),
            ("preliminary_exam_done", D(2025, 8, 27), None),
            ("leading_group_approved", D(2025, 9, 10), None),
            ("fund_requested", D(2025, 9, 22), None),
            ("fund_opinion_issued", D(2025, 9, 26), None),
            ("quota_issued", D(2025, 10, 13), None),
            ("agreements_signed", D(2025, 12, 30), None),
            ("handover", D(2026, 3, 31), None),
            ("work_completed", D(2026, 7, 31), None),
        ),
    ),
    # 外环高速: compensation under way; the letters went out late, a second fund request waits
    # for the review opinion.
    DemoProcedure(
        "GM-ZB-003",
        None,
        H,
        True,
        (
            ("documents_received", D(2026, 3, 2), None),
            ("entrusted", D(2026, 3, 6), None),
            ("verification_letters_sent", D(2026, 3, 20), "部分房屋权属资料补充后去函"),
            ("budget_plan_submitted", D(2026, 5, 6), None),
            ("review_submitted", D(2026, 5, 14), None),
            ("preliminary_exam_done", D(2026, 5, 22), None),
            ("leading_group_approved", D(2026, 6, 5), None),
            ("fund_requested", D(2026, 6, 15), "第一批补偿资金"),
            ("fund_opinion_issued", D(2026, 6, 18), None),
            ("quota_issued", D(2026, 6, 24), None),
            ("agreements_signed", D(2026, 9, 15), None),
            ("fund_requested", D(2026, 11, 26), "第二批补偿资金"),
        ),
    ),
    # A 利益统筹 project being carried out: its implementation plan is in publicity.
    DemoProcedure(
        None,
        "实施",
        L,
        False,
        (
            ("entrusted", D(2026, 7, 1), None),
            ("verification_letters_sent", D(2026, 7, 7), None),
            ("implementation_plan_submitted", D(2026, 9, 25), None),
            ("review_submitted", D(2026, 10, 13), None),
            ("preliminary_exam_done", D(2026, 10, 22), None),
            ("leading_group_approved", D(2026, 11, 18), None),
            ("publicity_started", D(2026, 11, 23), "实施方案在项目现场及区政府网站公告"),
        ),
    ),
    # A 利益统筹 project just approved (立项): the street office was entrusted, the
    # verification letters are overdue.
    DemoProcedure(
        None,
        "立项",
        L,
        False,
        (("entrusted", D(2026, 11, 20), None),),
    ),
)
"""The demo's procedure, in the order it is recorded."""
LAST_EVENT = max(on for p in DEMO_PROCEDURES for _, on, _ in p.events)
"""The latest date among the demo's events (2026-11-26): before it, none is recorded."""


def _project_code(conn: Connection, p: DemoProcedure, taken: set[str]) -> str | None:
    """The current project ``p`` stands for (None when the district has none); ``taken``: the
    codes not to pick for a ``layer_stage`` (the named projects, those already picked)."""
    if p.code is not None:
        sql = "SELECT code FROM current_projects WHERE code = :c"
        params: dict[str, object] = {"c": p.code}
    else:
        sql = (
            "SELECT code FROM current_projects WHERE stage = :s "
            "AND NOT (code = ANY(:named)) ORDER BY code"
        )
        params = {"s": p.layer_stage, "named": sorted(taken)}
    return conn.execute(text(sql), params).scalars().first()


def _untouched(conn: Connection, code: str) -> bool:
    """True if the demo may (re)seed ``code``: not registered, or the demo's with nothing current.

    A project a user registered, or on which anything current is recorded (the demo's events
    of an earlier load, or a user's), is left as it is.
    """
    row = conn.execute(
        text(
            "SELECT r.registered_by, EXISTS (SELECT 1 FROM procedure_events e "
            "WHERE e.project_code = r.project_code AND e.occurred_on IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM procedure_events s WHERE s.supersedes = e.id)) "
            "AS busy FROM procedure_projects r WHERE r.project_code = :c"
        ),
        {"c": code},
    ).first()
    return row is None or (row.registered_by == DEMO_UPLOADER and not row.busy)


def seed_procedure(conn: Connection, today: date) -> list[str]:
    """Register the demo's projects and record their events in ``conn``'s transaction.

    ``today`` is the day the events are recorded on (the date check of ``record_event``): on
    a machine whose clock is before :data:`LAST_EVENT` nothing is seeded (record_event would
    refuse an event after today and the whole demo load with it). Idempotent: nothing is done
    while any event the demo recorded is current (a demo loaded again, whatever its seed);
    after an unload, a project a user registered or recorded a step on is skipped. Returns
    the codes seeded now.
    """
    if today < LAST_EVENT or demo_procedure_events(conn):
        return []
    seeded: list[str] = []
    taken = {p.code for p in NAMED_PROJECTS}
    for p in DEMO_PROCEDURES:
        code = _project_code(conn, p, taken)
        if code is None:
            continue
        taken.add(code)
        if not _untouched(conn, code):
            continue
        register_project(conn, code, p.track, p.public_infrastructure, DEMO_UPLOADER, None)
        for step, on, note in p.events:
            record_event(conn, code, step, on, note, DEMO_UPLOADER, None, today)
        seeded.append(code)
    return seeded
