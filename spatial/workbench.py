"""The public Python API for data staff: a few readable lines from Jupyter to the store.

Everything here delegates to the same functions the web API uses (datasets, ingestion,
analysis); nothing re-implements a rule. Geometries are EPSG:4547 (CGCS2000 / 3-degree
Gauss-Kruger CM 114E) and areas are planar square metres (m²) in that CRS unless a function
says otherwise.

Example
-------
>>> import spatial as tz
>>> engine = tz.connect()  # DATABASE_URL, or the local cluster  # doctest: +SKIP
>>> projects = tz.list_projects(engine)  # EPSG:4547, area_m2 in m²  # doctest: +SKIP
>>> parcels = tz.load_layer("parcels", engine, project=projects.code.iloc[0])  # doctest: +SKIP
>>> tz.export_shapefile(parcels, "out/parcels.shp", encoding="GBK")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from spatial import analysis
from spatial.analysis import (
    area_ledger,
    plan_coverage,
    reserve_occupation,
    retained_land_composition,
    review_all,
    review_project,
    write_review_xlsx,
)
from spatial.bbox import bbox_from, storage_wkb
from spatial.categories import OwnershipCategory, parse_category
from spatial.db import get_engine, read_rows
from spatial.errors import BadRequest, DomainError, InvalidInput, NotFound
from spatial.models import STORAGE_SRID
from spatial.schema import Layer, LayerSpec, declared, layer_spec

if TYPE_CHECKING:  # pragma: no cover
    from spatial.ingest.report import IngestReport

__all__ = [
    "LAYER_NAMES",
    "area_ledger",
    "connect",
    "export_excel",
    "export_gpkg",
    "export_shapefile",
    "ingest_file",
    "list_projects",
    "load_layer",
    "plan_coverage",
    "problems_frame",
    "reserve_occupation",
    "resolve_layer",
    "retained_land_composition",
    "review_all",
    "review_project",
    "validate_file",
    "write_review_xlsx",
]
# The analyses above are spatial.analysis's own functions, re-exported unchanged: one
# implementation of each rule, shared with the API and the CLI.


def layer_names() -> dict[str, str]:
    """Names ``load_layer`` accepts (the table name, the Chinese title, the declared other
    names) and the name of the layer each means."""
    out: dict[str, str] = {}
    for spec in declared():
        for name in (spec.name, spec.title_zh, *spec.names):
            out.setdefault(name, spec.name)
    return out


LAYER_NAMES = layer_names()
"""The names of the declared layers (see :func:`layer_names`), as at import."""


def connect(url: str | None = None, *, check: bool = True) -> Engine:
    """Return a SQLAlchemy engine on the tuzheng store.

    Parameters
    ----------
    url : str, optional
        A PostgreSQL URL (``postgresql://user@host:port/db``). Default: ``DATABASE_URL`` if set,
        otherwise the project-local cluster (127.0.0.1:55432, started by ``make db``).
    check : bool, default True
        Run ``SELECT 1`` so that an unreachable database fails here, with a hint, rather than
        at the first query.

    Returns
    -------
    sqlalchemy.Engine
        A pooled engine (shared with other callers using the same URL).

    Raises
    ------
    ConnectionError
        If ``check`` and the database does not answer.

    Example
    -------
    >>> import spatial as tz
    >>> engine = tz.connect()  # doctest: +SKIP
    >>> engine.dialect.name  # doctest: +SKIP
    'postgresql'
    """
    if url is not None:
        u = make_url(url)
        if u.drivername in ("postgres", "postgresql", "postgresql+psycopg2"):
            u = u.set(drivername="postgresql+psycopg")
        url = u.render_as_string(hide_password=False)
    engine = get_engine(url)
    if check:
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:
            where = engine.url.render_as_string(hide_password=True)
            raise ConnectionError(
                f"无法连接数据库 {where}；请运行 `make db` 或设置 DATABASE_URL / "
                f"cannot reach the database at {where}: run `make db` or set DATABASE_URL "
                f"({type(exc).__name__}: {exc})"
            ) from exc
    return engine


def resolve_layer(name: str | LayerSpec) -> LayerSpec:
    """The declaration of a layer named ``"parcels"``, ``"宗地"``, ``Layer.parcels``….

    Raises
    ------
    BadRequest
        For a name no declared layer goes by (see :func:`layer_names`).

    Example
    -------
    >>> resolve_layer("留用土地").name
    'retained_land'
    """
    if isinstance(name, LayerSpec):
        return name
    names = layer_names()
    layer = names.get(str(name).strip()) or names.get(str(name).strip().lower())
    if layer is None:
        known = ", ".join(spec.name for spec in declared())
        raise BadRequest(
            f"未知图层 {name!r}；可用：{known}", f"unknown layer {name!r}; one of: {known}"
        )
    return layer_spec(layer)


def _read(engine: Engine, sql: str, params: dict[str, Any]) -> gpd.GeoDataFrame:
    with engine.connect() as conn:
        gdf = gpd.read_postgis(text(sql), conn, geom_col="geometry", params=params)
    if gdf.crs is None:
        gdf = gdf.set_crs(STORAGE_SRID)
    return gdf


def list_projects(engine: Engine | None = None) -> gpd.GeoDataFrame:
    """List the current land readiness projects (整备项目) with their boundary and area.

    The rows are ``spatial.analysis.list_projects`` (the same list the API serves), joined
    with the project boundaries.

    Parameters
    ----------
    engine : sqlalchemy.Engine, optional
        From ``connect()``; default: the configured database.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per project, ordered by code: ``code``, ``name``, ``district``, ``stage``,
        ``area_m2`` (planar area of the boundary in EPSG:4547, m²), ``retained_site_count``,
        ``parcel_count`` and the boundary ``geometry`` (EPSG:4547).

    Example
    -------
    >>> projects = list_projects(connect())  # doctest: +SKIP
    >>> projects[["code", "name", "area_m2"]].head()  # doctest: +SKIP
    """
    engine = engine or connect()
    rows = pd.DataFrame(
        [p.model_dump() for p in analysis.list_projects(engine)],
        columns=list(analysis.ProjectSummary.model_fields),
    )
    shapes = load_layer(Layer.projects, engine)[["code", "geometry"]]
    shapes = shapes.drop_duplicates("code")
    merged = rows.merge(shapes, on="code", how="left")
    return gpd.GeoDataFrame(merged, geometry="geometry", crs=STORAGE_SRID)


def _project_codes(engine: Engine, project: str | Iterable[str]) -> list[str]:
    wanted = [project] if isinstance(project, str) else [str(p) for p in project]
    rows = read_rows(
        engine,
        "SELECT code, name FROM current_projects WHERE code = ANY(:w) OR name = ANY(:w)",
        {"w": wanted},
    )
    found = {r["code"] for r in rows} | {r["name"] for r in rows}
    missing = [w for w in wanted if w not in found]
    if missing:
        raise NotFound(
            f"没有这些整备项目：{', '.join(missing)}",
            f"no such project(s): {', '.join(missing)}",
        )
    return sorted({r["code"] for r in rows})


def _categories(category: str | Iterable[str]) -> list[str]:
    values = [category] if isinstance(category, str | OwnershipCategory) else list(category)
    out = []
    for v in values:
        cat = parse_category(v)
        if cat is None:
            valid = ", ".join(c.value for c in OwnershipCategory)
            raise BadRequest(
                f"未知权属类别 {v!r}；可用：{valid}", f"unknown category {v!r}: {valid}"
            )
        out.append(cat.value)
    return out


def load_layer(
    name: str | Layer,
    engine: Engine | None = None,
    *,
    project: str | Iterable[str] | None = None,
    bbox: Sequence[float] | None = None,
    bbox_crs: int = STORAGE_SRID,
    category: str | Iterable[str] | None = None,
) -> gpd.GeoDataFrame:
    """Load the current rows of a layer as a GeoDataFrame in EPSG:4547.

    Only rows of active dataset versions are returned (the ``current_*`` views). All values
    are bound parameters; the table comes from the fixed ``LAYER_NAMES`` mapping.

    Parameters
    ----------
    name : str or Layer
        ``projects``, ``parcels``, ``retained_land``, ``state_reserve_land``,
        ``statutory_plans``, ``buildings``, or a Chinese name such as ``"宗地"``
        (see ``LAYER_NAMES``).
    engine : sqlalchemy.Engine, optional
        From ``connect()``; default: the configured database.
    project : str or list of str, optional
        Project code(s) or name(s). Parcels, retained land and buildings are filtered by their
        ``project_code``; state reserve land and statutory plan zones by intersecting the
        project boundary. Unknown projects raise ``NotFound``.
    bbox : (minx, miny, maxx, maxy), optional
        Keep features intersecting this box, given in ``bbox_crs``.
    bbox_crs : int, default 4547
        EPSG code of ``bbox`` (e.g. 4326 for longitude/latitude). The box is transformed to
        EPSG:4547, never the stored geometries.
    category : str or list of str, optional
        Parcels only: ownership category codes or surveyors' labels (``"collective"``,
        ``"集体"``, ``"未完善征转"``…).

    Returns
    -------
    geopandas.GeoDataFrame
        ``id``, ``dataset_id``, the layer's attribute columns, ``area_m2`` (planar, m²,
        EPSG:4547) and ``geometry`` (MultiPolygon, EPSG:4547), ordered by code. Parcels also get
        ``category_zh`` (the Chinese label).

    Raises
    ------
    BadRequest
        Unknown layer or category, a category filter on a layer other than parcels, or a
        malformed bbox.
    NotFound
        A project that does not exist.

    Example
    -------
    >>> engine = connect()  # doctest: +SKIP
    >>> collective = load_layer(  # doctest: +SKIP
    ...     "宗地", engine, project="GM-ZB-001", category="集体"
    ... )
    >>> collective.area_m2.sum()  # m²  # doctest: +SKIP
    """
    layer = resolve_layer(name)
    engine = engine or connect()
    # identifiers from the declaration (plain lower-case names, checked there), never input
    view = layer.current_view
    cols = ", ".join(f"t.{c}" for c in layer.column_names)
    where: list[str] = []
    params: dict[str, Any] = {}
    if project is not None:
        params["projects"] = _project_codes(engine, project)
        col = layer.project_column
        if col is not None:
            where.append(f"t.{col} = ANY(:projects)")
        else:
            where.append(
                "EXISTS (SELECT 1 FROM current_projects p "
                "WHERE p.code = ANY(:projects) AND ST_Intersects(p.geom, t.geom))"
            )
    if bbox is not None:
        # one validator and one storage shape for every bbox (spatial.bbox)
        params["bbox_wkb"] = storage_wkb(bbox_from(bbox, int(bbox_crs)))
        env = f"ST_GeomFromWKB(:bbox_wkb, {STORAGE_SRID})"
        where.append(f"t.geom && {env} AND ST_Intersects(t.geom, {env})")
    if category is not None:
        if not layer.has_column("category"):
            raise BadRequest(
                f"只有宗地图层可按权属类别筛选，{layer.value} 不行",
                f"only parcels can be filtered by category, not {layer.value}",
            )
        params["categories"] = _categories(category)
        where.append("t.category::text = ANY(:categories)")
    sql = (
        f"SELECT t.id, t.dataset_id, {cols}, ST_Area(t.geom) AS area_m2, t.geom AS geometry "
        f"FROM {view} t"
        + (" WHERE " + " AND ".join(where) if where else "")
        + f" ORDER BY t.{layer.key}, t.id"
    )
    gdf = _read(engine, sql, params)
    for column in layer.columns:  # a code column's Chinese label beside it (category_zh)
        if column.vocabulary is not None:
            labels = dict(column.vocabulary.labels_zh)
            at = gdf.columns.get_loc(column.name) + 1
            gdf.insert(at, f"{column.name}_zh", gdf[column.name].map(labels))
    return gdf


# --- ingestion (helper B's pipeline; dry run and real load) --------------------------------


def validate_file(
    path: str | Path,
    layer: str | Layer,
    *,
    engine: Engine | None = None,
    raise_on_refusal: bool = False,
    **opts: Any,
) -> IngestReport:
    """Validate a local file exactly as an upload would, without writing anything (dry run).

    Runs the ingestion pipeline (``spatial.ingest.ingest``) with ``dry_run=True``: encoding
    detection, CRS check and transformation to EPSG:4547, geometry repair, category mapping and
    duplicate checks, the same as ``tuzheng ingest --dry-run`` and the upload API.

    Parameters
    ----------
    path : str or Path
        A shapefile (``.shp`` with its sidecars), a ``.zip``, GeoPackage or GeoJSON.
    layer : str or Layer
        Target layer (see ``LAYER_NAMES``).
    engine : sqlalchemy.Engine, optional
        Database for checks against current data; default: the configured database.
    raise_on_refusal : bool, default False
        By default a refused file gives its report (``status == "refused"``, the reasons in
        ``problems``); with True the pipeline's ``InvalidInput``/``TooLarge``/``Conflict`` is
        raised instead (its ``detail["report"]`` holds the same report).
    **opts
        Passed to the pipeline: ``crs`` (e.g. ``"EPSG:4547"``; required when the file has no
        usable ``.prj``), ``encoding`` (e.g. ``"GBK"``), ``mapping`` (a YAML/JSON column
        mapping file), ``mode`` (``"replace"``/``"append"``), ``strict`` (refuse instead of
        repairing geometries), ``source_layer``.

    Returns
    -------
    IngestReport
        ``status`` (``dry_run`` or ``refused``), counts, total area (m², EPSG:4547), CRS and
        encoding with how each was decided, and the problems row by row (repairs with their
        reason and area change in m²). ``problems_frame(report)`` tabulates them.

    Example
    -------
    >>> report = validate_file("survey/宗地.shp", "parcels")  # doctest: +SKIP
    >>> report.status, report.problems[0].message_en  # no .prj  # doctest: +SKIP
    ('refused', 'no .prj; ... Candidates: EPSG:4547 ...; EPSG:2383 ...')
    >>> validate_file("survey/宗地.shp", "parcels", crs="EPSG:4547").counts  # doctest: +SKIP
    """
    from spatial.ingest import ingest
    from spatial.ingest.report import IngestReport

    if "dry_run" in opts:
        raise TypeError("validate_file is always a dry run; use ingest_file to load")
    try:
        return ingest(Path(path), resolve_layer(layer).name, dry_run=True, engine=engine, **opts)
    except DomainError as exc:
        report = exc.detail.get("report")
        if raise_on_refusal or report is None:
            raise
        return IngestReport.model_validate(report)


def problems_frame(report: IngestReport) -> pd.DataFrame:
    """The problems of an ingest report as a table: one row per problem (areas in m²).

    Example
    -------
    >>> report = validate_file("survey/宗地.shp", "parcels", crs="EPSG:4547")  # doctest: +SKIP
    >>> problems_frame(report)[["code", "row", "area_before_m2", "area_after_m2"]]  # doctest: +SKIP
    """
    cols = list(report.problems[0].model_dump()) if report.problems else ["code", "severity"]
    return pd.DataFrame([p.model_dump() for p in report.problems], columns=cols)


def ingest_file(
    path: str | Path,
    layer: str | Layer,
    *,
    engine: Engine | None = None,
    user: str = "notebook",
    **opts: Any,
) -> IngestReport:
    """Load a local file into a layer as a new dataset version (the upload, for real).

    Same pipeline and options as ``validate_file``; the rows go to a staging dataset and are
    published in one transaction (``mode="replace"`` supersedes the layer's current version,
    ``"append"`` adds to it). The load is recorded under ``user``.

    Returns
    -------
    IngestReport
        As for ``validate_file``, with ``status == "published"`` and the new ``dataset_id``
        (``"unchanged"`` when the same file is already the active version).

    Raises
    ------
    spatial.errors.InvalidInput, TooLarge, Conflict
        The file is refused; nothing is written (``exc.detail["report"]`` has the report).

    Example
    -------
    >>> report = ingest_file("survey/parcels.shp", "parcels", crs="EPSG:4547")  # doctest: +SKIP
    """
    from spatial.ingest import ingest

    opts.pop("dry_run", None)
    return ingest(
        Path(path), resolve_layer(layer).name, dry_run=False, engine=engine, user=user, **opts
    )


# --- exports -------------------------------------------------------------------------------

_SHP_ENCODINGS = {"GBK": "GBK", "CP936": "GBK", "GB2312": "GBK", "UTF-8": "UTF-8", "UTF8": "UTF-8"}
_LDID = {"GBK": 0x4D, "UTF-8": 0x00}  # DBF language driver byte: 0x4D = code page 936


def _require_crs(gdf: gpd.GeoDataFrame) -> None:
    if gdf.crs is None:
        raise InvalidInput(
            "数据没有坐标系，请先 set_crs（通常为 EPSG:4547）",
            "the GeoDataFrame has no CRS: call set_crs first (usually EPSG:4547)",
        )


def export_gpkg(gdf: gpd.GeoDataFrame, path: str | Path, layer: str | None = None) -> Path:
    """Write a GeoDataFrame to a GeoPackage layer (UTF-8, CRS kept, usually EPSG:4547).

    An existing layer of the same name is replaced; other layers in the file are kept.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Must have a CRS.
    path : str or Path
        The ``.gpkg`` file.
    layer : str, optional
        Layer name inside the GeoPackage (Chinese is fine); default: the file's stem.

    Returns
    -------
    Path
        ``path``, now holding the layer in ``gdf``'s CRS.

    Example
    -------
    >>> export_gpkg(load_layer("parcels"), "out/district.gpkg", layer="宗地")  # doctest: +SKIP
    """
    import pyogrio

    _require_crs(gdf)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pyogrio.write_dataframe(
        gdf, path, layer=layer or path.stem, driver="GPKG", layer_options={"OVERWRITE": "YES"}
    )
    return path


def _check_dbf(gdf: gpd.GeoDataFrame, encoding: str) -> None:
    codec = "gbk" if encoding == "GBK" else "utf-8"
    long_names = [
        c for c in gdf.columns if c != gdf.geometry.name and len(str(c).encode(codec)) > 10
    ]
    if long_names:
        raise InvalidInput(
            f"Shapefile 字段名最长 10 字节（{encoding}），请改名："
            f"{', '.join(map(str, long_names))}",
            f"shapefile field names are at most 10 bytes in {encoding}; rename: "
            f"{', '.join(map(str, long_names))}",
            columns=[str(c) for c in long_names],
        )
    problems: list[str] = []
    for col in gdf.columns:
        if col == gdf.geometry.name or not (
            gdf[col].dtype == object or pd.api.types.is_string_dtype(gdf[col].dtype)
        ):
            continue
        for pos, value in enumerate(gdf[col]):
            if not isinstance(value, str):
                continue
            try:
                size = len(value.encode(codec))
            except UnicodeEncodeError:
                problems.append(f"row {pos} {col}: {value!r} not encodable in {encoding}")
                continue
            if size > 254:
                problems.append(f"row {pos} {col}: {size} bytes > 254")
            if len(problems) >= 20:
                break
    if problems:
        raise InvalidInput(
            f"有文本无法写入 {encoding} 编码的 Shapefile（可改用 UTF-8 或 GeoPackage）",
            f"text cannot be written to a {encoding} shapefile without loss (use UTF-8 or "
            f"GeoPackage): " + "; ".join(problems),
            problems=problems,
        )


def export_shapefile(gdf: gpd.GeoDataFrame, path: str | Path, encoding: str = "GBK") -> Path:
    """Write a GeoDataFrame to an ESRI shapefile with a ``.cpg`` naming its text encoding.

    ``GBK`` (the default) suits older ArcGIS and most Chinese desktop GIS: the ``.dbf`` text is
    GBK, the ``.cpg`` says ``GBK`` and the DBF language driver byte is 0x4D (code page 936).
    ``UTF-8`` writes UTF-8 with a ``UTF-8`` ``.cpg``. The ``.prj`` carries the CRS (Esri WKT;
    EPSG:4547 is written as ``CGCS2000_3_Degree_GK_CM_114E``). Nothing is lost silently: text
    that the encoding cannot hold, values over 254 bytes and field names over 10 bytes raise
    ``InvalidInput`` instead of being truncated or replaced.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Polygons or MultiPolygons with a CRS.
    path : str or Path
        The ``.shp`` path (the suffix is added if missing); sidecars go next to it.
    encoding : {"GBK", "UTF-8"}, default "GBK"

    Returns
    -------
    Path
        The ``.shp`` path.

    Example
    -------
    >>> parcels = load_layer("parcels", project="GM-ZB-001")  # doctest: +SKIP
    >>> export_shapefile(parcels, "out/宗地.shp", encoding="GBK")  # doctest: +SKIP
    """
    import pyogrio

    _require_crs(gdf)
    enc = _SHP_ENCODINGS.get(encoding.upper().replace("_", "-")) if encoding else None
    if enc is None:
        raise BadRequest(
            f"不支持的编码 {encoding!r}：请用 GBK 或 UTF-8",
            f"unsupported encoding {encoding!r}: use GBK or UTF-8",
        )
    _check_dbf(gdf, enc)
    path = Path(path)
    if path.suffix.lower() != ".shp":
        path = path.with_name(path.name + ".shp")
    path.parent.mkdir(parents=True, exist_ok=True)
    pyogrio.write_dataframe(gdf, path, driver="ESRI Shapefile", encoding=enc)
    with open(path.with_suffix(".dbf"), "r+b") as fh:
        fh.seek(29)
        fh.write(bytes([_LDID[enc]]))
    path.with_suffix(".cpg").write_text(enc, encoding="ascii")
    return path


def export_excel(
    data: pd.DataFrame | Mapping[str, pd.DataFrame],
    path: str | Path,
    *,
    sheet_name: str = "data",
) -> Path:
    """Write one table or several (one sheet each) to an ``.xlsx`` workbook.

    Geometry columns are dropped (Excel cells cannot hold them); keep ``area_m2`` (m²,
    EPSG:4547) or export the geometries with ``export_gpkg``. For a project review use
    ``write_review_xlsx``, which lays out the route, coverage and evidence sheets.

    Parameters
    ----------
    data : DataFrame, GeoDataFrame or mapping of sheet name to frame
        Sheet names longer than 31 characters are cut (Excel's limit).
    path : str or Path
        The ``.xlsx`` file (overwritten).
    sheet_name : str, default "data"
        Sheet name when ``data`` is a single frame.

    Returns
    -------
    Path
        ``path``, the workbook written (one sheet per frame).

    Example
    -------
    >>> ledger = area_ledger(connect())  # doctest: +SKIP
    >>> export_excel({"面积台账 ledger": ledger}, "out/ledger.xlsx")  # doctest: +SKIP
    """
    frames = {sheet_name: data} if isinstance(data, pd.DataFrame) else dict(data)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for name, frame in frames.items():
            if isinstance(frame, gpd.GeoDataFrame):
                frame = pd.DataFrame(frame.drop(columns=frame.geometry.name))
            frame = frame.drop(
                columns=[
                    c for c in frame.columns if isinstance(frame[c].dtype, gpd.array.GeometryDtype)
                ]
            )
            frame.to_excel(writer, sheet_name=str(name)[:31], index=False)
    return path
