"""Alembic environment: migrations run against the URL passed in by ``spatial.migrate``."""

from alembic import context
from sqlalchemy import Connection, create_engine, pool

from spatial.models import Base

config = context.config
target_metadata = Base.metadata


def include_object(obj, name, type_, reflected, compare_to):  # noqa: ANN001, ANN201
    # PostGIS owns these tables
    if type_ == "table" and name in {"spatial_ref_sys"}:
        return False
    return True


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate over the connection passed in, or else a connection to ``sqlalchemy.url``."""
    url = config.get_main_option("sqlalchemy.url")
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    if url is None:
        raise RuntimeError("alembic: sqlalchemy.url is not set and no connection was given")
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        _run(connection)


run_migrations_online()
