"""Projects as the analyses see them: the current project rows, and the NotFound check."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import Engine

from spatial.db import read_row, read_rows
from spatial.errors import NotFound

_F = TypeVar("_F", bound=Callable[..., Any])

_ENGINE = "engine\n    SQLAlchemy engine of the tuzheng store."

PROJECT_DOC_PARTS: dict[str, str] = {
    "engine": _ENGINE,
    "parameters": (
        f"Parameters\n----------\n{_ENGINE}\nproject_code\n    Code of a current project."
    ),
    "raises_not_found": (
        "Raises\n------\nNotFound\n    If ``project_code`` names no current project."
    ),
}
"""The docstring sections every per-project analysis shares, written here once (unindented)."""

_PLACEHOLDER = re.compile(r"^([ \t]*)\{(\w+)\}[ \t]*$", re.MULTILINE)


def project_doc(fn: _F) -> _F:
    """Replace each line ``{parameters}``, ``{engine}`` or ``{raises_not_found}`` of ``fn``'s
    numpy-style docstring with that part of :data:`PROJECT_DOC_PARTS`, indented as the
    placeholder is; answers ``fn`` itself. An unknown placeholder raises ``KeyError``."""

    def part(m: re.Match[str]) -> str:
        return "\n".join(m.group(1) + line for line in PROJECT_DOC_PARTS[m.group(2)].split("\n"))

    if fn.__doc__ is not None:  # None under python -OO
        fn.__doc__ = _PLACEHOLDER.sub(part, fn.__doc__)
    return fn


class ProjectSummary(BaseModel):
    """A current land readiness project (整备项目): code, name, stage and boundary area (m²)."""

    code: str
    name: str
    district: str | None = None
    stage: str | None = None
    area_m2: float
    """Planar area of the project boundary in EPSG:4547, m²."""
    retained_site_count: int
    parcel_count: int


def list_projects(engine: Engine) -> list[ProjectSummary]:
    """Every current project with its boundary area (m², planar EPSG:4547), ordered by code.

    Examples
    --------
    >>> [p.code for p in list_projects(engine)]  # doctest: +SKIP
    ['GM-001', 'GM-002']
    """
    q = """
        SELECT p.code, p.name, p.district, p.stage, ST_Area(p.geom) AS area_m2,
               (SELECT count(*) FROM current_retained_land r WHERE r.project_code = p.code)
                   AS retained_site_count,
               (SELECT count(*) FROM current_parcels c WHERE c.project_code = p.code)
                   AS parcel_count
        FROM current_projects p
        ORDER BY p.code
        """
    return [ProjectSummary(**r) for r in read_rows(engine, q)]


def project_row(engine: Engine, code: str) -> dict[str, Any]:
    """Code, name, district and stage of the current project ``code``; NotFound if none."""
    row = read_row(
        engine,
        "SELECT code, name, district, stage FROM current_projects "
        "WHERE code = :code ORDER BY id LIMIT 1",
        {"code": code},
        missing=NotFound(f"整备项目不存在：{code}", f"no current project with code {code!r}"),
    )
    return dict(row)


def project_rows(engine: Engine, codes: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Rows (code, name, district, stage) of the current projects, all or the given codes."""
    q = "SELECT DISTINCT ON (code) code, name, district, stage FROM current_projects"
    params: dict[str, Any] = {}
    if codes is not None:
        q += " WHERE code = ANY(:codes)"
        params["codes"] = list(codes)
    q += " ORDER BY code, id"
    return [dict(r) for r in read_rows(engine, q, params)]
