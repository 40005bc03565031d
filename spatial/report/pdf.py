"""The PDF review report (选址审查报告): A4, Chinese, built with reportlab from the review.

A report is a list of :class:`ReportSection` (a title and reportlab flowables) laid out by
:func:`build_report_pdf`. :func:`review_report_sections` gives the review's sections: the
verdict, the map figure, the sites table, the area ledger, the rule with its articles, and the
dataset versions used (ids and SHA-256). Other modules append their own sections (a budget, a
procedure) and call :func:`build_report_pdf` with the whole list; :func:`report_styles` gives
them the same paragraph styles and font.

Same input, same PDF: the time made is an argument (shown on every page), and the file is
written with reportlab's ``invariant`` mode (no creation date or random document id), so the
same data and ``made_at`` give the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Engine

from spatial import rules
from spatial.analysis.review import ProjectReview, review_project
from spatial.categories import OwnershipCategory
from spatial.db import read_rows
from spatial.report.figure import ExtraLayer, project_figure
from spatial.report.fonts import register_pdf_font

CHINA_TZ = timezone(timedelta(hours=8), "CST")
"""China Standard Time (UTC+8), in which the time made is shown."""


@dataclass
class ReportSection:
    """One titled part of a report: reportlab flowables (paragraphs, tables, images)."""

    title: str
    flowables: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class DatasetVersion:
    """A dataset version a report was made from."""

    id: int
    layer: str
    file_name: str
    sha256: str | None
    uploaded_by: str
    published_at: datetime | None


def dataset_versions(engine: Engine) -> list[DatasetVersion]:
    """The active dataset of every layer (id, file, SHA-256, who, when), ordered by layer."""
    rows = read_rows(
        engine,
        "SELECT id, layer::text AS layer, file_name, sha256, uploaded_by, published_at "
        "FROM datasets WHERE status = 'active' ORDER BY layer::text, id",
    )
    return [DatasetVersion(**r) for r in rows]


def report_styles() -> dict[str, Any]:
    """Paragraph styles of the reports (CJK font): ``title``, ``h2``, ``body``, ``small``,
    ``cell``, ``cell_bold``, ``badge``."""
    from reportlab.lib import colors
    from reportlab.lib.styles import ParagraphStyle

    font = register_pdf_font()
    base = ParagraphStyle("body", fontName=font, fontSize=9.5, leading=14, wordWrap="CJK")
    return {
        "title": ParagraphStyle("title", parent=base, fontSize=17, leading=22, spaceAfter=4),
        "h2": ParagraphStyle(
            "h2",
            parent=base,
            fontSize=12.5,
            leading=17,
            spaceBefore=8,
            spaceAfter=4,
            textColor=colors.HexColor("#1a3d6d"),
        ),
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=10),
        "cell": ParagraphStyle("cell", parent=base, fontSize=7.5, leading=9.5),
        "cell_bold": ParagraphStyle(
            "cell_bold",
            parent=base,
            fontSize=7.5,
            leading=9.5,
            textColor=colors.HexColor("#000000"),
        ),
        "badge": ParagraphStyle(
            "badge", parent=base, fontSize=13, leading=18, textColor=colors.white
        ),
    }


def _esc(value: object) -> str:
    from xml.sax.saxutils import escape

    return escape(str(value))


def _m2(v: float) -> str:
    return f"{v:,.2f}"


def table(
    rows: Sequence[Sequence[object]], widths: Sequence[float] | None = None, header: bool = True
) -> Any:
    """A report table (reportlab ``Table``) of text cells; the first row is the header."""
    from reportlab.lib import colors
    from reportlab.platypus import Paragraph, Table, TableStyle

    st = report_styles()
    cells = [[Paragraph(_esc(c), st["cell"]) for c in row] for row in rows]
    t = Table(cells, colWidths=widths, repeatRows=1 if header else 0)
    style = [
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#999999")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf3")))
    t.setStyle(TableStyle(style))
    return t


def _verdict_section(review: ProjectReview) -> ReportSection:
    from reportlab.lib import colors
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, Spacer, Table, TableStyle

    from spatial.layers.styles import ROUTE_COLOURS

    st = report_styles()
    v = review.verdict
    sign = "≤" if v.route is rules.Route.district else ">"
    badge = Table(
        [[Paragraph(_esc(f"{v.route_label_zh}（{sign} 3000 m²）"), st["badge"])]],
        colWidths=[90 * mm],
    )
    badge.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, -1), colors.HexColor(ROUTE_COLOURS[v.route])),
                ("LEFTPADDING", (0, 0), (-1, -1), 6),
            ]
        )
    )
    out: list[Any] = [
        badge,
        Spacer(1, 3 * mm),
        Paragraph(
            _esc(
                f"占用国有储备土地合计 {_m2(v.total_occupied_m2)} m²"
                f"（未取整 {review.reserve.total_occupied_unrounded_m2:.6f} m²；"
                f"取整方法：{v.rounding}）"
            ),
            st["body"],
        ),
        Paragraph(
            _esc(f"审批与公示路径：{v.publicity.text_zh}（{v.publicity.articles}）"), st["body"]
        ),
        Paragraph(_esc(f"结论：{v.verdict_zh}"), st["body"]),
    ]
    if v.qualification_zh:
        out.append(Paragraph(_esc(v.qualification_zh), st["body"]))
    return ReportSection("一、审查结论", out)


def _figure_section(engine: Engine, review: ProjectReview) -> ReportSection:
    from reportlab.lib.units import mm
    from reportlab.platypus import Image

    png = project_figure(
        engine, review.project_code, f"{review.project_name}（{review.project_code}）"
    )
    img = Image(io.BytesIO(png), width=170 * mm, height=125 * mm)
    return ReportSection("二、项目范围与留用土地图", [img])


def _sites_section(review: ProjectReview) -> ReportSection:
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph

    st = report_styles()
    rows: list[list[object]] = [
        [
            "留用土地",
            "规划用途",
            "面积 m²",
            "占用储备 m²",
            "图则覆盖 m²",
            "未覆盖 m²",
            "冲突地块",
            "需规划研究及理由",
        ]
    ]
    for s in review.sites:
        why = "；".join(dict.fromkeys(r.zh for r in s.reasons)) or "否"
        rows.append(
            [
                f"{s.site_code} {s.site_name or ''}".strip(),
                s.planned_use,
                _m2(s.site_area_m2),
                _m2(s.occupied_reserve_m2),
                _m2(s.covered_m2),
                _m2(s.uncovered_m2),
                "、".join(s.conflict_zones) or "—",
                f"是（{why}；乙级及以上资质）" if s.planning_study_required else "否",
            ]
        )
    total = review.verdict.total_occupied_m2
    rows.append(
        ["合计", "", _m2(sum(s.site_area_m2 for s in review.sites)), _m2(total), "", "", "", ""]
    )
    widths = [w * mm for w in (28, 13, 20, 20, 20, 18, 22, 39)]
    details = [
        Paragraph(_esc(f"{s.site_code}：{r.detail_zh}"), st["small"])
        for s in review.sites
        for r in s.reasons
        if r.detail_zh
    ]
    return ReportSection("三、留用土地逐宗审查", [table(rows, widths), *details])


def _ledger_section(review: ProjectReview) -> ReportSection:
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph

    st = report_styles()
    lg = review.ledger
    rows: list[list[object]] = [["项目", "宗数", "平面面积 m²", "椭球面积 m²", "占比"]]
    for ln in lg.lines:
        share = f"{ln.share * 100:.2f}%" if ln.share is not None else ""
        sign = {1: "+", -1: "−", 0: "="}[ln.sign]
        rows.append(
            [
                f"{sign} {ln.label_zh}",
                "" if ln.parcel_count is None else ln.parcel_count,
                _m2(ln.planar_m2),
                _m2(ln.ellipsoidal_m2),
                share,
            ]
        )
    comp_rows: list[list[object]] = [["留用土地", *[c.label_zh for c in OwnershipCategory]]]
    for c in review.composition:
        comp_rows.append(
            [c.site_code, *[_m2(c.categories_m2.get(k.value, 0.0)) for k in OwnershipCategory]]
        )
    return ReportSection(
        "四、面积台账（按权属类型）",
        [
            table(rows, [70 * mm, 15 * mm, 30 * mm, 30 * mm, 20 * mm]),
            Paragraph(
                _esc(
                    f"平面面积：{lg.planar_method}；椭球面积：{lg.ellipsoidal_method}；"
                    f"台账闭合：{'是' if lg.adds_up else '否，请核查'}"
                ),
                st["small"],
            ),
            Paragraph(_esc("留用土地按权属类型构成（m²）："), st["small"]),
            table(comp_rows, [34 * mm, 35 * mm, 35 * mm, 35 * mm, 35 * mm]),
        ],
    )


RULE_TEXT_ZH = [
    (
        "第六条、第十九条、第二十条",
        "项目留用土地占用国有储备土地合计不超过 3000 平方米（含 3000 平方米、不占用）的，由区规划"
        "国土部门编制留用土地供应方案报区政府审批；区土地整备部门将规划研究公示 30 个自然日后，以区"
        "政府名义报市法定图则委员会（第十九条第二项）。超过 3000 平方米的，规划研究及留用土地"
        "供应方案"
        "报市规划国土部门（第十九条第三项、第二十条）。",
    ),
    (
        "计算方法",
        "合计为各宗留用土地与国有储备土地（先合并，重叠的储备地不重复计算）相交部分的平面面积之和"
        "（EPSG:4547），按四舍五入（ROUND_HALF_UP）取至 0.01 平方米后与 3000.00 平方米比较；"
        "依《民法典》第一千二百五十九条，“不超过”含本数。",
    ),
    (
        "第十七条、第二十条",
        "留用土地未被法定图则覆盖、所在区域未制定法定图则，或规划用途与法定图则地块用地性质冲突"
        "（需调整法定图则）的，须开展规划研究，由具有乙级及以上城乡规划编制资质的单位承担。"
        "用途兼容关系见数据库表 land_use_compatibility。",
    ),
]
"""The rule as the report states it: (articles, text)."""


def _rule_section() -> ReportSection:
    from reportlab.platypus import Paragraph

    st = report_styles()
    return ReportSection(
        "五、审查规则及条款依据",
        [Paragraph(_esc(f"【{art}】{body}"), st["body"]) for art, body in RULE_TEXT_ZH],
    )


def _datasets_section(versions: Sequence[DatasetVersion]) -> ReportSection:
    from reportlab.lib.units import mm

    from spatial.schema import declared

    names = {spec.name: spec.title_zh for spec in declared()}
    rows: list[list[object]] = [["图层", "数据集", "文件", "SHA-256", "上传者", "发布时间"]]
    for d in versions:
        when = (
            d.published_at.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")
            if d.published_at
            else "—"
        )
        rows.append(
            [
                f"{names.get(d.layer, d.layer)} {d.layer}",
                d.id,
                d.file_name,
                d.sha256 or ("—（示例数据，无文件）" if d.uploaded_by == "demo" else "—"),
                d.uploaded_by,
                when,
            ]
        )
    return ReportSection(
        "六、所用数据版本", [table(rows, [24 * mm, 13 * mm, 38 * mm, 52 * mm, 16 * mm, 27 * mm])]
    )


def review_report_sections(
    engine: Engine,
    review: ProjectReview,
    versions: Sequence[DatasetVersion] | None = None,
) -> list[ReportSection]:
    """The review report's sections for ``review``: verdict, map, sites, ledger, rule, data.

    Append your own :class:`ReportSection` objects to the list and pass it to
    :func:`build_report_pdf`. ``versions`` defaults to the active datasets
    (:func:`dataset_versions`).
    """
    return [
        _verdict_section(review),
        _figure_section(engine, review),
        _sites_section(review),
        _ledger_section(review),
        _rule_section(),
        _datasets_section(dataset_versions(engine) if versions is None else versions),
    ]


def build_report_pdf(
    title: str,
    subtitle: str,
    sections: Sequence[ReportSection],
    made_at: datetime,
    demo: bool = False,
) -> bytes:
    """Lay ``sections`` out on A4 pages (title, subtitle, then each section); PDF bytes.

    Every page's footer shows the title, the time made (``made_at`` in China Standard Time)
    and the page number; ``demo`` adds a ``示例数据`` marker to every page.
    """
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer

    st = report_styles()
    font = register_pdf_font()
    made = made_at.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S（北京时间）")

    def _page(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, 7.5)
        canvas.setFillColor(colors.HexColor("#555555"))
        canvas.drawString(18 * mm, 10 * mm, f"{title} · 生成时间 {made}")
        canvas.drawRightString(A4[0] - 18 * mm, 10 * mm, f"第 {doc.page} 页")
        if demo:
            canvas.setFillColor(colors.HexColor("#b00020"))
            canvas.setFont(font, 9)
            canvas.drawRightString(A4[0] - 18 * mm, A4[1] - 12 * mm, "示例数据 · 非真实测绘成果")
        canvas.restoreState()

    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=title,
        author="土整 tuzheng",
        subject=subtitle,
        creator="tuzheng",
        invariant=1,
    )
    story: list[Any] = [
        Paragraph(_esc(title), st["title"]),
        Paragraph(_esc(subtitle), st["body"]),
        Paragraph(_esc(f"生成时间：{made}"), st["small"]),
        Spacer(1, 3 * mm),
    ]
    for sec in sections:
        head = Paragraph(_esc(sec.title), st["h2"])
        if sec.flowables:
            story.append(KeepTogether([head, sec.flowables[0]]))
            story.extend(sec.flowables[1:])
        else:
            story.append(head)
    doc.build(story, onFirstPage=_page, onLaterPages=_page)
    return buf.getvalue()


def write_review_pdf(
    engine: Engine,
    project_code: str,
    made_at: datetime | None = None,
    extra_sections: Sequence[ReportSection] = (),
) -> bytes:
    """The PDF review report of one project (A4, Chinese), as bytes.

    Parameters
    ----------
    engine
        SQLAlchemy engine of the tuzheng store.
    project_code
        Code of a current project (NotFound otherwise).
    made_at
        The time the report is made (default: now); the same data and ``made_at`` give the
        same PDF.
    extra_sections
        Sections appended after the review's (e.g. the budget and procedure).

    Examples
    --------
    >>> pdf = write_review_pdf(engine, "GM-001")  # doctest: +SKIP
    >>> pdf[:5]  # doctest: +SKIP
    b'%PDF-'
    """
    review = review_project(engine, project_code, geometry=False)
    made = made_at or datetime.now(CHINA_TZ)
    versions = dataset_versions(engine)
    sections = [*review_report_sections(engine, review, versions), *extra_sections]
    district = f" · {review.district}" if review.district else ""
    stage = f" · 阶段：{review.stage}" if review.stage else ""
    return build_report_pdf(
        "留用土地选址审查报告",
        f"{review.project_name}（{review.project_code}）{district}{stage}",
        sections,
        made,
        demo=any(v.uploaded_by == "demo" for v in versions),
    )


__all__ = [
    "CHINA_TZ",
    "DatasetVersion",
    "ExtraLayer",
    "ReportSection",
    "build_report_pdf",
    "dataset_versions",
    "report_styles",
    "review_report_sections",
    "table",
    "write_review_pdf",
]
