"""The retained-land analyses, computed in PostGIS on the current datasets.

Public functions (stable names; the notebook facade and the API call these):

- :func:`area_ledger` — parcels by ownership category, planar and ellipsoidal m², adding up
  to the project (or district) total with overlaps, outside and gaps as their own lines.
- :func:`retained_land_composition` — each retained-land site by ownership category.
- :func:`reserve_occupation` — state reserve land occupied and the 3000 m² approval route.
- :func:`plan_coverage` — statutory-plan coverage, use conflicts, planning study required.
- :func:`review_project` / :func:`review_all` — the three combined, with verdicts.
- :func:`write_review_xlsx` — reviews to an Excel workbook with Chinese headers.
- :func:`list_projects` — the current projects with their boundary areas.

The rule itself (threshold, rounding, route labels, publicity paths) lives in
:mod:`spatial.rules`. All geometry is EPSG:4547; areas are m².
"""

from spatial.analysis.composition import (
    RetainedLandComposition,
    SiteComposition,
    retained_land_composition,
)
from spatial.analysis.coverage import PlanCoverage, Reason, SiteCoverage, ZoneOverlap, plan_coverage
from spatial.analysis.excel import write_review_xlsx
from spatial.analysis.ledger import AreaLedger, LedgerLine, area_ledger
from spatial.analysis.projects import ProjectSummary, list_projects
from spatial.analysis.reserve import ReserveOccupation, SiteReserve, reserve_occupation
from spatial.analysis.review import (
    ProjectReview,
    ProjectVerdict,
    SiteVerdict,
    review_all,
    review_project,
)

__all__ = [
    "AreaLedger",
    "LedgerLine",
    "PlanCoverage",
    "ProjectReview",
    "ProjectSummary",
    "ProjectVerdict",
    "Reason",
    "ReserveOccupation",
    "RetainedLandComposition",
    "SiteComposition",
    "SiteCoverage",
    "SiteReserve",
    "SiteVerdict",
    "ZoneOverlap",
    "area_ledger",
    "list_projects",
    "plan_coverage",
    "reserve_occupation",
    "retained_land_composition",
    "review_all",
    "review_project",
    "write_review_xlsx",
]
