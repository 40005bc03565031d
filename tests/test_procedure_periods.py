"""Deadlines on the Chinese working calendar, counted as Chinese law counts.

Every expected date below is worked out by hand from the State Council's holiday notices
(quoted in ``NOTICES``), not from the ``chinese-calendar`` package that seeds the database;
``test_seeded_calendar_matches_the_notices`` checks the seed against the same quotations.

Counting (Civil Code Art. 201–203, see ``spatial.procedure.periods``): the event day is not
counted; N working days = the N-th working day after the event; N months = the same day N
months later or that month's last day; N natural days = event day + N; a last day that is a
day off (holiday or weekend not worked) moves to the first working day after it.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from spatial.procedure.calendar import CalendarYearUnknown, WorkingCalendar, describe_years
from spatial.procedure.calendar_store import load_calendar
from spatial.procedure.periods import Period, Unit, period_end, same_day_months_later

WD = Unit.working_days

# The State Council notices (国务院办公厅关于某年部分节假日安排的通知), as published:
NOTICES = {
    # 国办发明电〔2023〕7号: 春节：2月10日至17日放假调休，共8天。2月4日（星期日）、2月18日（星期日）
    # 上班。国庆节：10月1日至7日放假调休，共7天。9月29日（星期日）、10月12日（星期六）上班。
    "2024 春节": ((date(2024, 2, 10), date(2024, 2, 17)), [date(2024, 2, 4), date(2024, 2, 18)]),
    "2024 国庆节": (
        (date(2024, 10, 1), date(2024, 10, 7)),
        [date(2024, 9, 29), date(2024, 10, 12)],
    ),
    # 国办发明电〔2024〕12号: 春节：1月28日（农历除夕、周二）至2月4日（农历正月初七、周二）放假
    # 调休，共8天。1月26日（周日）、2月8日（周六）上班。国庆节、中秋节：10月1日（周三）至8日（周三）
    # 放假调休，共8天。9月28日（周日）、10月11日（周六）上班。
    "2025 春节": ((date(2025, 1, 28), date(2025, 2, 4)), [date(2025, 1, 26), date(2025, 2, 8)]),
    "2025 国庆节": (
        (date(2025, 10, 1), date(2025, 10, 8)),
        [date(2025, 9, 28), date(2025, 10, 11)],
    ),
    # 2026 notice: 春节：2月15日（农历腊月二十八、周日）至23日（农历正月初七、周一）放假调休，
    # 共9天。2月14日（周六）、2月28日（周六）上班。中秋节：9月25日（周五）至27日（周日）放假，
    # 共3天。
    # 国庆节：10月1日（周四）至7日（周三）放假调休，共7天。9月20日（周日）、10月10日（周六）上班。
    "2026 春节": ((date(2026, 2, 15), date(2026, 2, 23)), [date(2026, 2, 14), date(2026, 2, 28)]),
    "2026 国庆节": (
        (date(2026, 10, 1), date(2026, 10, 7)),
        [date(2026, 9, 20), date(2026, 10, 10)],
    ),
}
OTHER_DAYS_OFF = {date(2026, 9, 25)}  # 2026 中秋节 (Fri; 26–27 Sep is a weekend anyway)


@pytest.fixture(scope="module")
def cal(demo_db) -> WorkingCalendar:
    return load_calendar(demo_db.engine)


@pytest.mark.parametrize("name", sorted(NOTICES))
def test_seeded_calendar_matches_the_notices(cal, name):
    """From a week before the break to a week after it, every day is what the notice says."""
    (first, last), worked = NOTICES[name]
    d = first - timedelta(days=7)
    while d <= last + timedelta(days=7):
        if first <= d <= last or d in OTHER_DAYS_OFF:
            expected = False
        elif d in worked:
            expected = True
        else:
            expected = d.weekday() < 5
        assert cal.is_working_day(d) is expected, (name, d)
        d += timedelta(days=1)


def test_the_seed_knows_2004_to_2026(cal):
    assert sorted(cal.known_years) == list(range(2004, 2027))
    assert describe_years(cal.known_years) == "2004–2026"


@pytest.mark.parametrize(
    ("start", "period", "expected", "why"),
    [
        # Art. 13, National Day 2025. Received Tue 30 Sep 2025, the last working day before the
        # break (1–8 Oct off). Working days after it: Thu 9 Oct (1), Fri 10 (2), Sat 11 (3,
        # 调休上班), Mon 13 (4), Tue 14 (5).
        (date(2025, 9, 30), Period(5, WD), date(2025, 10, 14), "last working day before"),
        # Received Fri 26 Sep 2025: Sun 28 Sep (1, 调休上班), Mon 29 (2), Tue 30 (3), then the
        # break, Thu 9 Oct (4), Fri 10 Oct (5).
        (date(2025, 9, 26), Period(5, WD), date(2025, 10, 10), "make-up Sunday before"),
        # Received during the break, Sat 4 Oct 2025 (a day off): the count still starts the
        # next day and finds the same five days as from 30 Sep.
        (date(2025, 10, 4), Period(5, WD), date(2025, 10, 14), "received on a holiday"),
        # Art. 18, National Day 2024 (1–7 Oct off, Sat 12 Oct worked). Received Mon 30 Sep:
        # Tue 8 (1), 9 (2), 10 (3), 11 (4), Sat 12 (5, 调休), Mon 14 (6), Tue 15 (7).
        (date(2024, 9, 30), Period(7, WD), date(2024, 10, 15), "7 working days, 2024"),
        # Art. 14, Spring Festival 2025 (28 Jan–4 Feb off, Sun 26 Jan and Sat 8 Feb worked).
        # Received Mon 27 Jan, the last working day before: Wed 5 Feb (1), Thu 6 (2), Fri 7
        # (3), Sat 8 (4, 调休), Mon 10 (5).
        (date(2025, 1, 27), Period(5, WD), date(2025, 2, 10), "Spring Festival 2025"),
        # Spring Festival 2026 (15–23 Feb off, Sat 14 Feb and Sat 28 Feb worked). Received on
        # the make-up Saturday 14 Feb, the last working day before: Tue 24 (1), 25 (2), 26 (3),
        # Fri 27 (4), Sat 28 (5, 调休).
        (date(2026, 2, 14), Period(5, WD), date(2026, 2, 28), "ends on a make-up Saturday"),
        # Art. 18 first seven days, Spring Festival 2024 (10–17 Feb off, Sun 4 and Sun 18 Feb
        # worked). Received Fri 9 Feb (除夕, a working day): Sun 18 (1, 调休), Mon 19 (2), 20
        # (3), 21 (4), 22 (5), Fri 23 (6), Mon 26 (7).
        (date(2024, 2, 9), Period(7, WD), date(2024, 2, 26), "Spring Festival 2024"),
        # ... and the office's seven days from Mon 26 Feb 2024: 27, 28, 29 Feb, 1, 4, 5, 6 Mar.
        (date(2024, 2, 26), Period(7, WD), date(2024, 3, 6), "leap February"),
    ],
)
def test_working_day_deadlines(cal, start, period, expected, why):
    assert period_end(cal, start, period) == expected, why


@pytest.mark.parametrize(
    ("start", "months", "expected", "why"),
    [
        # Art. 15 (2 months). 31 Aug 2025 → 31 Oct 2025, a Friday.
        (date(2025, 8, 31), 2, date(2025, 10, 31), "same day, a working day"),
        # 31 Aug 2026 → 31 Oct 2026 is a Saturday (no 调休 in Oct/Nov after the 10 Oct make-up
        # day) → Mon 2 Nov 2026 (Civil Code Art. 203).
        (date(2026, 8, 31), 2, date(2026, 11, 2), "same day on a Saturday moves"),
        # 31 Dec 2024 → February 2025 has no 31st → its last day, Fri 28 Feb 2025.
        (date(2024, 12, 31), 2, date(2025, 2, 28), "month end"),
        # 31 Dec 2023 → 2024 is a leap year: Thu 29 Feb 2024.
        (date(2023, 12, 31), 2, date(2024, 2, 29), "leap-year month end"),
        # 31 Dec 2025 → Sat 28 Feb 2026, which the 2026 notice makes a working day (春节调休):
        # it stays the last day.
        (date(2025, 12, 31), 2, date(2026, 2, 28), "month end on a make-up Saturday"),
        # Art. 29 (3 months). 4 Jul 2026 → Sun 4 Oct 2026, inside National Day (1–7 Oct off)
        # → Thu 8 Oct 2026, the first working day after the break.
        (date(2026, 7, 4), 3, date(2026, 10, 8), "lands in the National Day break"),
        # 30 Nov 2025 → February has no 30th → Sat 28 Feb 2026, a make-up working day.
        (date(2025, 11, 30), 3, date(2026, 2, 28), "3 months to a short month"),
    ],
)
def test_month_deadlines(cal, start, months, expected, why):
    assert period_end(cal, start, Period(months, Unit.months)) == expected, why


def test_same_day_months_later_without_the_holiday_rule():
    assert same_day_months_later(date(2025, 8, 31), 2) == date(2025, 10, 31)
    assert same_day_months_later(date(2025, 12, 31), 2) == date(2026, 2, 28)
    assert same_day_months_later(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert same_day_months_later(date(2025, 11, 15), 3) == date(2026, 2, 15)
    assert same_day_months_later(date(2026, 10, 31), 14) == date(2027, 12, 31)


@pytest.mark.parametrize(
    ("start", "expected", "why"),
    [
        # Art. 19 (30 natural days). Wed 15 Jan 2025: 16 days to 31 Jan, 14 more → Fri 14 Feb
        # 2025, a working day.
        (date(2025, 1, 15), date(2025, 2, 14), "across a month end"),
        # Tue 20 Jan 2026: 11 days to 31 Jan, 19 more → Thu 19 Feb 2026, inside the Spring
        # Festival break (15–23 Feb) → Tue 24 Feb 2026.
        (date(2026, 1, 20), date(2026, 2, 24), "ends in the Spring Festival break"),
        # Thu 20 Nov 2025: 10 days to 30 Nov, 20 more → Sat 20 Dec 2025 → Mon 22 Dec 2025.
        (date(2025, 11, 20), date(2025, 12, 22), "ends on a Saturday"),
        # Sun 31 Aug 2025 → Tue 30 Sep 2025 (30 days: all of September).
        (date(2025, 8, 31), date(2025, 9, 30), "month of 30 days"),
    ],
)
def test_natural_day_periods(cal, start, expected, why):
    assert period_end(cal, start, Period(30, Unit.natural_days)) == expected, why


def test_a_deadline_into_an_unknown_year_is_refused(cal):
    # Mon 21 Dec 2026 + 5 working days: 22, 23, 24, 25, Mon 28 Dec: stays in 2026, computed.
    assert period_end(cal, date(2026, 12, 21), Period(5, WD)) == date(2026, 12, 28)
    # Mon 28 Dec 2026 + 5: 29 (1), 30 (2), 31 (3), then 1 Jan 2027, whose notice is unknown.
    with pytest.raises(CalendarYearUnknown) as err:
        period_end(cal, date(2026, 12, 28), Period(5, WD))
    assert err.value.year == 2027
    assert err.value.message_zh.startswith("2027 年的节假日安排尚未录入（2027-01-01）")
    assert "已录入年份：2004–2026" in err.value.message_zh
    assert "holiday notice for 2027 has not been entered" in err.value.message_en
    # 2 months from 31 Oct 2026 → 31 Dec 2026 (Thursday): computed; from 30 Nov → 2027: refused.
    assert period_end(cal, date(2026, 10, 31), Period(2, Unit.months)) == date(2026, 12, 31)
    with pytest.raises(CalendarYearUnknown):
        period_end(cal, date(2026, 11, 30), Period(2, Unit.months))
    # A year before the seed is just as unknown.
    with pytest.raises(CalendarYearUnknown):
        period_end(cal, date(2003, 12, 1), Period(30, Unit.natural_days))


def test_period_takes_the_unit_it_names(cal):
    # "working_days" as text (e.g. from a DataFrame column) is the working-day unit, not days
    assert period_end(cal, date(2025, 9, 30), Period(5, "working_days")) == date(2025, 10, 14)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Period(5, "weeks")  # type: ignore[arg-type]


def test_period_must_count_something():
    with pytest.raises(ValueError):
        Period(0, WD)
    assert Period(7, WD).label_zh == "7个工作日"
    assert Period(30, Unit.natural_days).label_en == "30 natural days"
