"""Database connections for the analyses."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

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
