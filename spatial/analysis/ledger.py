"""Area ledger (面积台账): parcels by ownership category, planar and ellipsoidal, adding up.

For a project the ledger reads, in m²::

    Σ category lines (parcel areas as surveyed)
  − overlaps   (重叠: area counted more than once because parcels overlap)
  − outside    (项目范围外: parcel area outside the project boundary)
  + gaps       (缝隙: boundary area covered by no parcel)
  = total      (the project boundary area)

Every line is computed from geometry (the union of the project's parcels, and its intersection
with the boundary), so the identity holds by construction and the residual (``closure``) only
shows floating-point noise. Each area is given twice: planar in EPSG:4547 (CGCS2000 / 3-degree
Gauss-Kruger CM 114E) and ellipsoidal on the CGCS2000 ellipsoid (the geometry transformed to
EPSG:4490 and measured as a PostGIS geography with ``use_spheroid = true``).

A project's figures are stored results (``analysis_project_ledger``, migration 0013), computed
by the view ``analysis_live_project_ledger`` and brought up to date in the transaction that
changes the project's boundary or its parcels; reading them costs no geometry work.

For the whole district (``project_code=None``) the total is the area of the union of all
current parcels (the surveyed land; there is no district boundary layer), so the only
correction is the overlaps line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel
from sqlalchemy import Engine, text

from spatial.analysis.connection import analysis_connection, fetch_dicts
from spatial.analysis.projects import project_doc, project_row
from spatial.categories import LABELS_EN, LABELS_ZH, OwnershipCategory

PLANAR_METHOD = "planar: ST_Area(geom) in EPSG:4547 (CGCS2000 / 3-degree GK CM 114E), m²"
"""How planar areas are measured."""
ELLIPSOIDAL_METHOD = (
    "ellipsoidal: ST_Area(ST_Transform(geom, 4490)::geography, use_spheroid => true) on the "
    "CGCS2000 ellipsoid, m²"
)
"""How ellipsoidal areas are measured."""

LineKind = Literal["category", "overlaps", "outside", "gaps", "total"]

_ADJUSTMENT_LABELS: dict[str, tuple[str, str, int]] = {
    "overlaps": ("宗地重叠（扣除）", "overlaps between parcels (deducted)", -1),
    "outside": (
        "项目范围外宗地面积（扣除）",
        "parcel area outside the project boundary (deducted)",
        -1,
    ),
    "gaps": ("缝隙（无宗地覆盖）", "gaps: boundary area covered by no parcel", 1),
    "total": ("合计（项目范围面积）", "total: project boundary area", 0),
}


class LedgerLine(BaseModel):
    """One line of the ledger: a category, an adjustment (overlaps/outside/gaps) or the total."""

    key: str
    """Category code, or ``overlaps``, ``outside``, ``gaps``, ``total``."""
    kind: LineKind
    label_zh: str
    label_en: str
    sign: int
    """+1 added to, −1 deducted from the category sum to reach the total; 0 for the total."""
    parcel_count: int | None = None
    planar_m2: float
    ellipsoidal_m2: float
    share: float | None = None
    """Planar area as a share of the total (0–1)."""


class AreaLedger(BaseModel):
    """The area ledger of a project or of the whole district (m²)."""

    scope: Literal["project", "district"]
    project_code: str | None = None
    project_name: str | None = None
    total_definition_zh: str
    total_definition_en: str
    planar_method: str = PLANAR_METHOD
    ellipsoidal_method: str = ELLIPSOIDAL_METHOD
    parcel_count: int
    lines: list[LedgerLine]
    total_planar_m2: float
    total_ellipsoidal_m2: float
    closure_planar_m2: float
    """Σ sign × line − total, planar; zero up to floating-point noise."""
    closure_ellipsoidal_m2: float
    adds_up: bool
    """True when both closures are below 0.01 m²."""

    def line(self, key: str) -> LedgerLine:
        """The line with ``key``: a category code, overlaps, outside, gaps or total."""
        for ln in self.lines:
            if ln.key == key:
                return ln
        raise KeyError(key)

    def to_frame(self) -> pd.DataFrame:
        """The lines as a DataFrame (one row per line, areas in m²)."""
        return pd.DataFrame([ln.model_dump() for ln in self.lines])


def _category_lines(cats: dict[str, dict[str, Any]], total_planar: float) -> list[LedgerLine]:
    lines = []
    for cat in OwnershipCategory:
        c = cats.get(cat.value, {"n": 0, "planar": 0.0, "ellip": 0.0})
        lines.append(
            LedgerLine(
                key=cat.value,
                kind="category",
                label_zh=LABELS_ZH[cat],
                label_en=LABELS_EN[cat],
                sign=1,
                parcel_count=int(c["n"]),
                planar_m2=float(c["planar"] or 0.0),
                ellipsoidal_m2=float(c["ellip"] or 0.0),
                share=(float(c["planar"] or 0.0) / total_planar) if total_planar else None,
            )
        )
    return lines


def _adjustment(key: str, planar: float, ellip: float, total_planar: float) -> LedgerLine:
    zh, en, sign = _ADJUSTMENT_LABELS[key]
    return LedgerLine(
        key=key,
        kind=key,  # type: ignore[arg-type]
        label_zh=zh,
        label_en=en,
        sign=sign,
        planar_m2=planar,
        ellipsoidal_m2=ellip,
        share=(planar / total_planar) if total_planar else None,
    )


def _finish(
    lines: list[LedgerLine], total_planar: float, total_ellip: float, **fields: Any
) -> AreaLedger:
    closure_p = sum(ln.sign * ln.planar_m2 for ln in lines) - total_planar
    closure_e = sum(ln.sign * ln.ellipsoidal_m2 for ln in lines) - total_ellip
    lines = [*lines, _adjustment("total", total_planar, total_ellip, total_planar)]
    count = sum(ln.parcel_count or 0 for ln in lines if ln.kind == "category")
    return AreaLedger(
        lines=lines,
        parcel_count=count,
        total_planar_m2=total_planar,
        total_ellipsoidal_m2=total_ellip,
        closure_planar_m2=closure_p,
        closure_ellipsoidal_m2=closure_e,
        adds_up=abs(closure_p) < 0.01 and abs(closure_e) < 0.01,
        **fields,
    )


_ELLIP = "ST_Area(ST_Transform({g}, 4490)::geography, true)"

_PROJECT_LEDGER_SQL = """
SELECT code, name, b_planar, b_ellip, u_planar, u_ellip, i_planar, i_ellip, cats
FROM analysis_project_ledger
WHERE (CAST(%(all)s AS boolean) OR code = ANY(%(codes)s))
ORDER BY code
"""
"""Project ledgers are stored results (migration 0013): ``analysis_project_ledger`` holds what
the view ``analysis_live_project_ledger`` computes (boundary, union of the project's parcels,
its intersection with the boundary, category sums), brought up to date when a project boundary
or its parcels change."""


def project_ledgers(engine: Engine, codes: Sequence[str] | None = None) -> dict[str, AreaLedger]:
    """Ledgers of several projects in one set-based query (all current projects if None)."""
    with analysis_connection(engine) as conn:
        rows = fetch_dicts(
            conn, _PROJECT_LEDGER_SQL, {"all": codes is None, "codes": list(codes or [])}
        )
    out: dict[str, AreaLedger] = {}
    for r in rows:
        total_p, total_e = float(r["b_planar"]), float(r["b_ellip"])
        cats = r["cats"] or {}
        lines = _category_lines(cats, total_p)
        sum_p = sum(ln.planar_m2 for ln in lines)
        sum_e = sum(ln.ellipsoidal_m2 for ln in lines)
        u_p, u_e = float(r["u_planar"]), float(r["u_ellip"])
        i_p, i_e = float(r["i_planar"]), float(r["i_ellip"])
        lines += [
            _adjustment("overlaps", sum_p - u_p, sum_e - u_e, total_p),
            _adjustment("outside", u_p - i_p, u_e - i_e, total_p),
            _adjustment("gaps", total_p - i_p, total_e - i_e, total_p),
        ]
        out[r["code"]] = _finish(
            lines,
            total_p,
            total_e,
            scope="project",
            project_code=r["code"],
            project_name=r["name"],
            total_definition_zh="项目范围（整备项目范围）面积",
            total_definition_en="area of the project boundary",
        )
    return out


_DISTRICT_LEDGER_SQL = f"""
WITH pc AS (
    SELECT category::text AS category, count(*) AS n, sum(ST_Area(geom)) AS planar,
           sum({_ELLIP.format(g="geom")}) AS ellip
    FROM current_parcels GROUP BY 1
),
un AS (SELECT ST_Union(geom) AS g FROM current_parcels)
SELECT coalesce(ST_Area(un.g), 0) AS u_planar, coalesce({_ELLIP.format(g="un.g")}, 0) AS u_ellip,
       (SELECT coalesce(jsonb_object_agg(pc.category, jsonb_build_object(
                'n', pc.n, 'planar', pc.planar, 'ellip', pc.ellip)), '{{}}'::jsonb)
        FROM pc) AS cats
