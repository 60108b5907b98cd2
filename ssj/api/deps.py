"""What every router shares: the services, who is asking, paging and as-of reads, exports.

On PostgreSQL requests use the services concurrently (each read-model transaction on a pooled
connection); on SQLite one at a time per process (`get_services`). Reads are pinned to a ledger
seq (`at_seq`, or the seq the read models have reached), so a page's count and rows agree
and the response says exactly which state of the registry it shows (`X-SSJ-Seq`).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from typing import Annotated, Any, ParamSpec, TypeVar

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from projections.registry import MAX_LIMIT, MAX_OFFSET
from ssj.api.feed import settle, settled
from ssj.api.observe import note_actor, note_seq
from ssj.domain.access import ALLOWED, Command, Forbidden, Principal
from ssj.errors import NotFoundError, SsjError, ValidationError
from ssj.presentation import sheets
from ssj.presentation.sheets import CSV, XLSX, Row
from ssj.services.context import RequestHead, Services, reading, request_head
from ssj.services.registry import RegistryService

PROJECTION = "registry"
MAX_SEQ = MAX_OFFSET  # a ledger seq, as a request may name it


class Unauthenticated(SsjError):
    """No token, or one that is unknown, revoked, or whose user is inactive (HTTP 401)."""

    code = "unauthenticated"


# Serving ---------------------------------------------------------------------------------------


def make_router(tag: str) -> APIRouter:
    return APIRouter(tags=[tag])


# Thread hops: FastAPI runs each sync dependency (a class too), each sync endpoint, and then the
# response validation of a sync endpoint, in the thread pool: about 0.15 ms of CPU a hop. A
# read of the hot paths does its I/O in one hop.

P = ParamSpec("P")
T = TypeVar("T")


def constructed(cls: Callable[P, T]) -> Callable[P, Awaitable[T]]:
    """`cls` as an async dependency with the same query parameters (FastAPI runs a class, a
    sync callable, in the thread pool, though building it does no I/O)."""

    async def build(*args: P.args, **kwargs: P.kwargs) -> T:
        return cls(*args, **kwargs)

    build.__signature__ = inspect.signature(cls, eval_str=True)  # type: ignore[attr-defined]
    build.__name__ = build.__qualname__ = f"{getattr(cls, '__name__', 'dependency')}_dependency"
    return build


def threaded(endpoint: Callable[P, T]) -> Callable[P, Awaitable[T]]:
    """A sync endpoint as an async one that runs it in the thread pool: one hop, where a sync
    endpoint with a response model costs two (FastAPI validates its answer in another)."""

    @functools.wraps(endpoint)
    async def run(*args: P.args, **kwargs: P.kwargs) -> T:
        return await run_in_threadpool(endpoint, *args, **kwargs)

    run.__signature__ = inspect.signature(endpoint, eval_str=True)  # type: ignore[attr-defined]
    return run


async def get_services(request: Request) -> AsyncIterator[Services]:
    """The services for this request. On SQLite they are held for this request alone until its
    endpoint returns (the gate is awaited on the event loop, so waiting requests hold no worker
    thread; request bodies are received before it). A read (GET) answers from what the read
    models hold; any other request answers only once they hold the ledger's head after it, so
    that the client's next read sees its write (`ssj.api.feed`)."""
    is_read = request.method in ("GET", "HEAD")
    reading.set(is_read)
    request_head.set(RequestHead())
    services: Services = request.app.state.reader if is_read else request.app.state.services
    gate: asyncio.Lock = request.app.state.gate  # no lock on PostgreSQL (ssj.api.production)
    async with gate:
        yield services
        if not is_read and not settled(services, request.app.state.reader):
            await run_in_threadpool(settle, services, request.app.state.reader)


ServicesDep = Annotated[Services, Depends(get_services, scope="function")]


async def command_services(request: Request) -> Services:
    """The services for a `command` endpoint, set up as `get_services` sets them up for a
    write; the gate and the wait for the read models are `command`'s."""
    reading.set(False)
    request_head.set(RequestHead())
    services: Services = request.app.state.services
    return services


CommandServicesDep = Annotated[Services, Depends(command_services)]


def command(endpoint: Callable[..., T]) -> Callable[..., Awaitable[T]]:
    """A sync write endpoint on `CommandServicesDep`, in one thread hop as `threaded`, doing
    what `get_services` does around other writes: the gate is held while it runs (SQLite), and
    before it answers the read models are awaited to hold the ledger's head (`settle`), in the
    same hop. FastAPI exits a generator dependency such as `get_services` shielded from
    cancellation, which was about 7 % of the API's CPU in a profile of the write mix."""
    signature = inspect.signature(endpoint, eval_str=True)
    if "request" in signature.parameters:
        raise TypeError(f"{endpoint.__name__}: `command` adds the request parameter itself")

    def call(state: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
        answer = endpoint(*args, **kwargs)
        if not settled(state.services, state.reader):
            settle(state.services, state.reader)
        return answer

    @functools.wraps(endpoint)
    async def run(*args: Any, request: Request, **kwargs: Any) -> T:
        state = request.app.state
        async with state.gate:
            return await run_in_threadpool(call, state, args, kwargs)

    request = inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request)
    run.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), request]
    )
    return run


