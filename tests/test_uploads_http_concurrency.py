"""Concurrent uploads over real HTTP (uvicorn): two at once both go in, one after the other;
an upload to a layer busy for longer than ``TUZHENG_INGEST_LOCK_TIMEOUT_S`` gets 409."""

from __future__ import annotations

import threading
import zipfile
from pathlib import Path

import httpx
import layers_data
import pytest
from ingest_files import parcels, write_shp
from sqlalchemy import text

from spatial.users import add_user

pytestmark = pytest.mark.e2e


def _zip(tmp_path: Path, name: str, n: int, x0: float) -> bytes:
    shp = write_shp(parcels(n, x0=x0), tmp_path / name)
    z = tmp_path / f"{name}.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for part in sorted(shp.parent.iterdir()):
            zf.write(part, part.name)
    return z.read_bytes()


def _post(base: str, token: str, data: bytes, name: str) -> httpx.Response:
    return httpx.post(
        f"{base}/uploads",
        files={"file": (f"{name}.zip", data, "application/zip")},
        data={"layer": "parcels"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=300,
    )


def _datasets(engine) -> list[tuple]:  # noqa: ANN001
    """(id, status, row_count, rows in its partition) of every dataset. A superseded version's
    partition is detached from ``parcels`` (migration 0010) but kept whole for a restore; a
    refused upload's is dropped (0 rows)."""
    out = []
    with engine.connect() as conn:
        for i, status, n in conn.execute(
            text("SELECT id, status, row_count FROM datasets ORDER BY id")
        ).all():
            table = f"parcels_ds_{int(i)}"
            kept = conn.execute(text("SELECT to_regclass(:t)"), {"t": table}).scalar()
            rows = conn.execute(text(f'SELECT count(*) FROM "{table}"')).scalar() if kept else 0
            out.append((i, status, n, rows))
    return out


def test_two_uploads_at_once_over_http_then_409_on_a_busy_layer(db, tmp_path: Path):
    token = add_user("测绘员", "surveyor", db.engine)
    files = {"a": _zip(tmp_path, "a", 30, 500_000.0), "b": _zip(tmp_path, "b", 40, 510_000.0)}
    env = {"TUZHENG_INGEST_LOCK_TIMEOUT_S": "1"}
    with layers_data.running_server(db.url, **env) as base:
        results: dict[str, httpx.Response] = {}
        start = threading.Barrier(2)

        def send(name: str) -> None:
            start.wait()
            results[name] = _post(base, token, files[name], name)

        threads = [threading.Thread(target=send, args=(n,)) for n in files]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        bodies = {n: r.json() for n, r in results.items()}
        assert {n: r.status_code for n, r in results.items()} == {"a": 201, "b": 201}, bodies
        # one after the other, each whole: the one published second supersedes the first
        # (dataset ids are taken at staging, so they need not be in publishing order)
        first, second = sorted(bodies.values(), key=lambda b: len(b["superseded_dataset_ids"]))
        assert first["superseded_dataset_ids"] == []
        assert second["superseded_dataset_ids"] == [first["dataset_id"]]
        got = {i: (s, n, c) for i, s, n, c in _datasets(db.engine)}
        assert got == {
            first["dataset_id"]: (
                "superseded",
                first["counts"]["written"],
                first["counts"]["written"],
            ),  # noqa: E501
            second["dataset_id"]: (
                "active",
                second["counts"]["written"],
                second["counts"]["written"],
            ),  # noqa: E501
        }
        assert sorted(b["counts"]["written"] for b in bodies.values()) == [30, 40]

        # the layer is busy (another writer holds its lock) for longer than the timeout: 409
        release, held = threading.Event(), threading.Event()

        def hold() -> None:
            with db.engine.begin() as conn:
                conn.execute(
                    text("SELECT pg_advisory_xact_lock(hashtext('tuzheng.layer.parcels'))")
                )
                held.set()
                release.wait(120)

        holder = threading.Thread(target=hold)
        holder.start()
        try:
            assert held.wait(30)
            before = _datasets(db.engine)
            r = _post(base, token, _zip(tmp_path, "c", 5, 520_000.0), "c")
            assert r.status_code == 409, r.text
            body = r.json()
            assert body["code"] == "conflict"
            assert body["message_en"] == "another upload is writing layer parcels; retry later"
            assert body["report"]["status"] == "refused"
        finally:
            release.set()
            holder.join()
        after = _datasets(db.engine)
        assert after[:-1] == before and after[-1][1:] == ("failed", 0, 0)
        assert httpx.get(f"{base}/collections", timeout=30).status_code == 200
