"""Bulk import from official spreadsheets (XLSX, XLS, CSV), as jobs: all rows or none.

The upload is received straight to a file on disk, counted against `SSJ_IMPORT_MAX_UPLOAD_BYTES`
as it arrives (never held in memory, 413 beyond), then imported by a job in a process of its own
(ssj/services/import_jobs.py): the request answers 202 with the job, and no request, this one
included, holds the API's lock while a file is read. The lock is taken only for the short steps
that use the API's read-model connection: who is asking, the authorisation (refused before the
file is read, and recorded), and the job's row.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, BinaryIO, TypeVar
from zoneinfo import ZoneInfo

from fastapi import Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import Field
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from ssj.api.deps import PrincipalDep, ServicesDep, _bearer, current_principal, make_router
from ssj.api.schemas import Schema, absent
from ssj.config import ImportLimits
from ssj.domain import fields
from ssj.domain.access import Forbidden, Principal
from ssj.domain.organisation import Role
from ssj.errors import NotFoundError, ValidationError
from ssj.imports.errors import ImportLimitError, over
from ssj.services.context import Services
from ssj.services.import_jobs import DONE, FAILED, ImportJobs, Job, Launcher, upload_root
from ssj.services.imports import KINDS

TAG = "导入 / Imports"
router = make_router(TAG)

CHINA = ZoneInfo("Asia/Shanghai")
OVERHEAD = 1 << 20  # multipart headers and small fields around the file
DRAIN_SECONDS = 30.0  # how long a refused upload is read on, so its client sees the answer
POLL_SECONDS = 0.25
READERS = frozenset({Role.ADMIN, Role.SUPERVISOR})  # may read anyone's jobs
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")
_ID = r"^[0-9a-f]{32}$"
T = TypeVar("T")

CredentialsDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


class ImportKind(StrEnum):
    TARGETS = "targets"
    INSPECTORS = "inspectors"
    ITEMS = "items"


def safe_name(filename: str | None) -> str:
    """The uploaded file's own name (its extension says how to read it), never a path."""
    name = _UNSAFE.sub("", (filename or "").replace("\\", "/").rsplit("/", 1)[-1]).strip()
    if name in ("", ".", ".."):
        return "upload"
    if len(name.encode()) > 200:
        suffix = Path(name).suffix[:10]
        name = name.encode()[: 200 - len(suffix.encode())].decode(errors="ignore") + suffix
    return name


# --- receiving ----------------------------------------------------------------------------------


class _TooLarge(Exception):
    pass


