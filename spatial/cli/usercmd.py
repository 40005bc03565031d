"""``tuzheng user``: users and API tokens."""

from __future__ import annotations

import typer

from spatial.errors import Conflict
from spatial.roles import Role

app = typer.Typer(help="用户 Users and API tokens.", no_args_is_help=True)


@app.command("add")
def add(
    name: str,
    role: Role = typer.Option(..., "--role", help="admin, surveyor, planner or analyst"),
) -> None:
    """Create a user and print its API token (shown once; only its hash is stored)."""
    from spatial.users import add_user

    try:
        token = add_user(name, role)
    except Conflict as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    typer.echo(token)
