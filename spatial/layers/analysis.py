"""Analysis layers (reserve overlaps with route, uncovered parts, conflicts) as collections.

They are served from the SQL views of the analysis migration (0003): the map and the project
review read the same views, so they cannot disagree.
"""

from __future__ import annotations

from psycopg import sql

from spatial.layers.collection import REVIEW_DEPENDS, Collection, Prop, route_zh


def _area(title_zh: str, title_en: str, name: str = "area_m2") -> Prop:
    return Prop(name, "number", title_zh, title_en)


_REASON = (
    Prop("reason_code", "string", "原因代码", "Reason code"),
    Prop("reason_zh", "string", "原因", "Reason"),
    Prop("reason_en", "string", "原因（英文）", "Reason (English)"),
)
"""Why a part needs a planning study, in Chinese and English (uncovered parts, conflicts)."""

_SITE = (
    Prop("project_code", "string", "项目编号", "Project code"),
    Prop("site_code", "string", "留用地编号", "Retained land code"),
    Prop("site_name", "string", "留用地名称", "Retained land name"),
)
"""The retained-land site a part belongs to (every analysis layer starts with it)."""
_SITE_TILES = tuple(p.name for p in _SITE)
"""The site's properties, carried in every analysis layer's tiles (popups, styling)."""

_PLANNED_USE = Prop("planned_use", "string", "规划用途", "Planned land use")


def _review_layer(
    id: str,  # noqa: A002 (the Collection field it sets)
    title_zh: str,
    title_en: str,
    description: str,
    properties: tuple[Prop, ...],
    tiles: tuple[str, ...],
) -> Collection:
    """A layer of review results: the view ``analysis_<id>`` (migration 0003), integer ``id``,
    depending on the review inputs and the stored results (:data:`REVIEW_DEPENDS`)."""
    return Collection(
        id=id,
        title_zh=title_zh,
        title_en=title_en,
        relation=f"analysis_{id}",
        id_column="id",
        kind="analysis",
        description=description,
        properties=(*_SITE, *properties),
        depends_on=REVIEW_DEPENDS,
        tile_properties=(*_SITE_TILES, *tiles),
    )


ANALYSIS_COLLECTIONS: tuple[Collection, ...] = (
    _review_layer(
        "reserve_overlaps",
        "留用土地占用国有储备土地",
        "Retained land on state reserve land",
        "3000 m² rule (Art. 6, 19, 20): occupied parts and the approval route",
        (
            Prop(
                "reserve_codes",
                "string",
                "储备地编号",
                "Reserve land codes",
                expr=sql.SQL("array_to_string(t.reserve_codes, ',')"),
            ),
            _area("占用面积（平方米）", "Occupied area (m²)"),
            _area("项目合计占用（平方米）", "Project total occupied (m²)", "project_total_m2"),
            Prop("route", "string", "审批路径代码", "Approval route code"),
            route_zh(),
        ),
        ("reserve_codes", "area_m2", "project_total_m2", "route", "route_zh"),
    ),
    _review_layer(
        "uncovered",
        "法定图则未覆盖部分",
        "Parts not covered by statutory plans",
        "Art. 17, 20: uncovered parts of retained land need a planning study",
        (
            _PLANNED_USE,
            _area("留用地面积（平方米）", "Site area (m²)", "site_area_m2"),
            _area("覆盖面积（平方米）", "Covered area (m²)", "covered_m2"),
            _area("未覆盖面积（平方米）", "Uncovered area (m²)"),
            *_REASON,
        ),
        ("planned_use", "area_m2", "reason_code", "reason_zh"),
    ),
    _review_layer(
        "conflicts",
        "用途与法定图则冲突",
        "Planned use conflicts with the zoning",
        "Art. 17, 20: parts whose planned use needs a statutory plan adjustment",
        (
            _PLANNED_USE,
            Prop("plan_code", "string", "图则编号", "Plan code"),
            Prop("plan_name", "string", "图则名称", "Plan name"),
            Prop("zone_code", "string", "地块编号", "Zone code"),
            Prop("zone_class", "string", "图则用地性质", "Zone land-use class"),
            Prop("compatibility_note", "string", "兼容性说明", "Compatibility note"),
            _area("冲突面积（平方米）", "Conflicting area (m²)"),
            *_REASON,
        ),
        ("planned_use", "zone_code", "zone_class", "area_m2", "reason_zh"),
    ),
)