class _Upload:
    """multipart/form-data straight to disk: the part `file` into `directory`, the few small
    text fields into `fields`; raises _TooLarge past `limit` bytes of file."""

    def __init__(self, directory: Path, limit: int) -> None:
        self.directory, self.limit = directory, limit
        self.path: Path | None = None
        self.size = 0
        self.fields: dict[str, str] = {}
        self._out: BinaryIO | None = None
        self._name = ""
        self._value = bytearray()
        self._header = (bytearray(), bytearray())
        self._headers: dict[bytes, bytes] = {}

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {
            "on_part_begin": self._headers.clear,
            "on_header_field": lambda d, s, e: self._header[0].extend(d[s:e]),
            "on_header_value": lambda d, s, e: self._header[1].extend(d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._data,
            "on_part_end": self._part_end,
        }

    def _header_end(self) -> None:
        self._headers[bytes(self._header[0]).lower()] = bytes(self._header[1])
        self._header[0].clear()
        self._header[1].clear()

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        self._value.clear()
        if filename is None:
            if len(self.fields) >= 8:
                raise ValueError("too many form fields")
            return
        if self._name != "file" or self.path is not None:
            raise ValueError("one file, in the form field named file")
        self.path = self.directory / safe_name(filename.decode("utf-8", "replace"))
        self._out = self.path.open("wb")

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._out is None:
            self._value.extend(data[start:end])
            if len(self._value) > 1024:
                raise ValueError(f"form field {self._name} is longer than 1024 bytes")
            return
        self.size += end - start
        if self.size > self.limit:
            raise _TooLarge
        self._out.write(data[start:end])

    def _part_end(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
        else:
            self.fields[self._name] = self._value.decode("utf-8", "replace").strip()

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


def _bad_form(detail: str) -> ValidationError:
    return ValidationError(
        f"请以 multipart/form-data 上传一个文件（表单字段 file），可另附字段 department（{detail}）",
        f"upload one file as multipart/form-data (form field file), optionally with the field "
        f"department ({detail})",
    )


async def _receive(request: Request, directory: Path, limits: ImportLimits) -> _Upload:
    """The upload on disk, or _TooLarge once more than the limit has come (the rest of the
    body is then read and dropped for a while, so the client sees the 413)."""
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise _bad_form("Content-Type")
    upload = _Upload(directory, limits.upload_bytes)
    declared = request.headers.get("content-length", "")
    chunks = request.stream()
    try:
        if declared.isdigit() and int(declared) > limits.upload_bytes + OVERHEAD:
            raise _TooLarge
        parser = MultipartParser(boundary, upload.callbacks())  # type: ignore[arg-type]
        received = 0
        async for chunk in chunks:
            received += len(chunk)
            if received > limits.upload_bytes + OVERHEAD:
                raise _TooLarge
            parser.write(chunk)
        parser.finalize()
    except _TooLarge:
        upload.close()
        await _drain(chunks)
        raise
    except (FormParserError, ValueError) as e:
        raise _bad_form(str(e)) from e
    finally:
        upload.close()
    if upload.path is None:
        raise _bad_form("no file")
    return upload


async def _drain(chunks: Any) -> None:
    deadline = time.monotonic() + DRAIN_SECONDS
    try:
        async for _ in chunks:
            if time.monotonic() > deadline:
                break
    except ClientDisconnect:
        pass


def _too_large(limits: ImportLimits) -> JSONResponse:
    error: ImportLimitError = over(
        "上传的文件 / the upload",
        "upload_bytes",
        limits.upload_bytes,
        "文件过大，请拆分为几个较小的文件分别导入",
        "the file is too large; split it into smaller files",
    )
    return JSONResponse(error.as_dict(), status_code=413)


# --- jobs as the API shows them ---------------------------------------------------------------


def _when(stamp: float | None) -> str | None:
    return None if stamp is None else datetime.fromtimestamp(stamp, CHINA).isoformat()


def _summary(job: Job) -> tuple[str, str]:
    progress = job.progress
    if job.status == FAILED and job.error:
        return job.error["message_zh"], job.error["message_en"]
    if job.status == DONE and job.report:
        report = job.report
        if report["written"]:
            return (
                f"已导入 {report['rows']} 行：新增 {report['created']}，更新 {report['updated']}，"
                f"未变 {report['unchanged']}（账本序号 {report.get('seq')}）",
                f"imported {report['rows']} rows: {report['created']} created, "
                f"{report['updated']} updated, {report['unchanged']} unchanged "
                f"(ledger seq {report.get('seq')})",
            )
        n = len(report["problems"])
        return (
            f"文件有 {n} 处问题，未写入任何数据",
            f"{n} problem(s) in the file: nothing was written",
        )
    if job.status == "running":
        percent = progress.get("percent", 0)
        if progress.get("phase") == "writing":
            return f"正在写入：{percent}%", f"writing: {percent}%"
        return f"正在读取并检查：{percent}%", f"reading and checking: {percent}%"
    return "排队等待导入", "queued"


def job_body(job: Job) -> dict[str, Any]:
    zh, en = _summary(job)
    return {
        "id": job.id,
        "kind": job.kind,
        "file": job.file,
        "size": job.size,
        "status": job.status,
        "message_zh": zh,
        "message_en": en,
        "submitted_by": job.username,
        "department": job.department,
        "created_at": _when(job.created_at),
        "started_at": _when(job.started_at),
        "finished_at": _when(job.finished_at),
        "progress": job.progress or None,
        "report": job.report,
        "error": job.error,
        "peak_memory_bytes": job.peak_rss,
    }


def _location(job: Job) -> dict[str, str]:
    return {"Location": f"/imports/jobs/{job.id}"}


def _outcome(job: Job) -> JSONResponse:
    """A finished job as the synchronous import answered: 200 with the report and the ledger
    seq, 422 with every problem, or the error's own status."""
    headers = _location(job)
    if job.status == FAILED and job.error:
        body = {k: v for k, v in job.error.items() if k != "status"}
        return JSONResponse({**body, "job": job.id}, job.error["status"], headers=headers)
    report = job.report or {}
    if report.get("problems"):
        n = len(report["problems"])
        return JSONResponse(
            {
                "code": "import_problems",
                "message_zh": f"文件有 {n} 处问题，未写入任何数据",
                "message_en": f"{n} problem(s) in the file: nothing was written",
                **report,
                "job": job.id,
            },
            status_code=422,
            headers=headers,
        )
    return JSONResponse({**report, "job": job.id}, status_code=200, headers=headers)


# Responses ---------------------------------------------------------------------------------------


class ImportProblem(Schema):
    """A defect in one cell or row: nothing is written while any is found."""

    row: int = Field(description="行号 / row number")
    column: str = Field(description="列（Excel 列字母）/ column letter")
    zh: str = Field(description="问题（中文）/ the problem in Chinese")
    en: str = Field(description="问题（英文）/ the problem in English")


class ImportNote(ImportProblem):
    """Something to know that does not stop the import (a skipped title row, a column left
    unmapped …)."""

    kind: str = Field(description="类别：skipped|format|unmapped… / kind")


class ImportReport(Schema):
    """What an import found and did (`ssj.services.imports.ImportReport`)."""

    file: str = Field(description="文件名 / file name")
    kind: str = Field(description="导入种类：targets|inspectors|items / kind")
    rows: int = Field(description="数据行数 / data rows")
    created: int = Field(description="新增 / created")
    updated: int = Field(description="更新 / updated")
    unchanged: int = Field(description="未变 / unchanged")
    rejected: int = Field(description="跳过的问题行 / rows left out (skip_invalid)")
    written: bool = Field(description="是否已写入 / whether anything was written")
    dry_run: bool = Field(description="只检查不写入 / checked only")
    stopped: bool = Field(description="问题过多，检查已停止 / checking stopped at the limit")
    problem_count: int = Field(description="问题总数 / problems found in all")
    format: str | None = Field(description="文件格式 / file format")
    sheet: str | None = Field(description="工作表 / sheet read")
    encoding: str | None = Field(description="文本编码 / text encoding")
    header_rows: list[int] = Field(description="表头所在行 / header rows")
    columns: list[dict[str, Any]] = Field(description="各列如何读取 / how each column was read")
    problems: list[ImportProblem] = Field(description="问题（最多列出上限条）/ problems")
    notes: list[ImportNote] = Field(description="提示 / notes")
    unresolved_departments: list[dict[str, Any]] = Field(
        description="无法识别的部门名称 / department names not recognised"
    )
    preview: list[dict[str, Any]] = Field(description="预览 / preview rows")
    rejects_file: str | None = Field(description="问题行文件 / the rejects file")
    error: dict[str, str] | None = Field(description="文件无法读取时的错误 / unreadable file")
    seq: int | None = absent("写入后的账本序号（已写入才有）/ ledger seq after writing")


class ImportProgress(Schema):
    phase: str = Field(description="阶段：reading|writing / phase")
    percent: float = Field(description="完成百分比 / percent done")
    rows_read: int = Field(description="已读行数 / rows read")
    records_checked: int = Field(description="已检查记录 / records checked")
    records_written: int = Field(description="已写入记录 / records written")
    records_total: int | None = Field(
        description="应写入记录（写入阶段前为空）/ records to write (null before writing)"
    )


class ImportJobError(Schema):
    """Why a job failed, with the HTTP status the synchronous answer would have had."""

    code: str = Field(description="错误代码 / error code")
    message_zh: str = Field(description="错误（中文）/ the error in Chinese")
    message_en: str = Field(description="错误（英文）/ the error in English")
    limit: str | None = absent("超过的上限（环境变量名）/ the limit exceeded (its variable)")
    status: int = Field(description="对应的 HTTP 状态 / the HTTP status it answers")


class ImportJob(Schema):
    """An import job: status, progress, report."""

    id: str = Field(description="作业编号 / job id")
    kind: str = Field(description="导入种类：targets|inspectors|items / kind")
    file: str = Field(description="文件名 / file name")
    size: int = Field(description="文件大小（字节）/ file size in bytes")
    status: str = Field(description="状态：queued|running|done|failed / status")
    message_zh: str = Field(description="状态说明（中文）/ status in Chinese")
    message_en: str = Field(description="状态说明（英文）/ status in English")
    submitted_by: str = Field(description="提交人 / submitted by")
    department: str | None = Field(description="导入到的部门 / department, or null")
    created_at: str | None = Field(description="提交时间（北京时间）/ submitted at")
    started_at: str | None = Field(description="开始时间 / started at")
    finished_at: str | None = Field(description="结束时间 / finished at")
    progress: ImportProgress | None = Field(description="进度（进行中）/ progress, or null")
    report: ImportReport | None = Field(description="报告（结束后）/ report once done")
    error: ImportJobError | None = Field(description="错误（失败时）/ error once failed")
    peak_memory_bytes: int | None = Field(description="作业进程内存峰值 / job's peak memory")


class ImportJobPage(Schema):
    total: int = Field(description="作业总数 / jobs in all")
    offset: int = Field(description="跳过的条数 / rows skipped")
    limit: int = Field(description="每页条数 / page size")
    items: list[ImportJob] = Field(description="本页的作业，最新的在前 / jobs, newest first")


class ImportDone(ImportReport):
    """A job that ended within `wait`: its report and its id."""

    job: str = Field(description="作业编号 / job id")


# --- endpoints ----------------------------------------------------------------------------------


async def _gated(request: Request, call: Callable[..., T], *args: Any) -> T:
    """Run `call` on the API's services, holding the lock only for it."""
    async with request.app.state.gate:
        return await run_in_threadpool(call, *args)


def _launcher(request: Request, services: Services) -> Launcher:
    launcher: Launcher | None = getattr(request.app.state, "import_launcher", None)
    if launcher is None:
        launcher = Launcher(services.settings)
        request.app.state.import_launcher = launcher
    return launcher


_FORM = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {
                        "type": "string",
                        "format": "binary",
                        "description": "XLSX、XLS 或 CSV 文件 / an XLSX, XLS or CSV file",
                    },
                    "department": {
                        "type": "string",
                        "description": "文件没有部门列时填入的部门编码 / department for files "
                        "without one",
                    },
                },
            }
        }
    },
}
_JOB_EXAMPLE = {"description": "导入作业 / the import job"}


