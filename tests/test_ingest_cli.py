"""``tuzheng ingest`` and ``tuzheng datasets`` as a user runs them (subprocess, real exit codes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ingest_files import parcels, write_shp, zip_shapefile

ROOT = Path(__file__).resolve().parent.parent


def _run(db, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": db.url}
    return subprocess.run(
        [_tuzheng(), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _tuzheng() -> str:
    return str(Path(sys.executable).with_name("tuzheng"))


def test_cli_ingest_json_exit_codes_and_restore(db, tmp_path: Path) -> None:
    z = zip_shapefile(write_shp(parcels(3), tmp_path / "a"), tmp_path / "宗地.zip")
    dry = _run(db, "ingest", str(z), "--layer", "parcels", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["status"] == "dry_run"
    ok = _run(db, "ingest", str(z), "--layer", "parcels", "--json")
    assert ok.returncode == 0, ok.stderr
    first = json.loads(ok.stdout)
    assert first["status"] == "published" and first["encoding"] == "GBK"
    z2 = zip_shapefile(write_shp(parcels(5), tmp_path / "b"), tmp_path / "b.zip")
    assert _run(db, "ingest", str(z2), "--layer", "parcels").returncode == 0
    bad = parcels(2)
    bad["权属类型"] = ["集体", "未知类"]
    refused = _run(db, "ingest", str(write_shp(bad, tmp_path / "c")), "--layer", "parcels")
    assert refused.returncode == 1
    assert "未知类" in refused.stdout and "refused" in refused.stderr
    listing = _run(db, "datasets", "list", "--layer", "parcels", "--json")
    assert [d["status"] for d in json.loads(listing.stdout)] == ["failed", "active", "superseded"]
    restored = _run(db, "datasets", "restore", str(first["dataset_id"]))
    assert restored.returncode == 0, restored.stderr
    listing = json.loads(_run(db, "datasets", "list", "--json").stdout)
    assert [d["status"] for d in listing] == ["failed", "superseded", "active"]
