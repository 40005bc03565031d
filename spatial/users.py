"""Users, roles, API tokens (stored hashed) and the audit log."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from spatial.db import get_engine, session_scope
from spatial.errors import AuthenticationFailed, Conflict, PermissionDenied
from spatial.models import AuditLog, Role, User


def hash_token(token: str) -> str:
    """SHA-256 hex digest of an API token (tokens are 256-bit random, so no salt is needed)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def add_user(name: str, role: Role | str, engine: Engine | None = None, actor: str = "cli") -> str:
    """Create a user with ``role`` and return a new API token (shown once, stored hashed).

    Examples
    --------
    >>> token = add_user("zhang.san", "surveyor")  # doctest: +SKIP
    """
    role = Role(role)
    token = "tz_" + secrets.token_urlsafe(32)
    try:
        with session_scope(engine) as s:
            s.add(User(name=name, role=role, token_hash=hash_token(token)))
            record(s, actor, None, "user.add", f"user:{name}", {"role": role.value})
    except IntegrityError as exc:
        raise Conflict(f"用户已存在：{name}", f"user already exists: {name}") from exc
    return token


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


def record(
    session: Session,
    user_name: str,
    role: str | None,
    action: str,
    target: str | None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add an audit-log row to ``session`` (committed with the change it describes)."""
    session.add(
        AuditLog(user_name=user_name, role=role, action=action, target=target, detail=detail or {})
    )