@router.post(
    "/imports/{kind}",
    status_code=202,
    summary="上传表格批量导入（后台作业）/ Import a spreadsheet (upload; runs as a job)",
    description="上传的文件先存盘（超过上限即 413），然后由独立进程中的作业导入，立即返回 202 "
    "和作业（Location: /imports/jobs/{id}）。整个文件先校验：任何一行有问题则不写入任何数据，"
    "作业报告逐行列出问题；否则新增、只记录变化的字段、无变化则不写入。`wait` 秒内作业结束时，"
    "直接返回结果：200（已导入，含账本序号）、422（有问题，未写入）或错误。/ The file is stored "
    "(413 beyond the limit), then imported by a job in a process of its own: the answer is 202 "
    "with the job at once. The whole file is checked first: if any row has a problem nothing is "
    "written and the job's report lists every problem; otherwise new entries are registered, "
    "existing ones record only changed fields. If the job ends within `wait` seconds, the "
    "answer is its outcome: 200 (imported, with the ledger seq), 422 (problems, nothing "
    "written) or the error.",
    openapi_extra={"requestBody": _FORM},
    responses={
        200: {"description": "已导入（wait）/ imported (wait)", "model": ImportDone},
        202: {**_JOB_EXAMPLE, "model": ImportJob},
        413: {"description": "文件超过上传上限 / the upload is over the size limit"},
        422: {"description": "文件有问题，未写入任何数据 / problems found, nothing written"},
    },
)
async def import_upload(
    request: Request,
    kind: ImportKind,
    credentials: CredentialsDep,
    wait: Annotated[
        int,
        Query(
            ge=0,
            le=600,
            description="最多等待作业结束的秒数（0：不等）/ seconds to wait for the job to end",
        ),
    ] = 0,
) -> JSONResponse:
    services: Services = request.app.state.services
    limits = services.settings.imports
    principal = await _gated(request, current_principal, services, credentials)
    command = KINDS[kind].command
    # Refuse (and record) a principal who may not import this kind at all, before reading.
    await _gated(request, services.authorise, principal, command, [])
    directory = Path(tempfile.mkdtemp(prefix="job-", dir=upload_root(services.settings)))
    submitted = False
    try:
        try:
            upload = await _receive(request, directory, limits)
        except _TooLarge:
            return _too_large(limits)
        department: str | None = fields.text(
            "department", upload.fields.get("department"), required=False
        )
        department = department or None
        if department:
            await _gated(request, services.authorise, principal, command, [department])

        def create() -> Job:
            assert upload.path is not None
            return ImportJobs(services.store).create(
                kind=kind.value,
                path=upload.path,
                size=upload.size,
                username=principal.username,
                user_department=principal.department,
                department=department,
            )

        job = await _gated(request, create)
        ended = _Ended()
        _launcher(request, services).submit(job, ended.set)  # its launcher removes the upload
        submitted = True
    finally:
        if not submitted:
            shutil.rmtree(directory, ignore_errors=True)
    deadline = time.monotonic() + wait
    while wait and (left := deadline - time.monotonic()) > 0:
        await ended.wait(min(POLL_SECONDS, left))
        found = await _gated(request, _job, services, job.id)
        if found is not None and found.finished:
            return _outcome(found)
        job = found or job
    return JSONResponse(job_body(job), status_code=202, headers=_location(job))


