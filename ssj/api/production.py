"""What makes the API a service: concurrency, fed read models, observability, clean 503s.

`install(app)` is called by `create_app` before the routers are added: it adds the request
middleware (`ssj.api.observe`), `/healthz`, `/readyz` and `/metrics`, and answers a database
that dropped or timed out with a bilingual 503 (the pool replaces the broken connection; the
next request works without a restart). Every request has a deadline (`Deadline`). `start(app)` and its returned stop run in
the lifespan.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from contextlib import nullcontext

import orjson
import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ssj import logs
from ssj.api import feed
from ssj.api.observe import Observe
from ssj.api.routers import health
from ssj.errors import ConfigurationError
from ssj.metrics import ERRORS
from ssj.services.context import Services

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 2
DEFAULT_REQUEST_TIMEOUT = 60.0  # seconds; above SSJ_PROJECTION_WAIT and the ledger lock's wait


async def _database_unavailable(request: Request, error: Exception) -> JSONResponse:
    logger.warning("database unavailable on %s %s: %s", request.method, request.url.path, error)
    ERRORS.labels("database_unavailable").inc()
    body = {
        "code": "database_unavailable",
        "message_zh": "数据库暂时不可用（连接中断或超时），未写入任何数据，请稍后重试",
        "message_en": "the database is unavailable for the moment (connection lost or timed "
        "out); nothing was written by this request; retry later",
    }
    return JSONResponse(body, status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def install(app: FastAPI, services: Services) -> None:
    """Health routes, deadlines, logs and the database's 503 (`min_seq` comes with the
    routers: `ssj.api.app._included_routes`)."""
    app.state.reader = services.reader() or services
    # SQLite serves one request at a time in one process; PostgreSQL requests run concurrently,
    # each transaction on a pooled connection, writers serialised by the ledger's lock.
    if services.settings.database.is_postgres:
        app.state.gate = nullcontext()  # `async with` it as with the SQLite lock
    app.include_router(health.router)
    app.add_middleware(Deadline, seconds=request_timeout())
    app.add_middleware(Observe, fallback_seq=lambda: _seen(app))  # outside: logs a 504 too
    for error in (
        psycopg.OperationalError,
        psycopg.InterfaceError,
        OperationalError,
        InterfaceError,
        PoolTimeout,
    ):
        app.add_exception_handler(error, _database_unavailable)


def _seen(app: FastAPI) -> int | None:
    watch = app.state.services.watch
    return None if watch is None else watch.seen_seq


def start(app: FastAPI, *, worker: bool = False) -> Callable[[], None]:
    """In the lifespan: feed (or wait for) the read models. A `worker` (an app the factory
    made from the environment, in a process of its own) also sets up the JSON logs."""
    if worker:
        logs.configure("api")
    return feed.start(app.state.services, app.state.reader)


def request_timeout() -> float:
    """`SSJ_REQUEST_TIMEOUT` seconds (default 60; 0 turns the deadline off)."""
    raw = os.environ.get("SSJ_REQUEST_TIMEOUT", "").strip()
    try:
        seconds = float(raw) if raw else DEFAULT_REQUEST_TIMEOUT
    except ValueError:
        seconds = -1.0
    if seconds < 0:
        raise ConfigurationError(
            f"SSJ_REQUEST_TIMEOUT 应为非负秒数，实际为 {raw!r}",
            f"SSJ_REQUEST_TIMEOUT must be a number of seconds >= 0, got {raw!r}",
        )
    return seconds


_TIMED_OUT = orjson.dumps(
    {
        "code": "timeout",
        "message_zh": "请求超时，服务端已停止等待；写入请求可能仍会完成：请按原 Idempotency-Key "
        "重试或先查询结果",
        "message_en": "the request timed out and the server stopped waiting for it; a command "
        "may still complete: retry with the same Idempotency-Key, or read its outcome first",
    }
)


class Deadline:
    """Every request gets `seconds` to start its response, else a bilingual 504 `timeout`.

    Whatever runs past the deadline (a thread cannot be stopped) finishes on its own and its
    answer is dropped; a command it completes is in the ledger like any other, so the 504 says
    to retry with the same Idempotency-Key. Once a response has started (a streamed export) it
    is not cut off: uvicorn's and the proxy's own timeouts bound slow clients."""

    def __init__(self, app: ASGIApp, *, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.seconds:
            await self.app(scope, receive, send)
            return
        started = asyncio.Event()
        abandoned = False

        async def guarded(message: Message) -> None:
            if abandoned:
                return  # answered with the 504 already
            if message["type"] == "http.response.start":
                started.set()
            await send(message)

        task = asyncio.ensure_future(self.app(scope, receive, guarded))
        begun = asyncio.ensure_future(started.wait())
        await asyncio.wait({task, begun}, timeout=self.seconds, return_when="FIRST_COMPLETED")
        begun.cancel()
        if task.done() or started.is_set():
            await task  # its result, or its exception, as without a deadline
            return
        abandoned = True
        task.cancel()  # a thread it waits on runs to its end; nothing awaits it here
        task.add_done_callback(_forget)
        ERRORS.labels("timeout").inc()
        logger.warning(
            "request deadline: %s %s after %g s", scope["method"], scope["path"], self.seconds
        )
        await send(
            {
                "type": "http.response.start",
                "status": 504,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(_TIMED_OUT)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": _TIMED_OUT})


def _forget(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.warning("a request past its deadline failed: %r", task.exception())
