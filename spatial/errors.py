"""Domain exceptions. ``api/errors.py`` maps each to an HTTP status in one table."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error the domain raises on purpose, with Chinese and English messages."""

    code = "domain_error"

    def __init__(self, message_zh: str, message_en: str, **detail: Any) -> None:
        super().__init__(f"{message_zh} / {message_en}")
        self.message_zh = message_zh
        self.message_en = message_en
        self.detail = detail

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: code, both messages, and any detail (e.g. an ingest report)."""
        return {
            "code": self.code,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
            **self.detail,
        }


class NotFound(DomainError):
    """The thing asked for does not exist."""

    code = "not_found"


class Conflict(DomainError):
    """The request conflicts with the current state (duplicate, concurrent change)."""

    code = "conflict"


class InvalidInput(DomainError):
    """The input is understood but invalid (bad file content, unknown category…)."""

    code = "invalid_input"


class BadRequest(DomainError):
    """The request itself is malformed (bad filter, bad parameter)."""

    code = "bad_request"


class TooLarge(DomainError):
    """The input exceeds a configured size limit."""

    code = "too_large"


class AuthenticationFailed(DomainError):
    """No valid token."""

    code = "unauthenticated"


class PermissionDenied(DomainError):
    """Valid token, wrong role."""

    code = "forbidden"


class RateLimited(DomainError):
    """Too many attempts (e.g. failed sign-ins); try again later."""

    code = "rate_limited"


class CsrfFailed(PermissionDenied):
    """A request made with a browser session lacks the session's CSRF token (or has another)."""

    code = "csrf_failed"


class Unavailable(DomainError):
    """A service the request needs (the database) cannot be reached right now; retry later."""

    code = "unavailable"
