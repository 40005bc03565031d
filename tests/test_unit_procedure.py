"""The working calendar and Civil Code period counting on a hand-built calendar, no database
(``make mutation``). The days are the State Council's 2025 National Day and 2026 Spring
Festival notices: 1–8 Oct 2025 off, Sun 28 Sep and Sat 11 Oct worked; 15–23 Feb 2026 off,
Sat 14 Feb and Sat 28 Feb worked."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from spatial.procedure.calendar import CalendarYearUnknown, WorkingCalendar, describe_years
from spatial.procedure.periods import (
    Period,
    Unit,
    add_working_days,
    days_between,
    first_working_day_from,
    period_end,
    same_day_months_later,
)

D = date
HOLIDAYS = {D(2025, 10, 1) + timedelta(days=i): "国庆节" for i in range(8)}
HOLIDAYS |= {D(2026, 2, 15) + timedelta(days=i): "春节" for i in range(9)}
WORKDAYS = {D(2025, 9, 28): "国庆节", D(2025, 10, 11): "国庆节", D(2026, 2, 14): "春节",
            D(2026, 2, 28): "春节"}  # fmt: skip
CAL = WorkingCalendar(frozenset({2025, 2026}), HOLIDAYS, WORKDAYS)


@pytest.mark.parametrize(
    ("years", "text"),
    [
        ([], "无 none"),
        ([2027], "2027"),
        ([2004, 2005, 2006, 2027], "2004–2006, 2027"),
        ([2027, 2005, 2004, 2006, 2005], "2004–2006, 2027"),
        ([2004, 2006, 2008], "2004, 2006, 2008"),
        ([2025, 2026], "2025–2026"),
    ],
)
def test_describe_years(years, text):
    assert describe_years(years) == text


def test_unknown_year_is_refused_with_the_known_ones():
    with pytest.raises(CalendarYearUnknown) as info:
        CAL.is_working_day(D(2027, 1, 4))
    exc = info.value
    assert exc.code == "calendar_year_unknown" and exc.year == 2027
    assert exc.message_zh == (
        "2027 年的节假日安排尚未录入（2027-01-04），无法计算期限；"
        "请管理员录入国务院办公厅 2027 年部分节假日安排的通知。已录入年份：2025–2026"
    )
    assert exc.message_en == (
        "the holiday notice for 2027 has not been entered (2027-01-04), so the deadline cannot "
        "be computed; an administrator must enter the State Council's 2027 holiday notice. "
        "Years entered: 2025–2026"
    )
    assert exc.detail == {"year": 2027, "day": "2027-01-04", "known_years": [2025, 2026]}
    for f in (CAL.day_kind, CAL.check_known, CAL.next_working_day):
        with pytest.raises(CalendarYearUnknown):
            f(D(2024, 12, 30))
    with pytest.raises(CalendarYearUnknown):  # 31 Dec 2026 is a Thursday: the next day is 2027
        CAL.next_working_day(D(2026, 12, 31))


@pytest.mark.parametrize(
    ("day", "working", "kind"),
    [
        (D(2025, 9, 26), True, "workday"),  # Friday
        (D(2025, 9, 27), False, "weekend"),  # Saturday
        (D(2025, 9, 28), True, "makeup_workday"),  # Sunday worked
        (D(2025, 10, 1), False, "holiday"),  # Wednesday off
        (D(2025, 10, 4), False, "holiday"),  # a Saturday inside the break
        (D(2025, 10, 9), True, "workday"),
        (D(2025, 10, 11), True, "makeup_workday"),  # Saturday worked
        (D(2025, 10, 12), False, "weekend"),
    ],
)
def test_days(day, working, kind):
    assert CAL.is_working_day(day) is working
    assert CAL.day_kind(day) == kind


def test_next_working_day_and_counting():
    assert CAL.next_working_day(D(2025, 9, 30)) == D(2025, 10, 9)
    assert CAL.next_working_day(D(2025, 9, 26)) == D(2025, 9, 28)  # the make-up Sunday
    assert CAL.next_working_day(D(2025, 10, 9)) == D(2025, 10, 10)
    assert CAL.working_days_between(D(2025, 9, 30), D(2025, 10, 14)) == 5  # 9, 10, 11, 13, 14
    assert CAL.working_days_between(D(2025, 9, 30), D(2025, 9, 30)) == 0
    assert CAL.working_days_between(D(2025, 10, 14), D(2025, 9, 30)) == 0
    assert CAL.working_days_between(D(2025, 10, 8), D(2025, 10, 9)) == 1  # end day counted


def test_a_period_from_plain_values_is_normalised():
    import numpy as np

    p = Period(np.int64(5), "working_days")  # as read from a DataFrame or a form
    assert p.unit is Unit.working_days and type(p.count) is int and p.count == 5
    assert p == Period(5, Unit.working_days)


def test_period_labels_and_checks():
    assert (Period(5, Unit.working_days).label_zh, Period(5, Unit.working_days).label_en) == (
        "5个工作日", "5 working days")  # fmt: skip
    assert Period(2, Unit.months).label_zh == "2个月"
    assert Period(30, Unit.natural_days).label_en == "30 natural days"
    assert Period(1, Unit.months).count == 1
    with pytest.raises(ValueError, match="at least one unit"):
        Period(0, Unit.months)
    with pytest.raises(ValueError):
        Period(-1, Unit.working_days)
    with pytest.raises(ValueError, match="count must be at least 1"):
        add_working_days(CAL, D(2025, 9, 30), 0)


def test_working_days_after_an_event():
    # Art. 13: 5 working days from receipt on Tue 30 Sep 2025 → 9, 10, 11 (Sat), 13, 14 Oct
    assert add_working_days(CAL, D(2025, 9, 30), 5) == D(2025, 10, 14)
    assert add_working_days(CAL, D(2025, 9, 30), 1) == D(2025, 10, 9)
    assert period_end(CAL, D(2025, 9, 30), Period(5, Unit.working_days)) == D(2025, 10, 14)
    assert period_end(CAL, D(2025, 10, 13), Period(7, Unit.working_days)) == D(2025, 10, 22)


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (D(2025, 8, 31), 2, D(2025, 10, 31)),
        (D(2025, 12, 31), 2, D(2026, 2, 28)),
        (D(2027, 12, 31), 2, D(2028, 2, 29)),  # a leap year
        (D(2025, 1, 31), 1, D(2025, 2, 28)),
        (D(2025, 3, 15), 12, D(2026, 3, 15)),
        (D(2025, 11, 30), 3, D(2026, 2, 28)),
        (D(2025, 10, 31), 1, D(2025, 11, 30)),
    ],
)
def test_same_day_months_later(start, months, expected):
    assert same_day_months_later(start, months) == expected


def test_month_and_natural_day_periods_move_off_days_off():
    # 2 months from 31 Dec 2025 → Sat 28 Feb 2026, a make-up working day: it stays
    assert period_end(CAL, D(2025, 12, 31), Period(2, Unit.months)) == D(2026, 2, 28)
    # 1 month from 15 Jan 2026 → Sun 15 Feb, in the Spring Festival break → Tue 24 Feb
    assert period_end(CAL, D(2026, 1, 15), Period(1, Unit.months)) == D(2026, 2, 24)
    # 30 natural days from 2 Sep 2025 → Thu 2 Oct (off) → Thu 9 Oct
    assert period_end(CAL, D(2025, 9, 2), Period(30, Unit.natural_days)) == D(2025, 10, 9)
    # 30 natural days from 1 Sep 2025 → Wed 1 Oct, a holiday → Thu 9 Oct
    assert period_end(CAL, D(2025, 9, 1), Period(30, Unit.natural_days)) == D(2025, 10, 9)
    assert period_end(CAL, D(2025, 9, 1), Period(1, Unit.natural_days)) == D(2025, 9, 2)
    assert first_working_day_from(CAL, D(2025, 10, 11)) == D(2025, 10, 11)
    assert first_working_day_from(CAL, D(2025, 10, 12)) == D(2025, 10, 13)
    assert days_between(D(2025, 10, 1), D(2025, 10, 9)) == 8
    assert days_between(D(2025, 10, 9), D(2025, 10, 1)) == -8