class _Ended:
    """Set by the launcher's thread when the job has ended: a waiting upload answers at once
    instead of at its next look at the job's row (every POLL_SECONDS, which stays the fallback:
    a job may also be ended by another process)."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()

    def set(self) -> None:
        with contextlib.suppress(RuntimeError):  # the server stopped; nobody waits any more
            self._loop.call_soon_threadsafe(self._event.set)

    async def wait(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), seconds)


def _job(services: Services, job_id: str) -> Job | None:
    return ImportJobs(services.store).get(job_id)


def _may_read(principal: Principal, job: Job) -> None:
    if job.username != principal.username and not principal.roles & READERS:
        raise Forbidden(
            f"只有提交人、管理员和纪检监察人员可以查看导入作业 {job.id}",
            f"only its submitter, administrators and supervisors may read import job {job.id}",
        )


@router.get(
    "/imports/jobs/{job_id}",
    summary="导入作业的状态、进度和报告 / An import job: status, progress, report",
    description="status：queued（排队）、running（进行中）、done（结束：见 report，written 表示"
    "是否已写入）、failed（失败：见 error）。只有提交人、管理员和纪检监察人员可以查看。/ "
    "status: queued, running, done (see report; written says whether it was written) or "
    "failed (see error). Only the submitter, administrators and supervisors may read it.",
    response_model=ImportJob,
    response_model_exclude_unset=True,
)
def import_job(
    services: ServicesDep,
    principal: PrincipalDep,
    job_id: Annotated[str, PathParam(pattern=_ID, description="作业编号 / job id")],
) -> dict[str, Any]:
    job = _job(services, job_id)
    if job is None:
        raise NotFoundError(f"导入作业 {job_id} 不存在", f"no import job {job_id}")
    _may_read(principal, job)
    return job_body(job)


@router.get(
    "/imports/jobs",
    summary="导入作业列表 / Import jobs",
    description="自己的导入作业，最新的在前；管理员和纪检监察人员可查看全部（或用 submitted_by 筛选）"
    "。/ Your import jobs, newest first; administrators and supervisors see everyone's (or "
    "one user's, with submitted_by).",
    response_model=ImportJobPage,
    response_model_exclude_unset=True,
)
def import_jobs(
    services: ServicesDep,
    principal: PrincipalDep,
    submitted_by: Annotated[str | None, Query(max_length=100)] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    if not principal.roles & READERS:
        if submitted_by not in (None, principal.username):
            raise Forbidden("只能查看自己的导入作业", "you may read your own import jobs only")
        submitted_by = principal.username
    total, jobs = ImportJobs(services.store).list(submitted_by, offset, limit)
    return {
        "total": total,
        "offset": offset,
        "limit": limit,
        "items": [job_body(job) for job in jobs],
    }
