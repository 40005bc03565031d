"""Sign-in and sign-out for browsers: ``GET/POST /login``, ``POST /logout``, ``/workbench``.

``POST /login`` checks the password (:func:`spatial.users.login`), starts a server-side session
(:mod:`spatial.sessions`) and sets it in the ``tz_session`` cookie: ``HttpOnly``,
``SameSite=Lax``, ``Secure`` when the request came over https, ``Path=/``. The sign-in form
itself is protected against login CSRF by a double-submit token (a random ``tz_login_csrf``
cookie that the form must repeat). A new session replaces any session the browser had
(no session fixation). ``POST /logout`` needs the session's CSRF token like every other
mutating request.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import SESSION_COOKIE, EngineDep, UserDep
from api.pages import NAV, PageUser, render, safe_next
from spatial.errors import AuthenticationFailed, RateLimited
from spatial.sessions import end_session, start_session
from spatial.users import login as check_login

router = APIRouter(tags=["login"], include_in_schema=False)

LOGIN_CSRF_COOKIE = "tz_login_csrf"


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _login_page(
    request: Request, next_url: str, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    resp = render(
        request,
        "login.html",
        {"next": next_url, "login_csrf": token, "error": error},
        status_code=status_code,
    )
    resp.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/login",
        max_age=3600,
    )
    return resp


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, engine: EngineDep, next: str | None = None) -> Response:
    """The sign-in page (or straight on to ``next`` when already signed in)."""
    from api.deps import session_of

    target = safe_next(next)
    if session_of(request, engine) is not None:
        return RedirectResponse(target, status_code=303)
    return _login_page(request, target)


@router.post("/login", response_class=HTMLResponse)
def login_submit(
    request: Request,
    engine: EngineDep,
    name: Annotated[str, Form(max_length=100)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    login_csrf: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/workbench",
) -> Response:
    """Check the password; on success start a session and go to ``next`` (303)."""
    target = safe_next(next)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), login_csrf.encode()):
        return _login_page(
            request, target, "登录表单已过期，请重新输入 / the form expired; sign in again", 403
        )
    try:
        user = check_login(name, password, engine, request.app.state.session_settings)
    except RateLimited as exc:
        return _login_page(request, target, f"{exc.message_zh} / {exc.message_en}", 429)
    except AuthenticationFailed as exc:
        return _login_page(request, target, f"{exc.message_zh} / {exc.message_en}", 401)
    end_session(engine, request.cookies.get(SESSION_COOKIE))
    settings = request.app.state.session_settings
    token = start_session(engine, user.id, settings)
    resp = RedirectResponse(target, status_code=303)
    resp.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/",
        max_age=int(settings.max_hours * 3600),
    )
    resp.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return resp


@router.post("/logout")
def logout(request: Request, engine: EngineDep, user: UserDep) -> Response:
    """End the browser's session (needs its CSRF token) and go back to the sign-in page."""
    end_session(engine, request.cookies.get(SESSION_COOKIE))
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return resp


@router.get("/workbench", response_class=HTMLResponse)
def workbench_home(request: Request, su: PageUser) -> HTMLResponse:
    """The signed-in user's start page: what their role may do here."""
    links = [n for n in NAV if n.roles is None or su.role in n.roles]
    return render(request, "workbench.html", {"links": links}, user=su)
