"""tuzheng's domain layer: models, store, CRS, ingestion, analyses and rules. No HTTP here.

The public Python API for notebooks and scripts is re-exported here and loaded lazily, so
``import spatial`` stays cheap and never connects to a database::

    import spatial as tz
    engine = tz.connect()                 # DATABASE_URL, or the project-local cluster
    tz.list_projects(engine)              # GeoDataFrame, EPSG:4547, areas in m²
    tz.load_layer("parcels", engine, project="GM-ZB-001", category="集体")
    tz.area_ledger(engine)                # the analyses (spatial.analysis)
    tz.validate_file("survey.shp", "parcels", crs="EPSG:4547")   # upload dry run
    tz.export_shapefile(gdf, "out/宗地.shp", encoding="GBK")
    tz.diff_datasets(engine, 3, 7).to_frame()   # what changed between two versions

See ``spatial.workbench`` for the data functions and ``spatial.analysis`` for the rules.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY: dict[str, str] = {
    # spatial.workbench: connect, load, validate, export
    "connect": "spatial.workbench",
    "list_projects": "spatial.workbench",
    "load_layer": "spatial.workbench",
    "LAYER_NAMES": "spatial.workbench",
    "validate_file": "spatial.workbench",
    "ingest_file": "spatial.workbench",
    "problems_frame": "spatial.workbench",
    "export_gpkg": "spatial.workbench",
    "export_shapefile": "spatial.workbench",
    "export_excel": "spatial.workbench",
    # spatial.versions: what changed between two dataset versions
    "diff_datasets": "spatial.versions",
    "list_datasets": "spatial.datasets",
    "remove_dataset": "spatial.datasets",
    # spatial.notebook_map: offline inline maps
    "map_layers": "spatial.notebook_map",
    "NotebookMap": "spatial.notebook_map",
    # spatial.notebook_plot: matplotlib labels without missing glyphs
    "use_cjk_font": "spatial.notebook_plot",
    "label": "spatial.notebook_plot",
    # spatial.analysis: the rules (one implementation, shared with the API)
    "area_ledger": "spatial.analysis",
    "retained_land_composition": "spatial.analysis",
    "reserve_occupation": "spatial.analysis",
    "plan_coverage": "spatial.analysis",
    "review_project": "spatial.analysis",
    "review_all": "spatial.analysis",
    "write_review_xlsx": "spatial.analysis",
    # spatial.procedure / spatial.budget: deadlines and money (Art. 12–38)
    "load_calendar": "spatial.procedure.calendar_store",
    "Period": "spatial.procedure.periods",
    "period_end": "spatial.procedure.periods",
    "register_project": "spatial.procedure.projects",
    "record_event": "spatial.procedure.events",
    "project_procedure": "spatial.procedure.events",
    "bureau_list": "spatial.procedure.events",
    "procedure_report": "spatial.procedure.report",
    "compute_budget": "spatial.budget.plan",
    "project_budget": "spatial.budget.store",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    """Import the public API on first use (PEP 562), keeping ``import spatial`` cheap."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'spatial' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
