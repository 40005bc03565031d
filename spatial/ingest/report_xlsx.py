"""An ingest report as an Excel workbook for the surveyor's records (概要, 问题, 预览)."""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

from spatial.analysis.excel import Column, write_sheets
from spatial.ingest.report import IngestReport

STATUS_ZH = {
    "published": "已入库",
    "dry_run": "试运行（未写入）",
    "unchanged": "未变化（同一文件已是当前版本）",
    "refused": "已拒绝（未写入任何数据）",
}


def write_report_xlsx(
    report: IngestReport, target: str | Path | IO[bytes] | None = None
) -> bytes | None:
    """Write ``report`` as .xlsx: a summary sheet, the problems, the first rows as stored.

    Areas in m² (EPSG:4547). ``target`` None returns the workbook as bytes.

    Examples
    --------
    >>> write_report_xlsx(validate_file("zongdi.zip", "parcels"), "报告.xlsx")  # doctest: +SKIP
    """
    c = report.counts
    summary: list[list[Any]] = [
        ["状态 status", STATUS_ZH.get(report.status, report.status)],
        ["文件 file", report.source_file],
        ["SHA-256", report.sha256],
        ["图层 layer", report.layer],
        ["模式 mode", report.mode],
        ["数据集 dataset", report.dataset_id],
        ["编码 encoding", report.encoding],
        ["编码判定 how the encoding was chosen", report.encoding_method],
        ["坐标系 CRS", report.source_crs],
        ["坐标系判定 how the CRS was chosen", report.crs_method],
        ["读取 read", c.read],
        ["写入 written", c.written],
        ["修复 repaired", c.repaired],
        ["拒绝 refused", c.refused],
        ["总面积 total area (m²)", report.total_area_m2],
        ["上传人 user", report.user],
    ]
    problem_cols: list[Column] = [
        ("行", "row"),
        ("字段", "field"),
        ("代码", "code"),
        ("级别", "severity"),
        ("值", "value"),
        ("说明", "message (Chinese)"),
        ("Message", "message (English)"),
        ("修复前面积 m²", "area before (m²)"),
        ("修复后面积 m²", "area after (m²)"),
        ("面积 m²", "area (m²)"),
    ]
    problems = [
        [
            p.row,
            p.field,
            p.code,
            p.severity,
            p.value,
            p.message_zh,
            p.message_en,
            p.area_before_m2,
            p.area_after_m2,
            p.area_m2,
        ]
        for p in report.problems
    ]
    for code, n in report.omitted_problems.items():
        problems.append([None, None, code, "…", None, f"另有 {n} 行未列出", f"{n} more rows"])
    keys = list(report.preview[0]) if report.preview else ["row"]
    preview_cols: list[Column] = [(k, k) for k in keys]
    preview = [[r.get(k) for k in keys] for r in report.preview]
    return write_sheets(
        {
            "概要 Summary": ([("项目", "item"), ("内容", "value")], summary),
            "问题 Problems": (problem_cols, problems),
            "预览 Preview": (preview_cols, preview),
        },
        target,
    )
