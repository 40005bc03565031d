"""Reports and printed maps: the PDF review report and the server-side map-figure renderer."""

from spatial.report.figure import ExtraLayer, FigureSpec, project_figure, render_map_figure
from spatial.report.pdf import (
    ReportSection,
    build_report_pdf,
    dataset_versions,
    report_styles,
    review_report_sections,
    write_review_pdf,
)

__all__ = [
    "ExtraLayer",
    "FigureSpec",
    "ReportSection",
    "build_report_pdf",
    "dataset_versions",
    "project_figure",
    "render_map_figure",
    "report_styles",
    "review_report_sections",
    "write_review_pdf",
]
