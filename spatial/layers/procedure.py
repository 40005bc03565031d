"""The map layer of projects under procedure, coloured by stage and by overdue deadlines.

Served from the ``procedure_projects_map`` view (migration 0008): the current project
boundaries joined with the status the procedure module stores with every event, with
*overdue* worked out against today's date in China. ``map_class`` is ``overdue`` when any
deadline is overdue, else the phase of the current stage (:data:`spatial.procedure.steps.PHASES`).
"""

from __future__ import annotations

from psycopg import sql

from spatial.layers.collection import Collection, Prop, case_sql
from spatial.procedure.steps import PHASES

PROCEDURE_DEPENDS = ("projects", "procedure")
"""The projects layer and the procedure status (NOTIFY ``procedure`` on every change)."""


def phase_case_sql(column: sql.Composable) -> sql.Composable:
    """``CASE`` mapping a stage code column to its phase code (from :data:`PHASES`)."""
    return case_sql(column, ((step, ph.code) for ph in PHASES for step in ph.steps))


MAP_CLASS = sql.SQL("CASE WHEN t.overdue_count > 0 THEN 'overdue' ELSE {} END").format(
    phase_case_sql(sql.SQL("t.stage"))
)

PROCEDURE_COLLECTIONS: tuple[Collection, ...] = (
    Collection(
        id="procedure_projects",
        title_zh="项目程序进度",
        title_en="Project procedure stage",
        relation="procedure_projects_map",
        id_column="id",
        kind="analysis",
        description="Art. 13–29: each project's stage and overdue deadlines",
        properties=(
            Prop("project_code", "string", "项目编号", "Project code"),
            Prop("project_name", "string", "项目名称", "Project name"),
            Prop("track", "string", "项目类型", "Track"),
            Prop("stage", "string", "当前阶段代码", "Stage code"),
            Prop("stage_zh", "string", "当前阶段", "Stage"),
            Prop("map_class", "string", "图例分类", "Map class", expr=MAP_CLASS),
            Prop("next_label_zh", "string", "下一期限", "Next deadline"),
            Prop("next_due", "string", "到期日", "Due", expr=sql.SQL("t.next_due::text")),
            Prop("overdue_count", "integer", "逾期事项数", "Overdue deadlines"),
            Prop("calendar_unknown", "boolean", "日历未录入", "Calendar year not entered"),
        ),
        depends_on=PROCEDURE_DEPENDS,
        tile_properties=(
            "project_code",
            "project_name",
            "stage_zh",
            "map_class",
            "next_label_zh",
            "next_due",
            "overdue_count",
        ),
    ),
)
