"""Calendar days as users and clients send them: ISO 8601 ``YYYY-MM-DD``, nothing else.

pydantic reads a number given for a ``date`` as Unix time, so ``today=0`` or
``"occurred_on": 86400`` would quietly become 1970-01-01 or 1970-01-02. A deadline counted from
a day nobody meant is worse than a refusal: :data:`IsoDate` refuses anything but a ``date`` or a
``YYYY-MM-DD`` string (ValueError, Chinese and English), in query parameters and JSON bodies
alike. Its JSON Schema stays ``{"type": "string", "format": "date"}``.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated

from pydantic import BeforeValidator

_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def iso_day(value: object) -> object:
    """``value`` unchanged if it is a ``date`` (not a ``datetime``) or a ``YYYY-MM-DD`` string,
    which pydantic then checks is a real day; ValueError (zh / en) for anything else."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DAY.fullmatch(value):
        return value
    raise ValueError("日期须写作 YYYY-MM-DD / a date must be written YYYY-MM-DD")


IsoDate = Annotated[date, BeforeValidator(iso_day)]
"""A calendar day given as ``YYYY-MM-DD`` (or a ``date``); numbers and date-times refused."""
