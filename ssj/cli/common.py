"""What every CLI command shares: the ledger, the acting user, output, and error handling."""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from ssj.errors import SsjError, ValidationError
from ssj.ledger.application import Ledger
from ssj.ledger.envelope import Actor

if TYPE_CHECKING:
    from ssj.domain.access import Principal
    from ssj.services.context import Services

err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

EXIT_DAMAGE = 1
EXIT_BAD_INPUT = 2


def fail(error: SsjError) -> NoReturn:
    """One clear line on stderr, non-zero exit."""
    err.print(f"[bold red]错误 / error:[/] {escape(str(error))}", highlight=False, markup=True)
    raise typer.Exit(EXIT_BAD_INPUT)


def open_ledger() -> Ledger:
    try:
        return Ledger()
    except SsjError as e:
        fail(e)


@contextmanager
def ledger_session(read_only: bool = False) -> Iterator[Ledger]:
    """The ledger (on the read replica: `read_only`) for one command, closed when it ends
    whatever the outcome: its connections and SQLite files are let go then, not at garbage
    collection (which matters where commands run in-process, as in the tests)."""
    ledger = open_read_ledger() if read_only else open_ledger()
    try:
        yield ledger
    finally:
        ledger.close()


def open_read_ledger() -> Ledger:
    """The ledger on the read replica (SSJ_READ_DATABASE_URL), for reading only."""
    from dataclasses import replace

    from ssj.config import Settings
    from ssj.errors import ConfigurationError

    try:
        settings = Settings.from_env()
        if settings.read_database is None:
            raise ConfigurationError(
                "未设置 SSJ_READ_DATABASE_URL（只读副本）",
                "SSJ_READ_DATABASE_URL (the read replica) is not set",
            )
        return Ledger(replace(settings, database=settings.read_database, create_tables=False))
    except SsjError as e:
        fail(e)


def read_checkpoints(paths: list[Path] | None) -> list[str]:
    """The checkpoint files kept outside the database (`--checkpoint`), or one line and exit 2."""
    found = []
    for path in paths or []:
        try:
            found.append(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as e:
            fail(ValidationError(f"无法读取检查点文件 {path}：{e}", f"cannot read {path}: {e}"))
    return found


def cli_actor(role: str = "admin") -> Actor:
    """Who runs this command: `SSJ_ACTOR` as user[@department], else the operating-system user."""
    raw = os.environ.get("SSJ_ACTOR", "").strip() or f"cli:{getpass.getuser()}"
    user, _, department = raw.partition("@")
    return Actor(user=user, department=department, role=role)


def print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


class RateColumn(ProgressColumn):
    """Items per second, as rich measures them over the last seconds."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed or 0:,.0f} {self.unit}/s")


@contextmanager
def progress_bar(
    label: str, total: int, unit: str | None = None
) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr (hidden when stderr is not a terminal); with `unit`, the rate
    (`12,345 events/s`)."""
    rate = [RateColumn(unit)] if unit else []
    progress = Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        *rate,
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    task = progress.add_task(label, total=total)

    def update(done: int, new_total: int) -> None:
        progress.update(task, completed=done, total=new_total)

    with progress:
        yield update


# Reading as the ledger stood at a seq ----------------------------------------------------------

# `--as-of` was the first name of `--at-seq` (issue #15: a log position is a seq everywhere):
# still accepted for one release, hidden from the help.
DeprecatedAsOf = Annotated[
    int | None,
    typer.Option(
        "--as-of",
        metavar="SEQ",
        hidden=True,
        help="已弃用，请用 --at-seq / deprecated: use --at-seq",
    ),
]


def either_seq(at_seq: int | None, as_of: int | None) -> int | None:
    """The seq asked for under either name (a note on stderr for the old one); both must agree."""
    if as_of is None:
        return at_seq
    err.print("提示 / note: --as-of 已弃用，请用 --at-seq / --as-of is deprecated: use --at-seq")
    if at_seq is not None and at_seq != as_of:
        fail(
            ValidationError(
                f"--at-seq（{at_seq}）与已弃用的 --as-of（{as_of}）不一致：只用 --at-seq",
                f"--at-seq ({at_seq}) and the deprecated --as-of ({as_of}) differ: use --at-seq",
            )
        )
    return as_of


# Who acts: one registered user per command, named by --as or SSJ_USER --------------------------

USER_ENV = "SSJ_USER"

AsUser = Annotated[
    str | None,
    typer.Option(
        "--as",
        envvar=USER_ENV,
        show_envvar=True,
        metavar="USER",
        help="以此已登记用户的身份操作（或设环境变量 SSJ_USER）/ act as this registered user "
        "(or set SSJ_USER)",
    ),
]


def open_services() -> Services:
    """The ledger and its read models, or one clear line and exit 2."""
    from ssj.services.context import Services

    try:
        return Services()
    except SsjError as e:
        fail(e)


@contextmanager
def services_session() -> Iterator[Services]:
    """Open the services for one command; any SsjError inside becomes one line and exit 2."""
    services = open_services()
    try:
        yield services
    except SsjError as e:
        fail(e)
    finally:
        services.close()


def current_principal(services: Services, username: str | None) -> Principal:
    """The registered, active user the command acts as (`--as USER` or `SSJ_USER`)."""
    name = (username or "").strip()
    if not name:
        fail(
            ValidationError(
                "请用 --as 用户名 或环境变量 SSJ_USER 指明操作用户",
                "name the acting user with --as USER or the SSJ_USER environment variable",
            )
        )
    try:
        return services.principal(name)
    except SsjError as e:
        fail(e)
