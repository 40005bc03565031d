"""``tuzheng budget``: project budgets (Art. 15, 16, 33–38) and the Art. 36 pool."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from spatial.budget.rates import Track
from spatial.cli.clicommon import echo_json, fail, parse_day
from spatial.errors import DomainError

if TYPE_CHECKING:
    from spatial.budget.pool import MovementKind

app = typer.Typer(help="预算 Budgets and the adjustment pool.", no_args_is_help=True)


def _money(text: str, field: str):  # noqa: ANN202 - Decimal, imported lazily
    from spatial.budget.money import parse_yuan

    try:
        return parse_yuan(text)
    except ValueError as exc:
        typer.echo(f"{field}: {exc}", err=True)
        raise typer.Exit(2) from exc


def _print_budget(b) -> None:  # noqa: ANN001 - Budget
    from spatial.budget.money import format_yuan

    typer.echo(f"  {b.track_zh} budget ({b.payments_basis})")
    for ln in b.lines:
        rate = f" {ln.rate * 100:g}% × {format_yuan(ln.base)}" if ln.rate is not None else ""
        typer.echo(f"    {ln.label_zh:<10} {format_yuan(ln.amount):>20}{rate}  {ln.article or ''}")
    for s in b.business_fee_shares:
        typer.echo(f"      其中 {s.label_zh:<8} {format_yuan(s.amount):>16}")
    typer.echo(f"    {'总补偿费用':<10} {format_yuan(b.total):>20}")
    typer.echo(f"  第十六条: {b.art16.reason_zh}")
    typer.echo(f"  {b.rounding_zh}")


@app.command("compute")
def compute(
    track: Track = typer.Option(..., "--track"),
    direct: str = typer.Option(..., "--direct", help="direct compensation, yuan"),
    technical: str = typer.Option("0", "--technical", help="technical-support fees, yuan"),
    payments: str | None = typer.Option(None, "--payments", help="actual payments, yuan"),
    public_infrastructure: bool = typer.Option(False, "--public-infrastructure"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Compute a budget for given amounts (nothing saved)."""
    from spatial.budget.plan import compute_budget

    b = compute_budget(
        track,
        _money(direct, "direct"),
        _money(technical, "technical"),
        None if payments is None else _money(payments, "payments"),
        public_infrastructure,
    )
    if as_json:
        echo_json(b.model_dump(mode="json"))
    else:
        _print_budget(b)


@app.command("show")
def show(project_code: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """A project's items and budget."""
    from spatial.budget.store import project_budget
    from spatial.db import get_engine

    try:
        pb = project_budget(get_engine(), project_code)
    except DomainError as exc:
        raise fail(exc) from exc
    if as_json:
        echo_json(pb.model_dump(mode="json"))
        return
    typer.echo(f"{project_code} {pb.registration.project_name or ''} ({pb.registration.track_zh})")
    _print_budget(pb.budget)


@app.command("import")
def import_xlsx(
    project_code: str,
    workbook: Path = typer.Argument(..., exists=True, dir_okay=False),
    by: str = typer.Option(..., "--by", help="name of the user recording it (planner/admin)"),
    payments: str | None = typer.Option(None, "--payments", help="actual payments, yuan"),
) -> None:
    """Import compensation items from an Excel sheet as the project's new budget version."""
    from spatial.budget.store import import_items_xlsx
    from spatial.db import get_engine
    from spatial.procedure.actors import user_by_name
    from spatial.roles import Role

    engine = get_engine()
    try:
        user = user_by_name(engine, by, [Role.planner])
        pb = import_items_xlsx(
            engine,
            project_code,
            workbook.read_bytes(),
            workbook.name,
            user.name,
            user.role.value,
            None if payments is None else _money(payments, "payments"),
        )
    except DomainError as exc:
        raise fail(exc) from exc
    typer.echo(
        f"已导入 imported {len(pb.items)} items, version {pb.version.id if pb.version else ''}"
    )
    _print_budget(pb.budget)


@app.command("pool")
def pool(as_json: bool = typer.Option(False, "--json")) -> None:
    """The Art. 36 adjustment pool: drawn, repaid, available."""
    from spatial.budget.money import format_yuan
    from spatial.budget.pool import pool_status
    from spatial.db import get_engine

    st = pool_status(get_engine())
    if as_json:
        echo_json(st.model_dump(mode="json"))
        return
    typer.echo(
        f"调剂资金池 额度 {format_yuan(st.capacity)}  已调用 {format_yuan(st.drawn)}  "
        f"已补回 {format_yuan(st.repaid)}  可用 {format_yuan(st.available)}"
    )
    for p in st.projects:
        typer.echo(f"  {p.project_code}: 尚欠 outstanding {format_yuan(p.outstanding)}")


def _pool_move(
    kind: MovementKind, project_code: str, amount: str, on: str, note: str | None, by: str
) -> None:
    from spatial.budget.money import format_yuan
    from spatial.budget.pool import move
    from spatial.db import get_engine
    from spatial.procedure.actors import user_by_name
    from spatial.roles import Role

    engine = get_engine()
    day = parse_day(on)
    try:
        user = user_by_name(engine, by, [Role.planner])
        st = move(
            engine,
            kind,
            project_code,
            _money(amount, "amount"),
            day,
            note,
            user.name,
            user.role.value,
        )
    except DomainError as exc:
        raise fail(exc) from exc
    typer.echo(f"可用 available {format_yuan(st.available)}")


def _pool_command(kind: MovementKind, doc: str) -> Callable[..., None]:
    """The ``tuzheng budget <kind>`` command: one pool movement, recorded by a planner."""

    def command(
        project_code: str,
        amount: str,
        on: str = typer.Option(..., "--on", help="date, YYYY-MM-DD"),
        note: str | None = typer.Option(None, "--note"),
        by: str = typer.Option(..., "--by"),
    ) -> None:
        _pool_move(kind, project_code, amount, on, note, by)

    command.__name__ = f"{kind}_cmd"
    command.__doc__ = doc
    return command


_POOL_COMMANDS: tuple[tuple[MovementKind, str], ...] = (
    ("draw", "Draw from the Art. 36 pool for a project (refused beyond what remains)."),
    ("repay", "Repay the Art. 36 pool for a project (refused beyond what it owes)."),
)
for _kind, _doc in _POOL_COMMANDS:
    app.command(_kind)(_pool_command(_kind, _doc))


def register(root: typer.Typer) -> None:
    """Add ``tuzheng budget`` to the root command."""
    root.add_typer(app, name="budget")
