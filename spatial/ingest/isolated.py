"""Run an ingest in a child process with a memory cap, so no file can take the caller down.

GDAL, GEOS and Arrow parse whatever a surveyor uploads. A crafted or corrupt file can make them
allocate without bound or crash outright. :func:`ingest_isolated` runs
:func:`spatial.ingest.pipeline.ingest` in a child process forked from a clean ``forkserver``
that has the ingest modules pre-imported, so starting one costs milliseconds. Inside the child
the address space is capped with ``RLIMIT_AS`` at what it holds after start-up plus
``IngestSettings.worker_memory_mb``. The caller gets the same report or the same domain error
as from :func:`~spatial.ingest.pipeline.ingest`:

* running out of the cap raises :class:`~spatial.errors.TooLarge` (HTTP 413);
* a child that dies (segfault, OOM kill) raises :class:`~spatial.errors.InvalidInput` (422);
* the child's CPU time is capped with ``RLIMIT_CPU`` and its wall-clock time by a deadline,
  both scaled with the file's size (:func:`limits_for`; ``worker_timeout_s`` is the upper bound
  of the deadline): a file that would hold a core (a crafted query, a pathological geometry)
  is stopped and refused with 422 in proportion to what it is, not after an hour (a process
  out of memory can also hang rather than fail, e.g. in a thread start);
* a child whose caller gives up (``cancel`` set, e.g. the HTTP client disconnected) is killed;
* in every case the refusal is recorded as a failed dataset and audited, as for any refusal,
  and the child's temporary files (it works in a directory of its own) are deleted at once.

The child can reach no network through GDAL (:func:`block_network`: its HTTP client goes
through a proxy address that refuses every connection; PROJ's network is off), so nothing in
an upload can make the server fetch a URL even if a check before GDAL missed it.

The database keeps everything all-or-nothing: a child killed mid-COPY leaves a staging dataset
that the next ingest cleans up. The API uses this; the CLI already runs in a process of its own.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import resource
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from spatial import errors
from spatial.ingest.options import IngestOptions
from spatial.ingest.pipeline import new_report, refuse, sha256_file
from spatial.ingest.report import IngestReport
from spatial.schema import LayerSpec
from spatial.settings import IngestSettings

_PRELOAD = ["spatial.ingest.pipeline", "sqlalchemy", "psycopg"]
_context: Any = None


def _ctx() -> Any:
    """The forkserver context, its server pre-importing the ingest modules (created once)."""
    global _context
    if _context is None:
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(_PRELOAD)
        _context = ctx
    return _context


def _address_space(field: str = "VmSize") -> int:
    """This process's virtual memory size in bytes, now (``VmSize``) or at its peak
    (``VmPeak``); 0 where /proc is unavailable."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


@dataclass(frozen=True)
class _Call:
    """Everything of an upload but the file and its options: crosses to the worker pickled.

    Its fields are keyword arguments of :func:`~spatial.ingest.pipeline.ingest`."""

    mapping: str | None
    file_name: str | None
    user: str
    role: str | None
    settings: IngestSettings


_PROXY_ENV = ("no_proxy", "NO_PROXY", "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY")


def block_network() -> socket.socket:
    """Make GDAL and PROJ in this process unable to reach any network; returns the socket
    that keeps the dead proxy address reserved (keep it open while reading).

    Every HTTP request of GDAL (``/vsicurl/``, a CRS link, a remote schema…) is sent to a
    proxy at a loopback port that is bound but never listens, so the connection is refused at
    once and nothing leaves the process; ``no_proxy`` is cleared so no host is exempt.
    """
    import pyogrio
    from pyproj import network

    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    proxy = f"http://127.0.0.1:{dead.getsockname()[1]}"
    for var in _PROXY_ENV:
        os.environ.pop(var, None)
    os.environ["PROJ_NETWORK"] = "OFF"
    network.set_network_enabled(False)
    pyogrio.set_gdal_config_options(
        {
            "GDAL_HTTP_PROXY": proxy,
            "GDAL_HTTPS_PROXY": proxy,
            "GDAL_HTTP_MAX_RETRY": "0",
            "GDAL_HTTP_CONNECTTIMEOUT": "1",
            "GDAL_HTTP_TIMEOUT": "1",
            "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": "{noremote}",
        }
    )
    return dead


def limits_for(size_bytes: int, settings: IngestSettings) -> tuple[float, int]:
    """(wall-clock seconds, CPU seconds) a worker gets for a file of ``size_bytes``."""
    mb = size_bytes / 1e6
    wall = min(settings.worker_timeout_s, settings.worker_base_s + settings.worker_s_per_mb * mb)
    cpu = int(settings.worker_cpu_base_s + settings.worker_cpu_s_per_mb * mb) + 1
    return wall, cpu


