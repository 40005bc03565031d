"""Search the map: parcels by code, projects by code or name, retained-land sites by code."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import Engine, text

from spatial.errors import BadRequest

MAX_QUERY = 50


class SearchHit(BaseModel):
    """A feature found: its layer (collection id), code, label, and bounding box (lon/lat)."""

    layer: str
    layer_zh: str
    code: str
    label: str
    project_code: str | None
    bbox: tuple[float, float, float, float]
    """(west, south, east, north) in EPSG:4326 degrees."""


_SQL = """
WITH hits AS (
    (SELECT 'projects' AS layer, '整备项目' AS layer_zh, code, coalesce(name, '') AS label,
            code AS project_code, geom, 0 AS rank
     FROM current_projects
     WHERE code ILIKE :pat ESCAPE '\\' OR name ILIKE :pat ESCAPE '\\'
     ORDER BY (code = :q) DESC, code LIMIT :n)
    UNION ALL
    (SELECT 'retained_land', '留用土地', code, coalesce(name, ''), project_code, geom, 1
     FROM current_retained_land WHERE code ILIKE :pat ESCAPE '\\'
     ORDER BY (code = :q) DESC, project_code, code LIMIT :n)
    UNION ALL
    (SELECT 'parcels', '宗地', code, coalesce(category::text, ''), project_code, geom, 2
     FROM current_parcels WHERE code ILIKE :pat ESCAPE '\\'
     ORDER BY (code = :q) DESC, code LIMIT :n)
)
SELECT layer, layer_zh, code, label, project_code, ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
FROM (SELECT *, ST_Transform(ST_Envelope(geom), 4326) AS e FROM hits) h
ORDER BY (code = :q) DESC, rank, code
LIMIT :n
"""


def search_features(engine: Engine, query: str, limit: int = 20) -> list[SearchHit]:
    """Features whose code (or a project's name) contains ``query``, exact codes first.

    Case-insensitive substring match; ``%`` and ``_`` in ``query`` match themselves. Parcel
    hits are labelled with their ownership category code. At most ``limit`` hits (≤ 100).

    Examples
    --------
    >>> [h.code for h in search_features(engine, "GM-ZB-001")][:1]  # doctest: +SKIP
    ['GM-ZB-001']
    """
    q = (query or "").strip()
    if not q or len(q) > MAX_QUERY or "\x00" in q:
        raise BadRequest(
            f"请输入 1–{MAX_QUERY} 个字符的编号或名称",
            f"give a code or name of 1–{MAX_QUERY} characters",
        )
    n = max(1, min(int(limit), 100))
    pat = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    with engine.connect() as conn:
        rows = conn.execute(text(_SQL), {"q": q, "pat": pat, "n": n}).all()
    return [
        SearchHit(
            layer=r[0],
            layer_zh=r[1],
            code=r[2],
            label=r[3],
            project_code=r[4],
            bbox=(float(r[5]), float(r[6]), float(r[7]), float(r[8])),
        )
        for r in rows
    ]
