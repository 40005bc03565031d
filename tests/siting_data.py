"""A hand-built project for the siting check and suggestions, with areas known exactly (m²).

Project ``S1`` is the 1 km cell at (X0, Y0) (EPSG:4547). Its one site ``S1-L1`` (R2,
100 × 100 m at (100, 100)) sits on reserve ``RA`` for its bottom 20 m → 2,000 m² occupied,
district. Reserve ``RB`` is a free 100 × 100 m square at (600, 600). Zones: ``Z-R2`` (class
R2) covers x 0–500, ``Z-M1`` (M1) x 500–800; x 800–1000 has no statutory plan.
"""

from __future__ import annotations

import uuid

import pytest
from analysis_data import load_layers, parcel, project, rect, reserve, site, zone
from conftest import _drop, _make_db

from spatial.models import Layer


def siting_layers() -> dict[Layer, list[dict]]:
    """The layers of project S1 (see the module docstring)."""
    return {
        Layer.projects: [project("S1", 0, "选址试算测试项目")],
        Layer.parcels: [
            parcel("S1-P1", "collective", "S1", rect(0, 0, 500, 1000)),
            parcel("S1-P2", "state_owned", "S1", rect(500, 0, 1000, 1000)),
        ],
        Layer.retained_land: [site("S1-L1", "S1", rect(100, 100, 200, 200), "R2")],
        Layer.state_reserve_land: [
            reserve("RA", rect(50, 50, 250, 120)),
            reserve("RB", rect(600, 600, 700, 700)),
        ],
        Layer.statutory_plans: [
            zone("Z-R2", "R2", rect(0, 0, 500, 1000)),
            zone("Z-M1", "M1", rect(500, 0, 800, 1000)),
        ],
    }


@pytest.fixture(scope="module")
def siting_db(pg_settings, template_db):
    """A database with project S1 loaded (read-only for the module's tests)."""
    test_db = _make_db(pg_settings, f"tz_siting_{uuid.uuid4().hex[:10]}", template_db.name)
    load_layers(test_db.engine, siting_layers())
    yield test_db
    _drop(pg_settings, test_db)
