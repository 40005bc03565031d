"""The one table that maps domain exceptions to HTTP status codes, registered once."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

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
    e.DomainError: 400,
}


def status_for(exc: e.DomainError) -> int:
    """HTTP status for a domain exception (most specific class wins)."""
    for cls in type(exc).__mro__:
        if cls in STATUS_CODES:
            return STATUS_CODES[cls]
    return 400


def register(app: FastAPI) -> None:
    """Install the exception handlers on ``app``."""

    @app.exception_handler(e.DomainError)
    async def _domain(request: Request, exc: e.DomainError) -> JSONResponse:
        headers = (
            {"WWW-Authenticate": "Bearer"} if isinstance(exc, e.AuthenticationFailed) else None
        )
        return JSONResponse(exc.to_dict(), status_code=status_for(exc), headers=headers)

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        body = e.Conflict(
            "数据冲突（重复或违反约束）", "conflict: duplicate or constraint violation"
        )
        return JSONResponse(body.to_dict(), status_code=409)
