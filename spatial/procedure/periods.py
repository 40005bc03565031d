"""How Chinese law counts a period: the one implementation used by every deadline.

The rules (中华人民共和国民法典 Civil Code, Art. 201–203):

- **Art. 201**: 按照年、月、日计算期间的，开始的当日不计入，自下一日开始计算 — the day the
  period starts from (the day of the event) is not counted; counting starts the next day.
- **Art. 202**: 按照年、月计算期间的，到期月的对应日为期间的最后一日；没有对应日的，月末日
  为期间的最后一日 — a period of N months ends on the same day of the month N months later, or
  on the last day of that month when it has no such day (31 Dec + 2 months → 28/29 Feb).
- **Art. 203**: 期间的最后一日是法定休假日的，以法定休假日结束的次日为期间的最后一日 — a
  last day that is a statutory day off moves to the day after the days off end. Statutory days
  off (法定休假日) are the notice's holidays *and* the weekly rest days, as they are actually
  taken after 调休 (the Supreme People's Court read it so: 期间的最后一天是星期日或者其他法定
  休假日，而星期日或者其他法定休假日有变通的，以实际休假日的次日为期间的最后一天). So the last
  day moves to the first working day after it on the working calendar, and a make-up working
  Saturday (调休上班) is an ordinary last day.

The units of the Implementation Measures:

- **working days** (工作日: Art. 13, 14, 22 five; Art. 18 seven and seven): the N-th working day
  after the event. Only working days are counted, so the last day is always a working day and
  Art. 203 never moves it.
- **calendar months** (个月: Art. 15 two, Art. 29 three): Art. 201–203 as above.
- **natural days** (自然日: Art. 19 thirty days of publicity): the event day not counted, every
  later day counted, then Art. 203.

Every function needs the calendar to know each day it looks at: a period running into a year
nobody has entered raises :class:`~spatial.procedure.calendar.CalendarYearUnknown`.
"""

from __future__ import annotations

import calendar as _stdcal
import enum
from dataclasses import dataclass
from datetime import date, timedelta

from spatial.procedure.calendar import ONE_DAY, WorkingCalendar


class Unit(enum.StrEnum):
    """The unit a period is counted in."""

    working_days = "working_days"
    months = "months"
    natural_days = "natural_days"


UNIT_LABELS_ZH = {
    Unit.working_days: "个工作日",
    Unit.months: "个月",
    Unit.natural_days: "个自然日",
}


@dataclass(frozen=True)
class Period:
    """A period of ``count`` units, e.g. ``Period(5, Unit.working_days)``."""

    count: int
    unit: Unit

    def __post_init__(self) -> None:
        # a plain string or numpy integer (from a DataFrame, a form) is taken as what it names
        object.__setattr__(self, "unit", Unit(self.unit))
        object.__setattr__(self, "count", int(self.count))
        if self.count < 1:
            raise ValueError("a period counts at least one unit")

    @property
    def label_zh(self) -> str:
        """Chinese wording, e.g. ``"5个工作日"``."""
        return f"{self.count}{UNIT_LABELS_ZH[self.unit]}"

    @property
    def label_en(self) -> str:
        """English wording, e.g. ``"5 working days"``."""
        return f"{self.count} {self.unit.value.replace('_', ' ')}"


def add_working_days(cal: WorkingCalendar, start: date, count: int) -> date:
    """The ``count``-th working day after ``start`` (the start day is not counted, Art. 201).

    Examples
    --------
    Receipt on Tuesday 30 Sep 2025, the last working day before National Day (1–8 Oct off,
    Saturday 11 Oct worked): 9, 10, 11 (make-up Saturday), 13, 14 Oct → 14 Oct 2025.
    """
    if count < 1:
        raise ValueError("count must be at least 1")
    d = start
    for _ in range(count):
        d = cal.next_working_day(d)
    return d


def same_day_months_later(start: date, months: int) -> date:
    """The day ``months`` calendar months after ``start``, or that month's last day (Art. 202).

    No holiday rule here: see :func:`period_end`.

    Examples
    --------
    >>> same_day_months_later(date(2025, 8, 31), 2)
    datetime.date(2025, 10, 31)
    >>> same_day_months_later(date(2025, 12, 31), 2)
    datetime.date(2026, 2, 28)
    """
    index = start.year * 12 + (start.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    last = _stdcal.monthrange(year, month)[1]
    return date(year, month, min(start.day, last))


def first_working_day_from(cal: WorkingCalendar, day: date) -> date:
    """``day`` itself if it is a working day, else the first working day after it (Art. 203)."""
    return day if cal.is_working_day(day) else cal.next_working_day(day)


def period_end(cal: WorkingCalendar, start: date, period: Period) -> date:
    """The last day of ``period`` counted from the event on ``start``, as Chinese law counts.

    Parameters
    ----------
    cal : WorkingCalendar
        Must know every year the period touches (else ``CalendarYearUnknown``).
    start : date
        The day of the event the period runs from; it is not counted (Civil Code Art. 201).
    period : Period
        Working days (the N-th working day after ``start``), calendar months (Art. 202, then
        Art. 203) or natural days (``start`` + N days, then Art. 203).

    Returns
    -------
    date
        The last day on which the act is still in time (until 24:00, Art. 203).

    Examples
    --------
    2 months from 31 Dec 2025 → 28 Feb 2026, a Saturday made a working day (调休) by the 2026
    notice, so it stays 28 Feb 2026.
    """
    if period.unit is Unit.working_days:
        return add_working_days(cal, start, period.count)
    if period.unit is Unit.months:
        raw = same_day_months_later(start, period.count)
    else:
        raw = start + timedelta(days=period.count)
    return first_working_day_from(cal, raw)


def days_between(today: date, day: date) -> int:
    """Natural days from ``today`` to ``day`` (negative when ``day`` has passed)."""
    return (day - today).days


__all__ = [
    "ONE_DAY",
    "Period",
    "Unit",
    "add_working_days",
    "days_between",
    "first_working_day_from",
    "period_end",
    "same_day_months_later",
]
