"""The one ingestion entry point used by ``tuzheng ingest`` and ``POST /uploads``.

Steps: size and SHA-256 → unpack (containers) → encoding → read (Arrow) → CRS → attributes →
geometry → write. All-or-nothing: any row error refuses the whole upload. Writing happens in
two transactions on one connection:

1. a short one that cleans up orphaned staging datasets and inserts this dataset as
   ``staging`` (its id is held with a session advisory lock, so a killed process leaves an
   orphan that the next run recognises);
2. one that COPYs the rows, takes the layer lock (waiting at most ``lock_timeout_s``, then
   Conflict/409), re-checks the SHA-256 and publishes. PostgreSQL guarantees that a COPY
   interrupted before this commit leaves nothing visible. Large parcel uploads are first
   staged into an unattached partition over parallel sessions (:func:`datasets.bulk_load`);
   only the attach in this transaction makes them visible, and a killed run's staging table is
   dropped by the next run's cleanup.

Refused uploads are recorded as ``failed`` datasets with their report and no rows.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from sqlalchemy import Engine

from spatial import datasets
from spatial.errors import DomainError, InvalidInput, TooLarge
from spatial.ingest import attributes, crs_detect, encoding, geometry
from spatial.ingest.containers import Source, check_size, open_source, shapefile_parts
from spatial.ingest.options import IngestOptions, ingest_layers
from spatial.ingest.preview import preview_rows, problem_features
from spatial.ingest.reader import read_source
from spatial.ingest.report import IngestReport, Problem
from spatial.schema import Layer, LayerSpec, layer_spec
from spatial.settings import IngestSettings

_MALFORMED = (ValueError, RuntimeError, OSError, UnicodeError, IndexError, pa.ArrowException)
"""Errors that a corrupt or mutated file can raise deep inside GDAL, Arrow or GEOS."""


PHASES = ("read", "check", "copy", "index", "publish")
"""The phases an ingest reports to its ``progress`` callback, in order."""


def _phase(progress: Callable[[str], None] | None, name: str) -> None:
    if progress is not None:
        progress(name)


STALE_AFTER_S = 6 * 3600
"""Temporary upload directories older than this were left by killed processes."""


def sweep_stale(upload_dir: Path, older_than_s: float = STALE_AFTER_S) -> list[Path]:
    """Remove ``ingest-*``/``upload-*`` directories left in ``upload_dir`` by killed runs."""
    removed = []
    cutoff = time.time() - older_than_s
    for d in list(upload_dir.glob("ingest-*")) + list(upload_dir.glob("upload-*")):
        try:
            if d.is_dir() and d.stat().st_mtime < cutoff:
                shutil.rmtree(d, ignore_errors=True)
                removed.append(d)
        except OSError:
            continue
    return removed


def sha256_file(path: Path) -> str:
    """SHA-256 hex digest of an upload, read in 1 MiB chunks.

    A bare ``.shp`` stands for its whole shapefile: the digest covers each part present
    (``.shp .shx .dbf .prj .cpg``, in that order, each introduced by its extension and size),
    so a corrected ``.dbf`` next to an unchanged ``.shp`` is new data, not a re-upload.
    """
    h = hashlib.sha256()
    if path.suffix.lower() == ".shp":
        files = list(shapefile_parts(path).items())
    else:
        files = [("", path)]
    for ext, part in files:
        if ext:
            h.update(f"{ext}:{part.stat().st_size}\n".encode())
        with open(part, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()


def _layer(layer: str | LayerSpec) -> LayerSpec:
    allowed = {spec.name: spec for spec in ingest_layers()}
    spec = allowed.get(layer.name if isinstance(layer, LayerSpec) else str(layer))
    if spec is None:
        names = ", ".join(allowed)
        raise InvalidInput(
            f"未知的图层 {layer}（可选：{names}）", f"unknown layer {layer} (one of: {names})"
        )
    return spec


def ingest(
    path: str | Path,
    layer: str | LayerSpec | IngestOptions,
    *,
    mapping: str | Path | None = None,
    file_name: str | None = None,
    user: str = "cli",
    role: str | None = None,
    engine: Engine | None = None,
    settings: IngestSettings | None = None,
    lock_timeout_s: float | None = None,
    progress: Callable[[str], None] | None = None,
    **choices: Any,
) -> IngestReport:
    """Load a surveyor's file into a layer completely, or refuse it with a report.

    Parameters
    ----------
    path
        A ``.zip``, ``.shp`` (with siblings), ``.gpkg`` or ``.geojson`` file.
    layer
        The :class:`~spatial.ingest.options.IngestOptions`, or just the target layer
        (``parcels``, ``retained_land``, ``state_reserve_land``, ``statutory_plans``,
        ``projects`` or any other layer declared ``ingest``).
    **choices
        Options fields given one by one (``crs``, ``encoding``, ``mode``, ``dry_run``,
        ``strict``, ``source_layer``; see :class:`~spatial.ingest.options.IngestOptions`).
    mapping
        YAML/JSON mapping file (see :mod:`spatial.ingest.attributes`).
    user, role
        Who uploads (audit log, dataset ``uploaded_by``).
    file_name
        Name to report instead of ``path``'s (the API passes the client's file name).
    progress
        Called with each phase as it starts: ``read``, ``check``, then (when writing) ``copy``,
        ``index`` and ``publish`` (:data:`PHASES`). The CLI prints them on a terminal; the
        upload page shows them.

    Returns
    -------
    IngestReport
        ``status`` is ``published``, ``dry_run`` or ``unchanged`` (same SHA-256 as the active
        version).

    Raises
    ------
    InvalidInput, TooLarge, Conflict
        Refusals; ``exc.detail["report"]`` holds the report (``IngestReport.model_dump()``).

    Examples
    --------
    >>> ingest("zongdi.zip", "parcels", crs="EPSG:4547")  # doctest: +SKIP
    """
    from spatial.db import get_engine

    t0 = time.perf_counter()
    settings = settings or IngestSettings()
    path = Path(path)
    report = new_report(path, layer, choices, file_name, user)
    dry_run = bool(getattr(layer, "dry_run", False) or choices.get("dry_run"))
    eng = engine if engine is not None else (None if dry_run else get_engine())
    try:
        options = IngestOptions.of(layer, **choices)
        dry_run = options.dry_run
        lay = _layer(options.layer)
        report.size_bytes = check_size(path, settings) if path.is_file() else None
        if not path.is_file():
            raise InvalidInput(f"文件不存在：{path}", f"no such file: {path}")
        _phase(progress, "read")
        report.sha256 = sha256_file(path)
        try:
            prepared = _prepare(path, lay, report, settings, options, mapping, progress)
        except DomainError:
            raise
        except _MALFORMED as exc:  # a mutated file must fail cleanly, never crash the caller
            raise InvalidInput(
                f"文件内容无法处理（可能已损坏）：{type(exc).__name__}: {exc}",
                f"the file content cannot be processed (corrupt?): {type(exc).__name__}: {exc}",
            ) from exc
        if report.has_errors:
            raise _refusal(report)
        if not dry_run and eng is not None:
            with eng.connect() as conn:
                same = _same_file(conn, lay, report)
            if same is not None:
                return _unchanged(report, same, eng, role, t0)
        if dry_run:
            _add_all(report, prepared.overlap_job() if prepared.overlap_job else [])
            report.problem_map = problem_features(report, prepared.geoms)
            report.status = "dry_run"
            report.problem(
                "dry_run",
                f"试运行：将写入 {prepared.count} 个要素，实际未写入",
                f"dry run: {prepared.count} features would be written; nothing was written",
                severity="info",
            )
            report.duration_s = round(time.perf_counter() - t0, 3)
            return report
        assert eng is not None
        wait_s = settings.lock_timeout_s if lock_timeout_s is None else lock_timeout_s
        _write(eng, lay, report, prepared, user, role, wait_s, progress)
        report.duration_s = round(time.perf_counter() - t0, 3)
        _audit(eng, user, role, report)
        return report
    except DomainError as exc:
        report.duration_s = round(time.perf_counter() - t0, 3)
        detail = {k: v for k, v in exc.detail.items() if k != "report"}
        raise refuse(
            report,
            type(exc),
            exc.message_zh,
            exc.message_en,
            exc.code,
            None if dry_run else eng,
            role,
            **detail,
        ) from exc


def new_report(
    path: Path,
    layer: str | LayerSpec | IngestOptions,
    choices: dict[str, Any],
    file_name: str | None,
    user: str,
) -> IngestReport:
    """The report an upload starts with (status ``refused`` until it goes in).

    Made before the options are checked, so that bad options are reported like any refusal.
    """
    given: dict[str, Any] = (
        layer.model_dump() if isinstance(layer, IngestOptions) else {"layer": layer}
    )
    given |= choices
    name = given.get("layer")
    return IngestReport(
        source_file=file_name or path.name,
        layer=str(getattr(name, "name", name)),
        mode=str(given.get("mode") or "replace"),
        user=user,
        source_layer=given.get("source_layer") or None,
        status="refused",
    )


def refuse(
    report: IngestReport,
    cls: type[DomainError],
    zh: str,
    en: str,
    code: str,
    eng: Engine | None,
    role: str | None,
    audit: bool = True,
    **detail: Any,
) -> DomainError:
    """Mark ``report`` refused with the problem ``code``, record it, and return the error to raise.

    The one place refusals are recorded (:func:`record_refusal`: a ``failed`` dataset with the
    report, and the audit entry), for the pipeline and for the isolated worker's parent alike.
    Nothing is recorded without ``eng`` (dry runs).
    """
    report.status = "refused"
    report.counts.written = 0
    if not any(p.code == code and p.row is None for p in report.problems):
        report.problem(code, zh, en)
    if eng is not None:
        record_refusal(eng, report, report.user or "cli", role, audit)
    return cls(zh, en, report=report.model_dump(mode="json"), **detail)


def _refusal(report: IngestReport) -> InvalidInput:
    errs = report.errors
    rows = {p.row for p in errs if p.row is not None}
    codes = sorted({p.code for p in errs})
    # the report lists the first rows of each problem; the count covers all of them
    report.counts.refused = max(report.counts.refused, len(rows))
    bad = report.counts.refused
    return InvalidInput(
        f"上传被拒绝：{bad} 行有问题（{', '.join(codes)}），未写入任何数据；详见报告",
        f"upload refused: problems in {bad} rows ({', '.join(codes)}); nothing was "
        "written; see the report",
        codes=codes,
    )


@dataclass
class Prepared:
    """Checked rows ready to COPY, and the overlap check still to run (parcels)."""

    values: dict[str, pa.Array]
    geoms: np.ndarray
    count: int
    overlap_job: Callable[[], list[Problem]] | None


def _prepare(
    path: Path,
    lay: LayerSpec,
    report: IngestReport,
    settings: IngestSettings,
    options: IngestOptions,
    mapping: str | Path | None,
    progress: Callable[[str], None] | None = None,
) -> Prepared:
    """Unpack, read and check; return the good rows' columns and EPSG:4547 geometries."""
    source_layer = options.source_layer
    mapping_obj = attributes.load_mapping(mapping)
    settings.upload_dir.mkdir(parents=True, exist_ok=True)
    sweep_stale(settings.upload_dir)
    work = Path(tempfile.mkdtemp(prefix="ingest-", dir=settings.upload_dir))
    t = time.perf_counter()
    try:
        src = open_source(path, work, settings, source_layer)
        t = report.lap("unpack", t)
        report.format = src.driver
        if path.suffix.lower() == ".zip":
            report.source_layer = src.display_name
        enc = encoding.choose_encoding(
            src.dbf, src.cpg, options.encoding, src.driver, check_rows=False
        )
        report.encoding, report.encoding_method = enc.label, enc.method
        t = report.lap("encoding", t)
        if enc.name_fixes:
            _repair_names(src, work, enc, report)
        # GDAL reads (in threads of its own) while every record is checked to decode in the
        # declared encoding: GDAL's recoding would otherwise turn bad bytes into mojibake.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="read") as pool:
            reading = pool.submit(read_source, src, enc, source_layer)
            if enc.records_unchecked and src.dbf is not None:
                encoding.check_records(src.dbf, enc)
            read = reading.result()
        t = report.lap("read", t)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if read.layer:
        report.source_layer = read.layer
    n = read.table.num_rows
    report.counts.read = n
    if n == 0:
        raise InvalidInput("文件中没有要素", "the file has no features")
    _phase(progress, "check")
    choice = crs_detect.choose_crs(
        options.crs,
        _declared_crs(read.crs, src.driver, read.geoms),
        src.driver,
        _bounds(read.geoms),
    )
    report.source_crs, report.crs_method = choice.label, choice.method
    for code, zh, en in choice.warnings:
        report.problem(code, zh, en, severity="warning")
    columns = attributes.resolve_columns(lay, read.fields, mapping_obj)
    report.column_mapping = columns
    values, ok_attr = attributes.map_attributes(lay, read.table, columns, mapping_obj, report)
    t = report.lap("crs_attributes", t)
    geo = geometry.check_geometries(
        read.geoms,
        read.types,
        report,
        choice,
        strict=options.strict,
    )
    t = report.lap("geometry", t)
    ok = ok_attr & geo.ok
    if lay.name == Layer.retained_land and "project_code" in values:
        for problem in geometry.retained_overlap_problems(
            geo.geoms, ok, values["project_code"].to_numpy(zero_copy_only=False)
        ):
            report.problems.append(problem)
            if problem.row is not None:
                ok[problem.row - 1] = False
    report.counts.refused = int(n - ok.sum())
    report.total_area_m2 = round(float(geo.area_m2[ok].sum()), 3)
    report.preview = preview_rows(values, geo.area_m2)
    report.problem_map = problem_features(report, geo.geoms)
    if not ok.all():
        return Prepared({}, np.empty(0, dtype=object), 0, None)
    job = None
    if lay.name == Layer.parcels:
        sliver = settings.sliver_threshold_m2

        def job() -> list[Problem]:
            t0 = time.perf_counter()
            out = geometry.overlap_problems(geo.geoms, ok, geo.area_m2, sliver)
            report.timings_s["overlaps"] = round(time.perf_counter() - t0, 3)
            return out

    return Prepared(values, geo.geoms, n, job)


