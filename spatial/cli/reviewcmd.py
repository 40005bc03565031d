"""``tuzheng review``: review a project's retained land (ledger, 3000 m² route, plan coverage)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from spatial.cli.clicommon import usage_error
from spatial.errors import NotFound


def _print_text(review) -> None:  # noqa: ANN001 - ProjectReview, imported lazily
    v = review.verdict
    typer.echo(f"{review.project_code} {review.project_name}")
    typer.echo(f"  结论 verdict: {v.verdict_zh}")
    typer.echo(f"  {v.verdict_en}")
    typer.echo(
        f"  占用国有储备土地 occupied reserve land: {v.total_occupied_m2:.2f} m² → "
        f"{v.route.value} ({v.route_label_zh}); {v.rounding}"
    )
    typer.echo(f"  面积台账 ledger ({review.ledger.planar_method}):")
    for ln in review.ledger.lines:
        count = "" if ln.parcel_count is None else f" n={ln.parcel_count}"
        typer.echo(
            f"    {ln.label_zh:<24} {ln.sign:+d} {ln.planar_m2:14.2f} m² "
            f"(ellipsoidal {ln.ellipsoidal_m2:.2f} m²){count}"
        )
    typer.echo("  留用土地 retained-land sites:")
    for s in review.sites:
        typer.echo(f"    {s.site_code} [{s.planned_use}] {s.site_area_m2:.2f} m²: {s.verdict_zh}")


def register(app: typer.Typer) -> None:
    """Add ``tuzheng review`` to ``app``."""

    @app.command("review")
    def review(
        project_code: str | None = typer.Argument(None, help="project code, e.g. GM-001"),
        all_projects: bool = typer.Option(False, "--all", help="review every current project"),
        as_json: bool = typer.Option(False, "--json", help="print the review as JSON"),
        xlsx: Path | None = typer.Option(None, "--xlsx", help="also write an Excel workbook"),
    ) -> None:
        """Review retained land: area ledger, 3000 m² approval route, statutory-plan coverage."""
        from spatial.analysis import review_all, review_project, write_review_xlsx
        from spatial.db import get_engine

        if all_projects == (project_code is not None):
            raise usage_error("give a PROJECT_CODE or --all (not both)")
        engine = get_engine()
        try:
            reviews = (
                review_all(engine)
                if all_projects
                else [review_project(engine, project_code or "", geometry=False)]
            )
        except NotFound as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(1) from exc
        if xlsx is not None:
            write_review_xlsx(reviews, xlsx)
        if as_json:
            data = [r.model_dump(mode="json") for r in reviews]
            typer.echo(json.dumps(data if all_projects else data[0], ensure_ascii=False, indent=2))
        else:
            for r in reviews:
                _print_text(r)
            if xlsx is not None:
                typer.echo(f"已写入 written: {xlsx}")
