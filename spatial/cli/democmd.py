"""``tuzheng demo``: the deterministic demo district."""

from __future__ import annotations

import typer

app = typer.Typer(help="示例数据 Demo district generator.", no_args_is_help=True)


@app.command("load")
def load(
    parcels: int = typer.Option(
        3000,
        "--parcels",
        min=100,
        help="number of parcels, before those crossing project boundaries are cut in pieces",
    ),
    seed: int = typer.Option(7, "--seed"),
    boundary: str = typer.Option(
        "440311", "--boundary", help="adcode: 440311 光明区, 440300 深圳市"
    ),
) -> None:
    """Generate the demo district and load it as new active datasets (replacing current ones)."""
    from data.demo import generate, load_into_db
    from spatial.db import get_engine
    from spatial.errors import DomainError

    try:
        district = generate(n_parcels=parcels, seed=seed, adcode=boundary)
    except DomainError as exc:
        typer.echo(f"错误 error: {exc}", err=True)
        raise typer.Exit(2) from exc
    summary = load_into_db(district, get_engine())
    typer.echo(summary)


@app.command("unload")
def unload(
    by: str = typer.Option("system", "--by", help="user name recorded in the audit log"),
) -> None:
    """Withdraw the demo datasets (示例数据); a surveyor's dataset the demo replaced comes back."""
    from spatial.db import get_engine
    from spatial.demo import unload_demo

    typer.echo(unload_demo(get_engine(), by).summary)
