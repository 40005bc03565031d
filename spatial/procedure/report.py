"""A project's procedure and budget as report tables: one source for the Excel ledger (台账)
and for the project's PDF report.

:func:`procedure_report` answers with titled tables (Chinese headers, English alongside) whose
cells are text, dates or ``Decimal`` yuan, ready to lay out in any format. The PDF report of a
project (issue #12) can call it and render each table as it is.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel
from sqlalchemy import Engine

from spatial.budget.money import ROUNDING_RULE_ZH
from spatial.budget.pool import pool_status
from spatial.budget.store import project_budget
from spatial.procedure.events import ProjectProcedure, project_procedure

Cell = str | int | date | Decimal | None


class ReportTable(BaseModel):
    """A titled table: ``columns`` are (Chinese, English) header pairs."""

    key: str
    title_zh: str
    title_en: str
    columns: list[tuple[str, str]]
    rows: list[list[Cell]]


class ProcedureReport(BaseModel):
    """A project's procedure and budget, as of ``today``, in tables."""

    project_code: str
    project_name: str | None
    today: date
    procedure: ProjectProcedure
    tables: list[ReportTable]


SUMMARY_COLS = [
    ("项目编号", "project code"),
    ("项目名称", "project name"),
    ("类型", "track"),
    ("当前阶段", "stage"),
    ("下一期限", "next deadline"),
    ("到期日", "due"),
    ("剩余天数", "days left"),
    ("逾期事项数", "overdue"),
    ("总补偿费用(元)", "total (yuan)"),
    ("第十六条", "Art. 16"),
    ("已录入日历年份", "calendar years known"),
]
EVENT_COLS = [
    ("项目编号", "project code"),
    ("事项编号", "event id"),
    ("程序步骤", "step"),
    ("条款", "article"),
    ("日期", "date"),
    ("状态", "state"),
    ("更正自", "supersedes"),
    ("原因", "reason"),
    ("备注", "note"),
    ("登记人", "recorded by"),
    ("登记时间", "recorded at"),
]
DEADLINE_COLS = [
    ("项目编号", "project code"),
    ("期限", "deadline"),
    ("条款", "article"),
    ("期间", "period"),
    ("起算事项", "counted from"),
    ("起算日", "start"),
    ("到期日", "due"),
    ("完成日", "done"),
    ("状态", "status"),
    ("剩余天数", "days left"),
    ("剩余工作日", "working days left"),
    ("说明", "message"),
]
BUDGET_COLS = [
    ("项目编号", "project code"),
    ("费用项目", "line"),
    ("条款", "article"),
    ("计提基数", "base"),
    ("基数金额(元)", "base (yuan)"),
    ("比例", "rate"),
    ("金额(元)", "amount (yuan)"),
]
ITEM_COLS = [
    ("项目编号", "project code"),
    ("序号", "line"),
    ("费用类型", "section"),
    ("类别", "category"),
    ("名称", "description"),
    ("数量", "quantity"),
    ("单位", "unit"),
    ("金额(元)", "amount (yuan)"),
]
POOL_COLS = [
    ("项目编号", "project code"),
    ("日期", "date"),
    ("类型", "kind"),
    ("金额(元)", "amount (yuan)"),
    ("备注", "note"),
    ("登记人", "recorded by"),
]


def percent_label(rate: Decimal | None) -> str | None:
    """A rate as a percentage label, e.g. ``Decimal("0.0075")`` → ``"0.75%"``."""
    return None if rate is None else f"{(rate * 100).normalize():f}%"


def procedure_report(engine: Engine, code: str, today: date) -> ProcedureReport:
    """The tables of project ``code``'s procedure and budget as of ``today`` (404 if not
    registered): 项目概况, 程序事项, 期限, 预算, 补偿明细, 调剂资金池."""
    p = project_procedure(engine, code, today)
    b = project_budget(engine, code)
    nd = p.next_deadline
    summary: list[list[Cell]] = [
        [
            code,
            p.registration.project_name,
            p.registration.track_zh,
            p.stage_zh,
            nd.label_zh if nd else None,
            nd.due if nd else None,
            nd.days_left if nd else None,
            len(p.overdue),
            b.budget.total,
            "可以不编制预算方案" if b.budget.art16.exempt else "须编制预算方案",
            p.known_years_zh,
        ]
    ]
    events: list[list[Cell]] = [
        [
            code,
            h.id,
            h.step_zh,
            h.article,
            h.occurred_on,
            "现行"
            if h.current
            else ("已撤销" if h.occurred_on is None else f"已被 #{h.superseded_by} 更正"),
            h.supersedes,
            h.reason,
            h.note,
            h.recorded_by,
            h.recorded_at.strftime("%Y-%m-%d %H:%M"),
        ]
        for h in p.history
    ]
    deadlines: list[list[Cell]] = [
        [
            code,
            d.label_zh + (f"（第 {d.occurrence} 次）" if d.occurrence > 1 else ""),
            d.article,
            d.period_zh,
            d.start_step,
            d.start_on,
            d.due,
            d.done_on,
            d.status_zh,
            d.days_left,
            d.working_days_left,
            d.message_zh,
        ]
        for d in p.deadlines
    ]
    budget: list[list[Cell]] = [
        [code, ln.label_zh, ln.article, ln.base_zh, ln.base, percent_label(ln.rate), ln.amount]
        for ln in b.budget.lines
    ]
    budget += [
        [
            code,
            f"业务费其中：{s.label_zh}",
            "第三十八条",
            "业务费",
            None,
            percent_label(s.rate),
            s.amount,
        ]
        for s in b.budget.business_fee_shares
    ]
    budget.append([code, "总补偿费用", "第十五条", None, None, None, b.budget.total])
    budget.append([code, "取整规则", None, ROUNDING_RULE_ZH, None, None, None])
    items: list[list[Cell]] = [
        [code, i.line, i.section_zh, i.category_zh, i.description, i.quantity, i.unit, i.amount]
        for i in b.items
    ]
    pool: list[list[Cell]] = [
        [code, m.on_date, "调用" if m.kind == "draw" else "补回", m.amount, m.note, m.recorded_by]
        for m in pool_status(engine).movements
        if m.project_code == code
    ]
    tables = [
        ReportTable(
            key="summary",
            title_zh="项目概况",
            title_en="Summary",
            columns=SUMMARY_COLS,
            rows=summary,
        ),
        ReportTable(
            key="events",
            title_zh="程序事项",
            title_en="Procedure events",
            columns=EVENT_COLS,
            rows=events,
        ),
        ReportTable(
            key="deadlines",
            title_zh="期限",
            title_en="Deadlines",
            columns=DEADLINE_COLS,
            rows=deadlines,
        ),
        ReportTable(
            key="budget", title_zh="预算", title_en="Budget", columns=BUDGET_COLS, rows=budget
        ),
        ReportTable(
            key="items",
            title_zh="补偿明细",
            title_en="Compensation items",
            columns=ITEM_COLS,
            rows=items,
        ),
        ReportTable(
            key="pool",
            title_zh="调剂资金池",
            title_en="Adjustment pool (Art. 36)",
            columns=POOL_COLS,
            rows=pool,
        ),
    ]
    return ProcedureReport(
        project_code=code,
        project_name=p.registration.project_name,
        today=today,
        procedure=p,
        tables=tables,
    )
