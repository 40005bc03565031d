"""Database engine and session handling. Nothing connects at import time."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, RowMapping, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from spatial.errors import DomainError
from spatial.settings import DatabaseSettings, database_settings

_engines: dict[str, Engine] = {}


def get_engine(url: str | None = None, settings: DatabaseSettings | None = None) -> Engine:
    """Return a pooled SQLAlchemy engine for ``url`` (default: the configured database).

    Engines are cached per URL so that notebooks, the CLI and the API share pools.
    """
    if url is None:
        url = (settings or database_settings()).url()
    engine = _engines.get(url)
    if engine is None:
        # JIT compilation costs ~0.7 s per analysis query, more than the query itself.
        engine = create_engine(
            url,
            pool_pre_ping=True,
            pool_size=8,
            max_overflow=8,
            connect_args={"options": "-c jit=off"},
        )
        _engines[url] = engine
    return engine


def dispose_engines() -> None:
    """Close every cached engine's connections (used by tests and at shutdown)."""
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()


@contextmanager
def transaction(bind: Engine | Connection) -> Iterator[Connection]:
    """A transaction: a new one on an Engine (committed at the end, rolled back on error), or
    the caller's, already open, on a Connection (the caller commits)."""
    if isinstance(bind, Connection):
        yield bind
    else:
        with bind.begin() as conn:
            yield conn


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """Yield a session that commits on success and rolls back on any exception."""
    factory = sessionmaker(bind=engine or get_engine(), expire_on_commit=False)
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def read_rows(
    engine: Engine, query: str, params: Mapping[str, Any] | None = None
) -> list[RowMapping]:
    """Every row of the read-only ``query`` as a mapping, on a pooled connection of its own.

    ``query`` uses SQLAlchemy's ``:name`` placeholders, bound from ``params``; identifiers in
    it come from the code, never from input.
    """
    with engine.connect() as conn:
        return list(conn.execute(text(query), dict(params or {})).mappings())


def first_row(
    conn: Connection, query: str, params: Mapping[str, Any] | None = None, *, missing: DomainError
) -> RowMapping:
    """The first row of ``query`` on ``conn`` (in its transaction); raises ``missing`` when
    there is none. Placeholders as in :func:`read_rows`."""
    row = conn.execute(text(query), dict(params or {})).mappings().first()
    if row is None:
        raise missing
    return row


def read_row(
    engine: Engine, query: str, params: Mapping[str, Any] | None = None, *, missing: DomainError
) -> RowMapping:
    """The first row of ``query`` (as :func:`read_rows`); raises ``missing`` when there is none."""
    with engine.connect() as conn:
        return first_row(conn, query, params, missing=missing)


def read_scalars(engine: Engine, query: str, params: Mapping[str, Any] | None = None) -> list[Any]:
    """The first column of every row of ``query`` (as :func:`read_rows`)."""
    with engine.connect() as conn:
        return list(conn.execute(text(query), dict(params or {})).scalars())
