"""Running ssj as a service: the API server, the projection daemon.

`ssj serve` uses uvicorn's own process manager for `--workers N` rather than gunicorn: it is
already a dependency, it restarts a worker that dies, and every worker runs the same bounded
protocol options as a single process; gunicorn would add a second server to configure and keep
in step for no gain here (a reverse proxy in front terminates TLS and buffers slow clients).
"""

from __future__ import annotations

import os
import signal
import tempfile
import threading
from typing import Annotated

import typer

from ssj.cli.common import fail
from ssj.errors import ConfigurationError, SsjError


def serve(
    host: Annotated[str, typer.Option(help="监听地址 / address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="端口 / port")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="工作进程数（仅 PostgreSQL）/ worker processes (PostgreSQL only)",
        ),
    ] = 1,
    projections: Annotated[
        str,
        typer.Option(
            help="读模型由谁更新：thread（本进程内线程）或 daemon（ssj projections run）/ who "
            "feeds the read models: thread (inside each worker) or daemon (ssj projections run)"
        ),
    ] = "thread",
) -> None:
    """启动 HTTP API（文档见 /docs）/ serve the HTTP API (OpenAPI docs at /docs)."""
    import uvicorn

    from ssj import logs
    from ssj.api import feed
    from ssj.services.context import Services

    os.environ["SSJ_PROJECTIONS"] = projections
    try:
        feed.mode()
        services = Services()
        if workers > 1 and not services.settings.database.is_postgres:
            services.close()
            raise ConfigurationError(
                "SQLite 只能单进程服务：多个工作进程请使用 PostgreSQL（SSJ_DATABASE_URL）",
                "SQLite is served by one process only: use PostgreSQL (SSJ_DATABASE_URL) for "
                "several workers",
            )
    except SsjError as e:
        fail(e)
    logs.configure("api")
    options = serving_options()
    if workers == 1:
        from ssj.api import create_app

        try:
            uvicorn.run(create_app(services), host=host, port=port, log_config=None, **options)
        finally:
            services.close()
        return
    services.close()  # each worker opens its own, with its own pools
    with tempfile.TemporaryDirectory(prefix="ssj-metrics-") as metrics_dir:
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", metrics_dir)
        uvicorn.run(
            "ssj.api.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=None,
            **options,
        )


def serving_options() -> dict[str, object]:
    """What every uvicorn run of ssj passes: the bounded protocol, and timeouts."""
    from ssj.api.serving import uvicorn_options

    return {"timeout_keep_alive": 5, "timeout_graceful_shutdown": 10, **uvicorn_options()}


def projections_run(
    poll: Annotated[
        float,
        typer.Option(
            min=0.01,
            help="轮询间隔秒数（PostgreSQL 上为 NOTIFY 丢失时的兜底）/ poll interval in seconds "
            "(on PostgreSQL the fallback behind LISTEN/NOTIFY)",
        ),
    ] = 1.0,
) -> None:
    """持续更新全部读模型（投影守护进程）/ keep every read model caught up (the daemon).

    PostgreSQL 上由 LISTEN/NOTIFY 唤醒，另有轮询兜底；SQLite 上轮询。每批事件与位置在同一事务中
    提交：崩溃后重启不会重复或遗漏。SIGTERM 或 Ctrl-C 在当前批次后停止。/ Woken by LISTEN/NOTIFY
    on PostgreSQL, with a poll as the fallback; polls on SQLite. Each batch commits with its
    positions: a crash and restart neither repeats nor skips an event. SIGTERM or Ctrl-C stops
    after the current batch.
    """
    from projections.feed import run_daemon
    from ssj import logs
    from ssj.services.context import Services

    logs.configure("projections")
    try:
        services = Services()
    except SsjError as e:
        fail(e)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        run_daemon(services.runner, stop, poll)
    finally:
        services.close()
