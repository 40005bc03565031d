"""Project review (选址审查): the ledger, the 3000 m² route and plan coverage, with verdicts.

``review_project`` answers, for one project, the three questions a planner asks of retained
land: what the land is (ledger and site composition), who approves it (the 3000 m² rule), and
whether a planning study is needed (statutory-plan coverage and conflicts). ``review_all`` does
the same for every current project with one query per part (not one per project). Every part
is read from the stored analysis results (migration 0013), which the transaction that changes
an input brings up to date, so a review does no geometry work.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
from pydantic import BaseModel
from sqlalchemy import Engine

from spatial import rules
from spatial.analysis.composition import SiteComposition, site_compositions
from spatial.analysis.coverage import PlanCoverage, Reason, SiteCoverage, plan_coverages
from spatial.analysis.ledger import AreaLedger, project_ledgers
from spatial.analysis.projects import project_doc, project_row, project_rows
from spatial.analysis.reserve import ReserveOccupation, reserve_occupations
from spatial.rules import PublicityPath, Route


class SiteVerdict(BaseModel):
    """The verdict on one retained-land site (areas in m², planar EPSG:4547, to 0.01 m²)."""

    site_code: str
    site_name: str | None = None
    planned_use: str
    site_area_m2: float
    occupied_reserve_m2: float
    covered_m2: float
    uncovered_m2: float
    conflict_zones: list[str]
    planning_study_required: bool
    reasons: list[Reason]
    verdict_zh: str
    verdict_en: str


class ProjectVerdict(BaseModel):
    """The verdict on a project: approval route, publicity path, planning study."""

    route: Route
    route_label_zh: str
    route_label_en: str
    total_occupied_m2: float
    rounding: str
    publicity: PublicityPath
    planning_study_required: bool
    sites_requiring_study: list[str]
    qualification_zh: str | None = None
    qualification_en: str | None = None
    ledger_adds_up: bool
    verdict_zh: str
    verdict_en: str


class ProjectReview(BaseModel):
    """Everything the review says about one project."""

    project_code: str
    project_name: str
    district: str | None = None
    stage: str | None = None
    ledger: AreaLedger
    composition: list[SiteComposition]
    reserve: ReserveOccupation
    coverage: PlanCoverage
    sites: list[SiteVerdict]
    verdict: ProjectVerdict

    def sites_frame(self) -> pd.DataFrame:
        """One row per site with its verdict (m²)."""
        rows = []
        for s in self.sites:
            row = s.model_dump(exclude={"reasons"})
            row["conflict_zones"] = ", ".join(s.conflict_zones)
            row["reasons_zh"] = "；".join(r.zh for r in s.reasons)
            row["reasons_en"] = "; ".join(r.en for r in s.reasons)
            rows.append(row)
        return pd.DataFrame(rows)


def _site_verdict(cov_site: SiteCoverage, occupied_m2: float) -> SiteVerdict:
    study = cov_site.planning_study_required
    if study:
        why_zh = "、".join(dict.fromkeys(r.zh for r in cov_site.reasons))
        why_en = "; ".join(dict.fromkeys(r.en for r in cov_site.reasons))
        zh = f"需开展规划研究（{why_zh}），由乙级及以上规划资质单位承担"
        en = f"planning study required ({why_en}), by a Grade B (乙级) or higher institution"
    else:
        zh = "法定图则全覆盖且用途相符，无需规划研究"
        en = "fully covered by statutory plans with a compatible use; no planning study needed"
    zh += f"；占用国有储备土地 {occupied_m2:.2f} m²"
    en += f"; occupies {occupied_m2:.2f} m² of state reserve land"
    return SiteVerdict(
        site_code=cov_site.site_code,
        site_name=cov_site.site_name,
        planned_use=cov_site.planned_use,
        site_area_m2=cov_site.site_area_m2,
        occupied_reserve_m2=occupied_m2,
        covered_m2=cov_site.covered_m2,
        uncovered_m2=cov_site.uncovered_m2,
        conflict_zones=[z.zone_code for z in cov_site.conflicts],
        planning_study_required=study,
        reasons=cov_site.reasons,
        verdict_zh=zh,
        verdict_en=en,
    )


def _project_verdict(
    reserve: ReserveOccupation, coverage: PlanCoverage, ledger: AreaLedger
) -> ProjectVerdict:
    total = reserve.total_occupied_m2
    cmp_ = "≤" if reserve.route is Route.district else ">"
    zh = (
        f"占用国有储备土地合计 {total:.2f} m²（{cmp_} 3000 m²），{reserve.route_label_zh}；"
        f"{reserve.publicity.text_zh}（{reserve.publicity.articles}）"
    )
    en = (
        f"occupies {total:.2f} m² of state reserve land in total ({cmp_} 3000 m²): "
        f"{reserve.route_label_en}; {reserve.publicity.text_en} ({reserve.publicity.articles})"
    )
    need = coverage.sites_requiring_study
    if need:
        zh += f"；{len(need)} 宗留用土地需开展规划研究（{'、'.join(need)}），须乙级及以上规划资质"
        en += (
            f"; planning study required for {len(need)} site(s) ({', '.join(need)}), "
            "by a Grade B (乙级) or higher institution"
        )
    else:
        zh += "；无需规划研究"
        en += "; no planning study required"
    if not ledger.adds_up:
        zh += "；面积台账不平衡，请核查"
        en += "; the area ledger does not add up, check the data"
    return ProjectVerdict(
        route=reserve.route,
        route_label_zh=reserve.route_label_zh,
        route_label_en=reserve.route_label_en,
        total_occupied_m2=total,
        rounding=rules.ROUNDING,
        publicity=reserve.publicity,
        planning_study_required=bool(need),
        sites_requiring_study=need,
        qualification_zh=rules.PLANNING_QUALIFICATION_ZH if need else None,
        qualification_en=rules.PLANNING_QUALIFICATION_EN if need else None,
        ledger_adds_up=ledger.adds_up,
        verdict_zh=zh,
        verdict_en=en,
    )


def _reviews(
    engine: Engine, codes: Sequence[str] | None, geometry: bool
) -> dict[str, ProjectReview]:
    # The parts read stored results (migration 0013): four light queries, run at once.
    projects = project_rows(engine, codes)
    with ThreadPoolExecutor(max_workers=4) as pool:
        f_reserves = pool.submit(reserve_occupations, engine, codes, geometry)
        f_coverages = pool.submit(plan_coverages, engine, codes, geometry)
        f_ledgers = pool.submit(project_ledgers, engine, codes)
        f_comps = pool.submit(site_compositions, engine, codes)
        ledgers, comps = f_ledgers.result(), f_comps.result()
        reserves, coverages = f_reserves.result(), f_coverages.result()
    out = {}
    for p in projects:
        code = p["code"]
        reserve, coverage, ledger = reserves[code], coverages[code], ledgers[code]
        occupied = {s.site_code: s.occupied_m2 for s in reserve.sites}
        out[code] = ProjectReview(
            project_code=code,
            project_name=p["name"],
            district=p["district"],
            stage=p["stage"],
            ledger=ledger,
            composition=comps.get(code, []),
            reserve=reserve,
            coverage=coverage,
            sites=[_site_verdict(s, occupied.get(s.site_code, 0.0)) for s in coverage.sites],
            verdict=_project_verdict(reserve, coverage, ledger),
        )
    return out


@project_doc
def review_project(engine: Engine, project_code: str, geometry: bool = True) -> ProjectReview:
    """Review the retained land of one project: ledger, route, coverage, verdicts.

    {parameters}
    geometry
        Also load the evidence geometry (EPSG:4547): ``review.reserve.to_geodataframe()``,
        ``review.coverage.uncovered_geodataframe()``, ``review.coverage.conflicts_geodataframe()``.

    Returns
    -------
    ProjectReview
        The area ledger, site compositions, reserve occupation with the route, plan coverage,
        a verdict per site and a project verdict (Chinese and English). Areas in m².

    {raises_not_found}

    Examples
    --------
    >>> review = review_project(engine, "GM-001")  # doctest: +SKIP
    >>> review.verdict.route.value, review.verdict.planning_study_required  # doctest: +SKIP
    ('district', True)
    """
    project_row(engine, project_code)
    return _reviews(engine, [project_code], geometry)[project_code]


def review_all(engine: Engine, geometry: bool = False) -> list[ProjectReview]:
    """Review every current project, ordered by code, with one set-based query per part.

    ``geometry`` defaults to False here: the evidence of a whole city is better read from the
    map-layer views (``analysis_reserve_overlaps``, ``analysis_uncovered``,
    ``analysis_conflicts``).

    Examples
    --------
    >>> [r.verdict.route.value for r in review_all(engine)]  # doctest: +SKIP
    ['district', 'city']
    """
    return list(_reviews(engine, None, geometry).values())
