"""PDF review report and map figures: rendered, read back (pdftotext), looked at (pdftoppm)."""

from __future__ import annotations

import io
import shutil
import subprocess
from datetime import UTC, datetime

import numpy as np
import pytest
import siting_data
from conftest import make_client
from PIL import Image
from sqlalchemy import text

from spatial.analysis import review_project
from spatial.layers.styles import OCCUPIED_COLOUR, ROUTE_COLOURS
from spatial.report import (
    FigureSpec,
    ReportSection,
    build_report_pdf,
    render_map_figure,
    report_styles,
    review_report_sections,
    write_review_pdf,
)
from spatial.report.figure import nice_scale_length
from spatial.rules import Route
from spatial.settings import REPO_ROOT
from spatial.users import add_user

ARTIFACTS = REPO_ROOT / "artifacts"
MADE = datetime(2026, 12, 1, 2, 30, tzinfo=UTC)
needs_poppler = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils")

siting_db = siting_data.siting_db


def _pdf_text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def _pages_png(pdf: bytes, tmp_path, stem: str) -> list:
    path = tmp_path / f"{stem}.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "80", "-png", str(path), str(tmp_path / stem)], check=True)
    pages = sorted(tmp_path.glob(f"{stem}-*.png"))
    ARTIFACTS.mkdir(exist_ok=True)
    for p in pages:
        shutil.copy(p, ARTIFACTS / p.name)
    return pages


@needs_poppler
def test_review_pdf_is_a4_chinese_and_reproducible(siting_db, tmp_path):
    pdf = write_review_pdf(siting_db.engine, "S1", MADE)
    assert pdf.startswith(b"%PDF-")
    assert write_review_pdf(siting_db.engine, "S1", MADE) == pdf  # same input, same bytes
    txt = _pdf_text(pdf, tmp_path)
    for needle in [
        "留用土地选址审查报告",
        "选址试算测试项目（S1）",
        "区政府审批（≤ 3000 m²）",
        "占用国有储备土地合计 2,000.00 m²",
        "ROUND_HALF_UP",
        "Art. 19(2), 20",
        "S1-L1",
        "第六条、第十九条、第二十条",
        "第十七条、第二十条",
        "乙级",
        "所用数据版本",
        "生成时间 2026-12-01 10:30:00（北京时间）",
    ]:
        assert needle in txt, needle
    # every dataset version with its id and SHA-256 (pytest loads have none: shown as —)
    with siting_db.engine.connect() as conn:
        ids = conn.execute(text("SELECT id FROM datasets WHERE status = 'active'")).scalars()
        for i in ids:
            assert f" {i} " in txt
    pages = _pages_png(pdf, tmp_path, "review-report-s1")
    assert len(pages) >= 2
    img = Image.open(pages[0]).convert("RGB")
    w, h = img.size
    assert abs(w / h - 210 / 297) < 0.01  # A4 portrait
    arr = np.asarray(img)
    # the route badge is drawn in the district colour
    green = np.array([int(ROUTE_COLOURS[Route.district][i : i + 2], 16) for i in (1, 3, 5)])
    assert (np.abs(arr.astype(int) - green).max(axis=2) < 12).sum() > 500


@needs_poppler
def test_demo_review_pdf_names_datasets_with_sha256(demo_db, tmp_path):
    review = review_project(demo_db.engine, "GM-ZB-001", geometry=False)
    pdf = write_review_pdf(demo_db.engine, "GM-ZB-001", MADE)
    txt = _pdf_text(pdf, tmp_path)
    assert "报市规划国土部门（> 3000 m²）" in txt
    assert f"{review.verdict.total_occupied_m2:,.2f} m²" in txt
    assert "示例数据" in txt  # the marker on every page
    with demo_db.engine.connect() as conn:
        shas = (
            conn.execute(
                text("SELECT sha256 FROM datasets WHERE status = 'active' AND sha256 IS NOT NULL")
            )
            .scalars()
            .all()
        )
    assert shas
    flat = txt.replace("\n", "").replace(" ", "")
    for sha in shas:
        assert sha[:24] in flat
    _pages_png(pdf, tmp_path, "review-report-demo")


