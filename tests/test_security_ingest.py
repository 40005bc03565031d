"""Hostile uploads: SSRF through a GeoJSON ``crs`` link, GeoPackages that run their own SQL,
CPU-time caps, abandoned uploads. Real server processes, real PostGIS, a local HTTP listener
that must see no request."""

from __future__ import annotations

import http.server
import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import httpx
import layers_data
import pyogrio
import pytest
import shapely
from sqlalchemy import text

from spatial.errors import InvalidInput
from spatial.ingest.geojson_crs import check_crs_members
from spatial.ingest.isolated import ingest_isolated
from spatial.settings import REPO_ROOT, IngestSettings
from spatial.users import add_user


class Listener:
    """An HTTP server on 127.0.0.1 that records every request (and answers with a WKT)."""

    def __init__(self) -> None:
        hits = self.hits = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                hits.append(self.path)
                body = b'GEOGCS["FETCHED",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.25]]]'
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    srv = Listener()
    yield srv
    srv.close()


def _feature(geometry_extra: str = "") -> str:
    ring = "[[113.93,22.75],[113.931,22.75],[113.931,22.751],[113.93,22.751],[113.93,22.75]]"
    return (
        '{"type":"Feature","properties":{"宗地编号":"GM-1","权属类型":"原农村集体土地"},'
        f'"geometry":{{"type":"Polygon"{geometry_extra},"coordinates":[{ring}]}}}}'
    )


def hostile_geojsons(url: str) -> dict[str, str]:
    """GeoJSON texts whose crs member would make GDAL fetch ``url`` (each spelled differently)."""
    link = f'{{"type":"link","properties":{{"href":"{url}/link","type":"ogcwkt"}}}}'
    return {
        "link": f'{{"type":"FeatureCollection","crs":{link},"features":[{_feature()}]}}',
        "url": '{"type":"FeatureCollection","crs":{"type":"URL","properties":{"url":"'
        + url
        + '/url"}},"features":['
        + _feature()
        + "]}",
        "upper case": '{"type":"FeatureCollection","CRS":{"Type":"LINK","properties":{"href":"'
        + url
        + '/upper"}},"features":['
        + _feature()
        + "]}",
        "on a geometry": '{"type":"FeatureCollection","features":['
        + _feature(f',"crs":{link}')
        + "]}",
        "escaped key": '{"type":"FeatureCollection","\\u0063rs":'
        + link
        + ',"features":['
        + _feature()
        + "]}",
        "properties first": '{"type":"FeatureCollection","crs":{"properties":{"href":"'
        + url
        + '/first"},"type":"link"},"features":['
        + _feature()
        + "]}",
        "comment and quotes": "{\"type\":\"FeatureCollection\",'crs' /* c */ : {'type':'link',"
        f"'properties':{{'href':'{url}/quoted'}}}},\"features\":[{_feature()}]}}",
    }


def test_every_spelling_of_a_crs_link_is_refused_before_gdal(tmp_path: Path, listener) -> None:
    for name, doc in hostile_geojsons(listener.url).items():
        path = tmp_path / "宗地.geojson"
        path.write_text(doc, "utf-8")
        with pytest.raises(InvalidInput) as info:
            check_crs_members(path, "宗地.geojson")
        assert "--crs" in info.value.message_en and "crs" in info.value.message_zh, name
    # a crs key past the first MiB, split across two blocks
    padding = " " * ((1 << 20) - 30)
    doc = hostile_geojsons(listener.url)["link"].replace('"crs"', padding + '"crs"')
    path.write_text(doc, "utf-8")
    with pytest.raises(InvalidInput):
        check_crs_members(path, "宗地.geojson")
    assert listener.hits == []


def test_named_crs_and_crs_as_a_word_are_accepted(tmp_path: Path) -> None:
    named = (
        '{"type":"FeatureCollection","crs":{"type":"name","properties":'
        '{"name":"urn:ogc:def:crs:OGC:1.3:CRS84"}},"features":[' + _feature() + "]}"
    )
    word = '{"type":"FeatureCollection","note":"crs","features":[' + _feature() + "]}"
    for doc in (named, word):
        path = tmp_path / "ok.geojson"
        path.write_text(doc, "utf-8")
        check_crs_members(path, "ok.geojson")


