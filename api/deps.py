"""Typed FastAPI dependencies: the engine, the current user, role checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine

from spatial.models import Role, User
from spatial.users import authenticate, require_role

_bearer = HTTPBearer(auto_error=False)


def get_engine_dep(request: Request) -> Engine:
    """The engine opened by the app's lifespan."""
    return request.app.state.engine  # type: ignore[no-any-return]


EngineDep = Annotated[Engine, Depends(get_engine_dep)]


def current_user(
    engine: EngineDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    """The user whose bearer token came with the request (401 without a valid one)."""
    return authenticate(creds.credentials if creds else None, engine)


def requires(*roles: Role) -> Callable[..., User]:
    """Dependency factory: the current user, who must hold one of ``roles`` (or admin)."""

    def _check(user: Annotated[User, Depends(current_user)]) -> User:
        require_role(user, roles)
        return user

    return _check


UserDep = Annotated[User, Depends(current_user)]
Reader = Annotated[User, Depends(requires(Role.planner, Role.analyst, Role.surveyor))]
Uploader = Annotated[User, Depends(requires(Role.surveyor))]
Admin = Annotated[User, Depends(requires(Role.admin))]


def public_or_reader(
    request: Request,
    engine: EngineDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User | None:
    """No user when ``ApiSettings.public_read`` is on (OGC clients, the map); else a reader."""
    if request.app.state.settings.public_read:
        return None
    user = authenticate(creds.credentials if creds else None, engine)
    require_role(user, (Role.planner, Role.analyst, Role.surveyor))
    return user


OpenReader = Annotated[User | None, Depends(public_or_reader)]
