"""Surveyor uploads and dataset versions: ``POST /uploads``, ``GET /uploads/{id}``,
``GET /datasets``, ``POST /datasets/{id}/restore``.

The request body is counted while it streams in and refused with 413 as soon as it exceeds
``TUZHENG_INGEST_MAX_UPLOAD_BYTES`` (plus a small multipart allowance), and an upload without
a surveyor's or admin's token is refused before its body is read (both in
:class:`api.middleware.BodyLimit`); Starlette spools the file part to disk, and the endpoint
copies it in chunks into a private temporary directory that is removed after ingestion. Raw
uploaded files are never served back.
"""

from __future__ import annotations

import functools
import re
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from starlette.concurrency import run_in_threadpool

from api.deps import Admin, EngineDep, IngestSettingsDep, Reader, Uploader
from spatial import datasets
from spatial.errors import InvalidInput, NotFound, TooLarge
from spatial.ingest import IngestReport
from spatial.ingest.isolated import ingest_isolated
from spatial.ingest.options import IngestOptions
from spatial.models import Layer

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


@router.post(
    "/uploads",
    response_model=IngestReport,
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
) -> IngestReport:
    """上传 Ingest a surveyor's file (surveyor or admin). 201 with the report when it went in.

    The file is checked in a worker process (:func:`ingest_isolated`); if the client
    disconnects meanwhile, the worker is stopped and its files deleted.
    """
    name = _safe_name(file.filename)
    suffix = Path(name).suffix.lower()
    if suffix not in _ALLOWED_SUFFIXES or suffix == ".shp":
        raise InvalidInput(
            f"不接受的文件类型：{suffix or name}（请上传 .zip、.gpkg 或 .geojson；"
            "shapefile 请连同 .shx .dbf .prj .cpg 打包为 zip）",
            f"file type {suffix or name} is not accepted (upload .zip, .gpkg or .geojson; zip "
            "a shapefile together with its .shx, .dbf, .prj and .cpg)",
        )
    settings.upload_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="upload-", dir=settings.upload_dir))
    cancel = threading.Event()
    try:
        path = work / f"upload{suffix}"
        await run_in_threadpool(_save, file, path, settings.max_upload_bytes)
        mapping_path = None
        if mapping is not None and mapping.filename:
            msuffix = ".json" if _safe_name(mapping.filename).lower().endswith(".json") else ".yaml"
            mapping_path = work / f"mapping{msuffix}"
            await run_in_threadpool(_save, mapping, mapping_path, 1 << 20)
        job = functools.partial(
            ingest_isolated,
            path,
            options,
            mapping=mapping_path,
            file_name=name,
            user=user.name,
            role=user.role.value,
            engine=engine,
            settings=settings,
            cancel=cancel,
        )
        report = await _unless_abandoned(request, cancel, job)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if report.status != "published":
        response.status_code = 200
    return report


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


@router.post("/datasets/{dataset_id}/restore")
def restore_version(dataset_id: int, admin: Admin, engine: EngineDep) -> dict[str, Any]:
    """Make an older version active again (admin only); the current one stays restorable."""
    return datasets.restore(engine, dataset_id, admin.name)
