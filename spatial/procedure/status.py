"""Where a project stands: current stage, each deadline's state, the next one, what is overdue.

Pure functions over a project's current events and the working calendar; ``today`` is always
passed in (the API defaults it to today in China, :func:`china_today`). A deadline whose
period runs into a year the calendar does not know is reported as ``calendar_unknown`` with the
calendar's bilingual message, never guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from spatial.budget.rates import Track
from spatial.procedure.calendar import CalendarYearUnknown, WorkingCalendar
from spatial.procedure.periods import period_end
from spatial.procedure.steps import STEP_BY_CODE, STEP_ORDER, DeadlineRule, RuleKind, rules_for

CHINA = ZoneInfo("Asia/Shanghai")

STATUS_ZH = {
    "open": "进行中",
    "overdue": "已逾期",
    "met": "按期完成",
    "late": "逾期完成",
    "running": "公告中",
    "ended": "公告期满",
    "waived": "不适用",
    "calendar_unknown": "日历未录入，无法计算",
}


def china_today() -> date:
    """Today's date in China (Asia/Shanghai), whatever the server's time zone."""
    return datetime.now(CHINA).date()


class Event(BaseModel):
    """A current procedure event (the latest value of its correction chain)."""

    id: int
    step: str
    occurred_on: date


class DeadlineStatus(BaseModel):
    """One deadline (or running period) of a project, as of ``today``."""

    rule: str
    label_zh: str
    label_en: str
    article: str
    period_zh: str
    kind: RuleKind
    occurrence: int
    start_step: str
    start_on: date
    due: date | None
    done_on: date | None
    status: str
    status_zh: str
    days_left: int | None
    working_days_left: int | None
    message_zh: str | None = None
    message_en: str | None = None


def _pairs(rule: DeadlineRule, events: Sequence[Event]) -> list[tuple[Event, Event | None]]:
    starts = sorted(
        (e for e in events if e.step in rule.start), key=lambda e: (e.occurred_on, e.id)
    )
    dones = sorted((e for e in events if e.step == rule.done), key=lambda e: (e.occurred_on, e.id))
    if not starts:
        return []
    if rule.repeatable:
        return [(s, dones[i] if i < len(dones) else None) for i, s in enumerate(starts)]
    return [(starts[0], dones[0] if dones else None)]


def deadline_statuses(
    track: Track, events: Sequence[Event], cal: WorkingCalendar, today: date
) -> list[DeadlineStatus]:
    """Every started deadline of a project on ``track``, in the order of the procedure."""
    recorded = {e.step for e in events}
    out: list[DeadlineStatus] = []
    for rule in rules_for(track):
        for n, (start, done) in enumerate(_pairs(rule, events), start=1):
            base: dict[str, Any] = {
                "rule": rule.code,
                "label_zh": rule.label_zh,
                "label_en": rule.label_en,
                "article": rule.article,
                "period_zh": rule.period.label_zh,
                "kind": rule.kind,
                "occurrence": n,
                "start_step": start.step,
                "start_on": start.occurred_on,
                "done_on": done.occurred_on if done else None,
            }
            if any(u in recorded for u in rule.unless):
                out.append(
                    DeadlineStatus(
                        **base,
                        due=None,
                        status="waived",
                        status_zh="不适用（第十六条）",
                        days_left=None,
                        working_days_left=None,
                    )
                )
                continue
            try:
                due = period_end(cal, start.occurred_on, rule.period)
            except CalendarYearUnknown as exc:
                out.append(
                    DeadlineStatus(
                        **base,
                        due=None,
                        status="calendar_unknown",
                        status_zh=STATUS_ZH["calendar_unknown"],
                        days_left=None,
                        working_days_left=None,
                        message_zh=exc.message_zh,
                        message_en=exc.message_en,
                    )
                )
                continue
            if rule.kind is RuleKind.period:
                status = "ended" if today >= due else "running"
            elif done is not None:
                status = "met" if done.occurred_on <= due else "late"
            else:
                status = "overdue" if today > due else "open"
            days_left = (due - today).days if status in ("open", "overdue", "running") else None
            wdl: int | None = None
            if status in ("open", "running"):
                try:
                    wdl = cal.working_days_between(today, due)
                except CalendarYearUnknown:
                    wdl = None
            out.append(
                DeadlineStatus(
                    **base,
                    due=due,
                    status=status,
                    status_zh=STATUS_ZH[status],
                    days_left=days_left,
                    working_days_left=wdl,
                )
            )
    return out


def current_stage(events: Sequence[Event]) -> str | None:
    """The step furthest along the procedure among the recorded events (None if none)."""
    if not events:
        return None
    return max(events, key=lambda e: STEP_ORDER[e.step]).step


def next_deadline(deadlines: Sequence[DeadlineStatus]) -> DeadlineStatus | None:
    """The open or overdue deadline (or running period) due first; unknown-calendar ones last."""
    pending = [d for d in deadlines if d.status in ("open", "overdue", "running")]
    if pending:
        return min(pending, key=lambda d: (d.due, d.rule))
    unknown = [d for d in deadlines if d.status == "calendar_unknown"]
    return unknown[0] if unknown else None


def stage_label(step: str | None) -> str:
    """The Chinese label of a stage (``"未开始"`` before any event)."""
    return STEP_BY_CODE[step].label_zh if step else "未开始"
