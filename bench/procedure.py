"""Deadline arithmetic and the bureau list, side by side with the chinese-calendar package.

1. Deadlines of 5 working days (Art. 13/14/22) from every working day of 2005–2025: our
   ``period_end`` on the database-loaded ``WorkingCalendar`` against ``chinese_calendar``'s
   ``find_workday(5, day)`` (the package that seeds our table). Both must agree on every date.
2. ``bureau_list`` (the procedure page and ``GET /procedure/projects``) for every project of
   the demo district (the demo's five with their events, the others registered here with one
   event each), in a throwaway database.

Run: ``.venv/bin/python bench/procedure.py`` (uses the local cluster).
"""

from __future__ import annotations

import argparse
import time
import uuid
from datetime import date, timedelta

import chinese_calendar

from spatial import localdb, migrate
from spatial.budget.rates import Track
from spatial.db import dispose_engines, get_engine
from spatial.procedure.calendar_store import load_calendar
from spatial.procedure.events import bureau_list, record_event
from spatial.procedure.periods import Period, Unit, period_end
from spatial.procedure.projects import register_project
from spatial.settings import DatabaseSettings


def best(fn, repeat: int = 3) -> float:  # noqa: ANN001
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    argparse.ArgumentParser(description=__doc__).parse_args()
    base = DatabaseSettings()
    if base.is_local:
        localdb.start(base)
    name = f"tz_bench_proc_{uuid.uuid4().hex[:6]}"
    localdb.ensure_database(name, base)
    settings = base.for_database(name)
    try:
        migrate.upgrade(settings.url())
        engine = get_engine(settings.url())
        cal = load_calendar(engine)
        every = [date(2005, 1, 1) + timedelta(days=i) for i in range(7670)]
        # find_workday(5, d) first moves to the next working day *including* d, so from a day
        # off it ends one working day later than the Civil Code count (the day after the
        # event is day 1); compare on working start days, count the others
        days = [d for d in every if cal.is_working_day(d)]
        off = [d for d in every if not cal.is_working_day(d)]
        later = sum(
            chinese_calendar.find_workday(5, d) > period_end(cal, d, Period(5, Unit.working_days))
            for d in off
        )
        print(f"{later} of {len(off)} days off: chinese_calendar.find_workday(5, d) is later")
        five = Period(5, Unit.working_days)
        ours = [period_end(cal, d, five) for d in days]
        theirs = [chinese_calendar.find_workday(5, d) for d in days]
        assert ours == theirs, "disagreement"
        t_ours = best(lambda: [period_end(cal, d, five) for d in days])
        t_theirs = best(lambda: [chinese_calendar.find_workday(5, d) for d in days])
        print(f"{len(days)} deadlines of 5 working days, all agreeing:")
        print(f"  tuzheng period_end      {t_ours * 1000:8.1f} ms")
        print(
            f"  chinese_calendar        {t_theirs * 1000:8.1f} ms   ratio {t_ours / t_theirs:.2f}×"
        )

        from data.demo import generate, load_into_db

        load_into_db(generate(n_parcels=500), engine)
        with engine.connect() as conn:
            from sqlalchemy import text

            codes = (  # the demo registered five, with their events
                conn.execute(
                    text(
                        "SELECT code FROM current_projects WHERE code NOT IN "
                        "(SELECT project_code FROM procedure_projects) ORDER BY code"
                    )
                )
                .scalars()
                .all()
            )
        today = date(2026, 12, 1)
        for i, code in enumerate(codes):
            register_project(engine, code, Track(list(Track)[i % 2]), False, "bench", "planner")
            record_event(
                engine,
                code,
                "entrusted",
                date(2026, 9, 1) + timedelta(days=i % 60),
                None,
                "bench",
                "planner",
                today,
            )
        t_list = best(lambda: bureau_list(engine, today))
        n = len(bureau_list(engine, today))
        print(f"bureau_list of {n} projects ({len(codes)} registered here): {t_list * 1000:.1f} ms")
    finally:
        dispose_engines()
        localdb.drop_database(name, base)


if __name__ == "__main__":
    main()
