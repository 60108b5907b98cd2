"""The FastAPI application: routers, bilingual errors, OpenAPI metadata.

Every error comes out as `{"code", "message_zh", "message_en"}` (plus `"field"` for a bad
field): ssj's own errors by kind, FastAPI's request validation and HTTP errors alike.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, compile_path

import ssj
from ssj.api import dispatch, feed, idempotency, production, ratelimit
from ssj.api.cache import PublicCache
from ssj.api.deps import Unauthenticated
from ssj.api.guards import TextGuard
from ssj.api.routers import (
    assessment,
    calendar,
    conflicts,
    departments,
    draws,
    feeds,
    followups,
    imports,
    inspectors,
    items,
    log,
    overdue,
    pages,
    plans,
    public,
    public_draws,
    public_results,
    subscribers,
    targets,
    tasks,
    tokens,
    trail,
    users,
)
from ssj.domain.access import Forbidden
from ssj.domain.fields import FieldError
from ssj.errors import (
    ConfigurationError,
    ConflictError,
    NotFoundError,
    SchemaError,
    SigningKeyError,
    SsjError,
    UnavailableError,
    ValidationError,
)
from ssj.metrics import count_error
from ssj.services.context import Services

logger = logging.getLogger(__name__)

DESCRIPTION = """\
双随机、一公开 审计账本的 HTTP 接口。除公开的抽查事项清单外，所有接口都需要
`Authorization: Bearer <令牌>`。每次写入都是账本中一条签名事件；被拒绝的操作不写入任何
数据，但拒绝本身会被记录（全程留痕）。读取可指定 `at_seq`（账本序号；旧名 `at_seq`
已弃用），返回名录在该序号时的确切状态，答复中的 `at_seq` 即所依据的序号。错误统一为 `{"code", "message_zh", "message_en"}`。

