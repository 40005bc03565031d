"""Users, roles, API tokens (stored hashed) and the audit log."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from spatial.db import get_engine, read_rows, session_scope
from spatial.errors import (
    AuthenticationFailed,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RateLimited,
)
from spatial.models import Role, User
from spatial.settings import SessionSettings


def hash_token(token: str) -> str:
    """SHA-256 hex digest of an API token (tokens are 256-bit random, so no salt is needed)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _new_token() -> str:
    return "tz_" + secrets.token_urlsafe(32)


def add_user(
    name: str,
    role: Role | str,
    engine: Engine | None = None,
    actor: str = "cli",
    password: str | None = None,
) -> str:
    """Create a user with ``role`` and return a new API token (shown once, stored hashed).

    With ``password`` the user can also sign in with a browser (stored as an Argon2id hash;
    at least 10 characters, see :mod:`spatial.passwords`).

    Examples
    --------
    >>> token = add_user("zhang.san", "surveyor", password="correct horse")  # doctest: +SKIP
    """
    from spatial.passwords import hash_password

    role = Role(role)
    _check_name(name)
    token = _new_token()
    pw_hash = hash_password(password) if password is not None else None
    try:
        with session_scope(engine) as s:
            s.add(
                User(
                    name=name,
                    role=role,
                    token_hash=hash_token(token),
                    password_hash=pw_hash,
                    password_changed_at=datetime.now().astimezone() if pw_hash else None,
                )
            )
            audit(
                s,
                actor,
                None,
                "user.add",
                f"user:{name}",
                {"role": role.value, "password": pw_hash is not None},
            )
    except IntegrityError as exc:
        raise Conflict(f"用户已存在：{name}", f"user already exists: {name}") from exc
    return token


def _check_name(name: str) -> None:
    if not name or len(name) > 100 or not name.strip() or any(ord(c) < 32 for c in name):
        raise InvalidInput(
            "用户名须为 1–100 个字符，且不含控制字符",
            "a user name has 1–100 characters and no control characters",
        )


def authenticate(token: str | None, engine: Engine | None = None) -> User:
    """Return the active user holding ``token``; raise AuthenticationFailed otherwise."""
    if not token:
        raise AuthenticationFailed("缺少访问令牌", "missing API token")
    with Session(engine or get_engine()) as s:
        user = s.scalar(
            select(User).where(User.token_hash == hash_token(token), User.active.is_(True))
        )
        if user is None:
            raise AuthenticationFailed("访问令牌无效", "invalid API token")
        s.expunge(user)
        return user


def require_role(user: User, roles: Iterable[Role | str]) -> None:
    """Raise PermissionDenied unless ``user`` has one of ``roles`` (admins always pass)."""
    allowed = {Role(r) for r in roles} | {Role.admin}
    if user.role not in allowed:
        names = ", ".join(sorted(r.value for r in allowed))
        raise PermissionDenied(
            f"角色 {user.role.value} 无权执行此操作（需要：{names}）",
            f"role {user.role.value} may not do this (needs one of: {names})",
        )


