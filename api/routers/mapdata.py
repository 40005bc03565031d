"""What the planners' map asks for besides tiles: search, exports, measuring, printing."""

from __future__ import annotations

import tempfile
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from api.deps import EngineDep, Reader, RegistryDep
from api.media import XLSX
from spatial.crs import STORAGE, transformer
from spatial.errors import BadRequest
from spatial.landuse import LandUseClass, land_use_classes
from spatial.layers.export import layer_frame
from spatial.measure import Measurement, measure
from spatial.report.figure import FigureSpec, check_bbox, render_map_figure
from spatial.report.pdf import CHINA_TZ
from spatial.search import SearchHit, search_features
from spatial.workbench import export_excel, export_gpkg, export_shapefile

router = APIRouter(tags=["map"])

BBox = Annotated[
    str | None, Query(max_length=200, description="west,south,east,north in CRS84 degrees")
]


def parse_lonlat_bbox(value: str | None) -> list[float] | None:
    """A ``west,south,east,north`` CRS84 box, checked (inside lon/lat ranges, ordered)."""
    if value is None or value == "":
        return None
    try:
        box = [float(v) for v in value.split(",")]
    except ValueError as exc:
        raise BadRequest("bbox 须为四个数", "bbox must be four numbers") from exc
    if len(box) != 4 or not all(v == v for v in box):
        raise BadRequest("bbox 须为四个数", "bbox must be four numbers")
    w, s, e, n = box
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        raise BadRequest("bbox 超出经纬度范围或顺序有误", "bbox out of range or misordered")
    return box


@router.get("/search", response_model=list[SearchHit])
def get_search(
    engine: EngineDep,
    _: Reader,
    q: Annotated[str, Query(min_length=1, max_length=50, description="code or name")],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[SearchHit]:
    """Parcels by code, projects by code or name, retained-land sites by code."""
    return search_features(engine, q, limit)


@router.get("/land-use-classes", response_model=list[LandUseClass])
def get_land_use_classes(engine: EngineDep, _: Reader) -> list[LandUseClass]:
    """The land-use class codes with their Chinese names (reference table)."""
    return list(land_use_classes(engine).values())


class MeasureIn(BaseModel):
    """A line or polygon drawn on the map (GeoJSON, CRS84 by default)."""

    geometry: dict[str, Any]
    crs: Literal[4326, 4490, 4547] = 4326


@router.post("/measure", response_model=Measurement)
def post_measure(body: MeasureIn, _: Reader) -> Measurement:
    """Planar length and area in EPSG:4547 of a drawn line or polygon."""
    return measure(body.geometry, body.crs)


EXPORT_TYPES = {
    "xlsx": XLSX,
    "gpkg": "application/geopackage+sqlite3",
    "zip": "application/zip",
}


@router.get(
    "/export/{collection_id}.{fmt}",
    response_class=Response,
    responses={
        200: {"content": {t: {} for t in EXPORT_TYPES.values()}},
        413: {"description": "选中的要素过多 Too many features: zoom in or choose a project"},
    },
)
def get_export(
    collection_id: str,
    fmt: Literal["xlsx", "gpkg", "zip"],
    engine: EngineDep,
    registry: RegistryDep,
    user: Reader,
    bbox: BBox = None,
    project: Annotated[str | None, Query(max_length=50)] = None,
    sortby: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """The attribute table of a layer (in the view and/or of a project) as a file.

    ``xlsx`` (attributes, areas in m²), ``gpkg`` (GeoPackage, EPSG:4547) or ``zip`` (ESRI
    shapefile, GBK text with ``.cpg``, EPSG:4547 ``.prj``).
    """
    col = registry.get(collection_id)
    gdf = layer_frame(
        engine,
        col,
        bbox=parse_lonlat_bbox(bbox),
        project=project,
        sortby=sortby.split(",") if sortby else None,
    )
    name = str(getattr(col.id, "value", col.id))
    with tempfile.TemporaryDirectory(prefix="tz-export-") as tmp:
        if fmt == "xlsx":
            path = export_excel(
                gdf.drop(columns="geometry"), Path(tmp) / f"{name}.xlsx", sheet_name=name
            )
        elif fmt == "gpkg":
            path = export_gpkg(gdf, Path(tmp) / f"{name}.gpkg", layer=name)
        else:
            shp = export_shapefile(_shp_names(gdf), Path(tmp) / "shp" / f"{name}.shp", "GBK")
            path = Path(tmp) / f"{name}.zip"
            with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
                for part in sorted(shp.parent.iterdir()):
                    zf.write(part, part.name)
        body = path.read_bytes()
    return Response(
        body,
        media_type=EXPORT_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'},
    )


def _shp_names(gdf: Any) -> Any:
    """Columns renamed to fit a .dbf's 10 bytes (``project_reserve_m2`` → ``project_re``…)."""
    out, seen = {}, set()
    for c in gdf.columns:
        if c == "geometry":
            continue
        short = c[:10]
        i = 1
        while short in seen:
            short = f"{c[:8]}{i:02d}"
            i += 1
        seen.add(short)
        out[c] = short
    frame = gdf.rename(columns=out)
    for c in frame.columns:
        if c != "geometry" and frame[c].map(lambda v: isinstance(v, list)).any():
            frame[c] = frame[c].map(lambda v: ",".join(map(str, v)) if isinstance(v, list) else v)
    return frame


@router.get(
    "/map/print.{fmt}",
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "application/pdf": {}}}},
)
def get_print(
    fmt: Literal["png", "pdf"],
    engine: EngineDep,
    _: Reader,
    bbox: Annotated[str, Query(max_length=200, description="the view, CRS84 w,s,e,n")],
    title: Annotated[str, Query(max_length=80)] = "土整 地图",
) -> Response:
    """The current view as a map figure: title, legend, scale bar, north arrow (A4 landscape)."""
    box = parse_lonlat_bbox(bbox)
    if box is None:
        raise BadRequest("请给出打印范围 bbox", "give the view to print as bbox=w,s,e,n")
    t = transformer(4326, STORAGE)
    xs, ys = t.transform([box[0], box[2], box[0], box[2]], [box[1], box[1], box[3], box[3]])
    b4547 = check_bbox((min(xs), min(ys), max(xs), max(ys)))
    made = datetime.now(CHINA_TZ).strftime("%Y-%m-%d %H:%M")
    spec = FigureSpec(
        bbox=b4547,
        title="".join(ch for ch in title if ch.isprintable()).strip() or "土整 地图",
        subtitle=f"打印时间 {made}（北京时间） · 数据：当前有效版本",
        parcels=True,
        width_mm=267,
        height_mm=180,
        dpi=150,
    )
    png = render_map_figure(engine, spec)
    if fmt == "png":
        return Response(
            png,
            media_type="image/png",
            headers={"Content-Disposition": 'attachment; filename="map.png"'},
        )
    return Response(
        _a4_landscape_pdf(png, spec.title),
        media_type="application/pdf",
        headers={"Content-Disposition": 'attachment; filename="map.pdf"'},
    )


def _a4_landscape_pdf(png: bytes, title: str) -> bytes:
    import io

    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.units import mm
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen.canvas import Canvas

    buf = io.BytesIO()
    c = Canvas(buf, pagesize=landscape(A4), invariant=1)
    c.setTitle(title)
    c.drawImage(ImageReader(io.BytesIO(png)), 15 * mm, 15 * mm, 267 * mm, 180 * mm)
    c.showPage()
    c.save()
    return buf.getvalue()
