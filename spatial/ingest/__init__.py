"""Surveyor uploads: shapefile, GeoPackage and GeoJSON ingestion (see ``pipeline.ingest``)."""

from spatial.ingest.pipeline import ingest
from spatial.ingest.report import IngestReport, Problem

__all__ = ["IngestReport", "Problem", "ingest"]