def _repair_names(
    src: Source, work: Path, enc: encoding.EncodingChoice, report: IngestReport
) -> None:
    """Drop characters cut in half by the 10-byte DBF field-name limit, and report it."""
    assert enc.name_fixes is not None and src.dbf is not None
    src.localise(work)
    encoding.repair_field_names(src.dbf, enc.name_fixes)
    for i, name in enc.name_fixes.items():
        fixed = name.decode(enc.codec)
        report.problem(
            "field_name_truncated",
            f"第 {i + 1} 个字段名被 DBF 10 字节上限截断在字符中间，已去掉残缺字符：{fixed}",
            f"field {i + 1}'s name was cut inside a character by the 10-byte DBF limit; the "
            f"partial character was dropped: {fixed}",
            severity="warning",
            field=fixed,
        )


def _declared_crs(declared: str | None, driver: str, geoms: np.ndarray) -> str | None:
    """The dataset's CRS, except GeoJSON's implicit WGS 84 when coordinates are not degrees."""
    if driver == "GeoJSON" and declared in ("EPSG:4326", "OGC:CRS84"):
        b = _bounds(geoms)
        if not (-180 <= b[0] <= 180 and -180 <= b[2] <= 180 and -90 <= b[1] <= 90):
            return None
    return declared


def _bounds(geoms: np.ndarray) -> tuple[float, float, float, float]:
    import shapely

    from spatial.bbox import union_bounds

    b = shapely.bounds(geoms)
    finite = np.isfinite(b).all(axis=1)
    if not finite.any():
        return (float("nan"),) * 4  # type: ignore[return-value]
    return union_bounds(b[finite])


