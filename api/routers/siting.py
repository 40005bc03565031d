"""Siting check (选址试算) and siting suggestions: candidates computed, nothing written."""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from api.deps import EngineDep, Reader
from api.geojson import feature_collection
from spatial.analysis.siting import SitingCheck, candidate_in_storage_crs, check_siting
from spatial.analysis.suggest import SitingSuggestions, suggest_sitings
from spatial.workbench import export_gpkg, export_shapefile

router = APIRouter(
    prefix="/siting",
    tags=["siting"],
    responses={404: {"description": "项目或留用土地不存在 No such project or site"}},
)


class SiteIn(BaseModel):
    """What every siting request names: the project, the planned use, the site it replaces.

    Field names are the parameter names of :func:`check_siting` and :func:`suggest_sitings`,
    which take the request as it was parsed.
    """

    project_code: str = Field(min_length=1, max_length=50)
    planned_use: str = Field(min_length=1, max_length=50)
    replaces_site_code: str | None = Field(None, max_length=50)


class CandidateIn(SiteIn):
    """A candidate site: project, planned use, GeoJSON geometry and its CRS."""

    geometry: dict[str, Any] = Field(description="GeoJSON Polygon or MultiPolygon")
    crs: Literal[4326, 4490, 4547] = Field(
        4326, description="EPSG code of the coordinates (4326/4490 lon/lat, 4547 metres)"
    )
    site_code: str = Field("候选", max_length=50, description="code written to the download")


class SitingCheckOut(SitingCheck):
    """The check, with the parts to draw as GeoJSON (CRS84)."""

    evidence: dict[str, Any]


class SuggestIn(SiteIn):
    """What the suggestions are for."""

    area_m2: float = Field(gt=0, le=10_000_000, description="required site area, m²")
    n: int = Field(5, ge=1, le=5)


class SuggestionsOut(SitingSuggestions):
    """The suggestions, with their rectangles as GeoJSON (CRS84, ``rank`` property)."""

    geojson: dict[str, Any]


_NOT_CHECKED = {"geometry", "site_code"}
"""Fields of :class:`CandidateIn` that :func:`check_siting` does not take by name (the geometry
is its ``candidate``; the site code only names the download)."""


def _check_out(check: SitingCheck) -> SitingCheckOut:
    return SitingCheckOut(**check.model_dump(), evidence=check.evidence_geojson())


@router.post("/check", response_model=SitingCheckOut)
def post_check(body: CandidateIn, user: Reader, engine: EngineDep) -> SitingCheckOut:
    """Check a candidate site: reserve occupation, project total and route, coverage."""
    check = check_siting(engine, candidate=body.geometry, **body.model_dump(exclude=_NOT_CHECKED))
    return _check_out(check)


@router.post("/suggestions", response_model=SuggestionsOut)
def post_suggestions(body: SuggestIn, user: Reader, engine: EngineDep) -> SuggestionsOut:
    """Up to five placements inside the project boundary, each exactly re-checked."""
    s = suggest_sitings(engine, **body.model_dump())
    gdf = gpd.GeoDataFrame(
        {
            "rank": [x.rank for x in s.suggestions],
            "area_m2": [x.check.candidate_area_m2 for x in s.suggestions],
            "occupied_reserve_m2": [x.check.occupied_reserve_m2 for x in s.suggestions],
        },
        geometry=[x.geometry() for x in s.suggestions],
        crs=4547,
    )
    return SuggestionsOut(**s.model_dump(), geojson=feature_collection(gdf))


def _candidate_frame(body: CandidateIn) -> gpd.GeoDataFrame:
    geom = candidate_in_storage_crs(body.geometry, body.crs)
    return gpd.GeoDataFrame(
        {
            "code": [body.site_code],
            "project": [body.project_code],
            "land_use": [body.planned_use],
            "area_m2": [round(geom.area, 2)],
        },
        geometry=[geom],
        crs=4547,
    )


@router.post(
    "/candidate.{fmt}",
    response_class=Response,
    responses={
        200: {
            "content": {
                "application/geo+json": {},
                "application/zip": {},
                "application/geopackage+sqlite3": {},
            }
        }
    },
)
def post_candidate_download(
    fmt: Literal["geojson", "zip", "gpkg"], body: CandidateIn, user: Reader
) -> Response:
    """The candidate as a file for the surveyor (nothing stored).

    ``geojson``: EPSG:4547 coordinates with the CRS named (``crs`` member, as GDAL reads it);
    ``zip``: an ESRI shapefile with GBK ``.dbf``, ``.cpg`` and ``.prj``; ``gpkg``: GeoPackage.
    """
    gdf = _candidate_frame(body)
    name = "candidate"
    with tempfile.TemporaryDirectory(prefix="tz-candidate-") as tmp:
        if fmt == "geojson":
            path = Path(tmp) / f"{name}.geojson"
            gdf.to_file(path, driver="GeoJSON", engine="pyogrio")
            return Response(
                path.read_bytes(),
                media_type="application/geo+json",
                headers={"Content-Disposition": f'attachment; filename="{name}.geojson"'},
            )
        if fmt == "gpkg":
            path = export_gpkg(gdf, Path(tmp) / f"{name}.gpkg", layer=name)
            return Response(
                path.read_bytes(),
                media_type="application/geopackage+sqlite3",
                headers={"Content-Disposition": f'attachment; filename="{name}.gpkg"'},
            )
        shp = export_shapefile(gdf, Path(tmp) / "shp" / f"{name}.shp", encoding="GBK")
        zpath = Path(tmp) / f"{name}.zip"
        with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
            for part in sorted(shp.parent.iterdir()):
                zf.write(part, part.name)
        return Response(
            zpath.read_bytes(),
            media_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="{name}.zip"'},
        )
