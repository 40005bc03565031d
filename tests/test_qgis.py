"""QGIS itself reads every layer of the demo district (PyQGIS, offscreen, Debian's QGIS 3.22).

Debian's ``python3-qgis`` binds to the system Python, not our venv, so the test runs
``tests/qgis_probe.py`` with ``/usr/bin/python3`` against a real uvicorn server and compares
what QGIS saw (layer validity, feature counts, field types, sums over QGIS's own features, a
view-extent request, the vector tiles) with what the API serves.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys

import clients_data
import httpx
import layers_data
import numpy as np
import pytest
from PIL import Image

from spatial.layers.registry import build_registry
from spatial.settings import REPO_ROOT

SYSTEM_PYTHON = "/usr/bin/python3"
clients_db = clients_data.clients_db
ARTIFACTS = REPO_ROOT / "artifacts"


def _has_qgis() -> bool:
    try:
        probe = subprocess.run(
            [SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not _has_qgis(), reason="QGIS (python3-qgis) is not installed"),
]


@pytest.fixture(scope="module")
def qgis_report(clients_db, tmp_path_factory):
    """Run the probe once over every collection; returns (report, API features by id)."""
    out_dir = tmp_path_factory.mktemp("qgis")
    report_path = out_dir / "report.json"
    ids = [c.id for c in build_registry()]
    with layers_data.running_server(clients_db.url) as base:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PYTHON")},
            "QT_QPA_PLATFORM": "offscreen",
            "HOME": str(out_dir),  # QGIS writes its profile under $HOME
            "XDG_RUNTIME_DIR": str(out_dir),
        }
        res = subprocess.run(
            [SYSTEM_PYTHON, str(REPO_ROOT / "tests" / "qgis_probe.py"), base, str(report_path),
             str(out_dir), *ids],
            capture_output=True, text=True, timeout=600, env=env,
        )  # fmt: skip
        assert res.returncode == 0, res.stderr[-3000:]
        api = {}
        for cid in ids:
            r = httpx.get(f"{base}/collections/{cid}/items", params={"limit": 10000}, timeout=60)
            body = r.json()
            assert body["numberReturned"] == body["numberMatched"]
            api[cid] = body["features"]
    report = json.loads(report_path.read_text(encoding="utf-8"))
    ARTIFACTS.mkdir(exist_ok=True)
    for name in ("qgis_parcels_tiles.png", "qgis_parcels_oapif.png"):
        (ARTIFACTS / name.replace("_", "-")).write_bytes((out_dir / name).read_bytes())
    return report, api


def test_qgis_version(qgis_report):
    report, _ = qgis_report
    assert report["qgis_version"].startswith("3.22."), report["qgis_version"]


ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@pytest.mark.parametrize("collection", [c.id for c in build_registry()])
def test_every_collection_loads_with_its_features_and_types(qgis_report, collection):
    report, api = qgis_report
    seen = report["collections"][collection]
    assert seen["valid"], seen.get("error")
    features = api[collection]
    assert seen["count"] == len(features) > 0  # numberMatched, every page followed
    assert seen["invalid"] == 0
    assert seen["crs"] == "EPSG:4326"
    col = build_registry().get(collection)
    qgis_type = {"number": "Real", "integer": "Integer", "string": "String", "boolean": "Boolean"}
    for p in col.properties:
        values = [f["properties"][p.name] for f in features if f["properties"][p.name] is not None]
        expected = qgis_type[p.type]
        if p.type == "string" and values and all(ISO_DATE.fullmatch(v) for v in values):
            expected = "Date"  # GDAL's GeoJSON reader types ISO dates as dates (next_due)
        assert seen["fields"][p.name] == expected, (collection, p.name, seen["fields"])
        if p.type == "number":
            api_sum = sum(f["properties"][p.name] or 0.0 for f in features)
            assert seen["sums"][p.name] == pytest.approx(api_sum, abs=0.01), p.name
            nulls = sum(f["properties"][p.name] is None for f in features)
            assert seen["nulls"][p.name] == nulls, p.name
    if "code" in seen["fields"]:
        assert seen["codes"] == sorted(f["properties"]["code"] for f in features)


def test_reserve_and_uncovered_sums_are_exact(qgis_report):
    """The 3000 m² rule's figures: QGIS's sums equal the API's to 0.01 m², as doubles."""
    report, api = qgis_report
    for collection in ("retained_land", "projects"):
        seen = report["collections"][collection]
        assert seen["fields"]["reserve_m2"] == "Real"
        assert seen["fields"]["uncovered_m2"] == "Real"
        for name in ("reserve_m2", "uncovered_m2"):
            api_sum = sum(f["properties"][name] for f in api[collection])
            assert seen["sums"][name] == pytest.approx(api_sum, abs=0.01)
    # The demo has sites occupying exactly 3000 m² and 2000 m²: whole numbers in the data.
    whole = [
        f["properties"]["reserve_m2"]
        for f in api["retained_land"]
        if f["properties"]["reserve_m2"] in (2000.0, 3000.0)
    ]
    assert whole, "the demo lost its whole-number reserve cases"
    # Projects and their sites agree on the total (the same analysis views).
    sites = report["collections"]["retained_land"]["sums"]["reserve_m2"]
    projects = report["collections"]["projects"]["sums"]["reserve_m2"]
    assert sites == pytest.approx(projects, abs=0.01)


def test_a_view_extent_request_over_the_district_returns_every_parcel(qgis_report):
    report, api = qgis_report
    # restrictToRequestBBOX: QGIS sends the view extent as bbox (the request that used to 500).
    assert report["parcels_bbox_count"] == len(api["parcels"])


def test_parcels_vector_tiles_load_and_render(qgis_report):
    report, _ = qgis_report
    assert report["tiles_valid"] is True
    for name in ("qgis-parcels-tiles.png", "qgis-parcels-oapif.png"):
        img = np.asarray(Image.open(io.BytesIO((ARTIFACTS / name).read_bytes())).convert("RGB"))
        assert img.shape == (700, 900, 3)
        drawn = (img != 255).any(axis=2).mean()
        assert drawn > 0.3, (name, drawn)  # the district fills most of the picture


def test_probe_runs_outside_the_venv():
    """The probe imports QGIS from the system Python, which our venv is not."""
    assert os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON)
