"""The app's ASGI middlewares, outermost first: security headers, body limits, cached tiles.

* :class:`SecurityHeaders` gives every response a Content-Security-Policy with a fresh nonce
  (``request.state.csp_nonce``; scripts run only from this origin or with that nonce, so an
  injected ``<script>`` or ``onerror=`` never runs), ``X-Content-Type-Options: nosniff``, and
  ``frame-ancestors 'none'`` (with ``X-Frame-Options: DENY`` for older browsers).
* :class:`BodyLimit` refuses a request body that is too large before and while it streams in
  (413): ``TUZHENG_API_MAX_BODY_BYTES`` for JSON and form routes, the upload limit for routes
  that take a file. A route that needs a signed-in user refuses an anonymous request, and
  checks a bearer token and its role, *before* any of the body is read (401/403): FastAPI
  parses bodies before it resolves dependencies, so otherwise an anonymous client could make
  the server read or spool a large body only to be refused.
* :class:`CachedTileMiddleware` answers public vector-tile reads before routing.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import anyio
from fastapi import params
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from spatial.errors import AuthenticationFailed, DomainError, TooLarge
from spatial.layers.registry import Registry
from spatial.layers.tilecache import CachedTile, TileService
from spatial.layers.tiles import parse_tile
from spatial.settings import IngestSettings

MULTIPART_ALLOWANCE = 64 * 1024
"""Bytes allowed on top of the file limit for multipart boundaries and form fields."""
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TIANDITU_HOSTS = "https://*.tianditu.gov.cn"
"""Image hosts of the optional Tianditu basemap (allowed only when a key is configured)."""


def basemap_origin(url: str | None) -> tuple[str, ...]:
    """The origin (scheme://host[:port]) of the configured intranet basemap, for img-src."""
    if not url:
        return ()
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ()
    host = parts.hostname.replace("{s}", "*")
    return (f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else ""),)


def csp_nonce(request: Request) -> str:
    """The Content-Security-Policy nonce of this response (for a page's inline scripts)."""
    return str(getattr(request.state, "csp_nonce", ""))


def content_security_policy(nonce: str, img_hosts: tuple[str, ...] = ()) -> str:
    """The policy: everything from this origin; scripts also with ``nonce``; no framing.

    Inline styles stay allowed (Leaflet and folium position elements with them); inline
    scripts and event-handler attributes do not.
    """
    img = " ".join(("'self'", "data:", "blob:", *img_hosts))
    return (
        "default-src 'self'; "
        f"script-src 'self' 'nonce-{nonce}'; "
        "style-src 'self' 'unsafe-inline'; "
        f"img-src {img}; "
        "connect-src 'self'; "
        "font-src 'self' data:; "
        "worker-src 'self' blob:; "
        "object-src 'none'; "
        "base-uri 'none'; "
        "form-action 'self'; "
        "frame-ancestors 'none'"
    )


NO_CONTENT_POLICY = b"default-src 'none'; frame-ancestors 'none'"
"""The policy of every response that is not an HTML page (JSON, tiles): nothing may run."""
_STATIC_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


