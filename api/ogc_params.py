"""OGC API query parameters: 400 (not 422) for bad values, NUL refused, bbox and datetime parsed.

OGC API Features Part 1 answers an invalid parameter value with 400 (Req
``/req/core/query-param-invalid``). FastAPI validates declared parameters and answers 422;
:class:`OgcRoute` turns that into our :class:`~spatial.errors.BadRequest` (400, Chinese and
English), and refuses any query parameter with a NUL character before a handler runs: PostgreSQL
text cannot hold NUL, and a bound NUL would fail in the driver as a 500.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from spatial.errors import BadRequest

FormatParam = Annotated[
    str | None, Query(description="json or html", json_schema_extra={"enum": ["json", "html"]})
]
"""The ``f`` parameter of the pages that answer JSON or HTML (no ``f``: by ``Accept``). The
document lists the two values; the server also takes them in capitals (``f=JSON``)."""


def refuse_nul(request: Request) -> None:
    """BadRequest (400) if a query parameter name or value contains a NUL character."""
    for key, value in request.query_params.multi_items():
        if "\x00" in key or "\x00" in value:
            raise BadRequest(
                f"查询参数 {key.replace(chr(0), '')[:50]!r} 含有空字符（NUL）",
                f"query parameter {key.replace(chr(0), '')[:50]!r} contains a NUL character",
            )


def _validation_message(exc: RequestValidationError) -> tuple[str, str]:
    parts_en, parts_zh = [], []
    for err in exc.errors()[:5]:
        loc = [str(x) for x in err.get("loc", ()) if x not in ("query", "path")]
        name = ".".join(loc)[:50] or "?"
        parts_en.append(f"{name}: {err.get('msg', 'invalid')}")
        parts_zh.append(f"参数 {name} 的值无效")
    return "；".join(parts_zh), "invalid parameter: " + "; ".join(parts_en)


class OgcRoute(APIRoute):
    """An APIRoute that answers invalid parameters with 400 and refuses NUL characters."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap FastAPI's handler: NUL check first, validation errors become BadRequest."""
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            refuse_nul(request)
            try:
                return await handler(request)
            except RequestValidationError as exc:
                zh, en = _validation_message(exc)
                raise BadRequest(zh, en) from None

        return route


@dataclass(frozen=True)
class DatetimeInterval:
    """A parsed ``datetime`` parameter: an instant (start == end) or an interval (UTC).

    ``None`` stands for an open end (``..`` or empty).
    """

    start: datetime | None
    end: datetime | None


def _instant(text: str) -> datetime:
    text = text.strip()
    try:
        if "T" not in text and "t" not in text:
            d = date.fromisoformat(text)
            return datetime(d.year, d.month, d.day, tzinfo=UTC)
        value = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise BadRequest(
            "datetime 格式错误（应为 RFC 3339 时间或区间）",
            f"datetime: {text[:40]!r} is not an RFC 3339 date-time, date or interval",
        ) from None
    if value.tzinfo is None:
        raise BadRequest(
            "datetime 需要时区（如 Z）", "datetime: a date-time needs a time zone (e.g. Z)"
        )
    return value.astimezone(UTC)


def parse_datetime(value: str | None) -> DatetimeInterval | None:
    """The ``datetime`` parameter (Part 1): ``instant``, ``start/end``, ``../end``, ``start/..``.

    Raises BadRequest for anything else, and for an interval whose start is after its end.
    """
    if value is None:
        return None
    if "/" not in value:
        t = _instant(value)
        return DatetimeInterval(t, t)
    if value.count("/") != 1:
        raise BadRequest("datetime 区间格式错误", "datetime: an interval has exactly one '/'")
    a, b = value.split("/")
    start = None if a in ("", "..") else _instant(a)
    end = None if b in ("", "..") else _instant(b)
    if start is None and end is None:
        raise BadRequest("datetime 区间两端不能都开放", "datetime: both ends of the interval open")
    if start is not None and end is not None and start > end:
        raise BadRequest("datetime 起点晚于终点", "datetime: the interval starts after it ends")
    return DatetimeInterval(start, end)
