"""``tuzheng procedure``: projects under procedure tracking."""

from __future__ import annotations

import typer

from spatial.budget.rates import Track
from spatial.cli.clicommon import echo_json, fail
from spatial.errors import DomainError

app = typer.Typer(help="程序 Project procedure and deadlines.", no_args_is_help=True)


@app.command("register")
def register_cmd(
    project_code: str,
    track: Track = typer.Option(..., "--track"),
    public_infrastructure: bool = typer.Option(False, "--public-infrastructure"),
    by: str = typer.Option(..., "--by", help="name of the user recording it (planner/admin)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Register a current project for procedure tracking (track; Art. 16 public infrastructure)."""
    from spatial.db import get_engine
    from spatial.procedure.actors import user_by_name
    from spatial.procedure.projects import register_project
    from spatial.roles import Role

    engine = get_engine()
    try:
        user = user_by_name(engine, by, [Role.planner])
        reg = register_project(
            engine, project_code, track, public_infrastructure, user.name, user.role.value
        )
    except DomainError as exc:
        raise fail(exc) from exc
    if as_json:
        echo_json(reg.model_dump(mode="json"))
    else:
        typer.echo(f"{reg.project_code} {reg.project_name or ''}: {reg.track_zh}")


def register(root: typer.Typer) -> None:
    """Add ``tuzheng procedure`` to the root command."""
    root.add_typer(app, name="procedure")