def _dataset_meta(report: IngestReport) -> dict[str, Any]:
    return {
        "mode": report.mode,
        "sha256": report.sha256,
        "format": report.format,
        "source_crs": report.source_crs,
        "crs_method": report.crs_method,
        "encoding": report.encoding,
        "encoding_method": report.encoding_method,
    }


def _write(
    eng: Engine,
    lay: LayerSpec,
    report: IngestReport,
    prepared: Prepared,
    user: str,
    role: str | None,
    lock_timeout_s: float,
    progress: Callable[[str], None] | None = None,
) -> None:
    values, geoms, n = prepared.values, prepared.geoms, prepared.count
    pool = ThreadPoolExecutor(max_workers=1) if prepared.overlap_job else None
    overlaps = pool.submit(prepared.overlap_job) if pool and prepared.overlap_job else None
    with eng.connect() as conn:
        with conn.begin():
            cleaned = datasets.cleanup_staging(conn)
            ds = datasets.new_dataset(
                conn,
                lay,
                report.source_file,
                user,
                report=report.model_dump(mode="json"),
                **_dataset_meta(report),
            )
        datasets.hold_dataset(conn, ds)
        conn.commit()
        report.dataset_id = ds
        if cleaned:
            report.problem(
                "staging_cleaned",
                f"已清理之前中断的导入留下的暂存数据集：{cleaned}",
                f"cleaned up staging datasets left by interrupted ingests: {cleaned}",
                severity="info",
            )
        try:
            t = time.perf_counter()
            _phase(progress, "copy")
            bulk = lay.partitioned and n >= datasets.BULK_MIN_ROWS
            if bulk:  # staged unattached over parallel sessions; attached by publish below
                datasets.bulk_load(
                    eng, lay, ds, values, geoms, timings=report.timings_s, on_phase=progress
                )
            with conn.begin():
                if not bulk:
                    datasets.copy_arrays(
                        conn, lay, ds, values, geoms, timings=report.timings_s, on_phase=progress
                    )
                t = report.lap("copy", t)
                if overlaps is not None:
                    _add_all(report, overlaps.result())
                    t = report.lap("wait_overlaps", t)
                _phase(progress, "publish")
                datasets.lock_layer_within(conn, lay, lock_timeout_s)
                same = _same_file(conn, lay, report)
                if same is not None:
                    raise _SameFile(same)
                report.superseded_dataset_ids = datasets.publish(conn, lay, ds, report.mode)
                report.lap("lock_publish", t)
                report.status = "published"
                report.counts.written = n
                datasets.record_written(
                    conn, ds, n, report.total_area_m2, report.model_dump(mode="json")
                )
        except _SameFile as same_exc:
            report.status = "refused"
            with conn.begin():
                datasets.mark_failed(conn, ds, report.model_dump(mode="json"))
            report.dataset_id = None
            _unchanged(report, same_exc.dataset_id, None, role, None)
        except DomainError:
            report.status = "refused"
            report.counts.written = 0
            raise
        except BaseException:
            report.status = "refused"
            report.counts.written = 0
            if conn.in_transaction():
                conn.rollback()
            with conn.begin():
                datasets.mark_failed(conn, ds, report.model_dump(mode="json"))
            raise
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
            if not conn.closed:
                if conn.in_transaction():
                    conn.rollback()
                datasets.release_dataset(conn, ds)
                conn.commit()


