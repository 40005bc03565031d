"""``tuzheng analysis``: the stored analysis results — their state, a full refresh, a check."""

from __future__ import annotations

import typer

app = typer.Typer(help="存储的分析结果 stored analysis results", no_args_is_help=True)


@app.command("status")
def status() -> None:
    """Versions of the stored results and what their last refresh recomputed."""
    from spatial.analysis.stored import results_state
    from spatial.db import get_engine

    for s in results_state(get_engine()):
        when = s.refreshed_at.isoformat(timespec="seconds") if s.refreshed_at else "never"
        typer.echo(f"{s.name:<8} version {s.version:<6} refreshed {when}  {s.detail or {}}")


@app.command("refresh")
def refresh() -> None:
    """Recompute every stored result from the live views (they are kept current anyway)."""
    from spatial.analysis.stored import refresh_all
    from spatial.db import get_engine

    done = refresh_all(get_engine())
    typer.echo(
        f"已重新计算 recomputed: {done.get('sites')} sites, {done.get('projects')} projects "
        f"in {done.get('ms')} ms"
    )


@app.command("check")
def check(
    project: list[str] = typer.Option(None, "--project", "-p", help="only these project codes"),
) -> None:
    """Compare every stored result with the live views computed now; exit 1 on a difference."""
    from spatial.analysis.stored import compare_with_live
    from spatial.db import get_engine

    found = compare_with_live(get_engine(), project or None)
    for m in found[:50]:
        typer.echo(f"{m.result} {m.key} {m.column}: stored {m.stored!r} ≠ live {m.live!r}")
    if found:
        typer.echo(f"{len(found)} 处不一致 differences", err=True)
        raise typer.Exit(1)
    typer.echo("存储结果与实时计算一致 stored results equal the live computation")


def register(root: typer.Typer) -> None:
    """Add ``tuzheng analysis`` to ``root``."""
    root.add_typer(app, name="analysis")
