"""``tuzheng user``: users, passwords and API tokens."""

from __future__ import annotations

import sys

import typer

from spatial.errors import DomainError
from spatial.roles import Role

app = typer.Typer(help="用户 Users, passwords and API tokens.", no_args_is_help=True)


def _read_password(from_stdin: bool, ask: bool) -> str | None:
    """The password from stdin's first line, or asked twice on a terminal; None if neither."""
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        return line or None
    if ask and sys.stdin.isatty():
        pw: str = typer.prompt(
            "密码 Password (留空则只用令牌 empty: token only)",
            default="",
            hide_input=True,
            confirmation_prompt=True,
            show_default=False,
        )
        return pw or None
    return None


def _fail(exc: DomainError) -> typer.Exit:
    typer.echo(f"{exc.message_zh} / {exc.message_en}", err=True)
    return typer.Exit(1)


@app.command("add")
def add(
    name: str,
    role: Role = typer.Option(..., "--role", help="admin, surveyor, planner or analyst"),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="read the password from the first line of stdin"
    ),
) -> None:
    """Create a user and print its API token (shown once; only its hash is stored).

    On a terminal it asks for a password for the browser sign-in (empty: token only).
    """
    from spatial.users import add_user

    try:
        password = _read_password(password_stdin, ask=True)
        token = add_user(name, role, password=password)
    except DomainError as exc:
        raise _fail(exc) from exc
    typer.echo(token)


@app.command("passwd")
def passwd(
    name: str,
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="read the password from the first line of stdin"
    ),
) -> None:
    """Set or reset NAME's password (their browser sessions end)."""
    from spatial.db import get_engine
    from spatial.users import set_password

    password = _read_password(password_stdin, ask=True)
    if password is None:
        typer.echo("没有输入密码 / no password given", err=True)
        raise typer.Exit(1)
    try:
        set_password(get_engine(), name, password, "cli")
    except DomainError as exc:
        raise _fail(exc) from exc
    typer.echo(f"已设置密码 password set: {name}")


@app.command("list")
def list_command() -> None:
    """List users: name, role, active, password set, last sign-in."""
    from spatial.db import get_engine
    from spatial.users import list_users

    for u in list_users(get_engine()):
        state = "active" if u["active"] else "inactive"
        pw = "password" if u["has_password"] else "token-only"
        last = u["last_login"].isoformat(timespec="minutes") if u["last_login"] else "-"
        typer.echo(f"{u['name']:<20} {u['role']:<9} {state:<8} {pw:<10} {last}")
