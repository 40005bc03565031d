"""The working calendar in the database: seeded from ``chinese-calendar``, extended by notices.

Tables (migration 0006):

``calendar_notices``
    One row per entered year: ``year``, ``source`` (``"chinese-calendar 1.11.0"`` for the seed,
    ``"notice"`` for an administrator's entry), ``reference`` (the notice's document number),
    who entered it and when. Entering a year again supersedes the old row (``superseded_at``,
    ``superseded_by``), which is kept with its days: replacing never loses the old version.
``calendar_days``
    The days of a notice: ``kind`` = ``holiday`` (放假) or ``workday`` (调休上班), and the
    festival's Chinese name.

A year is *known* when it has a current (not superseded) notice. :func:`load_calendar` reads
the current notices into a :class:`~spatial.procedure.calendar.WorkingCalendar`.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Connection, Engine, text

from spatial.db import read_rows, read_scalars, session_scope
from spatial.errors import InvalidInput
from spatial.isodate import IsoDate
from spatial.procedure.calendar import WorkingCalendar
from spatial.procedure.text import CleanText
from spatial.users import audit

SEED_ACTOR = "chinese-calendar"
MIN_YEAR, MAX_YEAR = 2000, 2100


class HolidayRange(BaseModel):
    """Days off in a notice, e.g. 春节 2027-02-06 … 2027-02-13 (both days included)."""

    start: IsoDate
    end: IsoDate
    name: CleanText = Field(min_length=1, max_length=60, description="节日名称, e.g. 春节")


class MakeupWorkday(BaseModel):
    """A weekend day the notice makes a working day (调休上班)."""

    day: IsoDate
    name: CleanText = Field(min_length=1, max_length=60, description="the festival it serves")


class HolidayNotice(BaseModel):
    """A State Council holiday notice for one year, as an administrator enters it."""

    year: int = Field(ge=MIN_YEAR, le=MAX_YEAR)
    reference: CleanText = Field(
        min_length=1, max_length=200, description="文号, e.g. 国办发明电〔2026〕X号"
    )
    holidays: list[HolidayRange] = Field(min_length=1, max_length=40)
    workdays: list[MakeupWorkday] = Field(default_factory=list, max_length=40)


class CalendarYear(BaseModel):
    """A year the calendar knows, and where its days came from."""

    year: int
    source: str
    reference: str | None
    entered_by: str
    entered_at: datetime
    holiday_count: int
    workday_count: int


class CalendarDay(BaseModel):
    """One listed day of a year: a holiday or a make-up working day."""

    day: date
    kind: str
    name: str


def package_notices() -> tuple[str, dict[int, list[tuple[date, str, str]]]]:
    """The years the installed ``chinese-calendar`` knows, as ``(source, {year: days})``.

    Each day is ``(day, "holiday" | "workday", Chinese festival name)``. A day is filed under
    its own calendar year (the package does not say which notice moved it).
    """
    import chinese_calendar
    from chinese_calendar.constants import Holiday, holidays, workdays

    by_year: dict[int, list[tuple[date, str, str]]] = defaultdict(list)
    for kind, table in (("holiday", holidays), ("workday", workdays)):
        for day, value in table.items():
            by_year[day.year].append((day, kind, Holiday(value).chinese))
    first, last = min(holidays).year, max(holidays).year
    years = {y: sorted(by_year.get(y, [])) for y in range(first, last + 1)}
    return f"chinese-calendar {chinese_calendar.__version__}", years


def seed_from_package(conn: Connection, actor: str = SEED_ACTOR) -> list[int]:
    """Insert the years the package knows that the database does not; return them.

    Never touches a year already entered (an administrator's notice wins over the seed).
    """
    source, years = package_notices()
    have = set(conn.execute(text("SELECT DISTINCT year FROM calendar_notices")).scalars())
    added: list[int] = []
    for year, days in sorted(years.items()):
        if year in have:
            continue
        nid = conn.execute(
            text(
                "INSERT INTO calendar_notices (year, source, reference, entered_by) "
                "VALUES (:y, :s, NULL, :a) RETURNING id"
            ),
            {"y": year, "s": source, "a": actor},
        ).scalar_one()
        if days:
            conn.execute(
                text(
                    "INSERT INTO calendar_days (notice_id, day, kind, name) "
                    "VALUES (:n, :d, :k, :name)"
                ),
                [{"n": nid, "d": d, "k": k, "name": name} for d, k, name in days],
            )
        added.append(year)
    return added


def seed(engine: Engine) -> list[int]:
    """:func:`seed_from_package` in its own transaction (``tuzheng calendar seed``)."""
    with engine.begin() as conn:
        return seed_from_package(conn)


def load_calendar(engine: Engine | Connection) -> WorkingCalendar:
    """The working calendar of every current notice (one query)."""
    sql = text(
        "SELECT n.year, d.day, d.kind, d.name FROM calendar_notices n "
        "LEFT JOIN calendar_days d ON d.notice_id = n.id WHERE n.superseded_at IS NULL"
    )
    if isinstance(engine, Engine):
        with engine.connect() as conn:
            rows = conn.execute(sql).all()
    else:
        rows = engine.execute(sql).all()
    years: set[int] = set()
    holidays: dict[date, str] = {}
    workdays: dict[date, str] = {}
    for year, day, kind, name in rows:
        years.add(year)
        if day is not None:
            (holidays if kind == "holiday" else workdays)[day] = name
    return WorkingCalendar(frozenset(years), holidays, workdays)


def calendar_years(engine: Engine) -> list[CalendarYear]:
    """Every year the calendar knows (current notices), oldest first."""
    rows = read_rows(
        engine,
        "SELECT n.year, n.source, n.reference, n.entered_by, n.entered_at, "
        "count(*) FILTER (WHERE d.kind = 'holiday') AS holiday_count, "
        "count(*) FILTER (WHERE d.kind = 'workday') AS workday_count "
        "FROM calendar_notices n LEFT JOIN calendar_days d ON d.notice_id = n.id "
        "WHERE n.superseded_at IS NULL GROUP BY n.id ORDER BY n.year",
    )
    return [CalendarYear(**r) for r in rows]


def known_years(engine: Engine) -> list[int]:
    """The years with a current notice, ascending."""
    return read_scalars(
        engine, "SELECT year FROM calendar_notices WHERE superseded_at IS NULL ORDER BY year"
    )


def year_days(engine: Engine, year: int) -> list[CalendarDay]:
    """The listed days (holidays and make-up working days) of ``year``'s current notice."""
    rows = read_rows(
        engine,
        "SELECT d.day, d.kind, d.name FROM calendar_notices n "
        "JOIN calendar_days d ON d.notice_id = n.id "
        "WHERE n.year = :y AND n.superseded_at IS NULL ORDER BY d.day",
        {"y": year},
    )
    return [CalendarDay(**r) for r in rows]


def _expand(notice: HolidayNotice) -> list[tuple[date, str, str]]:
    """The notice's days, validated; InvalidInput naming each bad field (zh + en)."""
    problems: list[dict[str, Any]] = []
    days: dict[date, tuple[str, str]] = {}

    def bad(field: str, zh: str, en: str) -> None:
        problems.append({"field": field, "message_zh": zh, "message_en": en})

    y = notice.year
    for i, h in enumerate(notice.holidays):
        where = f"holidays[{i}]"
        if h.end < h.start:
            bad(where, f"{h.name}：结束日早于开始日", f"{h.name}: end is before start")
            continue
        if h.start.year != y or h.end.year != y:
            bad(where, f"{h.name}：放假日期须在 {y} 年内", f"{h.name}: days off must be in {y}")
            continue
        if (h.end - h.start).days > 15:
            bad(where, f"{h.name}：放假超过 16 天", f"{h.name}: more than 16 days off")
            continue
        d = h.start
        while d <= h.end:
            if d in days:
                bad(where, f"{d} 重复列出", f"{d} is listed twice")
            days[d] = ("holiday", h.name)
            d += timedelta(days=1)
    for i, w in enumerate(notice.workdays):
        where = f"workdays[{i}]"
        d = w.day
        if not (d.year == y or (d.year == y - 1 and d.month == 12)):
            bad(
                where,
                f"调休上班日 {d} 须在 {y} 年内（或 {y - 1} 年 12 月）",
                f"make-up working day {d} must be in {y} (or December {y - 1})",
            )
        elif d.weekday() < 5:
            bad(
                where,
                f"调休上班日 {d} 不是周末（周一至周五本来就上班）",
                f"make-up working day {d} is not a weekend day (Mon–Fri are working days anyway)",
            )
        elif d in days:
            bad(where, f"{d} 既是放假日又是上班日", f"{d} is both a day off and a working day")
        else:
            days[d] = ("workday", w.name)
    if problems:
        raise InvalidInput(
            f"{y} 年节假日安排有 {len(problems)} 处错误",
            f"the {y} holiday notice has {len(problems)} problem(s)",
            problems=problems,
        )
    return sorted((d, k, name) for d, (k, name) in days.items())


def enter_notice(
    engine: Engine, notice: HolidayNotice, user_name: str, role: str | None
) -> CalendarYear:
    """Enter (or replace) ``notice``'s year; audited; the replaced notice is kept.

    The caller has checked that the user is an administrator (API ``Admin``, CLI ``--by``).
    Every project's stored procedure status is refreshed in the same transaction.
    """
    days = _expand(notice)
    with session_scope(engine) as s:
        old = s.execute(
            text(
                "SELECT id, source, reference FROM calendar_notices "
                "WHERE year = :y AND superseded_at IS NULL FOR UPDATE"
            ),
            {"y": notice.year},
        ).first()
        if old is not None:
            s.execute(
                text("UPDATE calendar_notices SET superseded_at = now() WHERE id = :id"),
                {"id": old.id},
            )
        nid = s.execute(
            text(
                "INSERT INTO calendar_notices (year, source, reference, entered_by) "
                "VALUES (:y, 'notice', :r, :u) RETURNING id"
            ),
            {"y": notice.year, "r": notice.reference, "u": user_name},
        ).scalar_one()
        if old is not None:
            s.execute(
                text("UPDATE calendar_notices SET superseded_by = :n WHERE id = :id"),
                {"n": nid, "id": old.id},
            )
        s.execute(
            text("INSERT INTO calendar_days (notice_id, day, kind, name) VALUES (:n, :d, :k, :m)"),
            [{"n": nid, "d": d, "k": k, "m": m} for d, k, m in days],
        )
        audit(
            s,
            user_name,
            role,
            "calendar.enter",
            f"calendar:{notice.year}",
            {
                "reference": notice.reference,
                "holidays": [d.isoformat() for d, k, _ in days if k == "holiday"],
                "workdays": [d.isoformat() for d, k, _ in days if k == "workday"],
                "replaced": None
                if old is None
                else {"notice_id": old.id, "source": old.source, "reference": old.reference},
            },
        )
        # deadlines depend on the calendar: the projects' stored status follows it at once
        from spatial.procedure.events import refresh_all
        from spatial.procedure.status import china_today

        refresh_all(s.connection(), china_today())
    return next(y for y in calendar_years(engine) if y.year == notice.year)
