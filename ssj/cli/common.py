"""What every CLI command shares: the ledger, the acting user, output, and error handling."""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ssj.errors import SsjError
from ssj.ledger.application import Ledger
from ssj.ledger.envelope import Actor

err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

EXIT_DAMAGE = 1
EXIT_BAD_INPUT = 2


def fail(error: SsjError) -> NoReturn:
    """One clear line on stderr, non-zero exit."""
    err.print(f"[bold red]错误 / error:[/] {error}", highlight=False, markup=True)
    raise typer.Exit(EXIT_BAD_INPUT)


def open_ledger() -> Ledger:
    try:
        return Ledger()
    except SsjError as e:
        fail(e)


def cli_actor(role: str = "admin") -> Actor:
    """Who runs this command: `SSJ_ACTOR` as user[@department], else the operating-system user."""
    raw = os.environ.get("SSJ_ACTOR", "").strip() or f"cli:{getpass.getuser()}"
    user, _, department = raw.partition("@")
    return Actor(user=user, department=department, role=role)


def print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


@contextmanager
def progress_bar(label: str, total: int) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr (hidden when stderr is not a terminal)."""
    progress = Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
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
