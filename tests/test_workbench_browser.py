"""The workbench in headless Chromium with the network cut: a surveyor uploads (GBK, no .cpg
or .prj, zone-38 eastings) and publishes, a bad file is refused with its rows on the map, an
admin diffs and restores and reads the audit log, a planner gets 403 everywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import cdp
import httpx
import layers_data
import pytest
import shapely
from ingest_files import parcels, write_shp, zip_shapefile
from sqlalchemy import text

from spatial.ingest import ingest
from spatial.settings import REPO_ROOT
from spatial.users import add_user

ARTIFACTS = REPO_ROOT / "artifacts"
PW = "browser-password-1"
NEW_OWNER = "光明区田寮社区股份合作公司（新）"


def wait_for(browser: cdp.Browser, expr: str, timeout: float = 60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = browser.evaluate(expr)
        if value:
            return value
        browser.settle(0.3)
    shot(browser, "timeout")
    rec = browser.record()
    page = browser.evaluate(
        "document.querySelector('main') && document.querySelector('main').innerText"
    )
    raise AssertionError(
        f"timed out waiting for {expr}\nconsole: {rec.console_errors}\npage: {str(page)[:1500]}"
    )


def shot(browser: cdp.Browser, name: str) -> Path:
    """Save a screenshot of the whole page (not just the viewport) under artifacts/."""
    import base64

    ARTIFACTS.mkdir(exist_ok=True)
    size = browser.send("Page.getLayoutMetrics")["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": 1200, "height": min(int(size["height"]), 4000), "scale": 1}
    png = browser.send(
        "Page.captureScreenshot", format="png", clip=clip, captureBeyondViewport=True
    )["data"]
    path = ARTIFACTS / f"workbench-{name}.png"
    path.write_bytes(base64.b64decode(png))
    return path


def sign_in(browser: cdp.Browser, base: str, name: str) -> None:
    browser.load(f"{base}/login", settle_s=0.5)
    browser.evaluate(
        "(() => { const f = document.querySelector('form[action=\"/login\"]');"
        f" f.name.value = {json.dumps(name)}; f.password.value = {json.dumps(PW)};"
        " f.submit(); })()"
    )
    wait_for(browser, "location.pathname === '/workbench' && document.readyState === 'complete'")


def set_files(browser: cdp.Browser, selector: str, files: list[Path]) -> None:
    root = browser.send("DOM.getDocument")["root"]["nodeId"]
    node = browser.send("DOM.querySelector", nodeId=root, selector=selector)["nodeId"]
    browser.send("DOM.setFileInputFiles", nodeId=node, files=[str(f) for f in files])


def text_of(browser: cdp.Browser, selector: str) -> str:
    return browser.evaluate(f"document.querySelector({json.dumps(selector)}).textContent")


def summary(browser: cdp.Browser) -> dict[str, str]:
    return browser.evaluate(
        "Object.fromEntries([...document.querySelectorAll('#report-summary dt')]"
        ".map(dt => [dt.textContent, dt.nextElementSibling.textContent]))"
    )


@pytest.fixture
def scene(db, tmp_path):
    for name, role in [("chen", "surveyor"), ("root", "admin"), ("li", "planner")]:
        add_user(name, role, db.engine, password=PW)
    v1 = zip_shapefile(write_shp(parcels(5), tmp_path / "v1"), tmp_path / "宗地v1.zip")
    first = ingest(v1, "parcels", engine=db.engine, user="chen").dataset_id
    # the surveyor's new survey: GBK, no .cpg, no .prj, eastings with the zone-38 prefix
    g = parcels(4, x0=38_500_000.0)
    g.loc[1, "权利人"] = NEW_OWNER
    g.loc[3, "宗地编号"] = "GM-0009"
    shp = write_shp(g, tmp_path / "survey", "宗地成果", cpg=False, prj=False)
    parts = sorted(shp.parent.iterdir())
    # a bad file: row 2 a bow-tie, row 4 repeats row 3's code
    bad = parcels(4)
    x0, y0 = 500_050.0, 2_500_000.0
    bad.loc[1, "geometry"] = shapely.Polygon(
        [(x0, y0), (x0 + 50, y0 + 50), (x0 + 50, y0), (x0, y0 + 50)]
    )
    bad.loc[3, "宗地编号"] = bad.loc[2, "宗地编号"]
    bad_zip = zip_shapefile(write_shp(bad, tmp_path / "bad"), tmp_path / "有问题.zip")
    return {"first": first, "parts": parts, "owners": list(g["权利人"]), "bad": bad_zip}


@pytest.mark.e2e
@pytest.mark.skipif(cdp.chromium_path() is None, reason="chromium is not installed")
def test_workbench_in_headless_chromium(db, scene, tmp_path):
    upload_dir = tmp_path / "uploads"
    with layers_data.running_server(db.url, TUZHENG_INGEST_UPLOAD_DIR=str(upload_dir)) as base:
        browser = cdp.Browser(tmp_path / "profile", extra_flags=cdp.NETWORK_CUT)
        try:
            _surveyor(browser, base, db, scene, upload_dir)
            _admin(browser, base, db, scene)
            _planner(browser, base, db, scene)
            rec = browser.record()
        finally:
            browser.close()
    hosts = {urlparse(u).hostname for u in rec.requests if urlparse(u).scheme in ("http", "https")}
    assert hosts == {"127.0.0.1"}, hosts
    # the only failed loads are the refusals the test provokes (and a favicon nobody ships)
    expected = ("status of 403", "status of 422", "favicon.ico")
    assert not [e for e in rec.console_errors if not any(x in e for x in expected)], (
        rec.console_errors
    )


def _surveyor(browser, base, db, scene, upload_dir):
    browser.load(f"{base}/workbench/upload", settle_s=0.3)  # not signed in: to the login page
    assert browser.evaluate("location.pathname + location.search") == (
        "/login?next=/workbench/upload"
    )
    shot(browser, "login")
    sign_in(browser, base, "chen")
    shot(browser, "home")
    browser.load(f"{base}/workbench/upload", settle_s=0.5)
    header = text_of(browser, ".tz-header")
    assert "chen" in header and "测绘员 surveyor" in header and "退出 Log out" in header
    assert browser.evaluate("document.getElementById('layer').value") == "parcels"
    set_files(browser, "#file", scene["parts"])
    browser.evaluate("document.getElementById('check-button').click()")
    wait_for(browser, "document.getElementById('report-status').textContent === 'dry_run'")
    s = summary(browser)
    assert s["编码 encoding"] == "GBK" and "GBK" in s["编码判定 how"], s
    assert s["坐标系 CRS"] == "EPSG:4526" and "38" in s["坐标系判定 how"], s
    assert s["读取 read"] == "4" and s["将写入 to be written"] == "4", s
    assert s["总面积 total area"] == "10,000.00 m²", s
    owners = browser.evaluate(
        "[...document.querySelectorAll('#preview td[data-key=\"owner\"]')]"
        ".map(td => td.textContent)"
    )
    assert owners == scene["owners"]  # byte for byte, as stored
    phases = browser.evaluate(
        "[...document.querySelectorAll('#phases li.done')].map(li => li.dataset.phase)"
    )
    assert phases == ["upload", "read", "check"], phases
    assert len(list(upload_dir.glob("staged/*/*/upload.shp"))) == 1
    shot(browser, "upload-dry-run")

    browser.evaluate("document.getElementById('publish-button').click()")
    wait_for(browser, "document.getElementById('report-status').textContent === 'published'")
    message = text_of(browser, "#report-message")
    with db.engine.connect() as conn:
        new_id, status = conn.execute(
            text("SELECT id, status FROM datasets ORDER BY id DESC LIMIT 1")
        ).one()
        stored = conn.execute(text("SELECT owner FROM current_parcels ORDER BY code")).scalars()
        stored = list(stored)
    assert status == "active" and f"数据集 dataset {new_id}" in message
    assert stored == scene["owners"]
    assert not list(upload_dir.glob("staged/*/*/*"))  # the kept file is gone
    assert browser.evaluate("!!document.getElementById('versions-link')")
    shot(browser, "upload-published")
    scene["second"] = new_id

    # the bow-tie and the duplicate code: both rows in the table and on the map, nothing written
    browser.load(f"{base}/workbench/upload", settle_s=0.5)
    set_files(browser, "#file", [scene["bad"]])
    browser.evaluate("document.getElementById('check-button').click()")
    wait_for(browser, "document.getElementById('report-status').textContent === 'refused'")
    rows = browser.evaluate(
        "[...document.querySelectorAll('#problems tbody tr[data-row]')]"
        ".map(tr => [Number(tr.dataset.row), tr.dataset.code])"
    )
    assert [2, "geometry_repaired"] in rows and [4, "duplicate_code"] in rows, rows
    assert [3, "duplicate_code"] in rows  # the first of the two rows with the same code
    strokes = browser.evaluate(
        "[...document.querySelectorAll('#problem-map path.leaflet-interactive')]"
        ".map(p => p.getAttribute('stroke')).sort()"
    )
    assert strokes == ["#1570ef", "#d92d20", "#d92d20"], strokes  # repaired 2; refused 3, 4
    zoom_before = browser.evaluate("document.querySelector('#problem-map') && 0")
    browser.evaluate("document.querySelector('#problems tbody tr[data-row=\"4\"]').click()")
    browser.settle(0.5)
    assert browser.evaluate(
        "document.querySelector('#problems tbody tr[data-row=\"4\"]').classList"
        ".contains('tz-selected')"
    )
    assert zoom_before == 0
    browser.evaluate(
        "(() => { const s = document.getElementById('filter-code'); s.value = 'duplicate_code';"
        " s.dispatchEvent(new Event('input')); })()"
    )
    visible = browser.evaluate(
        "[...document.querySelectorAll('#problems tbody tr')].filter(tr =>"
        " !tr.classList.contains('tz-hidden')).map(tr => tr.dataset.code)"
    )
    assert set(visible) == {"duplicate_code"}
    assert browser.evaluate(
        "document.getElementById('publish-button').classList.contains('tz-hidden')"
    )
    shot(browser, "upload-refused")
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM datasets")).scalar_one() == 2
    browser.evaluate("document.querySelector('.tz-logout button').click()")
    wait_for(browser, "location.pathname === '/login'")


def _admin(browser, base, db, scene):
    sign_in(browser, base, "root")
    browser.load(f"{base}/workbench/users", settle_s=0.3)
    listed = browser.evaluate(
        "[...document.querySelectorAll('#users tbody tr')].map(tr => tr.dataset.user)"
    )
    assert listed == ["chen", "li", "root"]
    shot(browser, "users")
    first, second = scene["first"], scene["second"]
    browser.load(f"{base}/workbench/versions?layer=parcels", settle_s=0.5)
    browser.evaluate(
        f'document.querySelector(\'input[name="diff-a"][value="{first}"]\').checked = true;'
        f'document.querySelector(\'input[name="diff-b"][value="{second}"]\').checked = true;'
        "document.getElementById('diff-button').click()"
    )
    wait_for(browser, "!document.getElementById('diff-card').classList.contains('tz-hidden')")
    counts = browser.evaluate(
        "Object.fromEntries([...document.querySelectorAll('#diff-counts dd')]"
        ".map(dd => [dd.dataset.count, Number(dd.textContent.replace(/,/g, ''))]))"
    )
    exe = Path(sys.executable).parent / "tuzheng"
    cli = json.loads(
        subprocess.run(
            [str(exe), "datasets", "diff", str(first), str(second), "--json"],
            env={**os.environ, "DATABASE_URL": db.url},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert counts == {k: cli[k] for k in ("added", "removed", "changed", "unchanged")}, counts
    # GM-0000 and GM-0002 came back the same (re-projected from zone 38), GM-0001 has a new
    # owner, GM-0003 and GM-0004 are gone, GM-0009 is new
    assert (cli["added"], cli["removed"], cli["changed"], cli["unchanged"]) == (1, 2, 1, 2)
    keys = browser.evaluate(
        "[...document.querySelectorAll('#diff-table tbody tr')].map(tr => tr.dataset.key)"
    )
    assert keys == [c["key"] for c in cli["changes"]]
    owner_row = browser.evaluate(
        "document.querySelector('#diff-table tbody tr[data-key=\"GM-0001\"]').textContent"
    )
    assert f"owner: 张三 → {NEW_OWNER}" in owner_row
    drawn = browser.evaluate(
        "document.querySelectorAll('#diff-map path.leaflet-interactive').length"
    )
    assert drawn == len(cli["changes"])
    shot(browser, "versions-diff")

    # restore the first version: the confirmation shows the diff first
    browser.evaluate(
        f"document.querySelector('button.tz-restore[data-dataset=\"{first}\"]').click()"
    )
    wait_for(browser, "document.getElementById('restore-dialog').open")
    wait_for(browser, "document.querySelectorAll('#restore-table tbody tr').length > 0")
    back = browser.evaluate(
        "Object.fromEntries([...document.querySelectorAll('#restore-counts dd')]"
        ".map(dd => [dd.dataset.count, Number(dd.textContent)]))"
    )
    assert back == {
        "added": cli["removed"],
        "removed": cli["added"],
        "changed": cli["changed"],
        "unchanged": cli["unchanged"],
    }
    shot(browser, "restore-confirm")
    browser.evaluate("document.getElementById('restore-confirm').click()")
    wait_for(
        browser,
        f"document.querySelector('tr[data-dataset=\"{first}\"]') &&"
        f" document.querySelector('tr[data-dataset=\"{first}\"]').dataset.status === 'active'",
    )
    with db.engine.connect() as conn:
        active = conn.execute(
            text("SELECT id FROM datasets WHERE layer = 'parcels' AND status = 'active'")
        ).scalars()
        assert list(active) == [first]

    browser.load(f"{base}/workbench/audit", settle_s=0.5)
    actions = browser.evaluate(
        "[...document.querySelectorAll('#audit tbody tr')].map(tr => [tr.children[1].textContent,"
        " tr.children[3].textContent, tr.children[4].textContent])"
    )
    assert ["root", "dataset.restore", f"dataset:{first}"] in actions, actions
    assert ["chen", "upload", f"dataset:{second}"] in actions
    assert ["chen", "login", "user:chen"] in actions
    browser.evaluate(
        "(() => { const f = document.getElementById('audit-filters');"
        " f.action.value = 'dataset.restore'; f.submit(); })()"
    )
    wait_for(browser, "location.search.includes('action=dataset.restore')")
    browser.settle(0.5)
    only = browser.evaluate(
        "[...document.querySelectorAll('#audit tbody tr')].map(tr => tr.dataset.action)"
    )
    assert only == ["dataset.restore"]
    shot(browser, "audit")
    browser.evaluate("document.querySelector('.tz-logout button').click()")
    wait_for(browser, "location.pathname === '/login'")


def _planner(browser, base, db, scene):
    sign_in(browser, base, "li")
    first, second = scene["first"], scene["second"]
    # the pages refuse
    for path in ("/workbench/upload", "/workbench/users", "/workbench/audit"):
        browser.load(f"{base}{path}", settle_s=0.3)
        assert "无权访问 Forbidden (403)" in text_of(browser, "main"), path
    shot(browser, "planner-forbidden")
    # every action made from the page (with the session's CSRF token) gets 403
    calls = [
        ("POST", "/uploads", "form"),
        ("POST", f"/uploads/staged/{'a' * 64}/publish", "form"),
        ("POST", f"/datasets/{second}/restore", None),
        ("POST", "/users", '{"name": "x", "role": "admin"}'),
        ("PATCH", "/users/li", '{"role": "admin"}'),
        ("POST", "/users/root/password", '{"password": "0123456789ab"}'),
        ("POST", "/users/root/token", None),
        ("GET", "/audit", None),
    ]
    js = """(async () => { const out = [];
      for (const [method, url, body] of %s) {
        const opts = { method, headers: { 'X-CSRF-Token': tz.csrf }, credentials: 'same-origin' };
        if (body === 'form') { const f = new FormData(); f.append('layer', 'parcels');
          f.append('file', new Blob(['PK']), 'a.zip'); opts.body = f; }
        else if (body) { opts.body = body; opts.headers['Content-Type'] = 'application/json'; }
        const r = await fetch(url, opts); out.push([url, r.status, (await r.json()).code]); }
      return out; })()"""
    res = browser.send(
        "Runtime.evaluate",
        expression=js % json.dumps(calls),
        awaitPromise=True,
        returnByValue=True,
    )["result"]["value"]
    assert [(u, s, c) for u, s, c in res] == [(u, 403, "forbidden") for _, u, _ in calls], res
    # the same requests forged outside the page, with the session cookie but no CSRF token
    cookies = {c["name"]: c["value"] for c in browser.send("Network.getCookies")["cookies"]}
    assert "tz_session" in cookies
    with httpx.Client(base_url=base, cookies={"tz_session": cookies["tz_session"]}) as forged:
        assert forged.get("/users/me").json() == {"name": "li", "role": "planner"}
        for method, url, body in calls:
            if method == "GET":
                continue
            if body == "form":
                r = forged.request(
                    method, url, files={"file": ("a.zip", b"PK")}, data={"layer": "parcels"}
                )
            else:
                r = forged.request(
                    method, url, content=body or b"", headers={"Content-Type": "application/json"}
                )
            assert r.status_code == 403 and r.json()["code"] == "csrf_failed", (url, r.text)
    with db.engine.connect() as conn:
        active = list(
            conn.execute(
                text("SELECT id FROM datasets WHERE layer = 'parcels' AND status = 'active'")
            ).scalars()
        )
        users = dict(conn.execute(text("SELECT name, role::text FROM users")).all())
    assert active == [first]
    assert users == {"chen": "surveyor", "root": "admin", "li": "planner"}
