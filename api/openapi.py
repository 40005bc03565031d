"""The OpenAPI document says what each route can answer, and which routes need a token.

FastAPI documents the success response and its own 422. :func:`install` adds, to every
operation, the error responses the app gives (all with the one JSON error body, ``Error``):

* 400 bad request (a parameter or body the domain refuses), for operations with parameters
  or a body;
* 401 and 403 for operations that need a signed-in user (no or an invalid token; a role that
  may not, or a browser session without its CSRF token);
* 404 for operations with path parameters; 409 (the request conflicts with the data, e.g. a
  date past the working calendar) for operations with parameters or a body; 413 for
  operations with a body;
* 503 for every operation (the database cannot be reached; with ``Retry-After``).

Public reads (OGC API, tiles) declare no security requirement while
``TUZHENG_API_PUBLIC_READ`` is on, and a bearer token when it is off.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api import oas30
from api.deps import PUBLIC_READ_SCHEME

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "description": "错误 Error: a code and the message in Chinese and English",
    "required": ["code", "message_zh", "message_en"],
    "properties": {
        "code": {"type": "string", "examples": ["bad_request"]},
        "message_zh": {"type": "string"},
        "message_en": {"type": "string"},
    },
    "additionalProperties": True,
}
DESCRIPTIONS = {
    "400": "请求参数有误 Bad request",
    "401": "缺少或无效的访问令牌 Missing or invalid token",
    "403": "无权执行 Not allowed for this role (or no CSRF token with a browser session)",
    "404": "不存在 Not found",
    "409": "与现有数据冲突 Conflict with the current data",
    "413": "请求内容过大 Request body too large",
    "422": "内容无效 Invalid content",
    "429": "尝试次数过多 Too many attempts",
    "503": "数据库暂时无法连接 Database unavailable; retry after Retry-After seconds",
}
_BODY_METHODS = {"post", "put", "patch"}
_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def _error(status: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "description": DESCRIPTIONS[status],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if status == "503":
        out["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
    return out


def statuses(method: str, op: dict[str, Any]) -> list[str]:
    """The error statuses an operation can answer, from what the document says about it."""
    params = op.get("parameters", [])
    body = "requestBody" in op or method in _BODY_METHODS
    out = ["503"]
    if params or body:
        out.append("400")
    if op.get("security"):
        out += ["401", "403"]
    if any(p.get("in") == "path" for p in params):
        out.append("404")
    if params or body:
        out.append("409")
    if body:
        out.append("413")
    return out


def document(schema: dict[str, Any], public_read: bool) -> dict[str, Any]:
    """Add the error responses and fix the public reads' security in an OpenAPI document."""
    components = schema.setdefault("components", {})
    components.setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    schemes = components.get("securitySchemes", {})
    if PUBLIC_READ_SCHEME in schemes:
        schemes.setdefault("HTTPBearer", schemes[PUBLIC_READ_SCHEME])
        del schemes[PUBLIC_READ_SCHEME]
    for path_item in schema.get("paths", {}).values():
        for method, op in path_item.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            security = op.get("security") or []
            if any(PUBLIC_READ_SCHEME in req for req in security):
                if public_read:
                    op.pop("security", None)
                else:
                    op["security"] = [{"HTTPBearer": []}]
            for status in statuses(method, op):
                op["responses"].setdefault(status, _error(status))
            if op["responses"].get("422", {}).get("description") == "Validation Error":
                op["responses"]["422"]["description"] = DESCRIPTIONS["422"]
    return schema


def allowed_methods(schema: dict[str, Any], path: str) -> list[str]:
    """The methods the document lists for the path template matching ``path``."""
    for template, item in schema.get("paths", {}).items():
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            return sorted(m.upper() for m in item if m in _METHODS)
    return []


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` return the documented schema (built once)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=app.routes,
            )
            schema = document(schema, app.state.settings.public_read)
            # The OGC parameters, a path per collection, and the 3.0 dialect (the server
            # declares the oas30 conformance class): api.oas30.
            oas30.add_ogc_parameters(schema, app.state.settings, app.state.registry)
            app.openapi_schema = oas30.to_openapi30(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