def _child(
    out: Connection,
    url: str | None,
    budget: int,
    cpu_s: int,
    path: str,
    options: str,
    call: _Call,
) -> None:
    """Child process body: no network, cap memory and CPU time, ingest, send back the report
    or the error."""
    limit = 0
    try:
        from sqlalchemy import create_engine, pool

        from spatial.ingest.pipeline import ingest

        dead_proxy = block_network()
        if cpu_s > 0:
            used = int(time.process_time()) + 1
            resource.setrlimit(resource.RLIMIT_CPU, (used + cpu_s, used + cpu_s + 5))

        for codec in ("utf-8", "gbk", "gb18030", "big5", "ascii"):  # load codecs before the cap
            "".encode(codec)
        engine = create_engine(url, poolclass=pool.NullPool) if url else None
        base = _address_space()
        if base and budget > 0:
            limit = base + budget
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        report = ingest(
            path,
            IngestOptions.model_validate_json(options),
            engine=engine,
            progress=lambda p: out.send(("phase", p)),
            **vars(call),
        )
        dead_proxy.close()
        out.send(("ok", report.model_dump(mode="json")))
    except errors.DomainError as exc:
        if limit and _out_of_memory(exc, limit):
            out.send(("memory", exc.detail.get("report")))
        else:
            out.send(("domain", type(exc).__name__, exc.message_zh, exc.message_en, exc.detail))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises
        if limit and _out_of_memory(exc, limit):
            out.send(("memory", None))
        else:
            out.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        out.close()


_MEMORY_WORDS = ("memory", "cannot allocate", "can't start new thread", "bad_alloc")


def _out_of_memory(exc: BaseException, limit: int) -> bool:
    """Whether a failure under the cap came from the cap: a MemoryError, an allocation failure
    reported by GDAL/GEOS/Arrow or the thread library, or a peak at the cap."""
    if isinstance(exc, MemoryError):
        return True
    text = str(exc).lower()
    if any(word in text for word in _MEMORY_WORDS):
        return True
    return _address_space("VmPeak") >= limit - 16 * 1024 * 1024


