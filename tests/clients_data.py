"""A database for the real-client tests (QGIS, GDAL, ogctests, CQL2 oracles): every layer has data.

The demo district, which registers five of its projects under procedure
(``data/demo_procedure.py``), so the ``procedure_projects`` layer is not empty (clients such as
``ogctests`` need features in every collection). Module-scoped: each client test module gets
its own copy, so nothing it does reaches the session's shared ``demo_db``.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

PROCEDURE_PROJECTS = 5
"""How many demo projects the demo registers under procedure."""


@pytest.fixture(scope="module")
def clients_db(pg_settings, template_db):  # noqa: ANN001, ANN201
    """The demo district with a few projects under procedure, for one test module."""
    from conftest import _drop, _make_db

    from data.demo import generate, load_into_db

    name = f"tz_clients_{uuid.uuid4().hex[:10]}"
    db = _make_db(pg_settings, name, template=template_db.name)
    load_into_db(generate(), db.engine)
    with db.engine.connect() as conn:
        mapped = conn.execute(text("SELECT count(*) FROM procedure_projects_map")).scalar_one()
    assert mapped == PROCEDURE_PROJECTS
    yield db
    _drop(pg_settings, db)


@pytest.fixture(scope="module")
def clients_client(clients_db):  # noqa: ANN001, ANN201
    """A TestClient of the app on :func:`clients_db`."""
    from conftest import make_client

    with make_client(clients_db) as c:
        yield c