def audit(
    conn: Connection | Session,
    user_name: str,
    role: str | None,
    action: str,
    target: str | None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add an audit-log row in the caller's transaction (a Core connection or an ORM session).

    The row is committed with the change it describes, or not at all.
    """
    conn.execute(
        text(
            "INSERT INTO audit_log (user_name, role, action, target, detail) "
            "VALUES (:u, :r, :a, :t, CAST(:d AS jsonb))"
        ),
        {
            "u": user_name,
            "r": role,
            "a": action,
            "t": target,
            "d": json.dumps(detail or {}, ensure_ascii=False, default=str),
        },
    )


def _user_row(conn: Connection, name: str, lock: bool = False) -> Any:
    row = conn.execute(
        text(
            "SELECT id, name, role::text AS role, active FROM users WHERE name = :n"
            + (" FOR UPDATE" if lock else "")
        ),
        {"n": name},
    ).one_or_none()
    if row is None:
        raise NotFound(f"用户不存在：{name}", f"no such user: {name}")
    return row


def login(
    name: str, password: str, engine: Engine, settings: SessionSettings | None = None
) -> User:
    """The active user ``name`` if ``password`` is theirs; every attempt is audited.

    Raises AuthenticationFailed (the same message whether the name or the password is wrong,
    or the user is inactive or has no password), and RateLimited after
    ``SessionSettings.max_failed_logins`` failures of that name within ``lockout_minutes``.
    """
    from spatial.passwords import needs_rehash, verify_password

    settings = settings or SessionSettings()
    name = (name or "")[:100]
    with engine.begin() as conn:
        failures = conn.execute(
            text(
                "SELECT count(*) FROM audit_log WHERE action = 'login.failed' AND target = :t "
                "AND at > now() - make_interval(secs => :s)"
            ),
            {"t": f"user:{name}", "s": settings.lockout_minutes * 60},
        ).scalar_one()
        if failures >= settings.max_failed_logins:
            audit(conn, name, None, "login.locked", f"user:{name}", {})
            raise RateLimited(
                f"登录失败次数过多，请 {settings.lockout_minutes:g} 分钟后再试",
                f"too many failed sign-ins; try again in {settings.lockout_minutes:g} minutes",
            )
        row = conn.execute(
            text("SELECT id, role::text AS role, active, password_hash FROM users WHERE name = :n"),
            {"n": name},
        ).one_or_none()
        ok = verify_password(row.password_hash if row else None, password or "")
        if not ok or row is None or not row.active:
            audit(conn, name, None, "login.failed", f"user:{name}", {})
            failed = True
        else:
            failed = False
            audit(conn, name, row.role, "login", f"user:{name}", {})
            if needs_rehash(row.password_hash):
                from spatial.passwords import hash_password

                conn.execute(
                    text("UPDATE users SET password_hash = :h WHERE id = :i"),
                    {"h": hash_password(password), "i": row.id},
                )
    if failed or row is None:  # raised after the commit, so the failure stays recorded
        raise AuthenticationFailed("用户名或密码错误", "wrong user name or password")
    return User(id=row.id, name=name, role=Role(row.role), active=True)


def set_password(
    engine: Engine, name: str, password: str, actor: str, actor_role: str | None = None
) -> None:
    """Set (or reset) ``name``'s password and end all of their sessions; audited."""
    from spatial.passwords import hash_password
    from spatial.sessions import end_user_sessions

    pw_hash = hash_password(password)
    with engine.begin() as conn:
        row = _user_row(conn, name, lock=True)
        conn.execute(
            text("UPDATE users SET password_hash = :h, password_changed_at = now() WHERE id = :i"),
            {"h": pw_hash, "i": row.id},
        )
        ended = end_user_sessions(conn, row.id)
        audit(conn, actor, actor_role, "user.password", f"user:{name}", {"sessions_ended": ended})


def reset_token(engine: Engine, name: str, actor: str, actor_role: str | None = None) -> str:
    """Give ``name`` a new API token (the old one stops working); return it, shown once."""
    token = _new_token()
    with engine.begin() as conn:
        row = _user_row(conn, name, lock=True)
        conn.execute(
            text("UPDATE users SET token_hash = :h WHERE id = :i"),
            {"h": hash_token(token), "i": row.id},
        )
        audit(conn, actor, actor_role, "user.token", f"user:{name}", {})
    return token


def _guard_last_admin(conn: Connection, row: Any, new_role: str, new_active: bool) -> None:
    """Refuse a change that would leave no active admin (admin rows locked meanwhile)."""
    if row.role != Role.admin.value or not row.active:
        return
    if new_role == Role.admin.value and new_active:
        return
    others = conn.execute(
        text(
            "SELECT id FROM users WHERE role = 'admin' AND active AND id <> :i "
            "ORDER BY id FOR UPDATE"
        ),
        {"i": row.id},
    ).all()
    if not others:
        raise Conflict(
            f"{row.name} 是最后一位管理员，不能降级或停用",
            f"{row.name} is the last admin and cannot be demoted or deactivated",
        )


def update_user(
    engine: Engine,
    name: str,
    actor: str,
    actor_role: str | None = None,
    *,
    role: Role | str | None = None,
    active: bool | None = None,
) -> dict[str, Any]:
    """Change ``name``'s role and/or deactivate (or reactivate) them; audited.

    Nobody can demote or deactivate the last active admin (Conflict, 409). Deactivating ends
    the user's sessions; their token and password stop working at once.
    """
    from spatial.sessions import end_user_sessions

    with engine.begin() as conn:
        # admins first, in id order, so concurrent changes lock in the same order
        conn.execute(text("SELECT id FROM users WHERE role = 'admin' ORDER BY id FOR UPDATE"))
        row = _user_row(conn, name, lock=True)
        new_role = Role(role).value if role is not None else row.role
        new_active = row.active if active is None else bool(active)
        _guard_last_admin(conn, row, new_role, new_active)
        conn.execute(
            text("UPDATE users SET role = CAST(:r AS user_role), active = :a WHERE id = :i"),
            {"r": new_role, "a": new_active, "i": row.id},
        )
        changes: dict[str, Any] = {}
        if new_role != row.role:
            changes["role"] = [row.role, new_role]
        if new_active != row.active:
            changes["active"] = [row.active, new_active]
        if not new_active:
            changes["sessions_ended"] = end_user_sessions(conn, row.id)
        if changes:
            audit(conn, actor, actor_role, "user.update", f"user:{name}", changes)
    return {"name": name, "role": new_role, "active": new_active}


def list_users(engine: Engine) -> list[dict[str, Any]]:
    """Every user: name, role, active, whether a password is set, created, last sign-in."""
    rows = read_rows(
        engine,
        "SELECT u.name, u.role::text AS role, u.active, "
        "u.password_hash IS NOT NULL AS has_password, u.created_at, "
        "(SELECT max(at) FROM audit_log a WHERE a.action = 'login' "
        "AND a.target = 'user:' || u.name) AS last_login "
        "FROM users u ORDER BY u.name",
    )
    return [dict(r) for r in rows]
