"""Shared bits of the commands: errors, dates and JSON output."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import typer

from spatial.errors import DomainError


def fail(exc: DomainError) -> typer.Exit:
    """Print a domain error (both languages, each problem) to stderr; exit status 1."""
    typer.echo(str(exc), err=True)
    for p in exc.detail.get("problems", []):
        typer.echo(f"  {p.get('message_zh', '')} / {p.get('message_en', '')}", err=True)
    return typer.Exit(1)


def usage_error(message: str) -> typer.Exit:
    """Print what is wrong with the arguments to stderr; exit status 2 (nothing was done)."""
    typer.echo(message, err=True)
    return typer.Exit(2)


def parse_day(text: str, what: str = "date") -> date:
    """``YYYY-MM-DD`` as a date; anything else is a usage error naming ``what`` (exit 2)."""
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise usage_error(f"日期格式错误 / bad {what}: {text!r}") from exc


def echo_json(data: Any) -> None:
    """Print ``data`` as JSON, Chinese unescaped (money stays text: exact decimals)."""
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