async def get_registry(services: ServicesDep) -> RegistryService:
    """Async (it does no I/O): a sync dependency costs a hop to the thread pool."""
    return RegistryService(services)


RegistryDep = Annotated[RegistryService, Depends(get_registry)]

_bearer = HTTPBearer(
    auto_error=False,
    description="API 令牌（由管理员签发）/ an API token issued by an administrator",
)


CredentialsDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def current_principal(services: ServicesDep, credentials: CredentialsDep) -> Principal:
    """Who is asking (a sync dependency: its own thread hop). A `threaded` endpoint takes
    `CredentialsDep` and calls this itself, in its one hop."""
    if credentials is None or not credentials.credentials:
        raise Unauthenticated(
            "需要身份认证：请在请求头中提供 Authorization: Bearer <令牌>",
            "authentication required: send Authorization: Bearer <token>",
        )
    try:
        principal = services.principal_for_token(credentials.credentials)
    except Forbidden as e:
        raise Unauthenticated(e.zh, e.en) from None
    note_actor(principal)
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


# Reads -----------------------------------------------------------------------------------------


# `as_of` was the first name of `at_seq` (issue #15: a log position is a seq everywhere): still
# accepted for one release, marked deprecated in the OpenAPI document.
DeprecatedAsOf = Annotated[
    int | None,
    Query(
        ge=0,
        le=MAX_SEQ,
        deprecated=True,
        description="已弃用，请用 at_seq / deprecated: use at_seq",
    ),
]


def either_seq(at_seq: int | None, as_of: int | None) -> int | None:
    """The seq asked for under either name; both given must agree."""
    if at_seq is not None and as_of is not None and at_seq != as_of:
        raise ValidationError(
            f"at_seq（{at_seq}）与已弃用的 as_of（{as_of}）不一致：只用 at_seq",
            f"at_seq ({at_seq}) and the deprecated as_of ({as_of}) differ: use at_seq alone",
        )
    return as_of if at_seq is None else at_seq


class Window:
    """Paging, search and the ledger seq to read at."""

    def __init__(
        self,
        offset: int = 0,
        limit: int = 100,
        at_seq: int | None = None,
        search: str | None = None,
    ) -> None:
        self.offset = offset
        self.limit = limit
        self.at_seq = at_seq
        self.search = search or None


async def window(
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="跳过的条数 / rows to skip")] = 0,
    limit: Annotated[
        int,
        Query(ge=1, le=MAX_LIMIT, description=f"每页条数（最多 {MAX_LIMIT}）/ page size"),
    ] = 100,
    at_seq: Annotated[
        int | None,
        Query(
            ge=0,
            le=MAX_SEQ,
            description="账本序号：返回该序号时的名录状态（默认最新）/ "
            "ledger seq: the registry exactly as it stood then (default: now)",
        ),
    ] = None,
    as_of: DeprecatedAsOf = None,
    search: Annotated[
        str | None,
        Query(
            max_length=100,
            description="名称包含（无名称的列表：任一文本字段包含）/ name contains (lists "
            "without names: any text field contains)",
        ),
    ] = None,
) -> Window:
    """The window from the query (async: a class dependency would cost a thread-pool hop)."""
    return Window(offset, limit, either_seq(at_seq, as_of), search)


WindowDep = Annotated[Window, Depends(window)]

# A write that registers (201) or records changes to what exists (200).
MAY_CREATE: dict[int | str, dict[str, Any]] = {
    201: {"description": "新登记 / newly registered"},
    200: {"description": "已有记录：记录变化或无变化 / existing: updated or unchanged"},
}

Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="跳过的条数 / rows to skip")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="每页条数 / page size")]
Year = Annotated[int, Query(ge=2000, le=2100, description="年度 / year")]


async def at_seq_query(
    at_seq: Annotated[
        int | None,
        Query(
            ge=0,
            le=MAX_SEQ,
            description="账本序号：返回该序号时的状态（默认最新）/ ledger seq to read at "
            "(default: now)",
        ),
    ] = None,
    as_of: DeprecatedAsOf = None,
) -> int | None:
    """`at_seq`, or the deprecated `as_of` (async: no thread-pool hop)."""
    return either_seq(at_seq, as_of)


AtSeq = Annotated[int | None, Depends(at_seq_query)]


def read_at(services: Services, at_seq: int | None) -> int:
    """The seq to read at: the requested one, or where the read models are (after the wait
    `Services.refresh` does for this request)."""
    services.refresh()
    reached = services.read_seq()
    note_seq(reached)
    if at_seq is None:
        return reached
    if at_seq > reached:
        raise ValidationError(
            f"账本序号 {at_seq} 超出账本末尾（当前为 {reached}）",
            f"at_seq {at_seq} is beyond the ledger head ({reached})",
        )
    return at_seq