The HTTP API of the audit-first ledger for "double random, one public" inspections. Every
endpoint except the published inspection-item list needs `Authorization: Bearer <token>`.
Every write is a signed event in the ledger; a refused command writes nothing it asked for, but
the refusal itself is recorded. Reads take `at_seq` (a ledger seq; its first name `at_seq` is
deprecated) and return the registry exactly as it stood then; an answer's `at_seq` key is the
seq it was read at. Errors are `{"code", "message_zh", "message_en"}`.
"""

TAGS: list[dict[str, Any]] = [
    {
        "name": "公开 / Public",
        "description": "无需令牌：公开的随机抽查事项清单 / no token: the published item list",
    },
    {"name": "部门 / Departments", "description": "部门（局、科室）/ departments and sections"},
    {"name": "用户 / Users", "description": "用户与角色 / users and their roles"},
    {"name": "令牌 / Tokens", "description": "API 令牌（只存哈希）/ API tokens (hashes only)"},
    {
        "name": "抽查事项清单 / Items",
        "description": "随机抽查事项清单：发布、修订、废止 / the inspection-item list",
    },
    {"name": "检查对象名录库 / Targets", "description": "检查对象名录库 / the target registry"},
    {
        "name": "执法检查人员名录库 / Inspectors",
        "description": "执法检查人员与专家名录库 / inspectors and experts",
    },
    {
        "name": "利害关系 / Conflicts",
        "description": "利害关系声明与回避规则 / conflict-of-interest declarations and rules",
    },
    {
        "name": "导入 / Imports",
        "description": "从官方表格批量导入（全部成功或全部不写）/ bulk import, all or nothing",
    },
    {"name": "抽查计划 / Plans", "description": "年度、月度抽查计划与审批 / plans and approval"},
    {
        "name": "随机抽取 / Draws",
        "description": "可验证的随机抽取、检查组与回避 / verifiable draws, teams, recusal",
    },
    {"name": "抽查任务 / Tasks", "description": "检查、结果、告知、公示 / the task lifecycle"},
    {"name": "后续处置 / Follow-up", "description": "整改、催告、立案、移送 / follow-up"},
    {"name": "工作日 / Working days", "description": "节假日安排与期限 / holidays, deadlines"},
    {"name": "逾期监测 / Overdue", "description": "逾期未办事项 / what is overdue, per department"},
    {
        "name": "全程留痕 / Audit trail",
        "description": "对象的完整操作记录及签名状态 / a subject's history, signatures checked",
    },
    {
        "name": "透明日志 / Transparency log",
        "description": "检查点、签名信封、默克尔证明（RFC 9162、C2SP）/ checkpoints, envelopes, proofs",
    },
    {"name": "考核 / Assessment", "description": "部门年度考核指标 / annual assessment figures"},
    {
        "name": "归集 / Delivery",
        "description": "向信用平台推送检查结果与行政处罚记录 / records to the credit platforms",
    },
]

STATUS: list[tuple[type[SsjError], int]] = [
    (Unauthenticated, 401),
    (ValidationError, 422),  # FieldError and ImportFileError included
    (Forbidden, 403),
    (NotFoundError, 404),
    (ConflictError, 409),
    # The server, not the request, is at fault: not 400.
    (ConfigurationError, 503),
    (SchemaError, 503),
    (SigningKeyError, 503),
    (UnavailableError, 503),
]


def status_for(error: SsjError) -> int:
    for cls, status in STATUS:
        if isinstance(error, cls):
            return status
    return 400


def error_body(error: SsjError) -> dict[str, Any]:
    body: dict[str, Any] = error.as_dict()
    if isinstance(error, FieldError):
        body["field"] = error.field
    return body


async def _ssj_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, SsjError)
    status = status_for(error)
    count_error(error)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(error_body(error), status_code=status, headers=headers)


# FastAPI's request validation, in Chinese too ---------------------------------------------------

_ZH = {
    "missing": "缺少必填项",
    "extra_forbidden": "不允许的字段",
    "string_type": "应为文本",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "int_from_float": "应为整数",
    "float_type": "应为数字",
    "float_parsing": "应为数字",
    "bool_type": "应为布尔值（true/false）",
    "bool_parsing": "应为布尔值（true/false）",
    "list_type": "应为列表",
    "dict_type": "应为对象",
    "model_type": "应为对象",
    "model_attributes_type": "应为对象",
    "json_invalid": "JSON 格式错误",
    "json_type": "JSON 格式错误",
    "enum": "取值无效",
    "literal_error": "取值无效",
    "string_pattern_mismatch": "格式不符",
    "string_too_long": "过长",
    "string_too_short": "过短",
    "greater_than_equal": "过小",
    "greater_than": "过小",
    "less_than_equal": "过大",
    "less_than": "过大",
    "uuid_parsing": "应为 UUID",
    "uuid_type": "应为 UUID",
}


def _zh(error: dict[str, Any]) -> str:
    kind = str(error.get("type", ""))
    text = _ZH.get(kind, "取值无效")
    ctx = error.get("ctx") or {}
    if kind == "greater_than_equal" and "ge" in ctx:
        text = f"应不小于 {ctx['ge']}"
    elif kind == "greater_than" and "gt" in ctx:
        text = f"应大于 {ctx['gt']}"
    elif kind == "less_than_equal" and "le" in ctx:
        text = f"应不大于 {ctx['le']}"
    elif kind == "less_than" and "lt" in ctx:
        text = f"应小于 {ctx['lt']}"
    elif kind in ("enum", "literal_error") and "expected" in ctx:
        text = f"取值无效（可选：{str(ctx['expected']).replace(' or ', ', ')}）"
    return text


def _where(loc: tuple[Any, ...] | list[Any]) -> str:
    """`body.name` → `name`, `query.limit` → `limit`; the place stays when there is no name."""
    parts = [str(p) for p in loc]
    if len(parts) > 1 and parts[0] in ("body", "query", "path", "header", "cookie", "form"):
        parts = parts[1:]
    return ".".join(parts) or "request"


async def _request_validation(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    details = []
    for e in error.errors():
        where = _where(e.get("loc", ()))
        details.append(
            {
                "field": where,
                "type": e.get("type"),
                "message_zh": f"{where}：{_zh(e)}",
                "message_en": f"{where}: {e.get('msg')}",
            }
        )
    body = {
        "code": "request_validation",
        "message_zh": "请求无效：" + "；".join(d["message_zh"] for d in details),
        "message_en": "invalid request: " + "; ".join(d["message_en"] for d in details),
        "field": details[0]["field"] if details else None,
        "errors": details,
    }
    return JSONResponse(body, status_code=422)


_HTTP_ZH = {
    400: "请求无效",
    401: "需要身份认证",
    403: "无权访问",
    404: "未找到",
    405: "不支持该请求方法",
    413: "请求过大",
    415: "不支持的媒体类型",
}


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    if error.status_code == 405:
        return await _method_not_allowed(request, error)
    en = str(error.detail) if error.detail else "HTTP error"
    body = {
        "code": f"http_{error.status_code}",
        "message_zh": _HTTP_ZH.get(error.status_code, "请求失败"),
        "message_en": en,
    }
    return JSONResponse(body, status_code=error.status_code, headers=error.headers)


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    logger.exception("unexpected error on %s %s", request.method, request.url.path)
    body = {
        "code": "internal",
        "message_zh": "服务器内部错误，已记录日志",
        "message_en": "internal server error (logged)",
    }
    return JSONResponse(body, status_code=500)


# Error answers, documented on every operation ---------------------------------------------------

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "description": "每个错误的统一格式（中英文）/ every error, in Chinese and English",
    "type": "object",
    "required": ["code", "message_zh", "message_en"],
    "properties": {
        "code": {"type": "string", "description": "稳定的错误代码 / a stable code"},
        "message_zh": {"type": "string"},
        "message_en": {"type": "string"},
        "field": {
            "anyOf": [{"type": "string"}, {"type": "null"}],
            "description": "出错的字段 / the field at fault",
        },
        "errors": {
            "type": "array",
            "items": {"type": "object"},
            "description": "请求校验的每个问题 / each problem of request validation",
        },
    },
}

_ERRORS = {
    400: "请求格式错误 / malformed request",
    401: "需要有效令牌 / a valid token is required",
    403: "无权执行（拒绝已记录）/ not allowed (the refusal is recorded)",
    404: "不存在 / not found",
    409: "当前状态不允许 / the current state forbids it",
    413: "请求或上传过大 / request or upload too large",
    422: "输入无效，未写入任何数据 / invalid input, nothing written",
    429: "请求过于频繁 / too many requests",
    503: "服务器配置或数据库不可用 / server configuration or database unavailable",
}
_WRITES = frozenset({"post", "put", "patch", "delete"})


def _error_statuses(method: str, operation: dict[str, Any]) -> list[int]:
    statuses = [400, 404, 409, 422, 429, 503]  # 409: e.g. a calendar year not yet known
    if method in _WRITES:
        statuses += [413]
    if operation.get("security"):
        statuses += [401, 403]
    return sorted(statuses)


def document_errors(spec: dict[str, Any]) -> dict[str, Any]:
    """Every operation's error answers in the OpenAPI document, with one bilingual schema."""
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    reference = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path_item in spec.get("paths", {}).values():
        for method, operation in path_item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for status in _error_statuses(method, operation):
                answer = responses.setdefault(str(status), {"description": _ERRORS[status]})
                if status == 422 or "content" not in answer:  # FastAPI's 422 is not what we send
                    answer["content"] = reference
    return spec