def _upload(base: str, token: str, path: Path, **form: str) -> httpx.Response:
    with open(path, "rb") as fh:
        return httpx.post(
            f"{base}/uploads",
            files={"file": (path.name, fh, "application/octet-stream")},
            data={"layer": "parcels", **form},
            headers={"Authorization": f"Bearer {token}"},
            timeout=120,
        )


def test_ssrf_through_an_upload_reaches_nothing(db, tmp_path: Path, listener) -> None:
    token = add_user("cehui", "surveyor", db.engine)
    uploads = tmp_path / "uploads"
    with layers_data.running_server(db.url, TUZHENG_INGEST_UPLOAD_DIR=str(uploads)) as base:
        for name, doc in hostile_geojsons(listener.url).items():
            path = tmp_path / "宗地.geojson"
            path.write_text(doc, "utf-8")
            for dry in ("true", "false"):
                r = _upload(base, token, path, dry_run=dry)
                assert r.status_code == 422, (name, r.text)
                body = r.json()
                assert "link or URL" in body["message_en"], body
                assert "FETCHED" not in r.text
        # a well-formed GeoJSON (RFC 7946, no crs) still goes in
        path.write_text('{"type":"FeatureCollection","features":[' + _feature() + "]}", "utf-8")
        ok = _upload(base, token, path)
        assert ok.status_code == 201, ok.text
    assert listener.hits == []
    assert list(uploads.iterdir()) == []


_GDAL_READ = """
import sys
from spatial.ingest.isolated import block_network
if sys.argv[2] == "block":
    keep = block_network()
import pyogrio
print(pyogrio.read_info(sys.argv[1]).get("crs"))
"""


