"""The planners' web map: offline page content, and headless Chromium on the demo district."""

from __future__ import annotations

import io
import json
import re
from urllib.parse import urlparse

import cdp
import layers_data
import numpy as np
import pytest
from PIL import Image
from sqlalchemy import text

from spatial.categories import COLOURS, OwnershipCategory
from spatial.settings import REPO_ROOT

small_db = layers_data.small_db
small_client = layers_data.small_client
ARTIFACTS = REPO_ROOT / "artifacts"


def _config(page: str) -> dict:
    block = re.search(
        r'<script type="application/json" id="tz-map-config"[^>]*>(.*?)</script>', page, re.S
    )
    assert block, "no config block"
    return json.loads(block.group(1))


def test_map_page_is_offline_and_lists_every_layer(small_client):
    r = small_client.get("/map")
    assert r.status_code == 200
    page = r.text
    assert not re.findall(r"https?://(?!127\.0\.0\.1)[^\s\"'<>]+", page)
    assets = set(re.findall(r'(?:src|href)="(/(?:vendor|static)/[^"]+)"', page))
    assert assets == {
        "/vendor/leaflet/leaflet.js",
        "/vendor/leaflet/leaflet.css",
        "/vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js",
        "/vendor/leaflet-geoman/leaflet-geoman.min.js",
        "/vendor/leaflet-geoman/leaflet-geoman.css",
        "/static/workbench.css",
        "/static/map.css",
        "/static/js/tz.js",
        "/static/js/map.js",
    }
    for asset in assets:
        assert small_client.get(asset).status_code == 200, asset
    # no inline script: only the JSON data block and files of this origin
    for tag in re.findall(r"<script[^>]*>", page):
        assert 'type="application/json"' in tag or re.search(r'src="/', tag), tag
    assert "onclick=" not in page and "onload=" not in page
    cfg = _config(page)
    titles = [layer["title"] for layer in cfg["layers"]]
    for title in [
        "宗地 Parcels",
        "整备项目范围 Land readiness projects",
        "留用土地 Retained land",
        "国有储备土地 State reserve land",
        "法定图则 Statutory plan zones",
        "留用土地占用国有储备土地 Retained land on state reserve land",
        "法定图则未覆盖部分 Parts not covered by statutory plans",
        "用途与法定图则冲突 Planned use conflicts with the zoning",
    ]:
        assert title in titles, title
    parcels = next(layer for layer in cfg["layers"] if layer["id"] == "parcels")
    assert parcels["url"] == "/tiles/parcels/{z}/{x}/{y}.pbf"
    assert {"code": "P1", "name": "光明科学城启动区"} == {
        k: cfg["projects"][0][k] for k in ("code", "name")
    }
    legend = {item["label"]: item["colour"] for sec in cfg["legend"] for item in sec["items"]}
    for cat in OwnershipCategory:
        assert legend[cat.label_zh] == COLOURS[cat]
    assert "区政府审批（≤3000 m²）" in legend and "报市规划国土部门（>3000 m²）" in legend
    retained = next(layer for layer in cfg["layers"] if layer["id"] == "retained_land")
    assert ["route_zh", "审批路径"] in retained["fields"]  # popup field of the review result
    assert cfg["landUse"]["R2"] == "二类居住用地" and cfg["landUse"]["M0"] == "新型产业用地"
    assert cfg["basemap"] is None and "未配置底图" in page
    assert "tianditu" not in page


def test_basemap_slot_xyz_and_wmts(small_client):
    settings = small_client.app.state.settings
    try:
        settings.basemap_url = "http://127.0.0.1:9/tiles/{z}/{x}/{y}.png"
        cfg = _config(small_client.get("/map").text)
        assert cfg["basemap"]["url"] == settings.basemap_url and cfg["basemap"]["kind"] == "xyz"
        settings.basemap_url = (
            "http://127.0.0.1:9/wmts?SERVICE=WMTS&REQUEST=GetTile&LAYER=vec"
            "&TILEMATRIXSET=GoogleMapsCompatible&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}"
        )
        r = small_client.get("/map")
        assert _config(r.text)["basemap"]["kind"] == "wmts"
        # the page may load the intranet tiles: their origin is in the CSP's img-src
        img_src = next(d for d in r.headers["content-security-policy"].split(";") if "img-src" in d)
        assert "http://127.0.0.1:9" in img_src.split()
    finally:
        settings.basemap_url = None


def test_tianditu_basemap_only_with_a_key(small_client):
    settings = small_client.app.state.settings
    settings.tianditu_key = "k123"
    try:
        page = small_client.get("/map").text
    finally:
        settings.tianditu_key = None
    assert "tianditu.gov.cn" in page and "tk=k123" in page


def _blend(hex_colour: str, alpha: float, bg: tuple[int, int, int]) -> tuple[int, ...]:
    rgb = tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return tuple(round(alpha * c + (1 - alpha) * b) for c, b in zip(rgb, bg, strict=True))