@needs_poppler
def test_other_modules_append_sections(siting_db, tmp_path):
    from reportlab.platypus import Paragraph

    review = review_project(siting_db.engine, "S1", geometry=False)
    sections = review_report_sections(siting_db.engine, review)
    assert [s.title[:2] for s in sections] == ["一、", "二、", "三、", "四、", "五、", "六、"]
    extra = ReportSection("七、补偿预算", [Paragraph("不可预见费 10%", report_styles()["body"])])
    pdf = build_report_pdf("审查报告", "S1", [*sections, extra], MADE)
    txt = _pdf_text(pdf, tmp_path)
    assert "七、补偿预算" in txt and "不可预见费 10%" in txt


def test_map_figure_shows_layers_scale_and_legend(siting_db):
    spec = FigureSpec((500_000, 2_500_000, 501_000, 2_501_000), "图 S1", parcels=True)
    png = render_map_figure(siting_db.engine, spec)
    assert png == render_map_figure(siting_db.engine, spec)
    img = Image.open(io.BytesIO(png)).convert("RGB")
    assert img.size == (int(170 / 25.4 * 200), int(125 / 25.4 * 200))  # 170 × 125 mm, 200 dpi
    arr = np.asarray(img).astype(int)
    occupied = np.array([int(OCCUPIED_COLOUR[i : i + 2], 16) for i in (1, 3, 5)])
    assert (np.abs(arr - occupied).max(axis=2) < 10).sum() > 100  # the occupied strip
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "figure-s1.png").write_bytes(png)


def test_scale_bar_lengths_are_round():
    assert [nice_scale_length(w) for w in (90, 1000, 4300, 27_000, 120_000)] == [
        10.0,
        200.0,
        500.0,
        5000.0,
        20000.0,
    ]


@needs_poppler
def test_review_pdf_and_print_through_the_api(siting_db, tmp_path):
    token = add_user("pdf-planner", "planner", siting_db.engine)
    h = {"Authorization": f"Bearer {token}"}
    with make_client(siting_db) as c:
        assert c.get("/projects/S1/review.pdf").status_code == 401
        r = c.get("/projects/S1/review.pdf", headers=h)
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
        assert "review-S1.pdf" in r.headers["content-disposition"]
        assert "区政府审批" in _pdf_text(r.content, tmp_path)
        assert c.get("/projects/NOPE/review.pdf", headers=h).status_code == 404
        ev = c.get("/projects/S1/review/evidence", headers=h).json()
        assert [(f["properties"]["kind"], f["properties"]["area_m2"]) for f in ev["features"]] == [
            ("occupied", 2000.0)
        ]
        bbox = "113.9995,22.5995,114.0105,22.6105"
        assert c.get(f"/map/print.png?bbox={bbox}").status_code == 401
        c.headers.update(h)
        png = c.get(f"/map/print.png?bbox={bbox}&title=打印测试")
        assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
        pdf = c.get(f"/map/print.pdf?bbox={bbox}&title=打印测试")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
        pages = _pages_png(pdf.content, tmp_path, "print-view")
        assert len(pages) == 1
        w, h2 = Image.open(pages[0]).size
        assert abs(w / h2 - 297 / 210) < 0.01  # A4 landscape
        odd = c.get(f"/map/print.png?bbox={bbox}&title=$x^2$ \\frac{{a}}{{b}} $")
        assert odd.status_code == 200  # a title is text, never mathtext
        for bad in ["", "1,2,3", "0,0,10,10", "200,0,201,1", "113,22,115,24", "x,y,z,w"]:
            r = c.get(f"/map/print.png?bbox={bad}")
            assert r.status_code in (400, 422), (bad, r.status_code)
