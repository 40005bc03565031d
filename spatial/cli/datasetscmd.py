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


@app.command("diff")
def diff_command(
    from_id: int = typer.Argument(..., help="the older dataset id"),
    to_id: int = typer.Argument(..., help="the newer dataset id"),
    as_json: bool = typer.Option(False, "--json", help="the whole diff as JSON on stdout"),
    limit: int = typer.Option(1000, "--limit", help="list at most this many changes (0: all)"),
) -> None:
    """What changed from dataset FROM_ID to TO_ID (same layer), by feature code."""
    from spatial.db import get_engine
    from spatial.errors import DomainError
    from spatial.versions import diff_datasets

    try:
        d = diff_datasets(get_engine(), from_id, to_id, limit=limit or None)
    except DomainError as exc:
        typer.echo(f"{exc.message_zh} / {exc.message_en}", err=True)
        raise typer.Exit(1) from exc
    if as_json:
        typer.echo(json.dumps(d.to_dict(), ensure_ascii=False, indent=1, default=str))
        return
    typer.echo(
        f"{d.layer}: {from_id} → {to_id}  新增 added {d.added}, 删除 removed {d.removed}, "
        f"变更 changed {d.changed}, 未变 unchanged {d.unchanged}"
    )
    for c in d.changes:
        parts = [f"{k}: {old} → {new}" for k, (old, new) in c.attributes.items()]
        if c.geometry_moved:
            parts.append(
                f"几何变化 geometry moved ≤ {c.moved_m:,.3f} m, Δ {c.area_change_m2:+,.2f} m²"
            )
        elif c.change != "changed" and c.area_change_m2 is not None:
            parts.append(f"{c.area_change_m2:+,.2f} m²")
        typer.echo(f"  {c.change:<8} {c.key}  {'; '.join(parts)}")
    if d.truncated:
        typer.echo(f"  … (只列出前 {limit} 项 / first {limit} listed; --limit 0 for all)")


def register(app_: typer.Typer) -> None:
    """Add ``tuzheng datasets`` to the CLI."""
    app_.add_typer(app, name="datasets")