def head_seq(services: Services) -> int:
    """The seq of the newest event, after a write (read once per request: `Services.head_seq`)."""
    return services.head_seq()


def can_read_all(principal: Principal) -> bool:
    return bool(principal.roles & ALLOWED[Command.READ_ALL])


def read_scope(services: Services, principal: Principal, department: str | None) -> str | None:
    """The department a list is limited to (None: all).

    With a department filter: READ_REGISTRY for it (supervisors and reviewers read any). Without:
    READ_ALL for those who have it; everyone else reads their own department only.
    """
    if department:
        services.authorise(principal, Command.READ_REGISTRY, [department])
        return department
    if can_read_all(principal):
        services.authorise(principal, Command.READ_ALL)
        return None
    services.authorise(principal, Command.READ_REGISTRY, [principal.department])
    return principal.department


def authorise_read(services: Services, principal: Principal, departments: Sequence[str]) -> None:
    services.authorise(principal, Command.READ_REGISTRY, [d for d in departments if d])


def flag(value: bool | None) -> str | None:
    """A boolean filter as the read models store it."""
    return None if value is None else ("1" if value else "0")


def states(
    services: Services,
    table: str,
    filters: Mapping[str, str | None],
    seq: int,
    search: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Every state matching the filters at `seq`, in key order, a page at a time."""
    offset = 0
    while True:
        chunk = services.queries.list(
            table, filters, at_seq=seq, offset=offset, limit=MAX_LIMIT, search=search
        )
        yield from chunk.rows
        offset += len(chunk.rows)
        if not chunk.rows or offset >= chunk.total:
            return


def page(
    services: Services,
    table: str,
    filters: Mapping[str, str | None],
    window: Window,
    *,
    predicate: Callable[[dict[str, Any]], bool] | None = None,
    sql_search: bool = True,
) -> dict[str, Any]:
    """One page of a read model. Filters and search run in SQL; a `predicate` (for what the
    read model has no column for) runs over the filtered states."""
    seq = read_at(services, window.at_seq)
    search = window.search
    if search and not sql_search:
        predicate = _and(predicate, _contains(search))
        search = None
    if predicate is None:
        result = services.queries.list(
            table, filters, at_seq=seq, offset=window.offset, limit=window.limit, search=search
        )
        rows, total = result.rows, result.total
    else:
        matching = [s for s in states(services, table, filters, seq, search) if predicate(s)]
        rows = matching[window.offset : window.offset + window.limit]
        total = len(matching)
    return render_page(rows, total, window, seq)


def render_page(rows: list[dict[str, Any]], total: int, window: Window, seq: int) -> dict[str, Any]:
    return {
        "total": total,
        "offset": window.offset,
        "limit": window.limit,
        "as_of": seq,
        "items": rows,
    }


def _contains(text: str) -> Callable[[dict[str, Any]], bool]:
    def match(state: dict[str, Any]) -> bool:
        return any(isinstance(v, str) and text in v for v in state.values())

    return match


def _and(
    first: Callable[[dict[str, Any]], bool] | None, second: Callable[[dict[str, Any]], bool]
) -> Callable[[dict[str, Any]], bool]:
    if first is None:
        return second
    return lambda state: first(state) and second(state)


# Exports ---------------------------------------------------------------------------------------


def export_response(rows: Iterable[Row], fmt: str, filename: str) -> Response:
    """A spreadsheet download, written by the one presentation layer (CLI and API alike)."""
    return Response(
        content=sheets.render(rows, fmt, filename),
        media_type=XLSX if fmt == "xlsx" else CSV,
        headers={"Content-Disposition": f'attachment; filename="{filename}.{fmt}"'},
    )


# Writes ----------------------------------------------------------------------------------------


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "……"}]})

    reason: str = Field(description="原因（记入账本）/ reason (recorded in the ledger)")


# For operations that answer 201 when they create: the identical record existed already.
IDENTICAL: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "相同的记录已存在，未写入（outcome 为 unchanged）/ an identical record "
        "exists already: nothing written (outcome: unchanged)"
    }
}


def written(
    services: Services,
    response: Response,
    outcome: str,
    table: str,
    key: Sequence[str],
) -> dict[str, Any]:
    """What a write returns: its outcome, the ledger head after it, and the entry as now read
    (201 Created when it is new, else 200: an identical record already existed, or it changed)."""
    response.status_code = 201 if outcome == "created" else 200
    seq = read_at(services, None)
    return {"outcome": outcome, "seq": seq, "item": services.queries.get(table, key, at_seq=seq)}


def found(
    services: Services, table: str, key: Sequence[str], seq: int, zh: str, en: str
) -> dict[str, Any]:
    """One entry as of `seq`, or NotFoundError naming it in both languages."""
    state = services.queries.get(table, key, at_seq=seq)
    if state is None:
        raise NotFoundError(f"{zh} 不存在（账本序号 {seq}）", f"{en} not found (as of seq {seq})")
    return state
