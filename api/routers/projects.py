"""Projects and their retained-land review: list, review (JSON) and review workbook (.xlsx)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Response

from api.deps import EngineDep, Reader
from spatial.analysis import (
    ProjectReview,
    ProjectSummary,
    list_projects,
    review_project,
    write_review_xlsx,
)

router = APIRouter(prefix="/projects", tags=["projects"])

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ProjectCode = Annotated[str, Path(min_length=1, max_length=50, description="project code")]


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
    responses={200: {"content": {XLSX_TYPE: {}}}},
)
def get_review_xlsx(code: ProjectCode, user: Reader, engine: EngineDep) -> Response:
    """The review as an Excel workbook, one sheet per part, Chinese headers (404 if none)."""
    body = write_review_xlsx(review_project(engine, code, geometry=False)) or b""
    disposition = (
        f"attachment; filename=\"review.xlsx\"; filename*=UTF-8''review-{quote(code)}.xlsx"
    )
    return Response(
        content=body, media_type=XLSX_TYPE, headers={"Content-Disposition": disposition}
    )
