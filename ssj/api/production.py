"""What makes the API a service: concurrency, fed read models, observability, clean 503s.

`install(app)` is called by `create_app` before the routers are added: it adds the request
middleware (`ssj.api.observe`), `min_seq` on every operation (`ssj.api.feed.consistency`),
`/healthz`, `/readyz` and `/metrics`, and answers a database that dropped or timed out with a
bilingual 503 (the pool replaces the broken connection; the next request works without a
restart). `start(app)` and its returned stop run in the lifespan.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import nullcontext

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout

from ssj import logs
from ssj.api import feed
from ssj.api.observe import Observe
from ssj.api.routers import health
from ssj.metrics import ERRORS
from ssj.services.context import Services

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 2


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
    """Before the routers are included (so that each operation gets `min_seq`)."""
    app.state.reader = services.reader() or services
    # SQLite serves one request at a time in one process; PostgreSQL requests run concurrently,
    # each transaction on a pooled connection, writers serialised by the ledger's lock.
    if services.settings.database.is_postgres:
        app.state.gate = nullcontext()  # `async with` it as with the SQLite lock
    app.include_router(health.router)
    app.router.dependencies.append(Depends(feed.consistency))
    app.add_middleware(Observe, fallback_seq=lambda: _seen(app))
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
    return None if watch is None else watch.seen


def start(app: FastAPI, *, worker: bool = False) -> Callable[[], None]:
    """In the lifespan: feed (or wait for) the read models. A `worker` (an app the factory
    made from the environment, in a process of its own) also sets up the JSON logs."""
    if worker:
        logs.configure("api")
    return feed.start(app.state.services, app.state.reader)
