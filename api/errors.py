"""The one table that maps domain exceptions to HTTP status codes, registered once.

Database errors are translated here too: a unique or constraint violation is a conflict (409);
a database that cannot be reached (connection refused or lost, pool exhausted) is 503 with the
same JSON error body and a ``Retry-After``, never a text/plain 500. The pools reconnect on
their own (``pool_pre_ping``), so the app recovers without a restart once the database is back.
"""

from __future__ import annotations

import psycopg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc

from spatial import errors as e

STATUS_CODES: dict[type[e.DomainError], int] = {
    e.BadRequest: 400,
    e.AuthenticationFailed: 401,
    e.PermissionDenied: 403,
    e.NotFound: 404,
    e.Conflict: 409,
    e.TooLarge: 413,
    e.InvalidInput: 422,
    e.RateLimited: 429,
    e.Unavailable: 503,
    e.DomainError: 400,
}
RETRY_AFTER_S = 5
"""Seconds a client is asked to wait before retrying while the database is unavailable."""

UNREACHABLE: tuple[type[Exception], ...] = (
    psycopg.OperationalError,
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
)
"""Errors meaning the database is down or unreachable (not that the request was wrong)."""
try:  # the tile service's pool
    from psycopg_pool import PoolTimeout

    UNREACHABLE += (PoolTimeout,)
except ImportError:  # pragma: no cover - psycopg-pool is a dependency
    pass


def status_for(exc: e.DomainError) -> int:
    """HTTP status for a domain exception (most specific class wins)."""
    for cls in type(exc).__mro__:
        if cls in STATUS_CODES:
            return STATUS_CODES[cls]
    return 400


def error_response(exc: e.DomainError) -> JSONResponse:
    """The JSON error response for a domain exception (with its status and headers)."""
    status = status_for(exc)
    headers = None
    if status == 401:
        headers = {"WWW-Authenticate": "Bearer"}
    elif status == 503:
        headers = {"Retry-After": str(RETRY_AFTER_S)}
    return JSONResponse(exc.to_dict(), status_code=status, headers=headers)


def unavailable(exc: BaseException | None = None) -> e.Unavailable:
    """The 503 error while the database cannot be reached."""
    return e.Unavailable(
        "数据库暂时无法连接，请稍后重试",
        "the database cannot be reached right now; retry shortly",
        error=type(exc).__name__ if exc is not None else None,
    )


def register(app: FastAPI) -> None:
    """Install the exception handlers on ``app``."""
    from api.middleware import BodyTooLarge, RefusedBeforeBody, too_large

    @app.exception_handler(e.DomainError)
    async def _domain(request: Request, exc: e.DomainError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(sa_exc.IntegrityError)
    async def _integrity(request: Request, exc: sa_exc.IntegrityError) -> JSONResponse:
        body = e.Conflict(
            "数据冲突（重复或违反约束）", "conflict: duplicate or constraint violation"
        )
        return JSONResponse(body.to_dict(), status_code=409)

    @app.exception_handler(BodyTooLarge)
    async def _too_large(request: Request, exc: BodyTooLarge) -> JSONResponse:
        return error_response(too_large(exc.limit))

    @app.exception_handler(RefusedBeforeBody)
    async def _refused(request: Request, exc: RefusedBeforeBody) -> JSONResponse:
        return error_response(exc.error)

    async def _unreachable(request: Request, exc: Exception) -> JSONResponse:
        return error_response(unavailable(exc))

    for cls in UNREACHABLE:
        app.add_exception_handler(cls, _unreachable)
