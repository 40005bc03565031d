"""``tuzheng procedure``: projects under procedure tracking."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

from spatial.budget.rates import Track
from spatial.cli.clicommon import echo_json, fail, parse_day, usage_error
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


def _day(text: str | None) -> date | None:
    return None if text is None else parse_day(text)


def _print_status(p) -> None:  # noqa: ANN001 - ProjectProcedure
    reg = p.registration
    typer.echo(f"{reg.project_code} {reg.project_name or ''} ({reg.track_zh}) 截至 {p.today}")
    typer.echo(f"  当前阶段 stage: {p.stage_zh}")
    for d in p.deadlines:
        due = d.due.isoformat() if d.due else "—"
        left = f" 剩余 {d.days_left} 天" if d.days_left is not None else ""
        typer.echo(f"  {d.article} {d.label_zh} ({d.period_zh}): {due} {d.status_zh}{left}")
        if d.message_zh:
            typer.echo(f"    {d.message_zh}")
    nd = p.next_deadline
    typer.echo(f"  下一期限 next: {nd.label_zh + ' ' + str(nd.due) if nd else '无 none'}")
    typer.echo(f"  已录入日历 calendar years: {p.known_years_zh}")


@app.command("status")
def status_cmd(
    project_code: str,
    today: str | None = typer.Option(None, "--today", help="compute as of this day"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """A project's stage, deadlines, next deadline, days left and what is overdue."""
    from spatial.db import get_engine
    from spatial.procedure.events import project_procedure
    from spatial.procedure.status import china_today

    try:
        p = project_procedure(get_engine(), project_code, _day(today) or china_today())
    except DomainError as exc:
        raise fail(exc) from exc
    if as_json:
        echo_json(p.model_dump(mode="json"))
    else:
        _print_status(p)


@app.command("list")
def list_cmd(
    today: str | None = typer.Option(None, "--today", help="compute as of this day"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Every registered project, nearest deadline first."""
    from spatial.db import get_engine
    from spatial.procedure.events import bureau_list
    from spatial.procedure.status import china_today

    items = bureau_list(get_engine(), _day(today) or china_today())
    if as_json:
        echo_json([i.model_dump(mode="json") for i in items])
        return
    for i in items:
        due = i.next_due.isoformat() if i.next_due else "—"
        over = f"  逾期 {i.overdue_count}" if i.overdue_count else ""
        typer.echo(f"{due}  {i.project_code:<14} {i.stage_zh:<12} {i.next_label_zh or ''}{over}")


@app.command("record")
def record_cmd(
    project_code: str,
    step: str,
    occurred_on: str,
    by: str = typer.Option(..., "--by", help="name of the user recording it (planner/admin)"),
    note: str | None = typer.Option(None, "--note"),
) -> None:
    """Record that a procedure step happened on a day (audited)."""
    from spatial.db import get_engine
    from spatial.procedure.actors import user_by_name
    from spatial.procedure.events import record_event
    from spatial.procedure.status import china_today
    from spatial.roles import Role

    engine = get_engine()
    day = parse_day(occurred_on)
    try:
        user = user_by_name(engine, by, [Role.planner])
        p = record_event(
            engine, project_code, step, day, note, user.name, user.role.value, china_today()
        )
    except DomainError as exc:
        raise fail(exc) from exc
    _print_status(p)


@app.command("correct")
def correct_cmd(
    event_id: int,
    reason: str = typer.Option(..., "--reason"),
    by: str = typer.Option(..., "--by"),
    on: str | None = typer.Option(None, "--on", help="the corrected date"),
    withdraw: bool = typer.Option(False, "--withdraw", help="withdraw the event instead"),
) -> None:
    """Correct an event's date (or withdraw it); the old value is kept."""
    from spatial.db import get_engine
    from spatial.procedure.actors import user_by_name
    from spatial.procedure.events import correct_event
    from spatial.procedure.status import china_today
    from spatial.roles import Role

    if withdraw == (on is not None):
        raise usage_error("give --on DATE or --withdraw (one of them)")
    engine = get_engine()
    try:
        user = user_by_name(engine, by, [Role.planner])
        p = correct_event(
            engine, event_id, _day(on), reason, user.name, user.role.value, china_today()
        )
    except DomainError as exc:
        raise fail(exc) from exc
    _print_status(p)


@app.command("ledger")
def ledger_cmd(
    xlsx: Path = typer.Argument(..., help="where to write the .xlsx"),
    project: list[str] = typer.Option([], "--project", help="only these projects"),
    today: str | None = typer.Option(None, "--today"),
) -> None:
    """Write the ledger (台账) of procedure and budget as an Excel workbook."""
    from spatial.db import get_engine
    from spatial.procedure.ledger_xlsx import write_ledger
    from spatial.procedure.status import china_today

    try:
        body = write_ledger(get_engine(), project or None, _day(today) or china_today())
    except DomainError as exc:
        raise fail(exc) from exc
    xlsx.write_bytes(body)
    typer.echo(f"已写入 written: {xlsx}")


def register(root: typer.Typer) -> None:
    """Add ``tuzheng procedure`` to the root command."""
    root.add_typer(app, name="procedure")
