"""The working calendar: years known, a year's days, entering a notice (admin), period ends."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from api.deps import Admin, EngineDep, Reader
from spatial.errors import BadRequest, NotFound
from spatial.isodate import IsoDate
from spatial.procedure.calendar_store import (
    CalendarDay,
    CalendarYear,
    HolidayNotice,
    calendar_years,
    enter_notice,
    known_years,
    load_calendar,
    year_days,
)
from spatial.procedure.periods import Period, Unit, period_end

router = APIRouter(prefix="/calendar", tags=["calendar"])

Year = Annotated[int, Path(ge=2000, le=2100, description="calendar year")]


class PeriodEnd(BaseModel):
    """The last day of a period counted as Chinese law counts (Civil Code Art. 201–203)."""

    start: date
    count: int
    unit: Unit
    period_zh: str
    end: date
    known_years: list[int]


@router.get("/years", response_model=list[CalendarYear])
def get_years(user: Reader, engine: EngineDep) -> list[CalendarYear]:
    """Every year whose holiday notice is known, with its source (package or notice)."""
    return calendar_years(engine)


@router.get("/years/{year}", response_model=list[CalendarDay])
def get_year(year: Year, user: Reader, engine: EngineDep) -> list[CalendarDay]:
    """The holidays and make-up working days of ``year`` (404 if not entered)."""
    if year not in known_years(engine):
        raise NotFound(f"{year} 年的节假日安排尚未录入", f"the {year} notice has not been entered")
    return year_days(engine, year)


@router.put("/years/{year}", response_model=CalendarYear)
def put_year(year: Year, notice: HolidayNotice, admin: Admin, engine: EngineDep) -> CalendarYear:
    """Enter (or replace) a year's State Council holiday notice; admin only, audited."""
    if notice.year != year:
        raise BadRequest(
            f"路径中的年份 {year} 与通知年份 {notice.year} 不一致",
            f"year {year} in the path differs from the notice's year {notice.year}",
        )
    return enter_notice(engine, notice, admin.name, admin.role.value)


@router.get("/period-end", response_model=PeriodEnd)
def get_period_end(
    user: Reader,
    engine: EngineDep,
    start: Annotated[IsoDate, Query(description="day of the event (not counted)")],
    count: Annotated[int, Query(ge=1, le=1000)],
    unit: Annotated[Unit, Query()],
) -> PeriodEnd:
    """The last day of ``count`` ``unit`` from ``start`` (409 if it runs into an unknown year)."""
    cal = load_calendar(engine)
    period = Period(count, unit)
    end = period_end(cal, start, period)
    return PeriodEnd(
        start=start,
        count=count,
        unit=unit,
        period_zh=period.label_zh,
        end=end,
        known_years=sorted(cal.known_years),
    )
