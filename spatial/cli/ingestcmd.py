"""``tuzheng ingest``: load a surveyor's file into a layer, or refuse it with a report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from spatial.ingest.options import IngestOptions, cli_signature

EXIT_REFUSED = 1
"""Exit status when the upload is refused (invalid content, too large, conflict)."""

PHASE_LABELS = {
    "read": "读取 read",
    "check": "检查 check",
    "copy": "写入 copy",
    "index": "建索引 index",
    "publish": "发布 publish",
}


def _terminal_progress(phase: str) -> None:
    """Print a phase on stderr (only used when stderr is a terminal)."""
    import sys

    print(f"… {PHASE_LABELS.get(phase, phase)}", file=sys.stderr, flush=True)


def ingest_command(
    path: Path = typer.Argument(..., help="zip / shp / gpkg / geojson"),
    mapping: Path | None = typer.Option(None, "--mapping", help="YAML/JSON column mapping"),
    as_json: bool = typer.Option(False, "--json", help="print the report as JSON on stdout"),
    **choices: Any,
) -> None:
    """导入 Ingest a shapefile (zip), GeoPackage or GeoJSON into LAYER (all or nothing).

    The other flags (--layer, --crs, --encoding, --mode, --dry-run, --strict, --source-layer)
    are the fields of ``spatial.ingest.options.IngestOptions``, the upload form's too.
    """
    import sys

    from spatial.errors import DomainError
    from spatial.ingest import ingest

    # phases on a terminal only: quiet with --json, in pipes and scripts
    progress = _terminal_progress if (not as_json and sys.stderr.isatty()) else None
    try:
        report = ingest(
            path, IngestOptions.of(**choices), mapping=mapping, user="cli", progress=progress
        )
    except DomainError as exc:
        rep = exc.detail.get("report")
        if as_json:
            typer.echo(json.dumps(rep or exc.to_dict(), ensure_ascii=False, indent=1))
        else:
            _print_problems(rep)
            typer.echo(f"已拒绝 refused: {exc.message_zh} / {exc.message_en}", err=True)
        raise typer.Exit(EXIT_REFUSED) from exc
    if as_json:
        typer.echo(report.model_dump_json(indent=1))
    else:
        _print_problems(report.model_dump(mode="json"))
        typer.echo(report.summary_zh())


def _print_problems(rep: dict | None) -> None:
    if not rep:
        return
    for p in rep.get("problems", []):
        row = f"第 {p['row']} 行 row {p['row']}: " if p.get("row") else ""
        typer.echo(f"[{p['severity']}] {p['code']} {row}{p['message_zh']} / {p['message_en']}")
    for code, n in rep.get("omitted_problems", {}).items():
        typer.echo(f"[…] {code}: 另有 {n} 行未列出 / {n} more rows not listed")
    typer.echo(
        f"编码 encoding: {rep.get('encoding')} ({rep.get('encoding_method')}); "
        f"坐标系 CRS: {rep.get('source_crs')} ({rep.get('crs_method')})"
    )


def register(app: typer.Typer) -> None:
    """Add ``tuzheng ingest`` to the CLI."""
    app.command("ingest")(cli_signature(ingest_command))
