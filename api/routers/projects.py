"""Projects and their retained-land review: list, review (JSON) and review workbook (.xlsx)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import geopandas as gpd
import pandas as pd
from fastapi import APIRouter, Response

from api.deps import EngineDep, Reader
from api.geojson import feature_collection
from api.media import XLSX
from api.params import ProjectCode
from spatial.analysis import (
    ProjectReview,
    ProjectSummary,
    list_projects,
    review_project,
    write_review_xlsx,
)
from spatial.report.pdf import write_review_pdf

router = APIRouter(prefix="/projects", tags=["projects"])


@router.get("", response_model=list[ProjectSummary])
def get_projects(user: Reader, engine: EngineDep) -> list[ProjectSummary]:
    """Every current project with name, stage and boundary area (m², EPSG:4547)."""
    return list_projects(engine)


@router.get("/{code}/review", response_model=ProjectReview)
def get_review(code: ProjectCode, user: Reader, engine: EngineDep) -> ProjectReview:
    """The review of a project: ledger, 3000 m² route, plan coverage, verdicts (404 if none)."""
    return review_project(engine, code, geometry=False)


@router.get(
    "/{code}/review.xlsx",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}}},
)
def get_review_xlsx(code: ProjectCode, user: Reader, engine: EngineDep) -> Response:
    """The review as an Excel workbook, one sheet per part, Chinese headers (404 if none)."""
    body = write_review_xlsx(review_project(engine, code, geometry=False)) or b""
    disposition = (
        f"attachment; filename=\"review.xlsx\"; filename*=UTF-8''review-{quote(code)}.xlsx"
    )
    return Response(content=body, media_type=XLSX, headers={"Content-Disposition": disposition})


@router.get(
    "/{code}/review.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
def get_review_pdf(code: ProjectCode, user: Reader, engine: EngineDep) -> Response:
    """The review as a PDF report: A4, Chinese, map figure, tables, rule, data versions."""
    body = write_review_pdf(engine, code)
    disposition = f"attachment; filename=\"review.pdf\"; filename*=UTF-8''review-{quote(code)}.pdf"
    return Response(
        content=body, media_type="application/pdf", headers={"Content-Disposition": disposition}
    )


@router.get("/{code}/review/evidence")
def get_review_evidence(code: ProjectCode, user: Reader, engine: EngineDep) -> dict[str, Any]:
    """The review's evidence to highlight on the map, GeoJSON in CRS84.

    Features carry ``kind`` (``occupied``, ``uncovered``, ``conflict``), ``site_code``,
    ``area_m2`` and ``label_zh``.
    """
    review = review_project(engine, code, geometry=True)
    parts = []
    occ = review.reserve.to_geodataframe()
    if len(occ):
        parts.append(
            occ.assign(kind="occupied", label_zh="占用国有储备土地")[
                ["kind", "site_code", "area_m2", "label_zh", "geometry"]
            ]
        )
    unc = review.coverage.uncovered_geodataframe()
    if len(unc):
        parts.append(
            unc.assign(kind="uncovered").rename(columns={"reason_zh": "label_zh"})[
                ["kind", "site_code", "area_m2", "label_zh", "geometry"]
            ]
        )
    con = review.coverage.conflicts_geodataframe()
    if len(con):
        con = con.assign(kind="conflict", label_zh=con["reason_zh"] + " " + con["zone_code"])
        parts.append(con[["kind", "site_code", "area_m2", "label_zh", "geometry"]])
    if not parts:
        return {"type": "FeatureCollection", "features": []}
    gdf = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=4547)
    return feature_collection(gdf)