class _Nonce:
    """A response's CSP nonce, drawn the first time a page asks for it."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value: str | None = None

    def __str__(self) -> str:
        if self.value is None:
            self.value = secrets.token_urlsafe(18)
        return self.value


class SecurityHeaders:
    """Adds the Content-Security-Policy (with a per-response nonce) and related headers.

    HTML pages get :func:`content_security_policy` with the response's nonce; every other
    response (JSON, tiles, files) gets :data:`NO_CONTENT_POLICY`. The nonce is drawn only for
    pages, so the hot tile path pays for two static headers and nothing else.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Set ``scope["state"]["csp_nonce"]`` and the headers of the response."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = _Nonce()
        scope.setdefault("state", {})["csp_nonce"] = nonce

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if message.get("status") == 405:
                    headers = _allow_every_method(scope, headers)
                ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if nonce.value is not None or ctype.startswith(b"text/html"):
                    settings = getattr(scope["app"].state, "settings", None)
                    hosts: tuple[str, ...] = (
                        (TIANDITU_HOSTS,) if getattr(settings, "tianditu_key", None) else ()
                    )
                    hosts += basemap_origin(getattr(settings, "basemap_url", None))
                    policy = content_security_policy(str(nonce), hosts).encode()
                else:
                    policy = NO_CONTENT_POLICY
                names = {k.lower() for k, _ in headers}
                extra = [(b"content-security-policy", policy), *_STATIC_HEADERS]
                message["headers"] = headers + [(k, v) for k, v in extra if k not in names]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _allow_every_method(
    scope: Scope, headers: list[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    """A 405's ``Allow`` listing every method of the path (routing names only the first route's
    when two routers serve one path, e.g. ``GET /users`` and ``POST /users``)."""
    from api.openapi import allowed_methods

    app = scope.get("app")
    try:
        methods = allowed_methods(app.openapi(), scope["path"]) if app is not None else []
    except Exception:  # noqa: BLE001 - keep the router's header rather than fail the response
        return headers
    if not methods:
        return headers
    kept = [(k, v) for k, v in headers if k.lower() != b"allow"]
    return kept + [(b"allow", ", ".join(methods).encode())]


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once a body passes its limit (an HTTPException, so FastAPI's
    body parsing re-raises it instead of answering 400); answered 413 by ``api.errors``."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413)
        self.limit = limit


def too_large(limit: int) -> TooLarge:
    """The 413 error for a body over ``limit`` bytes."""
    return TooLarge(
        f"请求内容超过上限 {limit} 字节", f"the request body exceeds the limit of {limit} bytes"
    )


def takes_file(route: APIRoute) -> bool:
    """Whether the route's body holds a file (multipart upload)."""
    return any(isinstance(f.field_info, params.File) for f in route.dependant.body_params)


def auth_requirement(route: APIRoute) -> tuple[bool, tuple[Any, ...]]:
    """(needs a signed-in user, roles any of which it needs) from the route's dependencies.

    A route needs a user when :func:`api.deps.current_user` is among its dependencies; the
    roles come from :func:`api.deps.requires` (empty: any user).
    """
    from api.deps import current_user

    needs = False
    roles: tuple[Any, ...] = ()
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if dep.call is current_user:
            needs = True
        roles = roles or tuple(getattr(dep.call, "tz_roles", ()))
        stack.extend(dep.dependencies)
    return needs, roles


class RefusedBeforeBody(HTTPException):
    """Raised from the first ``receive`` to refuse a request before its body is read."""

    def __init__(self, error: DomainError) -> None:
        super().__init__(status_code=400)
        self.error = error


class BodyLimit:
    """Caps every request body and authenticates before reading one (see module docstring).

    The decision is taken at the app's first ``receive`` call, which comes after routing (so
    ``scope["route"]`` names the route) and before any byte of the body is handed over.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._routes: dict[int, tuple[bool, bool, tuple[Any, ...]]] = {}

    def _facts(self, route: Any) -> tuple[bool, bool, tuple[Any, ...]]:
        if not isinstance(route, APIRoute):
            return False, False, ()
        key = id(route)
        if key not in self._routes:
            self._routes[key] = (takes_file(route), *auth_requirement(route))
        return self._routes[key]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on with a ``receive`` that checks, then counts, the body."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        allowed = -1
        limit = 0
        received = 0

        async def guarded_receive() -> Message:
            nonlocal allowed, limit, received
            if allowed < 0:
                limit, allowed = await self._check(scope)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > allowed:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, guarded_receive, send)

    async def _check(self, scope: Scope) -> tuple[int, int]:
        """(limit, bytes allowed) for this request; raises to refuse it before its body."""
        upload, needs_user, roles = self._facts(scope.get("route"))
        if upload:
            state = scope["app"].state
            limit = getattr(state, "ingest_settings", None) or IngestSettings()
            limit = limit.max_upload_bytes
            allowed = limit + MULTIPART_ALLOWANCE
        else:
            limit = allowed = scope["app"].state.settings.max_body_bytes
        declared = dict(scope["headers"]).get(b"content-length", b"").decode("latin-1")
        if declared.isdigit() and int(declared) > allowed:
            raise BodyTooLarge(limit)
        if needs_user and scope["method"] not in SAFE_METHODS:
            refusal = await _refusal_before_body(Request(scope), roles, upload)
            if refusal is not None:
                raise RefusedBeforeBody(refusal)
        return limit, allowed


async def _refusal_before_body(
    request: Request, roles: tuple[Any, ...], upload: bool
) -> DomainError | None:
    """The 401/403 for a request that cannot be allowed, decided from its headers alone.

    Without a bearer token or a session cookie: 401. A bearer token, or a session with its
    CSRF token in the ``X-CSRF-Token`` header, is checked with the route's roles. A session
    without that header is refused for uploads (their CSRF token must come in the header) and
    otherwise left to the route's dependency, which finds the token in the form (the body is
    capped meanwhile).
    """
    from api.deps import CSRF_HEADER, SESSION_COOKIE, authenticate_request, bearer_token
    from spatial.users import require_role

    token = bearer_token(request)
    if token is None and not request.cookies.get(SESSION_COOKIE):
        return AuthenticationFailed("缺少访问令牌或登录", "missing API token or sign-in")
    csrf = request.headers.get(CSRF_HEADER)
    if token is None and csrf is None and not upload:
        return None
    engine = request.app.state.engine

    def check() -> None:
        user = authenticate_request(request, engine, csrf)
        if roles:
            require_role(user, roles)

    try:
        await run_in_threadpool(check)
    except DomainError as exc:
        return exc
    return None


# --- vector tiles, before routing ---------------------------------------------------------


class CachedTileMiddleware:
    """The hot path of public tile reads, before routing and dependency resolution.

    A cache hit is answered straight from the ASGI scope; a miss is rendered with one hop to
    the thread pool. Anything unusual (token-protected reads, unknown collections, invalid
    z/x/y, database errors) passes on to the route, which answers it the normal way.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a public tile, or pass the request on unchanged."""
        from api.routers.tiles import TILE_PATH

        if scope["type"] == "http" and scope["method"] == "GET":
            m = TILE_PATH.match(scope["path"])
            app = scope.get("app")
            service: TileService | None = getattr(getattr(app, "state", None), "tiles", None)
            if m and service is not None and app is not None and app.state.settings.public_read:
                tile = service.cache.get(m[1], int(m[2]), int(m[3]), int(m[4]))
                hit = tile is not None
                if tile is None:
                    tile = await self._render(app.state.registry, service, *m.groups())
                if tile is not None:
                    await self._send(scope, send, tile, hit)
                    return
        await self.app(scope, receive, send)

    @staticmethod
    async def _render(
        registry: Registry, service: TileService, cid: str, z: str, x: str, y: str
    ) -> CachedTile | None:
        try:
            col = registry.get(cid)
            addr = parse_tile(z, x, y)
        except DomainError:
            return None  # the route answers with the error
        try:
            tile, _ = await anyio.to_thread.run_sync(service.tile, col, addr)
        except Exception:  # noqa: BLE001 - e.g. the database is down: the route answers 503
            return None
        return tile

    @staticmethod
    async def _send(scope: Scope, send: Send, tile: CachedTile, hit: bool) -> None:
        from api.routers.tiles import tile_response

        req = dict(scope["headers"])
        inm = req.get(b"if-none-match")
        status, headers, body = tile_response(
            tile,
            hit,
            req.get(b"accept-encoding", b"").decode("latin-1"),
            inm.decode("latin-1") if inm is not None else None,
        )
        raw = [(k.encode(), v.encode()) for k, v in headers]
        if status == 200:
            raw.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})


MIDDLEWARES: list[Callable[..., Any]] = [CachedTileMiddleware, BodyLimit, SecurityHeaders]
"""Innermost first, the order ``create_app`` adds them in."""
