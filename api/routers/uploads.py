"""Surveyor uploads and dataset versions: ``POST /uploads`` (and the upload page's kept
dry runs, ``/uploads/staged/{sha256}/publish``, and phases, ``/uploads/progress/{id}``),
``GET /uploads/{id}`` (and ``report.xlsx``), ``GET /datasets``, the diff between two versions,
``POST /datasets/{id}/restore``.

The request body is counted while it streams in and refused with 413 as soon as it exceeds
``TUZHENG_INGEST_MAX_UPLOAD_BYTES`` (plus a small multipart allowance), and an upload without
a surveyor's or admin's token is refused before its body is read (both in
:class:`api.middleware.BodyLimit`); Starlette spools the file part to disk, and the endpoint
copies it in chunks into a private temporary directory that is removed after ingestion. Raw
uploaded files are never served back.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.deps import Admin, EngineDep, IngestSettingsDep, Reader, Uploader
from api.media import XLSX
from spatial import datasets
from spatial.errors import Conflict, DomainError, InvalidInput, NotFound, TooLarge
from spatial.ingest import IngestReport
from spatial.ingest.isolated import ingest_isolated
from spatial.ingest.options import IngestOptions
from spatial.ingest.staged import StagedUploads
from spatial.models import Layer
from spatial.settings import IngestSettings

_CHUNK = 1 << 20
DISCONNECT_POLL_S = 0.5
"""How often an upload being processed checks whether its client is still there."""


router = APIRouter(tags=["uploads"])

_ALLOWED_SUFFIXES = (".zip", ".gpkg", ".geojson", ".json", ".shp")


def _safe_name(name: str | None) -> str:
    """The client's base file name, without any directory part or control characters."""
    base = re.split(r"[\\/]", name or "upload")[-1]
    base = re.sub(r"[\x00-\x1f]", "", base).strip() or "upload"
    return base[:200]


def _save(upload: UploadFile, target: Path, limit: int) -> None:
    written = 0
    with open(target, "wb") as out:
        while chunk := upload.file.read(_CHUNK):
            written += len(chunk)
            if written > limit:
                raise TooLarge(
                    f"上传文件超过上限 {limit} 字节",
                    f"the upload exceeds the limit of {limit} bytes",
                )
            out.write(chunk)


async def _unless_abandoned(
    request: Request, cancel: threading.Event, job: Callable[[], IngestReport]
) -> IngestReport:
    """Run ``job`` in a thread; set ``cancel`` if the client disconnects before it ends."""
    outcome: dict[str, Any] = {}

    async def watch() -> None:
        while not cancel.is_set():
            await anyio.sleep(DISCONNECT_POLL_S)
            if await request.is_disconnected():
                cancel.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(watch)
        try:
            outcome["report"] = await run_in_threadpool(job)
        except BaseException as exc:  # noqa: BLE001 - re-raised below, outside the task group
            outcome["error"] = exc
        tg.cancel_scope.cancel()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["report"]  # type: ignore[no-any-return]


class UploadResult(IngestReport):
    """The ingest report, and until when a checked file is kept for publishing (dry runs with
    ``keep``)."""

    staged_until: datetime | None = None


_SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
PROGRESS_ID = r"^[A-Za-z0-9_-]{8,64}$"


def _not_accepted(suffix: str, name: str) -> InvalidInput:
    return InvalidInput(
        f"不接受的文件类型：{suffix or name}（请上传 .zip、.gpkg 或 .geojson，"
        "或同时选择 shapefile 的 .shp .shx .dbf（及 .prj .cpg）各部分）",
        f"file type {suffix or name} is not accepted (upload .zip, .gpkg or .geojson, or "
        "select a shapefile's .shp, .shx, .dbf (and .prj, .cpg) parts together)",
    )


def _save_upload(
    file: UploadFile, parts: list[UploadFile], work: Path, limit: int
) -> tuple[Path, str]:
    """Save the upload into ``work``; return the path to ingest and the client's file name.

    One ``.zip``/``.gpkg``/``.geojson`` file, or the parts of one shapefile (``.shp`` with
    ``.shx``, ``.dbf`` and optionally ``.prj``, ``.cpg``), saved as ``upload.<ext>``.
    """
    uploads = [file, *[p for p in parts if p.filename]]
    names = [_safe_name(u.filename) for u in uploads]
    suffixes = [Path(n).suffix.lower() for n in names]
    if len(uploads) == 1 and suffixes[0] in _ALLOWED_SUFFIXES and suffixes[0] != ".shp":
        path = work / f"upload{suffixes[0]}"
        _save(file, path, limit)
        return path, names[0]
    bad = [n for n, x in zip(names, suffixes, strict=True) if x not in _SHAPEFILE_PARTS]
    if bad or suffixes.count(".shp") != 1 or len(set(suffixes)) != len(suffixes):
        name = bad[0] if bad else names[0]
        raise _not_accepted(Path(name).suffix.lower() if bad else "", name)
    missing = {".shx", ".dbf"} - set(suffixes)
    if missing:
        raise InvalidInput(
            f"shapefile 缺少组成部分：{'、'.join(sorted(missing))}",
            f"the shapefile lacks its {', '.join(sorted(missing))} part",
        )
    budget = limit
    for upload, suffix in zip(uploads, suffixes, strict=True):
        target = work / f"upload{suffix}"
        _save(upload, target, budget)
        budget -= target.stat().st_size
    return work / "upload.shp", names[suffixes.index(".shp")]


