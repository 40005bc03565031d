"""HTML pages (Jinja2 templates): landing, collections, items and item (f=html), API docs.

The pages carry no inline script (a Content-Security-Policy without ``unsafe-inline`` is coming):
scripts are static files and data goes through escaped JSON blocks. ``/docs`` and ``/redoc``
render in headless Chromium with the network cut, from the npm packages the app serves.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlparse

import cdp
import layers_data
import pytest
from sqlalchemy import text

from spatial.settings import REPO_ROOT

small_db = layers_data.small_db
small_client = layers_data.small_client
ARTIFACTS = REPO_ROOT / "artifacts"
HTML = {"Accept": "text/html,application/xhtml+xml"}
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>")


def assert_no_inline_script(page: str) -> None:
    assert not INLINE_SCRIPT.search(page), INLINE_SCRIPT.search(page)
    assert not re.search(r"\son[a-z]+=", page)  # no onclick= / onload= handlers
    assert 'lang="zh-CN"' in page


def test_landing_page_is_a_template_with_gdal_advice(small_client):
    r = small_client.get("/", headers=HTML)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert_no_inline_script(page)
    assert "<title>首页 Home · 土整 tuzheng</title>" in page
    assert 'href="/collections/parcels/items?f=html">宗地</a> Parcels' in page
    assert "-oo PAGE_SIZE=1000" in page
    assert 'href="/favicon.ico"' in page
    body = small_client.get("/?f=json").json()
    assert "PAGE_SIZE=1000" in body["description"]


def test_collections_and_collection_pages(small_client):
    r = small_client.get("/collections?f=html")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert_no_inline_script(r.text)
    assert 'href="/collections/conflicts?f=html">用途与法定图则冲突' in r.text
    by_accept = small_client.get("/collections", headers=HTML)
    assert by_accept.text == r.text
    one = small_client.get("/collections/retained_land?f=html")
    assert one.status_code == 200
    assert "<code>reserve_m2</code></td><td>number</td>" in one.text
    assert small_client.get("/collections/retained_land", headers=HTML).text == one.text
    assert small_client.get("/collections/nope?f=html").status_code == 404
    # JSON stays the default for clients (GDAL, QGIS and ogctests send Accept: …json).
    as_json = small_client.get("/collections", headers={"Accept": "application/json"})
    assert as_json.headers["content-type"] == "application/json"


def test_items_and_item_pages(small_client):
    r = small_client.get("/collections/parcels/items", params={"f": "html", "limit": 40})
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    page = r.text
    assert_no_inline_script(page)
    assert "共 105 个要素，本页 40 个" in page
    assert page.count('<tr><td><a href="/collections/parcels/items/') == 40
    assert "<td>原农村集体土地</td>" in page
    assert 'src="/static/js/items-map.js"' in page and 'src="/vendor/leaflet/leaflet.js"' in page
    data_block = r'<script type="application/json" id="tz-features">(.*?)</script>'
    block = re.search(data_block, page, re.S)
    assert block is not None
    fc = json.loads(block.group(1))
    assert len(fc["features"]) == 40 and fc["numberMatched"] == 105
    assert "offset=40" in page and "f=html" in page  # the next page stays HTML
    fid = fc["features"][0]["id"]
    one = small_client.get(f"/collections/parcels/items/{fid}?f=html")
    assert one.status_code == 200
    assert_no_inline_script(one.text)
    assert "<td>P1-000</td>" in one.text and "<td>玉塘街道</td>" in one.text
    assert small_client.get("/collections/parcels/items/99999?f=html").status_code == 404
    assert small_client.get("/collections/parcels/items?f=xml").status_code == 400


def test_text_from_the_database_is_escaped(db):
    """A hostile owner name is text on the page and inside the JSON block, never markup."""
    rows = layers_data.parcel_rows()[:2]
    rows[0]["owner"] = "</script><script>alert(1)</script><b>x</b>"
    layers_data.load_layer(db.engine, layers_data.Layer.parcels, rows)
    from conftest import make_client

    with make_client(db) as client:
        page = client.get("/collections/parcels/items?f=html").text
        one = client.get("/collections/parcels/items?f=html&filter=code='P1-000'").text
    for html in (page, one):
        assert "<script>alert(1)" not in html and "<b>x</b>" not in html
        assert "&lt;/script&gt;&lt;script&gt;alert(1)" in html  # the table cell
        assert "\\u003c/script\\u003e" in html  # the JSON block (tojson escapes <, >, &)
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM current_parcels")).scalar() == 2


def test_favicon_and_map_title(small_client):
    icon = small_client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
    assert icon.content.startswith(b"<svg")
    page = small_client.get("/map").text
    assert '<html lang="zh-CN">' in page
    assert "<title>规划地图 Map · 土整 tuzheng</title>" in page


def _remote_requests(events: list[dict], base: str) -> dict[str, str]:
    """URL → how it ended, for every request the page made to anything but ``base``."""
    host = urlparse(base).netloc
    remote = {}
    for ev in events:
        p = ev.get("params", {})
        if ev.get("method") == "Network.requestWillBeSent":
            parsed = urlparse(p["request"]["url"])
            if parsed.scheme not in ("data", "blob") and parsed.netloc != host:
                remote[p["requestId"]] = p["request"]["url"]
    ended = {}
    for ev in events:
        p = ev.get("params", {})
        if ev.get("method") == "Network.loadingFailed" and p.get("requestId") in remote:
            ended[remote[p["requestId"]]] = p.get("blockedReason") or p.get("errorText", "")
    return {url: ended.get(url, "sent") for url in remote.values()}


@pytest.mark.e2e
@pytest.mark.skipif(cdp.chromium_path() is None, reason="chromium is not installed")
def test_docs_render_offline_in_chromium(small_db, tmp_path):
    with layers_data.running_server(small_db.url) as base:
        browser = cdp.Browser(tmp_path / "profile", extra_flags=cdp.NETWORK_CUT)
        try:
            swagger = browser.load(f"{base}/docs", settle_s=2.0)
            swagger_remote = _remote_requests(browser.events, base)
            browser.events.clear()
            ops = browser.evaluate("document.querySelectorAll('.opblock').length")
            title = browser.evaluate(
                "(document.querySelector('.swagger-ui .info .title') || {}).innerText || ''"
            )
            redoc = browser.load(f"{base}/redoc", settle_s=3.0)
            redoc_remote = _remote_requests(browser.events, base)
            browser.events.clear()
            redoc_title = browser.evaluate(
                "(document.querySelector('.api-info h1') || {}).innerText || ''"
            )
            redoc_ops = browser.evaluate("document.querySelectorAll('[data-section-id]').length")
            items = browser.load(f"{base}/collections/parcels/items?f=html&limit=105")
            items_remote = _remote_requests(browser.events, base)
            drawn = browser.evaluate(
                "document.getElementById('tz-items-map').getAttribute('data-features')"
            )
            paths = browser.evaluate("document.querySelectorAll('.leaflet-interactive').length")
        finally:
            browser.close()
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "docs-swagger.png").write_bytes(swagger.screenshot_png)
    (ARTIFACTS / "docs-redoc.png").write_bytes(redoc.screenshot_png)
    (ARTIFACTS / "items-parcels.png").write_bytes(items.screenshot_png)
    assert "土整 tuzheng" in title and ops > 20, (title, ops)
    assert "土整 tuzheng" in redoc_title and redoc_ops > 20, (redoc_title, redoc_ops)
    assert drawn == "105" and paths == 105
    # Nothing leaves 127.0.0.1: Swagger UI and the items page ask nothing of another host;
    # ReDoc's side menu always adds a logo from cdn.redoc.ly, which the page's img-src policy
    # blocks in the browser before any request is sent ("csp").
    assert swagger_remote == {} and items_remote == {}
    assert redoc_remote == {"https://cdn.redoc.ly/redoc/logo-mini.svg": "csp"}, redoc_remote
    for rec in (swagger, redoc, items):
        assert len(rec.failures) == (1 if rec is redoc else 0), rec.failures
        assert all(s < 400 for s in rec.statuses.values()), rec.statuses
        # ReDoc's attribution logo (cdn.redoc.ly) is refused by the page's img-src policy
        # before any request is made; that refusal is the one console error allowed.
        errors = [e for e in rec.console_errors if "cdn.redoc.ly/redoc/logo-mini.svg" not in e]
        assert errors == [], rec.console_errors
    assert any("/vendor/swagger-ui-dist/swagger-ui-bundle.js" in u for u in swagger.requests)
    assert any("/vendor/redoc/redoc.standalone.js" in u for u in redoc.requests)
