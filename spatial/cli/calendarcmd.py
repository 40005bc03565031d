"""``tuzheng calendar``: the working calendar (years known, a year's days, entering a notice)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from spatial.cli.clicommon import parse_day
from spatial.errors import DomainError
from spatial.procedure.periods import Unit

app = typer.Typer(help="工作日历 Working calendar (State Council holiday notices).")


def _fail(exc: DomainError) -> typer.Exit:
    typer.echo(str(exc), err=True)
    for p in exc.detail.get("problems", []):
        typer.echo(f"  {p.get('field', '')}: {p['message_zh']} / {p['message_en']}", err=True)
    return typer.Exit(1)


@app.command("years")
def years(as_json: bool = typer.Option(False, "--json")) -> None:
    """List the years whose holiday notice is known, and where each came from."""
    from spatial.db import get_engine
    from spatial.procedure.calendar_store import calendar_years

    rows = calendar_years(get_engine())
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in rows], ensure_ascii=False))
        return
    for r in rows:
        ref = f" {r.reference}" if r.reference else ""
        typer.echo(
            f"{r.year}  {r.source}{ref}  放假 {r.holiday_count} 天, 调休上班 {r.workday_count} 天"
            f"  ({r.entered_by})"
        )


@app.command("show")
def show(year: int, as_json: bool = typer.Option(False, "--json")) -> None:
    """Print a year's holidays and make-up working days."""
    from spatial.db import get_engine
    from spatial.procedure.calendar_store import known_years, year_days

    engine = get_engine()
    if year not in known_years(engine):
        typer.echo(f"{year} 年的节假日安排尚未录入 / the {year} notice is not entered", err=True)
        raise typer.Exit(1)
    days = year_days(engine, year)
    if as_json:
        typer.echo(json.dumps([d.model_dump(mode="json") for d in days], ensure_ascii=False))
        return
    for d in days:
        kind = "放假 day off" if d.kind == "holiday" else "调休上班 make-up working day"
        typer.echo(f"{d.day.isoformat()}  {d.name}  {kind}")


@app.command("enter")
def enter(
    notice_file: Path = typer.Argument(..., exists=True, dir_okay=False, help="YAML or JSON"),
    by: str = typer.Option(..., "--by", help="name of the administrator entering it"),
) -> None:
    """Enter (or replace) a year's holiday notice from a YAML/JSON file (admin, audited).

    The file: ``year``, ``reference`` (文号), ``holidays`` (list of ``start``, ``end``,
    ``name``) and ``workdays`` (list of ``day``, ``name``: weekend days worked, 调休上班).
    """
    import yaml
    from pydantic import ValidationError

    from spatial.db import get_engine
    from spatial.procedure.actors import user_by_name
    from spatial.procedure.calendar_store import HolidayNotice, enter_notice
    from spatial.roles import Role

    engine = get_engine()
    try:
        admin = user_by_name(engine, by, [Role.admin])
        data = yaml.safe_load(notice_file.read_text(encoding="utf-8"))
        notice = HolidayNotice.model_validate(data)
        entered = enter_notice(engine, notice, admin.name, admin.role.value)
    except DomainError as exc:
        raise _fail(exc) from exc
    except (ValidationError, yaml.YAMLError) as exc:
        typer.echo(f"通知文件格式错误 / bad notice file {notice_file}:\n{exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(
        f"已录入 entered {entered.year}: 放假 {entered.holiday_count} 天, "
        f"调休上班 {entered.workday_count} 天 ({entered.reference})"
    )


@app.command("seed")
def seed_cmd() -> None:
    """Add the years the installed chinese-calendar knows that the database lacks."""
    from spatial.db import get_engine
    from spatial.procedure.calendar_store import seed

    added = seed(get_engine())
    typer.echo(f"added years: {added}" if added else "nothing to add")


@app.command("period-end")
def period_end_cmd(
    start: str = typer.Argument(..., help="day of the event, YYYY-MM-DD (not counted)"),
    count: int = typer.Option(..., "--count", min=1, max=1000),
    unit: Unit = typer.Option(..., "--unit"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The last day of a period counted as Chinese law counts (Civil Code Art. 201–203)."""
    from spatial.db import get_engine
    from spatial.procedure.calendar_store import load_calendar
    from spatial.procedure.periods import Period, period_end

    day = parse_day(start)
    cal = load_calendar(get_engine())
    period = Period(count, unit)
    try:
        end = period_end(cal, day, period)
    except DomainError as exc:
        raise _fail(exc) from exc
    if as_json:
        out = {
            "start": day.isoformat(),
            "count": count,
            "unit": unit.value,
            "period_zh": period.label_zh,
            "end": end.isoformat(),
            "known_years": sorted(cal.known_years),
        }
        typer.echo(json.dumps(out, ensure_ascii=False))
    else:
        typer.echo(f"{day.isoformat()} 起 {period.label_zh} → {end.isoformat()}")


def register(root: typer.Typer) -> None:
    """Add ``tuzheng calendar`` to the root command."""
    root.add_typer(app, name="calendar")
