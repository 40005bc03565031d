"""Database connections for the analyses."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from psycopg.rows import dict_row
from sqlalchemy import Connection, Engine


@contextmanager
def analysis_connection(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction with JIT compilation off, for the analysis queries.

    The geometry functions make the planner's cost estimates large enough to trigger
    PostgreSQL's JIT, whose compile time (about 0.7 s per query) exceeds the query itself.
    ``SET LOCAL`` ends with the transaction, so pooled connections are left unchanged.
    """
    with engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL jit = off")
        yield conn


def fetch_dicts(conn: Connection, query: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rows of ``query`` (psycopg placeholders, ``%(name)s``) as dicts, on ``conn``'s driver.

    For the reads of whole tables of stored results (20,000 sites of a city): psycopg builds
    the dicts itself, several times faster than SQLAlchemy's result rows.
    """
    raw = conn.connection.driver_connection
    with raw.cursor(row_factory=dict_row) as cur:  # type: ignore[union-attr]
        cur.execute(query.encode(), params)
        return cur.fetchall()
