"""Application factory: ``create_app(settings)`` builds the FastAPI app; nothing at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api import errors, openapi, pages
from api.middleware import MIDDLEWARES
from api.progress import ProgressBoard
from api.routers import (
    audit,
    budget,
    calendar,
    features,
    health,
    landing,
    login,
    mapdata,
    procedure,
    procedure_pages,
    projects,
    siting,
    tiles,
    uploads,
    users,
    web,
    workbench,
)
from api.settings import ApiSettings
from spatial.db import get_engine
from spatial.layers.registry import Registry, build_registry
from spatial.layers.tilecache import TileService
from spatial.settings import DatabaseSettings, IngestSettings, SessionSettings

VENDOR_DIRS = {
    "leaflet": "leaflet/dist",
    "leaflet.vectorgrid": "leaflet.vectorgrid/dist",
    "swagger-ui-dist": "swagger-ui-dist",
    "redoc": "redoc/bundles",
    "leaflet-geoman": "@geoman-io/leaflet-geoman-free/dist",
}


def create_app(
    settings: ApiSettings | None = None,
    db_settings: DatabaseSettings | None = None,
    registry: Registry | None = None,
    ingest_settings: IngestSettings | None = None,
) -> FastAPI:
    """Build the tuzheng app for the given settings (tests pass their own).

    Settings are read once, here (or passed in), and kept on ``app.state`` for the app's
    lifetime; no request reads the environment again.

    ``registry`` defaults to :func:`~spatial.layers.registry.build_registry`: every declared
    layer and the analysis layers, fixed for the app's lifetime (``app.state.registry``).
    """
    settings = settings or ApiSettings()
    db_settings = db_settings or DatabaseSettings()
    ingest_settings = ingest_settings or IngestSettings()
    layers = registry if registry is not None else build_registry()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.engine = get_engine(db_settings.url())
        app.state.tiles = TileService(
            app.state.engine,
            layers,
            settings.tile_cache_bytes,
            settings.tile_connections,
            settings.tile_warm_tiles,
        )
        app.state.tiles.start()
        try:
            yield
        finally:
            app.state.tiles.stop()

    # Swagger UI and ReDoc are served from npm packages by api.routers.landing, not FastAPI's
    # CDN pages; the OpenAPI document is 3.0 (the oas30 conformance class), see api.openapi.
    app = FastAPI(
        title=settings.title,
        version="0.1.0",
        description="土整 tuzheng: OGC API – Features (Part 1–3), vector tiles, project review "
        "and uploads for Shenzhen land readiness.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.ingest_settings = ingest_settings
    app.state.session_settings = SessionSettings()
    app.state.registry = layers
    app.state.progress = ProgressBoard()
    app.state.db_settings = db_settings
    errors.register(app)
    openapi.install(app)
    pages.register(app)
    for name, sub in VENDOR_DIRS.items():
        path = settings.node_modules / sub
        if path.is_dir():
            app.mount(f"/vendor/{name}", StaticFiles(directory=path), name=f"vendor-{name}")
    app.include_router(landing.router)
    app.include_router(health.router)
    app.include_router(login.router)
    app.include_router(workbench.router)
    app.include_router(users.router)
    app.include_router(audit.router)
    app.include_router(projects.router)
    app.include_router(uploads.router)
    app.include_router(calendar.router)
    app.include_router(procedure.router)
    app.include_router(budget.router)
    app.include_router(procedure_pages.router)
    app.include_router(siting.router)
    app.include_router(mapdata.router)
    app.include_router(web.router)
    app.include_router(features.router)
    app.include_router(tiles.router)
    for middleware in MIDDLEWARES:
        app.add_middleware(middleware)
    return app


def app_factory() -> FastAPI:
    """Entry point for ``uvicorn --factory api.app:app_factory``."""
    return create_app()