FROM un
"""


def district_ledger(engine: Engine) -> AreaLedger:
    """The ledger of every current parcel; the total is the area of their union (m²)."""
    with analysis_connection(engine) as conn:
        r = conn.execute(text(_DISTRICT_LEDGER_SQL)).mappings().one()
    total_p, total_e = float(r["u_planar"]), float(r["u_ellip"])
    lines = _category_lines(r["cats"] or {}, total_p)
    sum_p = sum(ln.planar_m2 for ln in lines)
    sum_e = sum(ln.ellipsoidal_m2 for ln in lines)
    lines.append(_adjustment("overlaps", sum_p - total_p, sum_e - total_e, total_p))
    return _finish(
        lines,
        total_p,
        total_e,
        scope="district",
        total_definition_zh="全区现状宗地合并（并集）面积",
        total_definition_en="area of the union of all current parcels in the district",
    )


@project_doc
def area_ledger(engine: Engine, project_code: str | None = None) -> AreaLedger:
    """The area ledger of one project, or of the whole district when ``project_code`` is None.

    Parameters
    ----------
    {engine}
    project_code
        Code of a current project; ``None`` for every current parcel in the district.

    Returns
    -------
    AreaLedger
        Lines per ownership category (parcel count, planar and ellipsoidal m², share of the
        total), then overlaps, outside and gaps, then the total; ``adds_up`` is True when the
        signed lines reproduce the total within 0.01 m². ``.to_frame()`` gives a DataFrame.

    {raises_not_found}

    Examples
    --------
    >>> ledger = area_ledger(engine, "GM-001")  # doctest: +SKIP
    >>> ledger.line("collective").planar_m2, ledger.adds_up  # doctest: +SKIP
    (412345.67, True)
    """
    if project_code is None:
        return district_ledger(engine)
    project_row(engine, project_code)
    return project_ledgers(engine, [project_code])[project_code]
