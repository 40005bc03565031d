"""``tuzheng db``: the local cluster and migrations."""

from __future__ import annotations

import typer

app = typer.Typer(help="数据库 Database: start the local PostGIS, migrate.", no_args_is_help=True)


@app.command("up")
def up() -> None:
    """Start the local PostGIS cluster, or bootstrap DATABASE_URL's role as
    TUZHENG_PG_ADMIN_URL, then migrate as the app's role."""
    from spatial import localdb, migrate

    try:
        typer.echo(localdb.start())
    except localdb.LocalDatabaseError as exc:
        typer.echo(f"错误 error: {exc}", err=True)
        raise typer.Exit(2) from exc
    migrate.upgrade()
    typer.echo(f"migrated to {migrate.current_revision()}")


@app.command("stop")
def stop() -> None:
    """Stop the local cluster."""
    from spatial import localdb

    localdb.stop()


@app.command("migrate")
def migrate_cmd() -> None:
    """Apply the Alembic migrations to the configured database."""
    from spatial import migrate

    migrate.upgrade()
    typer.echo(f"migrated to {migrate.current_revision()}")


@app.command("url")
def url() -> None:
    """Print the SQLAlchemy URL in use."""
    from sqlalchemy.engine import make_url

    from spatial.settings import database_settings

    typer.echo(make_url(database_settings().url()).render_as_string(hide_password=True))
