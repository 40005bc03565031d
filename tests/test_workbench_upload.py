"""The upload page's API: dry run that keeps the file by SHA-256, publish without a second
transfer, shapefile parts, preview, problem map, phases (SSE), Excel report, My uploads."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
import shapely
from ingest_files import OWNERS, parcels, write_shp, zip_shapefile
from sqlalchemy import text

from spatial.users import add_user

PW = "surveyor-password-1"


@pytest.fixture(autouse=True)
def upload_dir(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "uploads"
    monkeypatch.setenv("TUZHENG_INGEST_UPLOAD_DIR", str(d))
    return d


@pytest.fixture
def tokens(db) -> dict[str, str]:
    return {r: add_user(f"u-{r}", r, db.engine) for r in ("admin", "surveyor", "planner")}


def zone38_parts(tmp_path: Path, n: int = 3) -> dict[str, bytes]:
    """A GBK shapefile without .cpg and .prj, eastings with the zone-38 prefix."""
    shp = write_shp(parcels(n, x0=38_500_000.0), tmp_path / "z38", cpg=False, prj=False)
    return {p.suffix: p.read_bytes() for p in shp.parent.iterdir()}


def post_parts(client, token, parts: dict[str, bytes], **fields):
    order = [".shp", ".shx", ".dbf"]
    files = [("file", ("宗地.shp", parts[".shp"], "application/octet-stream"))] + [
        ("parts", (f"宗地{ext}", parts[ext], "application/octet-stream")) for ext in order[1:]
    ]
    return client.post(
        "/uploads",
        files=files,
        data={"layer": "parcels", **fields},
        headers={"Authorization": f"Bearer {token}"},
    )


def test_shapefile_parts_dry_run_kept_then_published(db, client, tokens, tmp_path, upload_dir):
    parts = zone38_parts(tmp_path)
    assert ".cpg" not in parts and ".prj" not in parts
    r = post_parts(client, tokens["surveyor"], parts, dry_run="true", keep="true")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "dry_run" and body["staged_until"] is not None
    assert body["encoding"] == "GBK" and "GBK" in body["encoding_method"]
    assert body["source_crs"] == "EPSG:4526" and "38" in body["crs_method"]
    assert body["source_file"] == "宗地.shp"
    assert [row["owner"] for row in body["preview"]] == OWNERS[:3]
    assert [row["code"] for row in body["preview"]] == ["GM-0000", "GM-0001", "GM-0002"]
    assert [row["area_m2"] for row in body["preview"]] == pytest.approx([2500.0] * 3, abs=0.01)
    kept = list(upload_dir.glob("staged/*/*/upload.shp"))
    assert len(kept) == 1 and kept[0].parent.name == body["sha256"]
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM datasets")).scalar_one() == 0

    # someone else cannot publish it
    other = client.post(
        f"/uploads/staged/{body['sha256']}/publish",
        headers={"Authorization": f"Bearer {tokens['admin']}"},
    )
    assert other.status_code == 404
    r = client.post(
        f"/uploads/staged/{body['sha256']}/publish",
        headers={"Authorization": f"Bearer {tokens['surveyor']}"},
    )
    assert r.status_code == 201, r.text
    pub = r.json()
    assert pub["status"] == "published" and pub["sha256"] == body["sha256"]
    assert pub["source_crs"] == "EPSG:4526" and pub["counts"]["written"] == 3
    assert not list(upload_dir.glob("staged/*/*/*"))  # deleted once published
    with db.engine.connect() as conn:
        owners = conn.execute(text("SELECT owner FROM current_parcels ORDER BY code")).scalars()
        x = conn.execute(text("SELECT min(ST_XMin(geom)) FROM current_parcels")).scalar_one()
    assert list(owners) == OWNERS[:3]
    assert 499_000 < x < 501_000  # zone-38 eastings stored in EPSG:4547
    again = client.post(
        f"/uploads/staged/{body['sha256']}/publish",
        headers={"Authorization": f"Bearer {tokens['surveyor']}"},
    )
    assert again.status_code == 404 and "expired" in again.json()["message_en"]


def test_kept_files_expire(client, tokens, tmp_path, upload_dir):
    state = client.app.state  # settings are read once, when the app is built
    state.ingest_settings = state.ingest_settings.model_copy(update={"staged_ttl_minutes": 0})
    r = post_parts(client, tokens["surveyor"], zone38_parts(tmp_path), dry_run="true", keep="true")
    sha = r.json()["sha256"]
    r = client.post(
        f"/uploads/staged/{sha}/publish", headers={"Authorization": f"Bearer {tokens['surveyor']}"}
    )
    assert r.status_code == 404
    assert not list(upload_dir.glob("staged/*/*/*"))


def test_discard_and_bad_names(client, tokens, tmp_path, upload_dir):
    auth = {"Authorization": f"Bearer {tokens['surveyor']}"}
    r = post_parts(client, tokens["surveyor"], zone38_parts(tmp_path), dry_run="true", keep="true")
    sha = r.json()["sha256"]
    assert client.delete(f"/uploads/staged/{sha}", headers=auth).status_code == 204
    assert not list(upload_dir.glob("staged/*/*/*"))
    assert client.post("/uploads/staged/..%2F..%2Fetc/publish", headers=auth).status_code == 404
    assert client.post(f"/uploads/staged/{'0' * 64}/publish", headers=auth).status_code == 404
    # a shapefile without its .dbf, or two .shp, are refused naming the problem
    parts = zone38_parts(tmp_path)
    r = client.post(
        "/uploads",
        files=[
            ("file", ("a.shp", parts[".shp"], "x")),
            ("parts", ("a.shx", parts[".shx"], "x")),
        ],
        data={"layer": "parcels", "dry_run": "true"},
        headers=auth,
    )
    assert r.status_code == 422 and ".dbf" in r.json()["message_en"]


def bad_file(tmp_path: Path) -> Path:
    """Four parcels: row 2 a bow-tie, rows 3 and 4 share a code."""
    gdf = parcels(4)
    x0, y0 = 500_000.0 + 50, 2_500_000.0
    gdf.loc[1, "geometry"] = shapely.Polygon(
        [(x0, y0), (x0 + 50, y0 + 50), (x0 + 50, y0), (x0, y0 + 50)]
    )
    gdf.loc[3, "宗地编号"] = gdf.loc[2, "宗地编号"]
    return zip_shapefile(write_shp(gdf, tmp_path / "bad"), tmp_path / "bad.zip")


def test_bow_tie_and_duplicate_rows_in_table_and_map(db, client, tokens, tmp_path):
    z = bad_file(tmp_path)
    with open(z, "rb") as fh:
        r = client.post(
            "/uploads",
            files={"file": ("bad.zip", fh, "application/zip")},
            data={"layer": "parcels", "dry_run": "true", "keep": "true"},
            headers={"Authorization": f"Bearer {tokens['surveyor']}"},
        )
    assert r.status_code == 422
    rep = r.json()["report"]
    assert rep["status"] == "refused" and "staged_until" not in r.json()
    rows = {(p["row"], p["code"]) for p in rep["problems"] if p["row"]}
    assert (2, "geometry_repaired") in rows and (4, "duplicate_code") in rows
    kinds = {
        f["properties"]["row"]: f["properties"]["kind"] for f in rep["problem_map"]["features"]
    }
    assert kinds[2] == "repaired" and kinds[4] == "refused"
    lon, lat = rep["problem_map"]["features"][0]["geometry"]["coordinates"][0][0][0]
    assert 113.9 < lon < 114.1 and 22.5 < lat < 22.7  # CRS84 for the map
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM datasets")).scalar_one() == 0


def test_phases_reach_the_page_over_sse(client, tokens, tmp_path):
    pid = "test-progress-1"
    r = post_parts(
        client, tokens["surveyor"], zone38_parts(tmp_path), progress_id=pid, crs="EPSG:4526"
    )
    assert r.status_code == 201
    phases, done = client.app.state.progress.since("u-surveyor", pid, 0)
    assert phases == ["read", "check", "copy", "index", "publish"] and done == "published"
    with client.stream(
        "GET", f"/uploads/progress/{pid}", headers={"Authorization": f"Bearer {tokens['surveyor']}"}
    ) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        stream = resp.read().decode()
    events = re.findall(r"event: (\w+)\ndata: (.*)\n\n", stream)
    assert [json.loads(d).get("phase") or json.loads(d)["status"] for _, d in events] == [
        "read",
        "check",
        "copy",
        "index",
        "publish",
        "published",
    ]
    # another user sees nothing of it
    with client.stream(
        "GET", f"/uploads/progress/{pid}", headers={"Authorization": f"Bearer {tokens['admin']}"}
    ) as resp:
        assert "publish" not in resp.read().decode()


def test_excel_report_and_my_uploads(db, client, tokens, tmp_path):
    auth = {"Authorization": f"Bearer {tokens['surveyor']}"}
    with open(bad_file(tmp_path), "rb") as fh:
        refused = client.post(
            "/uploads",
            files={"file": ("坏.zip", fh, "application/zip")},
            data={"layer": "parcels"},
            headers=auth,
        ).json()["report"]
    ok = post_parts(client, tokens["surveyor"], zone38_parts(tmp_path)).json()
    mine = client.get("/uploads", headers=auth).json()
    assert [(m["id"], m["status"], m["file_name"]) for m in mine] == [
        (ok["dataset_id"], "active", "宗地.shp"),
        (refused["dataset_id"], "failed", "坏.zip"),
    ]
    assert (
        client.get("/uploads", headers={"Authorization": f"Bearer {tokens['admin']}"}).json() == []
    )
    r = client.get(f"/uploads/{refused['dataset_id']}/report.xlsx", headers=auth)
    assert r.status_code == 200 and "upload-report-" in r.headers["content-disposition"]
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    assert wb.sheetnames == ["概要 Summary", "问题 Problems", "预览 Preview"]
    summary = {row[0]: row[1] for row in wb["概要 Summary"].iter_rows(min_row=3, values_only=True)}
    assert summary["状态 status"] == "已拒绝（未写入任何数据）" and summary["文件 file"] == "坏.zip"
    probs = [row for row in wb["问题 Problems"].iter_rows(min_row=3, values_only=True)]
    assert (4, "duplicate_code") in {(p[0], p[2]) for p in probs}
    sheet = list(wb["预览 Preview"].iter_rows(values_only=True))
    col = sheet[0].index("owner")
    assert [row[col] for row in sheet[2:]] == OWNERS[:4]


def test_cli_shows_phases_on_a_terminal_only(db, tmp_path):
    z = zip_shapefile(write_shp(parcels(2), tmp_path / "c"), tmp_path / "c.zip")
    exe = str(Path(sys.executable).parent / "tuzheng")
    env = {**os.environ, "DATABASE_URL": db.url}
    master, slave = pty.openpty()
    proc = subprocess.run(
        [exe, "ingest", str(z), "--layer", "parcels", "--dry-run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=slave,
        check=True,
    )
    os.close(slave)
    tty = os.read(master, 65536).decode()
    os.close(master)
    assert "… 读取 read" in tty and "… 检查 check" in tty
    assert "读取 read" not in proc.stdout.decode()
    quiet = subprocess.run(
        [exe, "ingest", str(z), "--layer", "parcels", "--dry-run"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "…" not in quiet.stderr
