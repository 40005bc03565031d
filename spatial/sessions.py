"""Server-side browser sessions: start one at sign-in, resolve a cookie, end it, expire it.

The cookie value is 256 random bits; only its SHA-256 is stored (``web_sessions.token_hash``),
so a copy of the table signs nobody in. Each session carries a synchronizer CSRF token that
every mutating request made with the session must echo (``X-CSRF-Token`` header or a
``csrf_token`` form field; checked in ``api/deps.py``). A session expires after
``SessionSettings.idle_minutes`` without use or ``max_hours`` after sign-in, and with its
user: a deactivated user's sessions stop working at once, a role change applies at once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, text

from spatial.models import Role
from spatial.settings import SessionSettings

TOUCH_EVERY_S = 60
"""``last_seen_at`` is refreshed at most this often (a page's requests don't each write)."""


@dataclass(frozen=True)
class SessionUser:
    """The user behind a live session, with the session's CSRF token."""

    user_id: int
    name: str
    role: Role
    csrf_token: str
    expires_at: datetime


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start_session(engine: Engine, user_id: int, settings: SessionSettings | None = None) -> str:
    """Start a session for ``user_id``; return the cookie value (shown to the browser only).

    Also removes every expired session of every user (the table stays small).
    """
    settings = settings or SessionSettings()
    token = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        _purge(conn, settings)
        conn.execute(
            text(
                "INSERT INTO web_sessions (token_hash, user_id, csrf_token, expires_at) "
                "VALUES (:h, :u, :c, now() + make_interval(secs => :s))"
            ),
            {
                "h": _digest(token),
                "u": user_id,
                "c": secrets.token_urlsafe(32),
                "s": settings.max_hours * 3600,
            },
        )
    return token


def resolve_session(
    engine: Engine, token: str | None, settings: SessionSettings | None = None
) -> SessionUser | None:
    """The active user of a live session, or None (no, unknown, expired or idle session)."""
    if not token or len(token) > 200:
        return None
    settings = settings or SessionSettings()
    with engine.begin() as conn:
        row = conn.execute(
            text(
                "SELECT s.user_id, u.name, u.role::text AS role, s.csrf_token, s.expires_at, "
                "extract(epoch FROM now() - s.last_seen_at) AS idle_s "
                "FROM web_sessions s JOIN users u ON u.id = s.user_id "
                "WHERE s.token_hash = :h AND u.active AND s.expires_at > now()"
            ),
            {"h": _digest(token)},
        ).one_or_none()
        if row is None:
            return None
        if row.idle_s > settings.idle_minutes * 60:
            conn.execute(
                text("DELETE FROM web_sessions WHERE token_hash = :h"), {"h": _digest(token)}
            )
            return None
        if row.idle_s > TOUCH_EVERY_S:
            conn.execute(
                text("UPDATE web_sessions SET last_seen_at = now() WHERE token_hash = :h"),
                {"h": _digest(token)},
            )
    return SessionUser(row.user_id, row.name, Role(row.role), row.csrf_token, row.expires_at)


def end_session(engine: Engine, token: str | None) -> None:
    """End the session of cookie value ``token`` (sign-out); nothing if there is none."""
    if not token:
        return
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM web_sessions WHERE token_hash = :h"), {"h": _digest(token)})


def end_user_sessions(conn: Connection, user_id: int) -> int:
    """End every session of ``user_id`` in the caller's transaction; return how many."""
    res = conn.execute(text("DELETE FROM web_sessions WHERE user_id = :u"), {"u": user_id})
    return int(res.rowcount or 0)


def _purge(conn: Connection, settings: SessionSettings) -> None:
    conn.execute(
        text(
            "DELETE FROM web_sessions WHERE expires_at <= now() "
            "OR last_seen_at < now() - make_interval(secs => :idle)"
        ),
        {"idle": settings.idle_minutes * 60},
    )
