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
from pathlib import Path
from typing import Annotated, Any

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
    from ssj.api.serving import supervise

    with tempfile.TemporaryDirectory(prefix="ssj-metrics-") as metrics_dir:
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", metrics_dir)
        config = uvicorn.Config(
            "ssj.api.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=None,
            **options,
        )
        supervise(config)  # uvicorn.run's, with a supervisor that stops promptly


def serving_options() -> dict[str, Any]:
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

    PostgreSQL 上由 LISTEN/NOTIFY 唤醒，另有轮询兜底；SQLite 上轮询。每批事件与各读模型的序号在同一事务中
    提交：崩溃后重启不会重复或遗漏。SIGTERM 或 Ctrl-C 在当前批次后停止。/ Woken by LISTEN/NOTIFY
    on PostgreSQL, with a poll as the fallback; polls on SQLite. Each batch commits with its
    read models' seqs: a crash and restart neither repeats nor skips an event. SIGTERM or Ctrl-C stops
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


ops_app = typer.Typer(
    help="运维：备份与恢复演练 / operations: backup and the restore drill", no_args_is_help=True
)


@ops_app.command("backup")
def ops_backup(
    directory: Annotated[Path, typer.Argument(help="备份目录（须为空）/ backup directory (empty)")],
    json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """备份账本（pg_dump、公钥环、最新检查点；不含私钥）/ back up the ledger (pg_dump custom
    format of its schema, the public key ring, the newest checkpoint; never a private key)."""
    from ssj.cli.common import print_json
    from ssj.config import Settings
    from ssj.services.backup import backup

    try:
        manifest = backup(Settings.from_env(), directory)
    except SsjError as e:
        fail(e)
    if json:
        print_json(manifest)
        return
    typer.echo(
        f"已备份 / backed up: {manifest['ledger_size_at_start']} 条事件 events, 检查点 checkpoint "
        f"size {manifest['checkpoint_size']} → {directory}"
    )
    for name, meta in manifest["files"].items():
        typer.echo(f"  {name}  {meta['bytes']:>12,} bytes  sha256 {meta['sha256']}")


@ops_app.command("restore-check")
def ops_restore_check(
    directory: Annotated[Path, typer.Argument(help="备份目录 / backup directory")],
    checkpoint: Annotated[
        list[Path] | None,
        typer.Option(
            "--checkpoint",
            "-c",
            help="数据库外保存的检查点（可多次；应为最新的）/ a checkpoint kept outside the "
            "database (repeatable; the newest you hold)",
        ),
    ] = None,
    keep: Annotated[
        bool, typer.Option("--keep", help="保留临时恢复库 / keep the scratch database")
    ] = False,
    json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """恢复演练：恢复到临时库、对照外部检查点完整校验、重建读模型 / the restore drill: restore
    into a scratch database, verify everything against outside checkpoints, rebuild the read
    models. Exit 0 only if nothing is missing or damaged; 1 otherwise."""
    from ssj.cli.common import print_json, read_checkpoints
    from ssj.config import Settings
    from ssj.services.backup import restore_check

    outside = read_checkpoints(checkpoint)
    try:
        report = restore_check(Settings.from_env(), directory, outside, keep=keep)
    except SsjError as e:
        fail(e)
    if json:
        print_json(report.as_dict())
    else:
        typer.echo(
            f"恢复 restored {report.restored_size} 条事件 events into {report.scratch_database}; "
            f"外部检查点 outside checkpoints {report.outside_checkpoint_sizes}"
        )
        if report.missing_events:
            typer.echo(
                f"缺失 MISSING: 备份比外部检查点少 {report.missing_events} 条事件 / the backup "
                f"lacks {report.missing_events} event(s) the outside checkpoint covers"
            )
        for d in report.damage:
            typer.echo(f"损坏 / DAMAGE 第 {d['seq']} 条：{d['zh']} / seq {d['seq']}: {d['en']}")
        for problem in report.problems:
            typer.echo(f"问题 / problem: {problem}")
        if report.read_models:
            typer.echo(f"读模型已重建 / read models rebuilt: {report.read_models}")
        typer.echo("通过 / OK" if report.ok else "未通过 / FAILED")
    raise typer.Exit(0 if report.ok else 1)
