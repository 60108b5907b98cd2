"""The checker process of a large import: both cores check the file.

Under --skip-invalid (`run`) it reads and checks the whole file while the importing process
writes the batches it has checked. Otherwise nothing may be written before every row is
checked, so it shares the checking (`sharing`): both processes read the file, each checks
every other record by itself (`imports.share_checking`; the first SHARED_FROM are all the
importing process's, checked while this one starts), and the importing process takes its
checks in row order for what needs the rows before (a duplicate, the problem limit).

A fresh interpreter (`python -m ssj.services.import_check`, fork and exec: never a bare fork
beside psycopg's threads) that needs no database: it is sent the file, the options and the
departments to resolve names against (`imports.CheckJob`), and sends back, length-prefixed
pickles on its stdout, ("batch", records) for every BATCH records that pass, ("reading", …)
for progress, then ("done", (what the checking found, the table's layout)) or ("error", …);
when sharing, ("checks", RowCheck fields) for every SHARED checks, then ("done", None). The
pipe holds a few batches at most, so a checker ahead of the other process waits: memory stays
bounded whatever the file's length.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any, cast

from ssj.processes import READY, WorkerGone, announce_ready, read_exact, receive, send, spawn

if TYPE_CHECKING:
    from ssj.imports.spreadsheet import Table
    from ssj.services.imports import (
        CheckedRecord,
        CheckingContext,
        CheckJob,
        Reading,
        RowCheck,
        TableLayout,
    )

READING_EVERY = 256  # records between progress messages
SHARED = 250  # checks per message when sharing: small, so neither process waits long


class Position:
    """How far the checker has read: what a `reading` callback asks a Table for."""

    def __init__(self, last_row: int, records_read: int, position: tuple[int, int]) -> None:
        self.last_row, self.records_read, self._position = last_row, records_read, position

    def position(self) -> tuple[int, int]:
        return self._position


def run(
    job: CheckJob,
    context: CheckingContext,
    accept: Callable[[list[CheckedRecord]], None],
    reading: Reading | None,
) -> TableLayout:
    """Check `job`'s file in a checker process; `accept` each batch of checked records as it
    comes; merge what the checker found into `context`. Raises what checking raised (an
    ImportFileError for a file that cannot be read: the batches accepted before it stay)."""
    from ssj.services.imports import CheckedRecord

    process = spawn("ssj.services.import_check")
    assert process.stdin is not None and process.stdout is not None
    finished = False
    try:
        if read_exact(process.stdout, 1) != READY:
            raise WorkerGone("the checker process did not start")
        send(process.stdin, ("check", job))
        while True:
            what, value = receive(process.stdout)
            if what == "batch":
                accept([CheckedRecord(*fields) for fields in value])
            elif what == "reading":
                if reading is not None:
                    reading(cast("Table", Position(*value)))
            elif what == "done":
                found, layout = value
                context.merge(found)
                finished = True
                return cast("TableLayout", layout)
            else:
                raise _rebuilt(value)
    finally:
        _end(process, finished)


@contextmanager
def sharing(job: CheckJob) -> Iterator[Iterator[RowCheck]]:
    """A checker process sharing the checking of `job`'s file: the checks of its records, in
    order (`imports.share_checking`). Started at once, so that it reads while this process
    begins; ended with the block, whether or not every check was taken (a file stopped at the
    problem limit)."""
    process = spawn("ssj.services.import_check")
    assert process.stdin is not None and process.stdout is not None
    finished = False

    def checks() -> Iterator[RowCheck]:
        from ssj.services.imports import RowCheck

        nonlocal finished
        assert process.stdout is not None
        if read_exact(process.stdout, 1) != READY:
            raise WorkerGone("the checker process did not start")
        while True:
            what, value = receive(process.stdout)
            if what == "checks":
                for fields in value:
                    yield RowCheck(*fields)
            elif what == "done":
                finished = True
                return
            else:
                raise _rebuilt(value)

    try:
        send(process.stdin, ("share", job))
        yield checks()
    finally:
        _end(process, finished)


def _end(process: subprocess.Popen[bytes], finished: bool) -> None:
    assert process.stdin is not None and process.stdout is not None
    with suppress(BrokenPipeError):
        process.stdin.close()
    if not finished:
        process.kill()
    process.wait()
    process.stdout.close()


def _portable(error: BaseException) -> tuple[str, str, tuple[Any, ...], dict[str, Any]]:
    return (type(error).__module__, type(error).__qualname__, error.args, dict(error.__dict__))


def _rebuilt(value: tuple[str, str, tuple[Any, ...], dict[str, Any]]) -> BaseException:
    """The checker's exception as raised there (ImportFileError keeps its bilingual message)."""
    module, name, args, attributes = value
    try:
        cls = getattr(importlib.import_module(module), name)
        error: BaseException = cls.__new__(cls)
        error.args = args
        error.__dict__.update(attributes)
    except Exception:
        return RuntimeError(f"the import's checker process failed: {module}.{name}{args!r}")
    return error


def _serve() -> None:
    from ssj.services import imports

    inp, out = announce_ready()
    mode, job = receive(inp)
    if mode == "share":
        _share(out, job)
        return
    batch: list[tuple[Any, ...]] = []

    def sink(stored: CheckedRecord) -> None:
        batch.append((stored.row, stored.rows, stored.key, stored.state, stored.kept))
        if len(batch) >= imports.BATCH:
            send(out, ("batch", batch[:]))
            batch.clear()

    def progress(table: Table) -> None:
        send(out, ("reading", (table.last_row, table.records_read, table.position())))

    try:
        context = imports.checking_context(job)
        layout = imports.check_file(job, context, sink, progress)
        if batch:
            send(out, ("batch", batch[:]))
        send(out, ("done", (context.found(), layout)))
    except BaseException as error:  # sent to the importing process, which raises it
        send(out, ("error", _portable(error)))


def _share(out: Any, job: CheckJob) -> None:
    from ssj.services import imports

    checks: list[tuple[Any, ...]] = []
    try:
        for check in imports.share_checking(job, imports.checking_context(job)):
            checks.append(check.as_tuple())
            if len(checks) >= SHARED:
                send(out, ("checks", checks))
                checks = []
        if checks:
            send(out, ("checks", checks))
        send(out, ("done", None))
    except BaseException as error:  # sent to the importing process, which raises it
        send(out, ("error", _portable(error)))


if __name__ == "__main__":
    try:
        _serve()
    except (WorkerGone, BrokenPipeError):  # the importing process went away
        sys.exit(1)
