"""Write project reviews to an Excel workbook (.xlsx, openpyxl): one sheet per part.

Sheets, with Chinese headers (English in the second header row):
项目结论 (project verdict), 面积台账 (area ledger), 留用土地构成 (site composition),
储备用地占用 (reserve occupation and route), 图则覆盖 (plan coverage), 用途冲突 (conflicts).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from io import BytesIO
from pathlib import Path
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from spatial.analysis.review import ProjectReview
from spatial.categories import LABELS_ZH, OwnershipCategory

Column = tuple[str, str]  # (Chinese header, English header)

VERDICT_COLS: list[Column] = [
    ("项目编号", "project code"),
    ("项目名称", "project name"),
    ("阶段", "stage"),
    ("占用国有储备土地合计(m²)", "occupied state reserve land (m²)"),
    ("审批路径", "route"),
    ("审批主体", "approving body"),
    ("公示/报批程序", "publicity path"),
    ("条款", "articles"),
    ("取整规则", "rounding"),
    ("需规划研究", "planning study required"),
    ("需规划研究的留用土地", "sites requiring a study"),
    ("资质要求", "qualification"),
    ("面积台账平衡", "ledger adds up"),
    ("结论", "verdict"),
    ("Verdict", "verdict (English)"),
]
LEDGER_COLS: list[Column] = [
    ("项目编号", "project code"),
    ("项目", "line"),
    ("类别", "kind"),
    ("加减", "sign"),
    ("宗地数", "parcel count"),
    ("平面面积(m²)", "planar area (m²)"),
    ("椭球面积(m²)", "ellipsoidal area (m²)"),
    ("占比", "share"),
    ("平面面积计算方法", "planar method"),
    ("椭球面积计算方法", "ellipsoidal method"),
]
COMPOSITION_COLS: list[Column] = [
    ("项目编号", "project code"),
    ("留用土地编号", "site code"),
    ("名称", "name"),
    ("规划用途", "planned use"),
    ("用地面积(m²)", "site area (m²)"),
    *[(f"{LABELS_ZH[c]}(m²)", c.value) for c in OwnershipCategory],
    ("无宗地覆盖(m²)", "under no parcel (m²)"),
    ("宗地数", "parcel count"),
]
RESERVE_COLS: list[Column] = [
    ("项目编号", "project code"),
    ("留用土地编号", "site code"),
    ("名称", "name"),
    ("用地面积(m²)", "site area (m²)"),
    ("占用国有储备土地(m²)", "occupied reserve land (m²)"),
    ("储备用地编号", "reserve codes"),
    ("项目合计(m²)", "project total (m²)"),
    ("审批路径", "route"),
    ("取整规则", "rounding"),
]
COVERAGE_COLS: list[Column] = [
    ("项目编号", "project code"),
    ("留用土地编号", "site code"),
    ("规划用途", "planned use"),
    ("用地面积(m²)", "site area (m²)"),
    ("法定图则覆盖面积(m²)", "covered (m²)"),
    ("未覆盖面积(m²)", "uncovered (m²)"),
    ("覆盖比例", "covered share"),
    ("涉及图则地块", "zones touched"),
    ("冲突地块", "conflicting zones"),
    ("需规划研究", "planning study required"),
    ("原因", "reasons"),
    ("Reasons", "reasons (English)"),
    ("资质要求", "qualification"),
]
CONFLICT_COLS: list[Column] = [
    ("项目编号", "project code"),
    ("留用土地编号", "site code"),
    ("规划用途", "planned use"),
    ("图则编号", "plan code"),
    ("图则地块编号", "zone code"),
    ("地块用地性质", "zone class"),
    ("重叠面积(m²)", "overlap (m²)"),
    ("兼容表已列出", "listed"),
    ("原因", "reason"),
]


def _yes(v: bool) -> str:
    return "是" if v else "否"


def _rows(reviews: Sequence[ProjectReview]) -> dict[str, tuple[list[Column], list[list[Any]]]]:
    verdict, ledger, comp, reserve, coverage, conflicts = [], [], [], [], [], []
    for rv in reviews:
        v = rv.verdict
        verdict.append(
            [
                rv.project_code,
                rv.project_name,
                rv.stage,
                v.total_occupied_m2,
                v.route.value,
                v.route_label_zh,
                v.publicity.text_zh,
                v.publicity.articles,
                v.rounding,
                _yes(v.planning_study_required),
                "、".join(v.sites_requiring_study),
                v.qualification_zh,
                _yes(v.ledger_adds_up),
                v.verdict_zh,
                v.verdict_en,
            ]
        )
        for ln in rv.ledger.lines:
            ledger.append(
                [
                    rv.project_code,
                    ln.label_zh,
                    ln.kind,
                    ln.sign,
                    ln.parcel_count,
                    round(ln.planar_m2, 2),
                    round(ln.ellipsoidal_m2, 2),
                    None if ln.share is None else round(ln.share, 6),
                    rv.ledger.planar_method,
                    rv.ledger.ellipsoidal_method,
                ]
            )
        for comp_site in rv.composition:
            comp.append(
                [
                    rv.project_code,
                    comp_site.site_code,
                    comp_site.site_name,
                    comp_site.planned_use,
                    round(comp_site.site_area_m2, 2),
                    *[round(comp_site.categories_m2[c.value], 2) for c in OwnershipCategory],
                    round(comp_site.no_parcel_m2, 2),
                    comp_site.parcel_count,
                ]
            )
        for reserve_site in rv.reserve.sites:
            reserve.append(
                [
                    rv.project_code,
                    reserve_site.site_code,
                    reserve_site.site_name,
                    round(reserve_site.site_area_m2, 2),
                    reserve_site.occupied_m2,
                    "、".join(reserve_site.reserve_codes),
                    rv.reserve.total_occupied_m2,
                    rv.reserve.route_label_zh,
                    rv.reserve.rounding,
                ]
            )
        for cover_site in rv.coverage.sites:
            coverage.append(
                [
                    rv.project_code,
                    cover_site.site_code,
                    cover_site.planned_use,
                    cover_site.site_area_m2,
                    cover_site.covered_m2,
                    cover_site.uncovered_m2,
                    round(cover_site.covered_share, 4),
                    "、".join(z.zone_code for z in cover_site.zones),
                    "、".join(z.zone_code for z in cover_site.conflicts),
                    _yes(cover_site.planning_study_required),
                    "；".join(r.zh for r in cover_site.reasons),
                    "; ".join(r.en for r in cover_site.reasons),
                    cover_site.qualification_zh,
                ]
            )
            for z in cover_site.conflicts:
                conflicts.append(
                    [
                        rv.project_code,
                        cover_site.site_code,
                        cover_site.planned_use,
                        z.plan_code,
                        z.zone_code,
                        z.zone_class,
                        z.area_m2,
                        _yes(z.listed),
                        "需调整法定图则",
                    ]
                )
    return {
        "项目结论": (VERDICT_COLS, verdict),
        "面积台账": (LEDGER_COLS, ledger),
        "留用土地构成": (COMPOSITION_COLS, comp),
        "储备用地占用": (RESERVE_COLS, reserve),
        "图则覆盖": (COVERAGE_COLS, coverage),
        "用途冲突": (CONFLICT_COLS, conflicts),
    }


def write_review_xlsx(
    review: ProjectReview | Iterable[ProjectReview], target: str | Path | IO[bytes] | None = None
) -> bytes | None:
    """Write one review (or several) to an .xlsx workbook with one sheet per part.

    Parameters
    ----------
    review
        A :class:`ProjectReview`, or several (e.g. from ``review_all``): rows are concatenated
        with the project code as the first column.
    target
        A file path or binary file object; ``None`` returns the workbook as bytes.

    Returns
    -------
    bytes or None
        The workbook when ``target`` is None.

    Examples
    --------
    >>> write_review_xlsx(review_project(engine, "GM-001"), "GM-001.xlsx")  # doctest: +SKIP
    """
    reviews = [review] if isinstance(review, ProjectReview) else list(review)
    return write_sheets(_rows(reviews), target)


def write_sheets(
    sheets: dict[str, tuple[list[Column], list[list[Any]]]],
    target: str | Path | IO[bytes] | None = None,
) -> bytes | None:
    """Write sheets (title → (columns, rows)) as .xlsx: a bold Chinese and an italic English
    header row, frozen panes, readable widths. ``target`` None returns the bytes."""
    wb = Workbook()
    wb.remove(wb.active)
    bold = Font(bold=True)
    grey = PatternFill("solid", fgColor="DDDDDD")
    for title, (cols, rows) in sheets.items():
        ws = wb.create_sheet(title)
        ws.append([zh for zh, _ in cols])
        ws.append([en for _, en in cols])
        for cell in ws[1]:
            cell.font = bold
            cell.fill = grey
        for cell in ws[2]:
            cell.font = Font(italic=True, color="666666")
        for row in rows:
            ws.append(row)
        ws.freeze_panes = "A3"
        for i, (zh, _) in enumerate(cols, start=1):
            width = min(60, max(10, 2 * len(zh) + 2))
            ws.column_dimensions[get_column_letter(i)].width = width
        for row in ws.iter_rows(min_row=3):
            for cell in row:
                cell.alignment = Alignment(vertical="top", wrap_text=isinstance(cell.value, str))
    if target is None:
        buf = BytesIO()
        wb.save(buf)
        return buf.getvalue()
    wb.save(target)
    return None