@pytest.mark.parametrize("block", ["none", "block"])
def test_the_worker_cannot_reach_the_network_even_past_the_check(
    tmp_path: Path, listener, block: str
) -> None:
    """Defence in depth: GDAL itself, given the link, is unable to fetch it in a worker."""
    path = tmp_path / "link.geojson"
    path.write_text(hostile_geojsons(listener.url)["link"], "utf-8")
    env = {**os.environ, "no_proxy": "127.0.0.1,localhost", "NO_PROXY": "127.0.0.1"}
    out = subprocess.run(
        [sys.executable, "-c", _GDAL_READ, str(path), block],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    if block == "none":  # the control: without the block GDAL does fetch it
        assert listener.hits == ["/link"] and "FETCHED" in out.stdout
    else:
        assert listener.hits == [] and "FETCHED" not in out.stdout


# --- GeoPackages that run their own SQL --------------------------------------------------


def _gpkg(path: Path, n: int = 20) -> Path:
    gdf = gpd.GeoDataFrame(
        {"宗地编号": [f"GM-{i}" for i in range(n)], "权属类型": ["原农村集体土地"] * n},
        geometry=[
            shapely.MultiPolygon(
                [shapely.box(500_000 + 10 * i, 2_510_000, 500_005 + 10 * i, 2_510_005)]
            )
            for i in range(n)
        ],
        crs=4547,
    )
    pyogrio.write_dataframe(gdf, path, layer="parcels", driver="GPKG")
    return path


def _recursive_view(path: Path) -> Path:
    """Register a view with an endless recursive query as a feature layer of the GeoPackage."""
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE VIEW slow AS
          WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)
          SELECT p.fid AS fid, p.geom AS geom, p."宗地编号" AS "宗地编号"
          FROM parcels p, c WHERE c.x < 0;
        INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id)
          VALUES ('slow', 'features', 'slow', 4547);
        INSERT INTO gpkg_geometry_columns VALUES ('slow', 'geom', 'MULTIPOLYGON', 4547, 0, 0);
        CREATE TRIGGER boom AFTER INSERT ON parcels BEGIN SELECT 1; END;
        """
    )
    conn.commit()
    conn.close()
    return path


def test_a_geopackage_with_a_view_is_refused_in_seconds_leaving_no_files(
    db, tmp_path: Path
) -> None:
    token = add_user("cehui", "surveyor", db.engine)
    uploads = tmp_path / "uploads"
    hostile = _recursive_view(_gpkg(tmp_path / "宗地.gpkg"))
    with layers_data.running_server(db.url, TUZHENG_INGEST_UPLOAD_DIR=str(uploads)) as base:
        for dry in ("true", "false"):
            r = _upload(base, token, hostile, dry_run=dry, source_layer="slow")
            # Refused by the view check, before GDAL runs the view: its recursion never ends,
            # so had it run, the answer would be the worker's time limit (worker_timeout).
            assert r.status_code == 422, r.text
            assert "slow" in r.json()["message_en"] and "views" in r.json()["message_en"]
            codes = [p["code"] for p in r.json()["report"]["problems"]]
            assert "worker_timeout" not in codes and "worker_cpu_limit" not in codes, codes
        assert list(uploads.iterdir()) == []
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT status FROM datasets")).scalars().all()
    assert rows == ["failed"]  # the real upload is recorded as refused; the dry run is not


def _generated_column(path: Path) -> Path:
    """A GeoPackage whose layer has a generated column costing about 10 ms of CPU per row."""
    conn = sqlite3.connect(path)
    conn.execute(
        "ALTER TABLE parcels ADD COLUMN heavy INTEGER GENERATED ALWAYS AS "
        "(length(replace(hex(zeroblob(2000000 + fid - fid)), '00', 'ab'))) VIRTUAL"
    )
    conn.commit()
    conn.close()
    return path


def test_cpu_time_is_capped_by_the_file_size(db, tmp_path: Path) -> None:
    heavy = _generated_column(_gpkg(tmp_path / "宗地.gpkg", n=2000))  # about 20 s of CPU
    settings = IngestSettings(
        upload_dir=tmp_path / "uploads", worker_cpu_base_s=1, worker_cpu_s_per_mb=0
    )
    with pytest.raises(InvalidInput) as info:
        ingest_isolated(heavy, "parcels", engine=db.engine, settings=settings, crs="EPSG:4547")
    # the CPU-time limit stopped it (not the wall-clock one, which is 120 s here)
    assert "CPU" in info.value.message_en and "2 s" in info.value.message_en
    problems = [p["code"] for p in info.value.detail["report"]["problems"]]
    assert problems == ["worker_cpu_limit"]
    assert list((tmp_path / "uploads").iterdir()) == []
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM datasets")).scalars().all() == ["failed"]


def _children(pid: int) -> set[int]:
    out = set()
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.add(int(d.name))
    return out


def _workers(server_pid: int) -> set[int]:
    """The ingest workers of a server: the children of its multiprocessing forkserver."""
    out: set[int] = set()
    for child in _children(server_pid):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"forkserver" in cmdline:
            out |= _children(child)
    return out


def test_an_abandoned_upload_stops_its_worker_and_deletes_its_files(db, tmp_path: Path) -> None:
    token = add_user("cehui", "surveyor", db.engine)
    uploads = tmp_path / "uploads"
    heavy = _generated_column(_gpkg(tmp_path / "宗地.gpkg", n=3000))  # about 30 s of CPU
    data = heavy.read_bytes()
    env = {"TUZHENG_INGEST_UPLOAD_DIR": str(uploads)}
    with layers_data.server_process(db.url, **env) as (base, proc):
        boundary = "tzb"
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="layer"\r\n\r\nparcels\r\n'
                f'--{boundary}\r\nContent-Disposition: form-data; name="crs"\r\n\r\nEPSG:4547\r\n'
                f"--{boundary}\r\nContent-Disposition: form-data; "
                'name="file"; filename="a.gpkg"\r\n'
                "Content-Type: application/geopackage+sqlite3\r\n\r\n"
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        host, port = base.removeprefix("http://").split(":")
        sock = socket.create_connection((host, int(port)))
        sock.sendall(
            (
                f"POST /uploads HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode()
            + body
        )
        deadline = time.monotonic() + 30
        while not _workers(proc.pid) or not any(uploads.glob("worker-*")):
            assert time.monotonic() < deadline, "the worker never started"
            time.sleep(0.1)
        sock.close()  # the surveyor closes the browser tab
        deadline = time.monotonic() + 10
        while _workers(proc.pid):
            assert time.monotonic() < deadline, "the worker was not stopped"
            time.sleep(0.2)
        deadline = time.monotonic() + 10
        while list(uploads.iterdir()):
            assert time.monotonic() < deadline, list(uploads.iterdir())
            time.sleep(0.2)
        assert httpx.get(f"{base}/health").status_code == 200
    with db.engine.connect() as conn:
        report = conn.execute(text("SELECT report FROM datasets")).scalar_one()
    assert [p["code"] for p in report["problems"]][-1] == "worker_cancelled"


def test_json_of_the_listener_helpers_is_valid(listener) -> None:
    for doc in hostile_geojsons(listener.url).values():
        if "'crs'" not in doc:
            json.loads(doc)
