"""Project procedure (Implementation Measures Art. 12–31): working calendar, periods, events.

- :mod:`spatial.procedure.calendar`: the Chinese working calendar (holidays, 调休 make-up days),
  a snapshot that refuses any day of a year nobody has entered;
- :mod:`spatial.procedure.calendar_store`: that calendar in the database, seeded from the
  ``chinese-calendar`` package and extended by an administrator with each year's notice;
- :mod:`spatial.procedure.periods`: how Chinese law counts a period (Civil Code Art. 201–203):
  working days, calendar months, natural days.
"""