def ingest_isolated(
    path: str | Path,
    layer: str | LayerSpec | IngestOptions,
    *,
    mapping: str | Path | None = None,
    file_name: str | None = None,
    user: str = "cli",
    role: str | None = None,
    engine: Engine | None = None,
    settings: IngestSettings | None = None,
    cancel: threading.Event | None = None,
    progress: Callable[[str], None] | None = None,
    **choices: Any,
) -> IngestReport:
    """:func:`~spatial.ingest.pipeline.ingest` in a memory-, CPU- and time-capped child process.

    Takes the same arguments. The options cross to the child as the JSON of
    :class:`~spatial.ingest.options.IngestOptions`; ``engine`` is reconnected there from its
    URL. Setting ``cancel`` (from another thread) kills the child and refuses the upload;
    the child's phases reach ``progress`` in this process.
    """
    settings = settings or IngestSettings()
    call = _Call(None if mapping is None else str(mapping), file_name, user, role, settings)
    try:
        options = IngestOptions.of(layer, **choices)
    except errors.InvalidInput as exc:
        report = new_report(Path(path), layer, choices, file_name, user)
        eng = None if choices.get("dry_run") else engine
        raise refuse(
            report, errors.InvalidInput, exc.message_zh, exc.message_en, exc.code, eng, role
        ) from exc
    budget = settings.worker_memory_mb * 1024 * 1024
    size = Path(path).stat().st_size if Path(path).is_file() else 0
    wall, cpu_s = limits_for(size, settings)
    url = engine.url.render_as_string(hide_password=False) if engine is not None else None
    settings.upload_dir.mkdir(parents=True, exist_ok=True)
    job_dir = Path(tempfile.mkdtemp(prefix="worker-", dir=settings.upload_dir))
    child_call = _Call(
        call.mapping,
        call.file_name,
        call.user,
        call.role,
        settings.model_copy(update={"upload_dir": job_dir}),
    )
    ctx = _ctx()
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(
        target=_child,
        args=(send, url, budget, cpu_s, str(path), options.model_dump_json(), child_call),
        name="tuzheng-ingest",
    )
    message = None
    stopped = ""
    try:
        child.start()
        send.close()
        deadline = time.monotonic() + wall
        try:
            while True:
                if not receive.poll(0.2):
                    if not child.is_alive() and not receive.poll(0.5):
                        break
                    if cancel is not None and cancel.is_set():
                        stopped = "cancelled"
                    elif time.monotonic() > deadline:
                        stopped = "timeout"  # e.g. a thread start that never returns, no memory
                    if stopped:
                        child.kill()
                        break
                    continue
                message = receive.recv()
                if message[0] != "phase":
                    break
                if progress is not None:
                    progress(message[1])
                message = None
        except EOFError:
            message = None
        finally:
            receive.close()
            child.join()
    finally:
        shutil.rmtree(job_dir, ignore_errors=True)
    if stopped == "cancelled":
        raise _refused(
            errors.BadRequest,
            "上传请求已被客户端放弃，处理已中止；未写入任何数据",
            "the upload request was abandoned by the client and processing was stopped; "
            "nothing was written",
            path,
            options,
            call,
            engine,
            "worker_cancelled",
        )
    if stopped == "timeout":
        raise _refused(
            errors.InvalidInput,
            f"处理文件超过时限（{wall:g} 秒），已中止（时限按文件大小计）；未写入任何数据",
            f"processing the file took longer than the limit ({wall:g} s, set by its size) and "
            "was stopped; nothing was written",
            path,
            options,
            call,
            engine,
            "worker_timeout",
        )
    if message is None:
        if child.exitcode == -signal.SIGXCPU:
            raise _refused(
                errors.InvalidInput,
                f"处理该文件所需 CPU 时间超过上限（{cpu_s} 秒，按文件大小计），已中止；"
                "未写入任何数据",
                f"processing this file needs more CPU time than its limit ({cpu_s} s for its "
                "size) and was stopped; nothing was written",
                path,
                options,
                call,
                engine,
                "worker_cpu_limit",
            )
        raise _crashed(path, options, call, engine, child.exitcode, settings.worker_memory_mb)
    kind = message[0]
    if kind == "ok":
        return IngestReport.model_validate(message[1])
    if kind == "domain":
        cls = getattr(errors, message[1], errors.InvalidInput)
        raise cls(message[2], message[3], **message[4])
    if kind == "memory":
        mb = settings.worker_memory_mb
        raise _refused(
            errors.TooLarge,
            f"解析该文件所需内存超过上限（{mb} MB）；请拆分文件，或调高 "
            "TUZHENG_INGEST_WORKER_MEMORY_MB",
            f"parsing this file needs more memory than the limit ({mb} MB); split the file or "
            "raise TUZHENG_INGEST_WORKER_MEMORY_MB",
            path,
            options,
            call,
            engine,
            "memory_limit",
            prior=message[1],
        )
    raise _refused(
        errors.InvalidInput,
        f"文件处理失败：{message[1]}",
        f"the file could not be processed: {message[1]}",
        path,
        options,
        call,
        engine,
        "worker_error",
    )


def _crashed(
    path: str | Path,
    options: IngestOptions,
    call: _Call,
    engine: Engine | None,
    code: int | None,
    mb: int,
) -> errors.DomainError:
    # GDAL and json-c may crash instead of failing cleanly when an allocation is refused
    return _refused(
        errors.InvalidInput,
        f"处理文件的进程异常终止（退出码 {code}）：文件可能已损坏，或解析所需内存超过上限"
        f"（{mb} MB）；未写入任何数据",
        f"the process handling the file died (exit code {code}): the file may be corrupt, or "
        f"parsing it needs more memory than the limit ({mb} MB); nothing was written",
        path,
        options,
        call,
        engine,
        "worker_died",
    )


def _refused(
    cls: type[errors.DomainError],
    zh: str,
    en: str,
    path: str | Path,
    options: IngestOptions,
    call: _Call,
    engine: Engine | None,
    code: str,
    prior: dict[str, Any] | None = None,
) -> errors.DomainError:
    """The refusal the child could not report itself, recorded like any other
    (:func:`spatial.ingest.pipeline.refuse`).

    ``prior`` is the report of a refusal the child already recorded and audited: its failed
    dataset gets this report instead, and it is not audited twice.
    """
    p = Path(path)
    if prior is not None:
        report = IngestReport.model_validate(prior)
        report.problems = [q for q in report.problems if q.severity != "error"]
    else:
        report = new_report(p, options, {}, call.file_name, call.user)
        if p.is_file():
            report.sha256 = sha256_file(p)
    eng = None if options.dry_run else engine
    return refuse(report, cls, zh, en, code, eng, call.role, audit=prior is None)
