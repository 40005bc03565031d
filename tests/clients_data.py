"""A database for the real-client tests (QGIS, GDAL, ogctests, CQL2 oracles): every layer has data.

The demo district, plus three of its projects registered under the land readiness procedure so
the ``procedure_projects`` layer is not empty (clients such as ``ogctests`` need features in
every collection). Module-scoped: each client test module gets its own copy, so nothing it does
reaches the session's shared ``demo_db``.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

PROCEDURE_PROJECTS = 3
"""How many demo projects are registered under procedure (the first by code)."""


@pytest.fixture(scope="module")
def clients_db(pg_settings, template_db):  # noqa: ANN001, ANN201
    """The demo district with a few projects under procedure, for one test module."""
    from conftest import _drop, _make_db

    from data.demo import generate, load_into_db
    from spatial.budget.rates import Track
    from spatial.procedure.projects import register_project

    name = f"tz_clients_{uuid.uuid4().hex[:10]}"
    db = _make_db(pg_settings, name, template=template_db.name)
    load_into_db(generate(), db.engine)
    with db.engine.connect() as conn:
        codes = conn.execute(
            text("SELECT code FROM current_projects ORDER BY code LIMIT :n"),
            {"n": PROCEDURE_PROJECTS},
        ).scalars()
        codes = list(codes)
    for code in codes:
        register_project(db.engine, code, Track.land_readiness, False, "tester", "planner")
    yield db
    _drop(pg_settings, db)


@pytest.fixture(scope="module")
def clients_client(clients_db):  # noqa: ANN001, ANN201
    """A TestClient of the app on :func:`clients_db`."""
    from conftest import make_client

    with make_client(clients_db) as c:
        yield c