def _run_ingest(
    request: Request,
    engine: Any,
    user: Any,
    path: Path,
    options: IngestOptions,
    mapping: Path | None,
    file_name: str,
    progress_id: str | None,
    cancel: threading.Event | None = None,
) -> IngestReport:
    """Ingest ``path`` in the capped worker, posting its phases for the page; setting
    ``cancel`` stops it (the client went away)."""
    board = request.app.state.progress
    owner = user.name

    def progress(phase: str) -> None:
        if progress_id:
            board.phase(owner, progress_id, phase)

    status = "refused"
    try:
        report = ingest_isolated(
            path,
            options,
            mapping=mapping,
            file_name=file_name,
            user=user.name,
            role=user.role.value,
            engine=engine,
            settings=request.app.state.ingest_settings,
            progress=progress,
            cancel=cancel,
        )
        status = report.status
        return report
    finally:
        if progress_id:
            board.finish(owner, progress_id, status)


def staged_store(settings: IngestSettings) -> StagedUploads:
    """The store of files kept between a dry run and its publication."""
    return StagedUploads(settings.upload_dir / "staged", settings.staged_ttl_minutes * 60)


@router.post(
    "/uploads",
    response_model=UploadResult,
    status_code=201,
    responses={
        200: {"description": "dry run, or the same file is already active"},
        409: {"description": "another upload is publishing to the layer / duplicate codes"},
        413: {"description": "too large"},
        422: {"description": "invalid content; the body holds the report"},
    },
)
async def upload(
    request: Request,
    user: Uploader,
    engine: EngineDep,
    response: Response,
    file: Annotated[UploadFile, File(description="zip (shapefile), gpkg or geojson")],
    options: Annotated[IngestOptions, Form()],
    settings: IngestSettingsDep,
    mapping: Annotated[UploadFile | None, File(description="YAML/JSON mapping")] = None,
    parts: Annotated[
        list[UploadFile], File(description="the other parts of a shapefile (.shx .dbf …)")
    ] = [],  # noqa: B006 - FastAPI copies defaults per request
    keep: Annotated[
        bool, Form(description="with dry_run: keep a clean file for /uploads/staged/…/publish")
    ] = False,
    progress_id: Annotated[
        str | None, Form(pattern=PROGRESS_ID, description="phases at /uploads/progress/{id}")
    ] = None,
) -> UploadResult:
    """上传 Ingest a surveyor's file (surveyor or admin). 201 with the report when it went in.

    The form fields are those of :class:`~spatial.ingest.options.IngestOptions` (``layer``,
    ``crs``, ``encoding``, ``mode``, ``dry_run``, ``strict``, ``source_layer``), plus the file
    (or a shapefile's parts), an optional mapping file, ``keep`` and ``progress_id``.
    """
    settings.upload_dir.mkdir(parents=True, exist_ok=True)
    work: Path | None = Path(tempfile.mkdtemp(prefix="upload-", dir=settings.upload_dir))
    assert work is not None
    cancel = threading.Event()
    try:
        path, name = await run_in_threadpool(
            _save_upload, file, parts, work, settings.max_upload_bytes
        )
        mapping_name = None
        if mapping is not None and mapping.filename:
            msuffix = ".json" if _safe_name(mapping.filename).lower().endswith(".json") else ".yaml"
            mapping_name = f"mapping{msuffix}"
            await run_in_threadpool(_save, mapping, work / mapping_name, 1 << 20)
        mapping_path = work / mapping_name if mapping_name else None
        job = functools.partial(
            _run_ingest,
            request,
            engine,
            user,
            path,
            options,
            mapping_path,
            name,
            progress_id,
            cancel,
        )
        report = await _unless_abandoned(request, cancel, job)
        out = UploadResult.model_validate(report.model_dump())
        if keep and options.dry_run and report.status == "dry_run" and report.sha256:
            kept = await run_in_threadpool(
                staged_store(settings).keep,
                work,
                path,
                report.sha256,
                user.name,
                {"options": options.model_dump(), "mapping": mapping_name, "file_name": name},
            )
            work = None
            out.staged_until = kept.expires_at
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
    if report.status != "published":
        response.status_code = 200
    return out


