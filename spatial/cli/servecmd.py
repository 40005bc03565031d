"""``tuzheng serve`` and ``tuzheng bootstrap``: what ``make run`` calls."""

from __future__ import annotations

import typer


def bootstrap_db(load_demo: bool = True) -> None:
    """Start the local cluster if used, migrate, and load the demo district when empty."""
    from spatial import localdb, migrate
    from spatial.db import get_engine

    typer.echo(localdb.start())
    migrate.upgrade()
    if load_demo:
        from data.demo import load_demo_if_empty

        msg = load_demo_if_empty(get_engine())
        typer.echo(msg)


def register(app: typer.Typer) -> None:
    """Add the serve and bootstrap commands to ``app``."""

    @app.command("bootstrap")
    def bootstrap(demo: bool = typer.Option(True, help="load the demo district if empty")) -> None:
        """Start the database, migrate, and load the demo district on first start."""
        bootstrap_db(demo)

    @app.command("serve")
    def serve(
        host: str = typer.Option("127.0.0.1"),
        port: int = typer.Option(8000),
        bootstrap: bool = typer.Option(True, help="start the database and migrate first"),
    ) -> None:
        """Serve the API and the web map with uvicorn."""
        import uvicorn

        if bootstrap:
            bootstrap_db(True)
        uvicorn.run("api.app:app_factory", factory=True, host=host, port=port)