def _add_all(report: IngestReport, problems: list[Problem]) -> None:
    for p in problems:
        report.add(p)


def _same_file(conn: Any, lay: LayerSpec, report: IngestReport) -> int | None:
    """An active dataset of the layer from the same bytes read the same way, if any."""
    return datasets.active_with_sha(
        conn, lay, report.sha256 or "", report.source_crs, report.encoding
    )


class _SameFile(Exception):
    def __init__(self, dataset_id: int) -> None:
        self.dataset_id = dataset_id


def _unchanged(
    report: IngestReport, same: int, eng: Engine | None, role: str | None, t0: float | None
) -> IngestReport:
    report.status = "unchanged"
    report.dataset_id = same
    report.problem(
        "same_file",
        f"同一文件（SHA-256 相同）已是数据集 {same} 的当前版本；未重复写入",
        f"the same file (same SHA-256) is already the active dataset {same}; nothing was "
        "written again",
        severity="info",
    )
    if t0 is not None:
        report.duration_s = round(time.perf_counter() - t0, 3)
    if eng is not None:
        _audit(eng, report.user or "cli", role, report)
    return report


def record_refusal(
    eng: Engine, report: IngestReport, user: str, role: str | None, audit: bool = True
) -> None:
    """Record a refused upload as a ``failed`` dataset (report kept, no rows) and audit it.

    A dataset the upload already created (``report.dataset_id``) is marked failed with the
    report; otherwise a failed dataset is created for it. ``audit=False`` when the refusal was
    audited already (a worker that recorded its own refusal before its parent added to it).
    """
    try:
        lay = layer_spec(report.layer)
    except KeyError:
        if audit:
            _audit(eng, user, role, report)
        return
    try:
        with eng.begin() as conn:
            if report.dataset_id is not None:
                datasets.mark_failed(conn, report.dataset_id, report.model_dump(mode="json"))
            else:
                ds = datasets.new_dataset(
                    conn,
                    lay,
                    report.source_file,
                    user,
                    report={},
                    **_dataset_meta(report),
                )
                report.dataset_id = ds
                datasets.mark_failed(conn, ds, report.model_dump(mode="json"))
    finally:
        if audit:
            _audit(eng, user, role, report)


def _audit(eng: Engine, user: str, role: str | None, report: IngestReport) -> None:
    from spatial.db import session_scope
    from spatial.users import audit

    with session_scope(eng) as s:
        audit(
            s,
            user,
            role,
            "upload",
            f"dataset:{report.dataset_id}" if report.dataset_id else f"layer:{report.layer}",
            {
                "file": report.source_file,
                "sha256": report.sha256,
                "layer": report.layer,
                "outcome": report.status,
                "rows": report.counts.written,
                "refused": report.counts.refused,
            },
        )


__all__ = ["ingest", "IngestReport", "TooLarge"]