# Documents built in this process, by what they are built from: the app's texts, the
# dependencies of all its routes, and its documented routes (an included router by the
# module-level router it includes, any other route by its path, methods and endpoint function).
# Building one takes about 0.9 CPU-s; a process serves one app, but the tests build an app per
# test and many read its document. Each app gets its own copy.
_DOCUMENTS: dict[tuple[object, ...], dict[str, Any]] = {}


def _route_key(route: object) -> object:
    included = getattr(route, "original_router", None)
    if included is not None:  # a module's router: lives as long as the process
        return ("router", id(included))
    return (
        type(route),
        getattr(route, "path", None),
        frozenset(getattr(route, "methods", None) or ()),
        getattr(route, "endpoint", None),
    )


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        key = (
            app.title,
            app.version,
            app.summary,
            app.description,
            repr(app.openapi_tags),
            tuple(d.dependency for d in app.router.dependencies),
            *(_route_key(r) for r in app.routes if getattr(r, "include_in_schema", True)),
        )
        if key not in _DOCUMENTS:
            _DOCUMENTS[key] = document_errors(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    summary=app.summary,
                    description=app.description,
                    tags=app.openapi_tags,
                    routes=app.routes,
                )
            )
        app.openapi_schema = copy.deepcopy(_DOCUMENTS[key])
    return app.openapi_schema


