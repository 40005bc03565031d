"""``tuzheng datasets``: list dataset versions and restore an older one."""

from __future__ import annotations

import json

import typer

app = typer.Typer(help="数据集版本 Dataset versions.", no_args_is_help=True)


@app.command("list")
def list_command(
    layer: str | None = typer.Option(None, "--layer", help="only this layer"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List every dataset version, newest first."""
    from spatial.datasets import list_datasets
    from spatial.db import get_engine

    rows = list_datasets(get_engine(), layer)  # type: ignore[arg-type]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=1, default=str))
        return
    for r in rows:
        area = f"{r['area_m2']:.1f} m²" if r["area_m2"] is not None else "-"
        typer.echo(
            f"{r['id']:>5}  {r['layer']:<18} {r['status']:<10} {r['mode']:<7} "
            f"{r['row_count']:>8}  {area:>16}  {r['uploaded_by']}  {r['file_name']}"
        )


@app.command("restore")
def restore_command(dataset_id: int) -> None:
    """Make dataset ID the active version of its layer again (the current one is kept)."""
    from spatial.datasets import restore
    from spatial.db import get_engine
    from spatial.errors import DomainError

    try:
        out = restore(get_engine(), dataset_id, "cli")
    except DomainError as exc:
        typer.echo(f"{exc.message_zh} / {exc.message_en}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"已恢复 restored: dataset {out['dataset_id']} ({out['layer']}) is active")


def register(app_: typer.Typer) -> None:
    """Add ``tuzheng datasets`` to the CLI."""
    app_.add_typer(app, name="datasets")