def _parcel_pixel(img: Image.Image, bg: tuple[int, int, int]) -> tuple[int, int] | None:
    """A pixel inside a parcel: a 9×9 block of one category colour, left of the layer list."""
    targets = [_blend(COLOURS[c], 0.7, bg) for c in OwnershipCategory]
    px = img.load()
    for y in range(200, 700, 7):
        for x in range(300, 650, 7):
            for t in targets:
                if all(
                    all(abs(a - b) <= 6 for a, b in zip(px[x + dx, y + dy], t, strict=True))
                    for dx in range(-4, 5, 2)
                    for dy in range(-4, 5, 2)
                ):
                    return x, y
    return None


@pytest.mark.e2e
@pytest.mark.skipif(cdp.chromium_path() is None, reason="chromium is not installed")
def test_demo_map_in_headless_chromium(demo_db, tmp_path):
    bg = (0xEE, 0xF0, 0xEC)
    with layers_data.running_server(demo_db.url) as base:
        browser = cdp.Browser(tmp_path / "profile")
        try:
            first = browser.load(f"{base}/map")
            img = Image.open(io.BytesIO(first.screenshot_png)).convert("RGB")
            # A click on a parcel opens a popup, filled from /collections/parcels/items?bbox=….
            spot = _parcel_pixel(img, bg)
            assert spot is not None, "no parcel pixel found to click"
            browser.click(*spot)
            # the popup is filled once the feature request answers: wait for its area line
            popup = browser.wait_for(
                "(() => { const t = (document.querySelector('.leaflet-popup-content') || {})"
                ".innerText || ''; return t.includes('面积（平方米）') ? t : ''; })()"
            )
            # The project selector zooms the map to the first project.
            view = (
                "(() => { const m = window.tzMap;"
                " const c = m.getCenter(); return [c.lat, c.lng, m.getZoom()]; })()"
            )
            before = browser.evaluate(view)
            browser.evaluate(
                "(() => { const s = document.getElementById('project-select');"
                " s.value = '0'; s.dispatchEvent(new Event('change')); })()"
            )
            # wait for the zoom to the project to finish (Leaflet fires moveend at the end)
            zoomed = browser.wait_for(
                f"(() => {{ const v = {view}; return v[2] > {before[2]} ? v : null; }})()"
            )
            first_project = browser.evaluate(
                "document.getElementById('project-select').options[1].textContent"
            )
            rec = browser.record()
        finally:
            browser.close()
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "map-demo.png").write_bytes(first.screenshot_png)
    (ARTIFACTS / "map-demo-project.png").write_bytes(rec.screenshot_png)

    # No request leaves 127.0.0.1.
    hosts = {urlparse(u).hostname for u in rec.requests if urlparse(u).scheme in ("http", "https")}
    assert hosts == {"127.0.0.1"}, hosts
    # Parcel tiles were requested and served; nothing failed.
    parcel_tiles = {u: s for u, s in first.statuses.items() if "/tiles/parcels/" in u}
    assert parcel_tiles, "no parcel tiles were requested"
    assert set(parcel_tiles.values()) <= {200, 204}
    assert 200 in parcel_tiles.values()
    assert all(s < 400 for s in rec.statuses.values()), rec.statuses
    assert rec.failures == []
    assert rec.console_errors == []
    # Parcels render: the screenshot shows the category colours over the grey background.
    assert img.size == (1200, 800)
    arr = np.asarray(img, dtype=np.int16)
    assert (np.abs(arr - np.array(bg)).max(axis=2) > 0).mean() > 0.2
    found = {}
    for cat in OwnershipCategory:
        target = np.array(_blend(COLOURS[cat], 0.7, bg))
        found[cat] = int((np.abs(arr - target).max(axis=2) <= 12).sum())
    assert sum(n > 500 for n in found.values()) >= 3, found
    # The popup shows the parcel with Chinese titles, including the fetched area.
    assert "宗地编号" in popup and "面积（平方米）" in popup, popup
    assert any(c.label_zh in popup for c in OwnershipCategory), popup
    item_fetches = [u for u in rec.statuses if "/collections/parcels/items?limit=3&bbox=" in u]
    assert item_fetches and all(rec.statuses[u] == 200 for u in item_fetches)
    # Zoomed in on the first project (ordered by code), above the district view.
    with demo_db.engine.connect() as conn:
        code, name, x1, y1, x2, y2 = conn.execute(
            text(
                "SELECT code, name, ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM ("
                "SELECT code, name, ST_Transform(geom, 4326) AS e FROM current_projects "
                "ORDER BY code LIMIT 1) x"
            )
        ).one()
    assert first_project == f"{code} {name}"
    lat, lon, zoom = zoomed
    assert y1 <= lat <= y2 and x1 <= lon <= x2, (zoomed, (x1, y1, x2, y2))
    assert zoom > 12
