"""Typed FastAPI dependencies: the engine, the current user, role checks.

One resolution of "who is asking" for every route (:func:`authenticate_request`):

* ``Authorization: Bearer <token>``: an API token (scripts, QGIS). Not ambient, so no CSRF
  token is needed;
* otherwise the ``tz_session`` cookie of a browser that signed in at ``/login``. Every request
  with an unsafe method (POST, PUT, PATCH, DELETE) made with a session must carry the session's
  CSRF token, in the ``X-CSRF-Token`` header or a ``csrf_token`` form field (synchronizer
  token pattern); without it the request is refused with 403 ``csrf_failed`` before anything
  is done.

Role rules are the same for both (:func:`spatial.users.require_role`).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from spatial.errors import AuthenticationFailed, CsrfFailed
from spatial.layers.registry import Collection, Registry
from spatial.models import Role, User
from spatial.sessions import SessionUser, resolve_session
from spatial.settings import IngestSettings
from spatial.users import authenticate, require_role

PUBLIC_READ_SCHEME = "PublicReadBearer"
SESSION_COOKIE = "tz_session"
"""Name of the HTTP-only session cookie."""
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

_bearer = HTTPBearer(auto_error=False)
_public_bearer = HTTPBearer(auto_error=False, scheme_name=PUBLIC_READ_SCHEME)
"""The token of a public read: api/openapi.py declares it only when public_read is off."""


def get_engine_dep(request: Request) -> Engine:
    """The engine opened by the app's lifespan."""
    return request.app.state.engine  # type: ignore[no-any-return]


EngineDep = Annotated[Engine, Depends(get_engine_dep)]


def get_registry(request: Request) -> Registry:
    """The layer registry the app was built with (collections and their schemas)."""
    return request.app.state.registry  # type: ignore[no-any-return]


RegistryDep = Annotated[Registry, Depends(get_registry)]


def get_collection(collectionId: str, registry: RegistryDep) -> Collection:  # noqa: N803
    """The collection of the ``{collectionId}`` path segment (404 for an unknown one).

    ``collectionId`` is the OGC path template's name, which GDAL and QGIS look for.
    """
    return registry.get(collectionId)


CollectionDep = Annotated[Collection, Depends(get_collection)]


def get_ingest_settings(request: Request) -> IngestSettings:
    """The upload limits the app was built with (read once, at start-up)."""
    return request.app.state.ingest_settings  # type: ignore[no-any-return]


IngestSettingsDep = Annotated[IngestSettings, Depends(get_ingest_settings)]


def bearer_token(request: Request) -> str | None:
    """The bearer token of the request's ``Authorization`` header, if any."""
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return None


def session_of(request: Request, engine: Engine) -> SessionUser | None:
    """The live session of the request's cookie (cached on the request), or None."""
    if not hasattr(request.state, "tz_session"):
        cookie = request.cookies.get(SESSION_COOKIE)
        settings = request.app.state.session_settings
        request.state.tz_session = resolve_session(engine, cookie, settings) if cookie else None
    return request.state.tz_session  # type: ignore[no-any-return]


def session_user(su: SessionUser) -> User:
    """A detached :class:`User` for a session's user."""
    return User(id=su.user_id, name=su.name, role=su.role, active=True)


def check_csrf(su: SessionUser, submitted: str | None) -> None:
    """Raise CsrfFailed unless ``submitted`` is the session's CSRF token."""
    if not submitted or not hmac.compare_digest(submitted.encode(), su.csrf_token.encode()):
        raise CsrfFailed(
            "请求缺少有效的 CSRF 令牌（请从页面提交，或刷新页面后重试）",
            "the request lacks a valid CSRF token (submit it from the page, or reload the "
            "page and retry)",
        )


def authenticate_request(
    request: Request, engine: Engine, submitted_csrf: str | None = None
) -> User:
    """The user behind a request: bearer token first, else the session cookie (+ CSRF).

    Raises AuthenticationFailed (401) without valid credentials and CsrfFailed (403) for an
    unsafe request made with a session but without its CSRF token.
    """
    token = bearer_token(request)
    if token is not None:
        return authenticate(token, engine)
    su = session_of(request, engine)
    if su is None:
        if request.cookies.get(SESSION_COOKIE):
            raise AuthenticationFailed(
                "登录已过期，请重新登录", "the session has expired; sign in again"
            )
        raise AuthenticationFailed("缺少访问令牌或登录", "missing API token or sign-in")
    if request.method not in SAFE_METHODS:
        check_csrf(su, submitted_csrf)
    return session_user(su)


async def submitted_csrf(request: Request) -> str | None:
    """The CSRF token sent with an unsafe request: header, else the form's ``csrf_token``."""
    if request.method in SAFE_METHODS:
        return None
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    if bearer_token(request) is None and request.cookies.get(SESSION_COOKIE):
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(_FORM_TYPES):
            form = await request.form()  # cached: FastAPI's own form parameters reuse it
            value = form.get(CSRF_FIELD)
            return value if isinstance(value, str) else None
    return None


async def current_user(
    request: Request,
    engine: EngineDep,
    csrf: Annotated[str | None, Depends(submitted_csrf)],
    _creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    """The user of the bearer token or browser session (401 without; 403 without CSRF)."""
    return await run_in_threadpool(authenticate_request, request, engine, csrf)


def requires(*roles: Role) -> Callable[..., Awaitable[User]]:
    """Dependency factory: the current user, who must hold one of ``roles`` (or admin)."""

    async def _check(user: Annotated[User, Depends(current_user)]) -> User:
        require_role(user, roles)
        return user

    _check.tz_roles = roles  # type: ignore[attr-defined]  # read by api.middleware.BodyLimit
    return _check


UserDep = Annotated[User, Depends(current_user)]
Reader = Annotated[User, Depends(requires(Role.planner, Role.analyst, Role.surveyor))]
Uploader = Annotated[User, Depends(requires(Role.surveyor))]
Admin = Annotated[User, Depends(requires(Role.admin))]


def public_or_reader(
    request: Request,
    engine: EngineDep,
    _creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_public_bearer)],
) -> User | None:
    """No user when ``ApiSettings.public_read`` is on (OGC clients, the map); else a reader."""
    if request.app.state.settings.public_read:
        return None
    user = authenticate_request(request, engine)
    require_role(user, (Role.planner, Role.analyst, Role.surveyor))
    return user


OpenReader = Annotated[User | None, Depends(public_or_reader)]
