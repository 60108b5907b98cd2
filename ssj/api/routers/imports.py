"""Bulk import from official spreadsheets (XLSX, XLS, CSV): all rows or none."""

from __future__ import annotations

import re
import shutil
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from fastapi import File, Form, UploadFile
from fastapi.responses import JSONResponse

from ssj.api.deps import PrincipalDep, ServicesDep, head_seq, make_router
from ssj.services.imports import KINDS, import_file

TAG = "导入 / Imports"
router = make_router(TAG)

_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")


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


@router.post(
    "/imports/{kind}",
    summary="上传表格批量导入 / Import a spreadsheet (upload)",
    description="整个文件先校验：任何一行有问题（取值错误、校验位错误、未知部门、无权操作的部门"
    "、重复标识、公式或合并单元格位置不当）则不写入任何数据，返回 422 并逐行列出问题；否则新增"
    "、只记录变化的字段、无变化则不写入。/ The whole file is checked first: if any row has a "
    "problem, nothing is written and the answer is 422 with every problem by row and column; "
    "otherwise new entries are registered, existing ones record only changed fields, and "
    "unchanged rows write nothing.",
    responses={
        422: {"description": "文件有问题，未写入任何数据 / problems found, nothing written"}
    },
)
def import_upload(
    services: ServicesDep,
    principal: PrincipalDep,
    kind: ImportKind,
    file: Annotated[
        UploadFile, File(description="XLSX、XLS 或 CSV 文件 / an XLSX, XLS or CSV file")
    ],
    department: Annotated[
        str | None,
        Form(description="文件没有部门列时填入的部门编码 / department for files without one"),
    ] = None,
) -> Any:
    # Refuse (and record) a principal who may not import this kind at all, before reading.
    services.authorise(principal, KINDS[kind].command, [department] if department else [])
    with tempfile.TemporaryDirectory(prefix="ssj-import-") as directory:
        path = Path(directory) / safe_name(file.filename)
        with path.open("wb") as out:
            shutil.copyfileobj(file.file, out)
        report = import_file(services, principal, kind.value, path, department=department or None)
    body: dict[str, Any] = report.as_dict()
    if report.problems:
        n = len(report.problems)
        return JSONResponse(
            {
                "code": "import_problems",
                "message_zh": f"文件有 {n} 处问题，未写入任何数据",
                "message_en": f"{n} problem(s) in the file: nothing was written",
                **body,
            },
            status_code=422,
        )
    body["seq"] = head_seq(services)
    return body
