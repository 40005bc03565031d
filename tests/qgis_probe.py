"""Run by Debian's system Python with PyQGIS (not our venv): what QGIS itself reads from a server.

Usage: ``/usr/bin/python3 tests/qgis_probe.py BASE_URL OUT.json PNG_DIR COLLECTION...``

For every collection, loads the layer through QGIS's OAPIF provider (the "WFS / OGC API -
Features" provider planners use) and writes what QGIS saw: validity, feature count, field types,
sums of the numeric fields over QGIS's own features, invalid geometries, and the count of a
request restricted to a bounding box. It also loads the parcels vector tiles as a QGIS vector
tile layer and renders both to PNG. Exits non-zero if QGIS cannot start.
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (  # noqa: E402
    Qgis,
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsFeatureRequest,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsProject,
    QgsRectangle,
    QgsVectorLayer,
    QgsVectorTileLayer,
)
from qgis.PyQt.QtCore import QSize  # noqa: E402
from qgis.PyQt.QtGui import QColor  # noqa: E402


def oapif_layer(base: str, collection: str, bbox_only: bool = False) -> QgsVectorLayer:
    """The collection as QGIS's OAPIF provider opens it (optionally view-extent requests)."""
    uri = f"url='{base}' typename='{collection}' pagingEnabled='true'"
    if bbox_only:
        uri += " restrictToRequestBBOX='1'"
    return QgsVectorLayer(uri, collection, "OAPIF")


def describe(base: str, collection: str) -> dict:
    """What QGIS reads of one collection."""
    layer = oapif_layer(base, collection)
    out: dict = {"valid": layer.isValid()}
    if not layer.isValid():
        out["error"] = layer.dataProvider().error().summary() if layer.dataProvider() else ""
        return out
    fields = layer.fields()
    out["fields"] = {f.name(): f.typeName() for f in fields}
    out["field_types"] = {f.name(): int(f.type()) for f in fields}
    numeric = [f.name() for f in fields if f.isNumeric()]
    sums = dict.fromkeys(numeric, 0.0)
    nulls = dict.fromkeys(numeric, 0)
    count = invalid = 0
    ids = []
    for feat in layer.getFeatures():
        count += 1
        geom = feat.geometry()
        if geom.isNull() or not geom.isGeosValid():
            invalid += 1
        for name in numeric:
            value = feat[name]
            if value is None or (hasattr(value, "isNull") and value.isNull()):
                nulls[name] += 1
            else:
                sums[name] += float(value)
        if "code" in fields.names():
            ids.append(str(feat["code"]))
    out.update(count=count, invalid=invalid, sums=sums, nulls=nulls, codes=sorted(ids))
    out["crs"] = layer.crs().authid()
    extent = layer.extent()
    out["extent"] = [extent.xMinimum(), extent.yMinimum(), extent.xMaximum(), extent.yMaximum()]
    return out


def bbox_count(base: str, collection: str, rect: list[float]) -> int:
    """Features QGIS gets for a view-extent request over ``rect`` (lon/lat)."""
    layer = oapif_layer(base, collection, bbox_only=True)
    request = QgsFeatureRequest().setFilterRect(QgsRectangle(*rect))
    return sum(1 for _ in layer.getFeatures(request))


def render(layers: list, extent: QgsRectangle, path: str) -> None:
    """Render ``layers`` (EPSG:3857 map) over ``extent`` to the PNG ``path``."""
    settings = QgsMapSettings()
    settings.setLayers(layers)
    settings.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:3857"))
    settings.setBackgroundColor(QColor(255, 255, 255))
    settings.setOutputSize(QSize(900, 700))
    settings.setExtent(extent)
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    job.renderedImage().save(path, "PNG")


def main() -> int:
    """Probe every collection named on the command line and write the JSON report."""
    base, out_path, png_dir, *collections = sys.argv[1:]
    QgsApplication.setPrefixPath("/usr", True)
    app = QgsApplication([], False)
    app.initQgis()
    report: dict = {"qgis_version": Qgis.QGIS_VERSION, "collections": {}}
    for cid in collections:
        report["collections"][cid] = describe(base, cid)
    parcels = report["collections"].get("parcels", {})
    if parcels.get("valid"):
        x1, y1, x2, y2 = parcels["extent"]
        pad = 0.01
        report["parcels_bbox_count"] = bbox_count(
            base, "parcels", [x1 - pad, y1 - pad, x2 + pad, y2 + pad]
        )
        tiles = QgsVectorTileLayer(
            f"type=xyz&url={base}/tiles/parcels/%7Bz%7D/%7Bx%7D/%7By%7D.pbf&zmin=0&zmax=16",
            "parcels tiles",
        )
        report["tiles_valid"] = tiles.isValid()
        report["tiles_source_type"] = tiles.sourceType() if tiles.isValid() else ""
        to_3857 = QgsCoordinateTransform(
            QgsCoordinateReferenceSystem("EPSG:4326"),
            QgsCoordinateReferenceSystem("EPSG:3857"),
            QgsProject.instance(),
        )
        extent = to_3857.transformBoundingBox(QgsRectangle(x1, y1, x2, y2))
        vector = oapif_layer(base, "parcels")
        render([tiles], extent, os.path.join(png_dir, "qgis_parcels_tiles.png"))
        render([vector], extent, os.path.join(png_dir, "qgis_parcels_oapif.png"))
    with open(out_path, "w", encoding="utf-8") as fh:
        json.dump(report, fh, ensure_ascii=False, indent=1)
    # QgsApplication.exitQgis() segfaults in 3.22 after network providers were used; the
    # report is written, so leave without Qt's teardown.
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
