"""The landing page (``/``), the API documentation pages and the favicon.

``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) come from the npm packages ``swagger-ui-dist`` and
``redoc`` in ``node_modules`` (mounted under ``/vendor``), started by a static script: no CDN,
no web font, no inline script.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from api.deps import EngineDep, RegistryDep
from api.ogc_params import FormatParam, OgcRoute
from api.pages import HERE, render, templates
from api.routers.features import wants_html

router = APIRouter(tags=["OGC API Features"], route_class=OgcRoute)

_OPENAPI = {"openapi_url": "/openapi.json"}
GDAL_PAGE_SIZE = 1000
"""The ``PAGE_SIZE`` we advise for GDAL's OAPIF driver (its default is 10 features a request)."""


@router.get("/", include_in_schema=False)
def landing(
    request: Request,
    engine: EngineDep,
    registry: RegistryDep,
    f: FormatParam = None,
) -> Response:
    """Landing page: HTML for browsers, JSON for ``?f=json`` or ``Accept: application/json``."""
    base = str(request.base_url).rstrip("/")
    accept = request.headers.get("accept", "")
    html = wants_html(request, f) if f is not None else "json" not in accept or "html" in accept
    if html:
        context = {"collections": list(registry), "base": base, "page_size": GDAL_PAGE_SIZE}
        return render(request, "landing.html", context)
    return JSONResponse(
        {
            "title": "土整 tuzheng",
            "description": "深圳土地整备 GIS 工作台 / GIS workbench for Shenzhen land readiness. "
            f"GDAL: use -oo PAGE_SIZE={GDAL_PAGE_SIZE} (GDAL asks for 10 features a page).",
            "links": [
                {"href": f"{base}/?f=json", "rel": "self", "type": "application/json"},
                {"href": f"{base}/?f=html", "rel": "alternate", "type": "text/html"},
                {
                    "href": f"{base}/openapi.json",
                    "rel": "service-desc",
                    "type": "application/vnd.oai.openapi+json;version=3.0",
                },
                {"href": f"{base}/docs", "rel": "service-doc", "type": "text/html"},
                {"href": f"{base}/conformance", "rel": "conformance", "type": "application/json"},
                {"href": f"{base}/collections", "rel": "data", "type": "application/json"},
                {"href": f"{base}/map", "rel": "alternate", "type": "text/html"},
            ],
        }
    )


@router.get("/docs", include_in_schema=False)
def swagger_ui(request: Request) -> Response:
    """Swagger UI on ``/openapi.json``, from the ``swagger-ui-dist`` npm package."""
    context = {"kind": "swagger", "title": "土整 tuzheng · 接口文档 API docs"}
    return templates.TemplateResponse(request, "docs.html", {**context, **_OPENAPI})


@router.get("/redoc", include_in_schema=False)
def redoc(request: Request) -> Response:
    """ReDoc on ``/openapi.json``, from the ``redoc`` npm package."""
    context = {"kind": "redoc", "title": "土整 tuzheng · 接口文档 ReDoc"}
    return templates.TemplateResponse(request, "docs.html", {**context, **_OPENAPI})


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> FileResponse:
    """The site icon (SVG)."""
    return FileResponse(HERE / "static" / "favicon.svg", media_type="image/svg+xml")
