"""POST /uploads, GET /uploads/{id}, GET /datasets, POST /datasets/{id}/restore."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_client
from ingest_files import OWNERS, parcels, write_shp, zip_shapefile
from sqlalchemy import text

from spatial.users import add_user


def _zip(tmp_path: Path, n: int = 3, name: str = "宗地成果.zip", **kw) -> Path:
    shp = write_shp(parcels(n, **kw), tmp_path / f"src{n}")
    return zip_shapefile(shp, tmp_path / name, prefix="成果/")


def _post(client, token: str | None, path: Path, **fields):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with open(path, "rb") as fh:
        return client.post(
            "/uploads",
            files={"file": (path.name, fh, "application/zip")},
            data={"layer": "parcels", **fields},
            headers=headers,
        )


@pytest.fixture
def tokens(db) -> dict[str, str]:
    return {r: add_user(f"u-{r}", r, db.engine) for r in ("admin", "surveyor", "planner")}


def test_upload_201_report_and_get_again(db, tokens, tmp_path: Path, monkeypatch) -> None:
    uploads = tmp_path / "uploads"  # IngestSettings().upload_dir, where the raw upload goes
    monkeypatch.setenv("TUZHENG_INGEST_UPLOAD_DIR", str(uploads))  # read when the app starts
    with make_client(db) as client:
        _upload_201_report_and_get_again(db, client, tokens, tmp_path, uploads)


def _upload_201_report_and_get_again(db, client, tokens, tmp_path: Path, uploads: Path) -> None:
    r = _post(client, tokens["surveyor"], _zip(tmp_path))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "published" and body["counts"]["written"] == 3
    assert body["source_file"] == "宗地成果.zip" and body["encoding"] == "GBK"
    assert body["total_area_m2"] == pytest.approx(7500.0)
    ds = body["dataset_id"]
    again = client.get(f"/uploads/{ds}", headers={"Authorization": f"Bearer {tokens['planner']}"})
    assert again.status_code == 200
    assert again.json()["sha256"] == body["sha256"]
    listing = client.get("/datasets", headers={"Authorization": f"Bearer {tokens['planner']}"})
    assert [(d["id"], d["status"]) for d in listing.json()] == [(ds, "active")]
    with db.engine.connect() as conn:
        owners = conn.execute(text("SELECT owner FROM current_parcels ORDER BY code")).scalars()
        audit = conn.execute(
            text("SELECT user_name, role, detail FROM audit_log WHERE action = 'upload'")
        ).one()
    assert list(owners) == OWNERS[:3]
    assert audit.user_name == "u-surveyor" and audit.role == "surveyor"
    assert audit.detail["outcome"] == "published" and audit.detail["sha256"] == body["sha256"]
    # the raw file went to the upload directory (created for it) and is gone, never served
    assert uploads.is_dir() and list(uploads.iterdir()) == []
    assert client.get("/uploads/raw/宗地成果.zip").status_code == 404  # no such route
    reader = {"Authorization": f"Bearer {tokens['planner']}"}
    assert client.get("/uploads/宗地成果.zip", headers=reader).status_code == 422  # not an id
    assert client.get(f"/uploads/{ds}/file").status_code == 404


def test_same_file_again_is_200_unchanged(client, tokens, tmp_path: Path) -> None:
    z = _zip(tmp_path)
    first = _post(client, tokens["surveyor"], z).json()
    r = _post(client, tokens["surveyor"], z)
    assert r.status_code == 200
    assert r.json()["status"] == "unchanged" and r.json()["dataset_id"] == first["dataset_id"]


def test_wrong_roles_401_403(db, client, tokens, tmp_path: Path) -> None:
    z = _zip(tmp_path)
    assert _post(client, None, z).status_code == 401
    assert _post(client, "tz_wrong", z).status_code == 401
    r = _post(client, tokens["planner"], z)
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    assert client.get("/datasets").status_code == 401
    assert client.get("/uploads/1").status_code == 401
    r = client.post(
        "/datasets/1/restore", headers={"Authorization": f"Bearer {tokens['surveyor']}"}
    )
    assert r.status_code == 403
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM datasets")).scalar_one() == 0


def test_422_with_report_and_failed_dataset(client, tokens, tmp_path: Path) -> None:
    gdf = parcels(3)
    gdf["权属类型"] = ["集体", "火星用地", "国有"]
    z = zip_shapefile(write_shp(gdf, tmp_path / "s"), tmp_path / "bad.zip")
    r = _post(client, tokens["surveyor"], z)
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "invalid_input"
    rep = body["report"]
    assert [(p["row"], p["value"]) for p in rep["problems"] if p["row"]] == [(2, "火星用地")]
    got = client.get(
        f"/uploads/{rep['dataset_id']}", headers={"Authorization": f"Bearer {tokens['surveyor']}"}
    )
    assert got.status_code == 200 and got.json()["status"] == "refused"
    listing = client.get("/datasets", headers={"Authorization": f"Bearer {tokens['surveyor']}"})
    assert [d["status"] for d in listing.json()] == ["failed"]


def test_413_while_streaming(db, tokens, tmp_path: Path, monkeypatch) -> None:
    from conftest import make_client

    monkeypatch.setenv("TUZHENG_INGEST_MAX_UPLOAD_BYTES", "2000")  # read when the app is built
    big = tmp_path / "big.zip"
    big.write_bytes(b"PK" + b"\0" * 200_000)
    with make_client(db) as client:
        r = _post(client, tokens["surveyor"], big)
        assert r.status_code == 413 and r.json()["code"] == "too_large"
        # a file just over the limit but within the multipart allowance: refused by the copy
        small = _zip(tmp_path, 40)
        assert small.stat().st_size > 2000
        r = _post(client, tokens["surveyor"], small)
        assert r.status_code == 413


def test_form_options_and_restore(db, client, tokens, tmp_path: Path) -> None:
    auth = {"Authorization": f"Bearer {tokens['admin']}"}
    v1 = _post(client, tokens["admin"], _zip(tmp_path, 2, "a.zip")).json()
    r = _post(client, tokens["admin"], _zip(tmp_path, 4, "b.zip"), dry_run="true")
    assert r.status_code == 200 and r.json()["status"] == "dry_run"
    v2 = _post(client, tokens["admin"], _zip(tmp_path, 4, "b.zip"), crs="EPSG:4547")
    assert v2.status_code == 201 and v2.json()["superseded_dataset_ids"] == [v1["dataset_id"]]
    r = client.post(f"/datasets/{v1['dataset_id']}/restore", headers=auth)
    assert r.status_code == 200 and r.json()["status"] == "active"
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM current_parcels")).scalar_one() == 2
    r = _post(client, tokens["admin"], _zip(tmp_path, 2, "c.zip"), mode="sideways")
    assert r.status_code == 422
    r = _post(client, tokens["admin"], _zip(tmp_path, 2, "d.zip"), crs="EPSG:99999")
    assert r.status_code == 422 and "candidates" in r.json()


def test_non_upload_extension_is_refused(client, tokens, tmp_path: Path) -> None:
    kml = tmp_path / "x.kml"
    kml.write_text("<kml/>")
    r = _post(client, tokens["surveyor"], kml)
    assert r.status_code == 422 and "not accepted" in r.json()["message_en"]


def test_get_upload_of_unknown_or_non_upload_dataset_is_404(db, client, tokens) -> None:
    auth = {"Authorization": f"Bearer {tokens['planner']}"}
    assert client.get("/uploads/424242", headers=auth).status_code == 404
    from spatial.datasets import new_dataset
    from spatial.models import Layer

    with db.engine.begin() as conn:
        ds = new_dataset(conn, Layer.parcels, "demo:440311", "demo")
    r = client.get(f"/uploads/{ds}", headers=auth)
    assert r.status_code == 404 and r.json()["code"] == "not_found"


def test_anonymous_upload_refused_before_body_is_read(client, tokens) -> None:
    """401/403 come before the server reads (and spools) the upload body."""
    sent = {"chunks": 0}
    boundary = "tzboundary"

    def body():
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            'filename="big.zip"\r\nContent-Type: application/zip\r\n\r\n'
        ).encode()
        for _ in range(64):  # 64 MiB if it were all read
            sent["chunks"] += 1
            yield b"\0" * (1 << 20)
        yield f"\r\n--{boundary}--\r\n".encode()

    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    r = client.post("/uploads", content=body(), headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert sent["chunks"] <= 1
    sent["chunks"] = 0
    r = client.post(
        "/uploads",
        content=body(),
        headers={**headers, "Authorization": f"Bearer {tokens['planner']}"},
    )
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    assert sent["chunks"] <= 1
