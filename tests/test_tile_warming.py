"""Warming the tile cache after a change (spatial.layers.tilewarm), through the app."""

from __future__ import annotations

import threading
import time

import layers_data
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app
from api.settings import ApiSettings
from spatial.layers.tilewarm import EXTENTS_SQL, fit_zoom, tiles_of, warm_plan
from spatial.models import Layer


def wait_for(condition, what: str) -> None:  # noqa: ANN001
    """Wait until ``condition()`` holds (an event, not a timing assertion)."""
    done = threading.Event()
    deadline = time.monotonic() + 60
    while not done.is_set():
        if condition():
            done.set()
        assert time.monotonic() < deadline, f"{what} did not happen"
        done.wait(0.05)


def url(col: str, t) -> str:  # noqa: ANN001
    return f"/tiles/{col}/{t.z}/{t.x}/{t.y}.pbf"


def test_plan_fits_the_views_the_map_opens_on():
    # a 1 km square (EPSG:3857 m) is 419 pixels wide at z16 and 838 at z17: the window
    # (1280×800) takes it at z16, as Leaflet's fitBounds does
    box = (12_680_000.0, 2_580_000.0, 12_681_000.0, 2_581_000.0)
    assert fit_zoom(*box) == 16
    plan = warm_plan([box])
    assert plan[: len(tiles_of(box, 16))] == tiles_of(box, 16)  # the whole view (one project)
    assert set(tiles_of(box, 15)) <= set(plan) and len(plan) == len(set(plan))


def test_a_publish_warms_the_project_views_in_the_background(db):
    layers_data.load_small(db.engine)
    with db.engine.connect() as conn:
        extents = [tuple(r) for r in conn.execute(text(EXTENTS_SQL))]
    plan = warm_plan(extents)
    settings = ApiSettings(tile_warm_tiles=500)
    with TestClient(create_app(settings, db_settings=db.settings)) as client:
        tiles = client.app.state.tiles
        cache, warmer = tiles.cache, tiles.warmer
        # the listener's first reset drops everything: warmed at start
        wait_for(lambda: warmer.runs >= 1 and warmer.idle, "the warm-up at start")
        for t in plan:
            for col in ("parcels", "retained_land", "projects", "reserve_overlaps"):
                assert cache.peek(col, t.z, t.x, t.y), (col, t)
        assert not cache.peek("statutory_plans", plan[0].z, plan[0].x, plan[0].y)
        assert cache.stats()["misses"] == 0  # warming is not a miss
        with_sites = [t for t in plan if client.get(url("retained_land", t)).status_code == 200]
        assert with_sites
        t = with_sites[0]
        first = client.get(url("retained_land", t))
        assert first.headers["x-tile-cache"] == "hit"
        assert "改名" not in first.content.decode("utf-8", "replace")

        # a new retained-land version: its collections are dropped, then warmed again
        runs = warmer.runs
        sites = [dict(r, name="改名") for r in layers_data.LAYERS[Layer.retained_land]]
        layers_data.load_layer(db.engine, Layer.retained_land, sites)
        wait_for(lambda: warmer.runs > runs and warmer.idle, "the warm-up after the publish")
        again = client.get(url("retained_land", t))
        assert again.headers["x-tile-cache"] == "hit"
        assert again.headers["etag"] != first.headers["etag"]
        assert "改名" in again.content.decode("utf-8", "replace")  # the new names, warmed


def test_warming_is_bounded(db):
    layers_data.load_small(db.engine)
    settings = ApiSettings(tile_warm_tiles=3)
    with TestClient(create_app(settings, db_settings=db.settings)) as client:
        warmer = client.app.state.tiles.warmer
        wait_for(lambda: warmer.runs >= 1 and warmer.idle, "the warm-up at start")
        assert warmer.rendered == 3


def test_warming_waits_while_live_requests_render(db):
    from spatial.layers.registry import build_registry
    from spatial.layers.tilecache import TileCache
    from spatial.layers.tilewarm import TileWarmer

    layers_data.load_small(db.engine)
    cols = list(build_registry())
    cache = TileCache({c.id: c.depends_on for c in cols}, 1 << 26)
    cache.listening = True
    live = threading.Event()
    live.set()  # a live request is rendering
    asked = []

    def busy() -> bool:
        asked.append(1)
        return live.is_set()

    conninfo = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    warmer = TileWarmer(conninfo, cache, cols, busy, 50, {"parcels"})
    warmer.start()
    try:
        warmer.changed({"parcels"})
        wait_for(lambda: len(asked) >= 5, "the warmer to ask whether live requests render")
        assert warmer.rendered == 0  # it asked five times, and rendered nothing meanwhile
        live.clear()
        wait_for(lambda: warmer.idle, "the warm-up to finish")
        assert warmer.rendered > 0
    finally:
        warmer.stop()
