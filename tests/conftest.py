"""Fixtures: a real PostGIS (the local cluster or DATABASE_URL), throwaway databases per test.

A migrated template database is built once per session; each test that writes gets its own
copy (``CREATE DATABASE … TEMPLATE``), so tests never wipe a shared database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from ci_skips import pytest_runtest_makereport  # noqa: F401  (a skip is a failure in CI)
from sqlalchemy import Engine, create_engine, pool

from spatial import localdb, migrate
from spatial.settings import DatabaseSettings

# Apps built by tests do not warm their tile caches in the background (a warmed tile would
# turn a test's expected cache miss into a hit); tests/test_tile_warming.py turns it on.
os.environ.setdefault("TUZHENG_API_TILE_WARM_TILES", "0")


@dataclass
class TestDatabase:
    """A throwaway database: its name, settings pointing at it, and an engine."""

    name: str
    settings: DatabaseSettings
    engine: Engine

    @property
    def url(self) -> str:
        return self.settings.url()


def settings_for(base: DatabaseSettings, dbname: str) -> DatabaseSettings:
    """Settings identical to ``base`` but pointing at database ``dbname``."""
    return base.for_database(dbname)


@pytest.fixture(scope="session")
def pg_settings() -> DatabaseSettings:
    settings = DatabaseSettings()
    if settings.is_local:
        localdb.start(settings)
    return settings


def _make_db(base: DatabaseSettings, name: str, template: str | None = None) -> TestDatabase:
    localdb.ensure_database(name, base, template=template)
    s = settings_for(base, name)
    engine = create_engine(s.url(), poolclass=pool.NullPool)
    return TestDatabase(name, s, engine)


def _drop(base: DatabaseSettings, db: TestDatabase) -> None:
    db.engine.dispose()
    from spatial.db import dispose_engines

    dispose_engines()
    if not os.environ.get("TUZHENG_KEEP_TEST_DB"):
        localdb.drop_database(db.name, base)


@pytest.fixture(scope="session")
def template_db(pg_settings: DatabaseSettings) -> Iterator[TestDatabase]:
    name = f"tz_tpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    db = _make_db(pg_settings, name)
    migrate.upgrade(db.url)
    db.engine.dispose()
    yield db
    _drop(pg_settings, db)


@pytest.fixture
def db(pg_settings: DatabaseSettings, template_db: TestDatabase) -> Iterator[TestDatabase]:
    """A fresh migrated, empty database for one test."""
    name = f"tz_t_{uuid.uuid4().hex[:10]}"
    test_db = _make_db(pg_settings, name, template=template_db.name)
    yield test_db
    _drop(pg_settings, test_db)


@pytest.fixture(scope="session")
def demo_db(pg_settings: DatabaseSettings, template_db: TestDatabase) -> Iterator[TestDatabase]:
    """A database with the default demo district loaded, shared read-only by a session."""
    from data.demo import generate, load_into_db

    name = f"tz_demo_{uuid.uuid4().hex[:10]}"
    test_db = _make_db(pg_settings, name, template=template_db.name)
    load_into_db(generate(), test_db.engine)
    yield test_db
    _drop(pg_settings, test_db)


def make_client(test_db: TestDatabase):  # noqa: ANN201
    """A TestClient of the app wired to ``test_db``."""
    from fastapi.testclient import TestClient

    from api.app import create_app

    return TestClient(create_app(db_settings=test_db.settings))


@pytest.fixture
def client(db: TestDatabase) -> Iterator[object]:
    with make_client(db) as c:
        yield c


@pytest.fixture(scope="session")
def demo_client(demo_db: TestDatabase) -> Iterator[object]:
    with make_client(demo_db) as c:
        yield c


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With ``TUZHENG_NO_DB=1`` (``make mutation``) run only the tests that need no database."""
    if os.environ.get("TUZHENG_NO_DB") != "1":
        return
    keep = [i for i in items if "pg_settings" not in getattr(i, "fixturenames", ())]
    config.hook.pytest_deselected(items=[i for i in items if i not in keep])
    items[:] = keep
