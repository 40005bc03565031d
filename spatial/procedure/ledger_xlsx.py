"""The bureau's ledger (台账) as an Excel workbook: the tables of :func:`procedure_report`.

One sheet per table (项目概况, 程序事项, 期限, 预算, 补偿明细, 调剂资金池), Chinese headers in
the first row and English in the second, one block of rows per project. Amounts are written
as exact decimals with the format ``#,##0.00``; dates as dates.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from io import BytesIO

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlalchemy import Engine

from spatial.procedure.projects import listed_codes
from spatial.procedure.report import ReportTable, procedure_report


def _codes(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return listed_codes(conn)


def write_ledger(engine: Engine, codes: Sequence[str] | None, today: date) -> bytes:
    """The ledger of projects ``codes`` (None: every project of the bureau list) as .xlsx bytes."""
    reports = [procedure_report(engine, c, today) for c in (codes or _codes(engine))]
    wb = Workbook()
    first = True
    templates: list[ReportTable] = reports[0].tables if reports else procedure_report_templates()
    for t_index, template in enumerate(templates):
        ws = wb.active if first else wb.create_sheet()
        first = False
        ws.title = template.title_zh
        ws.append([zh for zh, _ in template.columns])
        ws.append([en for _, en in template.columns])
        for c in ws[1]:
            c.font = Font(bold=True)
        for c in ws[2]:
            c.font = Font(italic=True, color="666666")
        for rep in reports:
            for row in rep.tables[t_index].rows:
                ws.append(list(row))
                for cell in ws[ws.max_row]:
                    if isinstance(cell.value, Decimal):
                        cell.number_format = "#,##0.00"
                    elif isinstance(cell.value, date):
                        cell.number_format = "yyyy-mm-dd"
        for i, (zh, _) in enumerate(template.columns, start=1):
            ws.column_dimensions[get_column_letter(i)].width = max(10, 2 * len(zh) + 4)
        ws.freeze_panes = "A3"
    buf = BytesIO()
    wb.save(buf)
    return buf.getvalue()


def procedure_report_templates() -> list[ReportTable]:
    """Empty tables with the ledger's headers (a ledger with no project registered)."""
    from spatial.procedure import report as r

    spec = [
        ("summary", "项目概况", "Summary", r.SUMMARY_COLS),
        ("events", "程序事项", "Procedure events", r.EVENT_COLS),
        ("deadlines", "期限", "Deadlines", r.DEADLINE_COLS),
        ("budget", "预算", "Budget", r.BUDGET_COLS),
        ("items", "补偿明细", "Compensation items", r.ITEM_COLS),
        ("pool", "调剂资金池", "Adjustment pool (Art. 36)", r.POOL_COLS),
    ]
    return [
        ReportTable(key=k, title_zh=zh, title_en=en, columns=cols, rows=[])
        for k, zh, en, cols in spec
    ]
