"""Who is acting from the command line: a named, active user holding a required role."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from spatial.errors import AuthenticationFailed
from spatial.models import Role, User
from spatial.users import require_role


def user_by_name(engine: Engine, name: str, roles: Iterable[Role | str]) -> User:
    """The active user ``name``, who must hold one of ``roles`` (admins always pass).

    The CLI's ``--by NAME`` goes through this, so a command-line change is audited under a
    real user with the same role check as the API.
    """
    with Session(engine) as s:
        user = s.scalar(select(User).where(User.name == name, User.active.is_(True)))
        if user is None:
            raise AuthenticationFailed(f"没有此用户：{name}", f"no active user named {name!r}")
        s.expunge(user)
    require_role(user, roles)
    return user
