"""The Chinese working calendar: which days are working days, per the State Council's notices.

A day is a working day when it is a Monday–Friday that no notice makes a holiday, or a weekend
day that a notice makes a make-up working day (调休上班). The State Council publishes each
year's holiday notice (国务院办公厅关于某年部分节假日安排的通知) in November or December of
the year before, so a calendar only knows the years someone has entered: asking about any day
of another year raises :class:`CalendarYearUnknown`, never a guess.

The calendar here is a plain, immutable snapshot (no database); :mod:`calendar_store` builds it
from the ``calendar_notices`` / ``calendar_days`` tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from spatial.errors import Conflict

ONE_DAY = timedelta(days=1)


class CalendarYearUnknown(Conflict):
    """A date falls in a year whose holiday notice nobody has entered (HTTP 409)."""

    code = "calendar_year_unknown"

    def __init__(self, day: date, known_years: Iterable[int]) -> None:
        years = sorted(known_years)
        span = describe_years(years)
        super().__init__(
            f"{day.year} 年的节假日安排尚未录入（{day.isoformat()}），无法计算期限；"
            f"请管理员录入国务院办公厅 {day.year} 年部分节假日安排的通知。已录入年份：{span}",
            f"the holiday notice for {day.year} has not been entered ({day.isoformat()}), so "
            f"the deadline cannot be computed; an administrator must enter the State Council's "
            f"{day.year} holiday notice. Years entered: {span}",
            year=day.year,
            day=day.isoformat(),
            known_years=years,
        )
        self.year = day.year


def describe_years(years: Iterable[int]) -> str:
    """Years as ranges, e.g. ``[2004, 2005, 2006, 2027]`` → ``"2004–2006, 2027"``."""
    ys = sorted(set(years))
    if not ys:
        return "无 none"
    parts: list[str] = []
    start = prev = ys[0]
    for y in ys[1:] + [None]:  # type: ignore[list-item]
        if y is not None and y == prev + 1:
            prev = y
            continue
        parts.append(str(start) if start == prev else f"{start}–{prev}")
        if y is not None:
            start = prev = y
    return ", ".join(parts)


@dataclass(frozen=True)
class WorkingCalendar:
    """An immutable working calendar for the years it knows.

    Parameters
    ----------
    known_years : frozenset of int
        Years whose holiday notice has been entered. Any other year is refused.
    holidays : mapping of date to str
        Days off by the notices (法定节假日 and the days moved into the break), with the name
        of the festival (e.g. ``"春节"``). Weekend days inside a break may be listed or not.
    workdays : mapping of date to str
        Weekend days the notices make working days (调休上班), with the festival they serve.

    Examples
    --------
    >>> cal = WorkingCalendar(frozenset({2025}), {date(2025, 10, 1): "国庆节"},
    ...                       {date(2025, 10, 11): "国庆节"})
    >>> cal.is_working_day(date(2025, 10, 11))  # a make-up Saturday
    True
    """

    known_years: frozenset[int]
    holidays: Mapping[date, str] = field(default_factory=dict)
    workdays: Mapping[date, str] = field(default_factory=dict)

    def check_known(self, day: date) -> None:
        """Raise :class:`CalendarYearUnknown` unless ``day``'s year has been entered."""
        if day.year not in self.known_years:
            raise CalendarYearUnknown(day, self.known_years)

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` is a working day (工作日); refuses a year not entered."""
        self.check_known(day)
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5

    def day_kind(self, day: date) -> str:
        """``"workday"``, ``"makeup_workday"``, ``"holiday"`` or ``"weekend"`` for ``day``."""
        self.check_known(day)
        if day in self.workdays:
            return "makeup_workday"
        if day in self.holidays:
            return "holiday"
        return "workday" if day.weekday() < 5 else "weekend"

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after ``day`` (every day passed must be known)."""
        d = day + ONE_DAY
        while not self.is_working_day(d):
            d += ONE_DAY
        return d

    def working_days_between(self, start: date, end: date) -> int:
        """Working days ``d`` with ``start < d <= end`` (0 if ``end <= start``)."""
        n = 0
        d = start + ONE_DAY
        while d <= end:
            n += self.is_working_day(d)
            d += ONE_DAY
        return n
