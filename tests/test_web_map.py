"""The planners' web map: offline page content, and headless Chromium on the demo district."""

from __future__ import annotations

import io
import json
import re
from urllib.parse import urlparse

import cdp
import layers_data
import pytest
from PIL import Image

from spatial.categories import COLOURS, OwnershipCategory
from spatial.settings import REPO_ROOT

small_db = layers_data.small_db
small_client = layers_data.small_client
ARTIFACTS = REPO_ROOT / "artifacts"


def test_map_page_is_offline_and_lists_every_layer(small_client):
    r = small_client.get("/map")
    assert r.status_code == 200
    page = r.text
    assert not re.findall(r"https?://(?!127\.0\.0\.1)[^\s\"'<>]+", page)
    assets = set(re.findall(r'(?:src|href)="(/[^"]+)"', page))
    assert assets == {
        "/vendor/leaflet/leaflet.js",
        "/vendor/leaflet/leaflet.css",
        "/vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js",
    }
    for asset in assets:
        assert small_client.get(asset).status_code == 200, asset
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
        assert title in page or json.dumps(title) in page, title
    assert "L.vectorGrid.protobuf" in page and "/tiles/parcels/{z}/{x}/{y}.pbf" in page
    assert '"code": "P1", "name": "光明科学城启动区"' in page
    for cat in OwnershipCategory:
        assert cat.label_zh in page and COLOURS[cat] in page
    assert "区政府审批（≤3000 m²）" in page and "报市规划国土部门（>3000 m²）" in page
    assert '"route_zh", "审批路径"' in page  # popup field of the review result
    assert "tianditu" not in page


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


@pytest.mark.e2e
@pytest.mark.skipif(cdp.chromium_path() is None, reason="chromium is not installed")
def test_demo_map_in_headless_chromium(demo_db, tmp_path):
    with layers_data.running_server(demo_db.url) as base:
        browser = cdp.Browser(tmp_path / "profile")
        try:
            rec = browser.load(f"{base}/map")
        finally:
            browser.close()
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "map-demo.png").write_bytes(rec.screenshot_png)

    # No request leaves 127.0.0.1.
    hosts = {urlparse(u).hostname for u in rec.requests if urlparse(u).scheme in ("http", "https")}
    assert hosts == {"127.0.0.1"}, hosts
    # Parcel tiles were requested and served; nothing failed.
    parcel_tiles = {u: s for u, s in rec.statuses.items() if "/tiles/parcels/" in u}
    assert parcel_tiles, "no parcel tiles were requested"
    assert set(parcel_tiles.values()) <= {200, 204}
    assert 200 in parcel_tiles.values()
    assert all(s < 400 for s in rec.statuses.values()), rec.statuses
    assert rec.failures == []
    assert rec.console_errors == []
    # Parcels render: the screenshot shows the category colours over the grey background.
    img = Image.open(io.BytesIO(rec.screenshot_png)).convert("RGB")
    assert img.size == (1200, 800)
    pixels = list(img.getdata())
    bg = (0xEE, 0xF0, 0xEC)
    assert sum(p != bg for p in pixels) > 0.2 * len(pixels)
    found = {}
    for cat in OwnershipCategory:
        target = _blend(COLOURS[cat], 0.7, bg)
        found[cat] = sum(
            1 for p in pixels if all(abs(a - b) <= 12 for a, b in zip(p, target, strict=True))
        )
    assert sum(n > 500 for n in found.values()) >= 3, found