def _methods_by_path(app: FastAPI) -> list[tuple[re.Pattern[str], set[str]]]:
    """Each documented path as a pattern, with the methods it takes (from the OpenAPI
    document: FastAPI's included routers are not a flat list to walk)."""
    found: list[tuple[re.Pattern[str], set[str]]] | None = getattr(app.state, "methods", None)
    if found is None:
        found = [
            (compile_path(path)[0], {m.upper() for m in item if m.upper() in _HTTP_METHODS})
            for path, item in app.openapi().get("paths", {}).items()
        ]
        app.state.methods = found
    return found


_HTTP_METHODS = frozenset({"GET", "PUT", "POST", "PATCH", "DELETE", "HEAD", "OPTIONS"})


async def _method_not_allowed(request: Request, error: Exception) -> JSONResponse:
    """405 with every method the path takes (Starlette names only the first route's)."""
    path = request.url.path
    allowed = sorted(
        {
            m
            for pattern, methods in _methods_by_path(request.app)
            if pattern.match(path)
            for m in methods
        }
    )
    if not allowed and isinstance(error, StarletteHTTPException) and error.headers:
        allowed = sorted(error.headers.get("Allow", "").split(", "))  # an undocumented path
    body = {
        "code": "http_405",
        "message_zh": f"不支持 {request.method} 方法（可用：{', '.join(allowed)}）",
        "message_en": f"method {request.method} not allowed (allowed: {', '.join(allowed)})",
    }
    return JSONResponse(body, status_code=405, headers={"Allow": ", ".join(allowed)})


# The application --------------------------------------------------------------------------------


_NO_ROUTE: dict[str, Any] = {
    "type": "http",
    "method": "GET",
    "path": "/\x00",  # no route takes it: every route is looked at
    "root_path": "",
    "headers": [],
    "query_string": b"",
}


def build_routes(app: FastAPI) -> None:
    """Have FastAPI build every included router's routes (their dependencies and validators)
    now: it does so when a request first walks past them, so a worker's first requests paid
    for it (0.24 s of CPU per worker at load 12, inside a benchmark's window). Then the exact
    paths' table (`ssj.api.dispatch`)."""
    for route in app.router.routes:
        route.matches(dict(_NO_ROUTE))
    dispatch.install(app.router)


ROUTERS = (
    public,
    public_draws,
    public_results,
    calendar,
    departments,
    users,
    tokens,
    items,
    plans,
    draws,
    tasks,
    followups,
    targets,
    inspectors,
    conflicts,
    imports,
    overdue,
    assessment,
    pages,
    log,
    trail,
    subscribers,
    feeds,
)


@functools.cache
def _included_routes() -> tuple[BaseRoute, ...]:
    """The routers of `ROUTERS`, included once per process and shared by every app it makes.

    FastAPI builds an included route's dependencies and validators for each include: about
    0.5 CPU-s for this API, paid again by every app of a process (each test's, each server's
    start). The routes keep nothing of an app (a request's app and router are its scope's); the
    one exception, FastAPI's dependency overrides, would be read from the router here, not from
    the app, and ssj uses none. Every operation takes `min_seq` (`ssj.api.feed.consistency`)."""
    api = APIRouter(dependencies=[Depends(feed.consistency)])
    for module in ROUTERS:
        api.include_router(module.router)
    return tuple(api.routes)


def create_app(services: Services | None = None) -> FastAPI:
    """The API over `services`, or over services opened from the environment (closed on
    shutdown). `uvicorn --factory ssj.api.app:create_app` serves the latter."""
    owned = services is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        build_routes(app)
        stop = production.start(app, worker=owned)
        try:
            async with ratelimit.flushing_refusals(app):
                yield
        finally:
            stop()
            if owned:
                app.state.services.close()

    app = FastAPI(
        title="ssj 双随机、一公开 API",
        summary="审计账本：事项清单、名录库与利害关系 / the audit-first ledger's registries",
        description=DESCRIPTION,
        version=ssj.__version__,
        openapi_tags=TAGS,
        lifespan=lifespan,
    )
    app.state.services = services if services is not None else Services()
    app.state.gate = asyncio.Lock()
    app.add_exception_handler(SsjError, _ssj_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    idempotency.install(app)  # Idempotency-Key on every write
    app.add_middleware(PublicCache)  # public answers by seq (ssj.api.cache)
    app.add_middleware(ratelimit.RateLimit, settings=app.state.services.settings)  # around it
    production.install(app, app.state.services)
    app.router.routes.extend(_included_routes())
    app.add_middleware(TextGuard)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    idempotency.documented(app)  # the header on every write operation of the OpenAPI document
    return app
