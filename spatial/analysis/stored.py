"""The stored analysis results (migration 0013): their state, a full refresh, and a check.

The reserve occupation, plan coverage, conflicts, ledgers and site compositions that the
review, the map layers and the review attributes read are stored, and brought up to date by
the database itself in the transaction that changes one of their inputs (a dataset published,
superseded, restored or deleted; rows of an active dataset edited; ``land_use_compatibility``
edited), recomputing only the projects and sites those changes can affect. Nothing here is
needed for that; this module lets people see and verify it:

- :func:`results_state` — the versions of the stored results and what the last refresh did;
- :func:`refresh_all` — recompute everything (after a restore of a database dump taken with
  triggers disabled, say);
- :func:`compare_with_live` — every stored row against the same views computed now.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import shapely
from sqlalchemy import Engine, text

from spatial.analysis.connection import analysis_connection

RESULTS: dict[str, tuple[str, str, str]] = {
    # served view: (live view, key column, project column)
    "analysis_site_reserve": ("analysis_live_site_reserve", "id", "project_code"),
    "analysis_site_zones": ("analysis_live_site_zones", "id", "project_code"),
    "analysis_site_coverage": ("analysis_live_site_coverage", "id", "project_code"),
    "analysis_reserve_overlaps": ("analysis_live_reserve_overlaps", "id", "project_code"),
    "analysis_conflicts": ("analysis_live_conflicts", "id", "project_code"),
    "analysis_uncovered": ("analysis_live_uncovered", "id", "project_code"),
    "analysis_project_ledger": ("analysis_live_project_ledger", "code", "code"),
    "analysis_site_composition": ("analysis_live_site_composition", "id", "project_code"),
}
"""Every stored result as it is read, and the live view that computes it."""

AREA_TOLERANCE_M2 = 1e-6
"""Largest difference (m²) between a stored and a recomputed area that counts as equal. Sums
over many parcels may add in another order when a subset is recomputed (last-bit noise)."""


@dataclass(frozen=True)
class ResultsState:
    """Version of one kind of stored result and what its last refresh did."""

    name: str
    """``sites`` (reserve, zones, coverage: the map layers) or ``ledgers``."""
    version: int
    refreshed_at: datetime | None
    detail: dict[str, Any] | None
    """Units recomputed (``ledgers``, ``compositions``, ``reserve_sites``, ``coverage_sites``),
    input rows that changed (``changed_rows``), ``full``, and the time taken (``ms``)."""


@dataclass(frozen=True)
class Mismatch:
    """A stored value that differs from the value the live view computes now."""

    result: str
    key: Any
    column: str
    stored: Any
    live: Any


def results_state(engine: Engine) -> list[ResultsState]:
    """The versions of the stored results (``sites``, ``ledgers``) and their last refresh."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT name, version, refreshed_at, detail FROM analysis_versions ORDER BY name")
        ).all()
    return [ResultsState(r[0], int(r[1]), r[2], r[3]) for r in rows]


def refresh_all(engine: Engine) -> dict[str, Any]:
    """Recompute every stored result from the live views; returns what was done (``ms`` …).

    Examples
    --------
    >>> refresh_all(engine)["full"]  # doctest: +SKIP
    True
    """
    with engine.begin() as conn:
        return dict(conn.execute(text("SELECT tz_analysis_refresh_all()")).scalar_one())


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=AREA_TOLERANCE_M2)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, bytes | memoryview) and isinstance(b, bytes | memoryview):
        ga, gb = shapely.from_wkb(bytes(a)), shapely.from_wkb(bytes(b))
        if ga.is_empty or gb.is_empty:
            return bool(ga.is_empty and gb.is_empty)
        return bool(shapely.equals(ga, gb))
    return bool(a == b)


def _rows(conn: Any, relation: str, key: str, where: str, codes: list[str]) -> dict[Any, dict]:
    cols = [
        r[0]
        for r in conn.execute(
            text(
                "SELECT attname FROM pg_attribute WHERE attrelid = CAST(:r AS regclass) "
                "AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
            ),
            {"r": relation},
        )
    ]
    select = ", ".join(
        f'ST_AsBinary("{c}") AS "{c}"' if c.startswith("geom") else f'"{c}"' for c in cols
    )
    rows = conn.execute(text(f'SELECT {select} FROM "{relation}" {where}'), {"codes": codes})
    out: dict[Any, dict] = {}
    for r in rows.mappings():
        out.setdefault(r[key], dict(r))  # repeated site×zone ids: first one (same content)
    return out


def compare_with_live(engine: Engine, project_codes: Sequence[str] | None = None) -> list[Mismatch]:
    """Every stored result (all, or those of ``project_codes``) against the live views.

    Each stored relation is read next to its live view (the 0003/0013 SQL computed now) and
    compared row by row: same keys, equal values, areas within :data:`AREA_TOLERANCE_M2`,
    geometries topologically equal. An empty list means the stored results are current.
    Computing the live views costs what the stored results save: use it in tests and checks.

    Examples
    --------
    >>> compare_with_live(engine, ["GM-ZB-001"])  # doctest: +SKIP
    []
    """
    codes = list(project_codes or [])
    out: list[Mismatch] = []
    with analysis_connection(engine) as conn:
        for served, (live, key, project) in RESULTS.items():
            where = f'WHERE "{project}" = ANY(:codes)' if project_codes is not None else ""
            stored_rows = _rows(conn, served, key, where, codes)
            live_rows = _rows(conn, live, key, where, codes)
            for k in sorted(stored_rows.keys() | live_rows.keys(), key=str):
                s, v = stored_rows.get(k), live_rows.get(k)
                if s is None or v is None:
                    out.append(Mismatch(served, k, "(row)", s is not None, v is not None))
                    continue
                for col in s:
                    if not _same(s[col], v[col]):
                        out.append(Mismatch(served, k, col, s[col], v[col]))
    return out