@router.post(
    "/uploads/staged/{sha256}/publish",
    response_model=UploadResult,
    status_code=201,
    responses={404: {"description": "no such kept file (expired?)"}},
)
def publish_staged(
    request: Request,
    sha256: str,
    user: Uploader,
    engine: EngineDep,
    response: Response,
    settings: IngestSettingsDep,
    progress_id: Annotated[str | None, Form(pattern=PROGRESS_ID)] = None,
) -> UploadResult:
    """Publish the file kept by a dry run (same bytes, same options; no second transfer).

    The kept file is deleted afterwards, unless another upload was publishing to the layer
    (409: retry).
    """
    store = staged_store(settings)
    kept = store.get(sha256, user.name)
    meta = kept.options
    options = IngestOptions.of(IngestOptions.model_validate(meta["options"]), dry_run=False)
    mapping = kept.directory / meta["mapping"] if meta.get("mapping") else None
    try:
        report = _run_ingest(
            request, engine, user, kept.file, options, mapping, meta["file_name"], progress_id
        )
    except Conflict:
        raise
    except DomainError:
        store.discard(sha256, user.name)
        raise
    store.discard(sha256, user.name)
    if report.status != "published":
        response.status_code = 200
    return UploadResult.model_validate(report.model_dump())


@router.delete("/uploads/staged/{sha256}", status_code=204)
def discard_staged(sha256: str, user: Uploader, settings: IngestSettingsDep) -> None:
    """Delete a file kept by a dry run without publishing it."""
    staged_store(settings).discard(sha256, user.name)


@router.get("/uploads/progress/{progress_id}", include_in_schema=False)
async def upload_progress(request: Request, progress_id: str, user: Uploader) -> Response:
    """The phases of a running upload as server-sent events (``phase``, then ``done``)."""
    if not re.match(PROGRESS_ID, progress_id):
        raise NotFound("没有这个进度", "no such progress id")
    board = request.app.state.progress

    async def events() -> Any:
        seen = 0
        deadline = time.monotonic() + 3600
        while time.monotonic() < deadline:
            phases, done = board.since(user.name, progress_id, seen)
            for phase in phases:
                yield f"event: phase\ndata: {json.dumps({'phase': phase})}\n\n"
            seen += len(phases)
            if done is not None:
                yield f"event: done\ndata: {json.dumps({'status': done})}\n\n"
                return
            if await request.is_disconnected():
                return
            await asyncio.sleep(0.2)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/uploads")
def my_uploads(user: Uploader, engine: EngineDep) -> list[dict[str, Any]]:
    """The signed-in user's uploads, newest first: status, layer, counts, area, dataset id."""
    return datasets.list_datasets(engine, uploaded_by=user.name)


@router.get("/uploads/{dataset_id}/report.xlsx")
def upload_report_xlsx(dataset_id: int, user: Reader, engine: EngineDep) -> Response:
    """The report of an upload as an Excel workbook (概要, 问题, 预览)."""
    from urllib.parse import quote

    from spatial.ingest.report_xlsx import write_report_xlsx

    report = get_upload(dataset_id, user, engine)
    body = write_report_xlsx(report)
    name = f"上传报告-{dataset_id}.xlsx"
    return Response(
        body,
        media_type=XLSX,
        headers={
            "Content-Disposition": f'attachment; filename="upload-report-{dataset_id}.xlsx"; '
            f"filename*=UTF-8''{quote(name)}"
        },
    )


@router.get("/uploads/{dataset_id}", response_model=IngestReport)
def get_upload(dataset_id: int, user: Reader, engine: EngineDep) -> IngestReport:
    """The report of an upload (whether it went in or was refused)."""
    row = datasets.get_dataset(engine, dataset_id)
    report = row.get("report") or {}
    if "source_file" not in report:
        raise NotFound(
            f"数据集 {dataset_id} 不是上传的数据（没有导入报告）",
            f"dataset {dataset_id} was not uploaded (it has no ingest report)",
        )
    out = IngestReport.model_validate(report)
    out.dataset_id = dataset_id
    return out


@router.get("/datasets")
def list_versions(
    user: Reader,
    engine: EngineDep,
    layer: Annotated[Layer | None, Query(description="only this layer")] = None,
) -> list[dict[str, Any]]:
    """Every dataset version, newest first (status staging, active, superseded or failed)."""
    return datasets.list_datasets(engine, layer)


@router.get("/datasets/{from_id}/diff/{to_id}")
def diff_versions(
    from_id: int,
    to_id: int,
    user: Reader,
    engine: EngineDep,
    limit: Annotated[int, Query(ge=1, le=100_000, description="changes listed")] = 1000,
) -> dict[str, Any]:
    """What changed from one version of a layer to another, by feature code (added, removed,
    changed attributes old → new, geometry moved with the area change in m²)."""
    from spatial.versions import diff_datasets

    return diff_datasets(engine, from_id, to_id, limit=limit).to_dict()


@router.post("/datasets/{dataset_id}/restore")
def restore_version(dataset_id: int, admin: Admin, engine: EngineDep) -> dict[str, Any]:
    """Make an older version active again (admin only); the current one stays restorable."""
    return datasets.restore(engine, dataset_id, admin.name, admin.role.value)
