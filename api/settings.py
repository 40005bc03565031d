"""HTTP-layer settings (pydantic-settings, prefix ``TUZHENG_API_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from spatial.settings import REPO_ROOT


class ApiSettings(BaseSettings):
    """Where to serve and what the pages link to."""

    model_config = SettingsConfigDict(env_prefix="TUZHENG_API_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    title: str = "土整 tuzheng"
    node_modules: Path = REPO_ROOT / "node_modules"
    features_default_limit: int = 100
    features_max_limit: int = 10000
    tianditu_key: str | None = None
    basemap_url: str | None = None
    """The bureau's intranet basemap tiles (``TUZHENG_API_BASEMAP_URL``): an XYZ template
    (``…/{z}/{x}/{y}.png``) or a WMTS KVP/REST template with ``{z}``, ``{x}``, ``{y}`` for
    TileMatrix, TileCol and TileRow in Web Mercator (GoogleMapsCompatible). Off by default."""
    basemap_attribution: str = "底图 basemap"
    public_read: bool = True
    """OGC API, tiles and the map are readable without a token (set False to require one)."""
    tile_cache_bytes: int = 256 * 1024 * 1024
    """Upper bound of the in-memory vector tile cache (bytes)."""
    max_body_bytes: int = 1024 * 1024
    """Largest request body of a route that takes no file (JSON, forms); larger ones get 413."""
    tile_connections: int = 8
    """Database connections rendering tiles at once (a fixed pool of the tile service)."""
    tile_warm_tiles: int = 2000
    """Tiles rendered ahead after a change (the projects' views); 0 turns warming off."""
