"""The checker process of a large import: both cores check the file.

Under --skip-invalid (`run`) it reads and checks the whole file while the importing process
writes the batches it has checked. Otherwise nothing may be written before every row is
checked, so it reads the file (`reading_elsewhere`, `imports.read_for_checking`) while the
importing process checks the records as they come: reading is about half the work.

A fresh interpreter (`python -m ssj.services.import_check`, fork and exec: never a bare fork
beside psycopg's threads) that needs no database: it is sent the file, the options and the
departments to resolve names against (`imports.CheckJob`), and sends back, length-prefixed
pickles on its stdout, ("batch", records) for every BATCH records that pass, ("reading", …)
for progress, then ("done", (what the checking found, the table's layout)) or ("error", …);
when reading for the importing process, ("head", the table's layout), ("records", …) for every
RECORDS_PER_MESSAGE records, then ("end", …). The pipe holds a few batches at most, so a
checker ahead of the other process waits: memory stays bounded whatever the file's length.
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
    from ssj.imports.spreadsheet import Column, Note, Problem, Record, Table
    from ssj.services.imports import (
        CheckedRecord,
        CheckingContext,
        CheckJob,
        Reading,
        TableLayout,
    )

READING_EVERY = 256  # records between progress messages
RECORDS_PER_MESSAGE = 100  # records per message when reading for the importing process


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


class RemoteTable:
    """The checker's table as the importing process reads it (`reading_elsewhere`): the same
    header, records, problems and notes, each as the checker's table had them when it gave the
    record. Duck-typed as a `Table` for checking (the attributes `check_file` uses)."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        layout: TableLayout,
        header_rows: tuple[int, ...],
        notes: list[Note],
    ) -> None:
        self._process = process
        self.format = layout.format
        self.sheet = layout.sheet
        self.encoding = layout.encoding
        self.delimiter = layout.delimiter
        self.columns = layout.columns
        self.unmapped = layout.unmapped
        self.header_rows = header_rows
        self.notes = notes
        self.problems: list[Problem] = []
        self.stopped = False
        self.finished = False
        self.records_read = 0
        self.last_row = 0
        self.on_record: Callable[[Any], bool] | None = None
        self._position: tuple[int, int] = (0, 0)
        self.records: Iterator[Record] = self._read()

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(column.field for column in self.columns)

    @property
    def problem_count(self) -> int:
        return len(self.problems)

    def problems_since(self, count: int) -> list[Problem]:
        return self.problems[count:]

    def position(self) -> tuple[int, int]:
        return self._position

    def column(self, field: str) -> Column:
        from ssj.imports.spreadsheet import column_of

        return column_of(self.columns, field)

    def _read(self) -> Iterator[Record]:
        from ssj.imports.spreadsheet import Record

        stdout = self._process.stdout
        assert stdout is not None
        while True:
            what, value = receive(stdout)
            if what == "records":
                for fields, problems, notes, last_row, position in value:
                    self.problems.extend(problems)
                    self.notes.extend(notes)
                    self.records_read += 1
                    self.last_row, self._position = last_row, position
                    yield Record(*fields)
                    if self.on_record is not None and not self.on_record(self):
                        self.stopped = True
                        return
            elif what == "end":
                problems, notes = value
                self.problems.extend(problems)
                self.notes.extend(notes)
                self.finished = True
                return
            else:
                raise _rebuilt(value)


@contextmanager
def reading_elsewhere(job: CheckJob) -> Iterator[Table]:
    """The job's file read by a checker process (`imports.read_for_checking`): a table whose
    records come through the pipe. Raises what opening the file raised there; ends the checker
    with the block, whether or not every record was taken (a file stopped at the problem
    limit)."""
    process = spawn("ssj.services.import_check")
    assert process.stdin is not None and process.stdout is not None
    table = None
    try:
        send(process.stdin, ("read", job))
        if read_exact(process.stdout, 1) != READY:
            raise WorkerGone("the checker process did not start")
        what, value = receive(process.stdout)
        if what != "head":
            raise _rebuilt(value)
        table = RemoteTable(process, *value)
        yield cast("Table", table)
    finally:
        _end(process, table is not None and table.finished)


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
    if mode == "read":
        _read_for_checking(out, job)
        return
    batch: list[tuple[Any, ...]] = []

    def sink(stored: CheckedRecord) -> None:
        batch.append(stored.fields())
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


def _read_for_checking(out: Any, job: CheckJob) -> None:
    from ssj.services import imports

    records: list[Any] = []
    try:
        for what, value in imports.read_for_checking(job, imports.KINDS[job.kind]):
            if what == "record":
                records.append(value)
                if len(records) >= RECORDS_PER_MESSAGE:
                    send(out, ("records", records))
                    records = []
                continue
            if records:
                send(out, ("records", records))
                records = []
            send(out, (what, value))
    except BaseException as error:  # sent to the importing process, which raises it
        if records:
            send(out, ("records", records))
        send(out, ("error", _portable(error)))


if __name__ == "__main__":
    try:
        _serve()
    except (WorkerGone, BrokenPipeError):  # the importing process went away
        sys.exit(1)
