"""Shared bits of the procedure and budget commands: errors and JSON output."""

from __future__ import annotations

import json
from typing import Any

import typer

from spatial.errors import DomainError


def fail(exc: DomainError) -> typer.Exit:
    """Print a domain error (both languages, each problem) to stderr; exit status 1."""
    typer.echo(str(exc), err=True)
    for p in exc.detail.get("problems", []):
        typer.echo(f"  {p.get('message_zh', '')} / {p.get('message_en', '')}", err=True)
    return typer.Exit(1)


def echo_json(data: Any) -> None:
    """Print ``data`` as JSON, Chinese unescaped (money stays text: exact decimals)."""
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
