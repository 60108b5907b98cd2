"""Imports as jobs: each runs in its own OS process; its state is a row in the read-model database.

Why: an import reads and checks the whole file before it writes anything (the import rule), which
takes minutes for a large registry; on the request path it held the API's one lock for all that
time, and a crafted file grew the API process itself. Now:
1. The API receives the upload into a file on disk (ssj/api/routers/imports.py), records a job
   (`queued`) and answers 202 at once.
2. A `Launcher` thread in that API process starts `python -m ssj.services.import_jobs <id>` when
   one of its `SSJ_IMPORT_WORKERS` slots is free. The child opens its own `Services` (its own
   database connections), marks the job `running`, imports with `import_file`, stores the report
   (`done`) or the error (`failed`), records its peak memory, removes the upload and exits. Its
   memory goes back to the system with it.
3. Any API worker process answers for a job from the table (`import_jobs` in the view store, so
   SQLite and PostgreSQL alike; not a projection: rebuilding the read models leaves it alone).

A job's process writes a heartbeat every HEARTBEAT seconds, and the launcher does for a job still
waiting for a slot. A `queued` or `running` job without a heartbeat for STALE seconds is reported
`failed` (its process was killed, ran out of memory, or its server stopped), and a launcher marks
it failed as soon as its process exits without finishing. Re-running the import is always safe:
by the import rule it writes what is missing and nothing twice.
"""

from __future__ import annotations

import builtins
import logging
import os
import resource
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from projections.store import Cursor, ViewStore, open_view_store
from ssj.config import Settings
from ssj.domain.access import Forbidden
from ssj.errors import (
    ConfigurationError,
    ConflictError,
    NotFoundError,
    SchemaError,
    SigningKeyError,
    SsjError,
    ValidationError,
)
from ssj.imports.errors import ImportLimitError
from ssj.imports.spreadsheet import Table

logger = logging.getLogger(__name__)

HEARTBEAT = 2.0  # seconds between heartbeats
STALE = 30.0  # seconds without a heartbeat after which a job is reported failed
KEEP_DAYS = 90  # finished jobs are forgotten after this many days
QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
_COLUMNS = (
    "id, kind, file, size, username, user_department, department, path, status, created_at, "
    "started_at, finished_at, heartbeat_at, pid, host, progress, report, error, peak_rss"
)
_DDL = (
    "CREATE TABLE IF NOT EXISTS import_jobs ("
    "id TEXT PRIMARY KEY, kind TEXT NOT NULL, file TEXT NOT NULL, size BIGINT NOT NULL, "
    "username TEXT NOT NULL, user_department TEXT NOT NULL, department TEXT, path TEXT NOT NULL, "
    "status TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL, started_at DOUBLE PRECISION, "
    "finished_at DOUBLE PRECISION, heartbeat_at DOUBLE PRECISION NOT NULL, pid BIGINT, host TEXT, "
    "progress TEXT, report TEXT, error TEXT, peak_rss BIGINT)",
    "CREATE INDEX IF NOT EXISTS import_jobs_by_user ON import_jobs (username, created_at)",
)
_READY: weakref.WeakSet[ViewStore] = weakref.WeakSet()


@dataclass(frozen=True)
class Job:
    id: str
    kind: str
    file: str
    size: int
    username: str
    user_department: str
    department: str | None
    path: str
    status: str
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    heartbeat_at: float = 0.0
    pid: int | None = None
    host: str | None = None
    progress: dict[str, Any] = field(default_factory=dict)
    report: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    peak_rss: int | None = None

    @property
    def finished(self) -> bool:
        return self.status in (DONE, FAILED)


class ImportJobs:
    """The `import_jobs` table of one view-store connection."""

    def __init__(self, store: ViewStore) -> None:
        self.store = store
        if store not in _READY:
            with store.transaction() as c:
                for statement in _DDL:
                    c.execute(statement)
            _READY.add(store)

    def create(
        self,
        *,
        kind: str,
        path: Path,
        size: int,
        username: str,
        user_department: str,
        department: str | None,
    ) -> Job:
        now = time.time()
        job = Job(
            id=uuid.uuid4().hex,
            kind=kind,
            file=path.name,
            size=size,
            username=username,
            user_department=user_department,
            department=department,
            path=str(path),
            status=QUEUED,
            created_at=now,
            heartbeat_at=now,
        )
        with self.store.transaction() as c:
            c.execute(
                "DELETE FROM import_jobs WHERE status IN (?, ?) AND created_at < ?",
                (DONE, FAILED, now - KEEP_DAYS * 86_400),
            )
            c.execute(
                f"INSERT INTO import_jobs ({_COLUMNS}) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                _row(job),
            )
        return job

    def get(self, job_id: str) -> Job | None:
        """The job, a stale one reported (and recorded) as failed."""
        with self.store.transaction() as c:
            job = _select(c, "WHERE id = ?", (job_id,))
        if job is None or job.finished or job.heartbeat_at >= time.time() - STALE:
            return job
        self.fail(job_id, _stale_error(job), only_if_stale=True)
        return self.get(job_id)

    def list(self, username: str | None, offset: int, limit: int) -> tuple[int, builtins.list[Job]]:
        """Newest first; `username` None for everyone's."""
        where, params = ("WHERE username = ?", [username]) if username else ("", [])
        with self.store.transaction() as c:
            c.execute(f"SELECT COUNT(*) FROM import_jobs {where}", params)
            total = int(c.fetchone()[0])
            c.execute(
                f"SELECT {_COLUMNS} FROM import_jobs {where} "
                "ORDER BY created_at DESC, id LIMIT ? OFFSET ?",
                [*params, limit, offset],
            )
            rows = c.fetchall()
        ids = [_job(row).id for row in rows]
        return total, [job for job in (self.get(i) for i in ids) if job is not None]

    def start(self, job_id: str, pid: int, host: str) -> bool:
        """queued -> running; False if the job is not queued (already run, or failed)."""
        now = time.time()
        with self.store.transaction() as c:
            done = c.execute(
                "UPDATE import_jobs SET status = ?, started_at = ?, heartbeat_at = ?, pid = ?, "
                "host = ? WHERE id = ? AND status = ?",
                (RUNNING, now, now, pid, host, job_id, QUEUED),
            )
            return bool(done.rowcount)

    def beat(self, job_id: str, progress: Mapping[str, Any] | None = None) -> None:
        with self.store.transaction() as c:
            if progress is None:
                c.execute(
                    "UPDATE import_jobs SET heartbeat_at = ? WHERE id = ? AND status IN (?, ?)",
                    (time.time(), job_id, QUEUED, RUNNING),
                )
            else:
                c.execute(
                    "UPDATE import_jobs SET heartbeat_at = ?, progress = ? "
                    "WHERE id = ? AND status = ?",
                    (time.time(), _json(progress), job_id, RUNNING),
                )

    def finish(
        self, job_id: str, report: Mapping[str, Any], progress: Mapping[str, Any], peak: int
    ) -> None:
        with self.store.transaction() as c:
            c.execute(
                "UPDATE import_jobs SET status = ?, finished_at = ?, heartbeat_at = ?, "
                "progress = ?, report = ?, peak_rss = ? WHERE id = ? AND status = ?",
                (
                    DONE,
                    time.time(),
                    time.time(),
                    _json(progress),
                    _json(report),
                    peak,
                    job_id,
                    RUNNING,
                ),
            )

    def fail(
        self,
        job_id: str,
        error: Mapping[str, Any],
        progress: Mapping[str, Any] | None = None,
        peak: int | None = None,
        *,
        only_if_stale: bool = False,
    ) -> None:
        """queued or running -> failed (a finished job stays as it is)."""
        now = time.time()
        stale = " AND heartbeat_at < ?" if only_if_stale else ""
        params: builtins.list[Any] = [FAILED, now, _json(error), job_id, QUEUED, RUNNING]
        if only_if_stale:
            params.append(now - STALE)
        with self.store.transaction() as c:
            c.execute(
                "UPDATE import_jobs SET status = ?, finished_at = ?, error = ? "
                f"WHERE id = ? AND status IN (?, ?){stale}",
                params,
            )
            if progress is not None or peak is not None:
                c.execute(
                    "UPDATE import_jobs SET progress = COALESCE(?, progress), "
                    "peak_rss = COALESCE(?, peak_rss) WHERE id = ?",
                    (_json(progress) if progress is not None else None, peak, job_id),
                )


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _row(job: Job) -> tuple[Any, ...]:
    return (
        job.id,
        job.kind,
        job.file,
        job.size,
        job.username,
        job.user_department,
        job.department,
        job.path,
        job.status,
        job.created_at,
        job.started_at,
        job.finished_at,
        job.heartbeat_at,
        job.pid,
        job.host,
        _json(job.progress),
        None if job.report is None else _json(job.report),
        None if job.error is None else _json(job.error),
        job.peak_rss,
    )


def _job(row: Any) -> Job:
    (
        id_,
        kind,
        file,
        size,
        username,
        user_department,
        department,
        path,
        status,
        created_at,
        started_at,
        finished_at,
        heartbeat_at,
        pid,
        host,
        progress,
        report,
        error,
        peak,
    ) = row
    return Job(
        id=id_,
        kind=kind,
        file=file,
        size=int(size),
        username=username,
        user_department=user_department,
        department=department,
        path=path,
        status=status,
        created_at=float(created_at),
        started_at=None if started_at is None else float(started_at),
        finished_at=None if finished_at is None else float(finished_at),
        heartbeat_at=float(heartbeat_at),
        pid=None if pid is None else int(pid),
        host=host,
        progress=orjson.loads(progress) if progress else {},
        report=orjson.loads(report) if report else None,
        error=orjson.loads(error) if error else None,
        peak_rss=None if peak is None else int(peak),
    )


def _select(c: Cursor, where: str, params: tuple[Any, ...]) -> Job | None:
    c.execute(f"SELECT {_COLUMNS} FROM import_jobs {where}", params)
    row = c.fetchone()
    return None if row is None else _job(row)


def _stale_error(job: Job) -> dict[str, Any]:
    return _interrupted(
        f"导入进程已停止（{int(STALE)} 秒无响应：被终止、内存不足或服务器重启）",
        f"the import process stopped (silent for {int(STALE)} s: killed, out of memory or a "
        "server restart)",
    )


def error_body(error: BaseException) -> dict[str, Any]:
    """What the job records for an error, with the status HTTP gives it (as ssj.api.app)."""
    if not isinstance(error, SsjError):
        return {
            "code": "internal",
            "status": 500,
            "message_zh": "导入时发生内部错误，已记录日志；未写入任何数据或只写入了部分数据，可重新导入",
            "message_en": "internal error during the import (logged); nothing or part of the "
            "file was written; importing it again is safe",
        }
    body: dict[str, Any] = {**error.as_dict(), "status": _status(error)}
    return body


def _status(error: SsjError) -> int:
    if isinstance(error, ImportLimitError) and error.too_large:
        return 413
    for kind, status in (
        (ValidationError, 422),
        (Forbidden, 403),
        (NotFoundError, 404),
        (ConflictError, 409),
        (ConfigurationError, 503),
        (SchemaError, 503),
        (SigningKeyError, 503),
    ):
        if isinstance(error, kind):
            return status
    return 400


# --- the API side: start job processes ----------------------------------------------------------


@contextmanager
def job_store(settings: Settings) -> Iterator[ImportJobs]:
    """A connection of its own, for threads that are not serving a request."""
    store = open_view_store(settings)
    try:
        yield ImportJobs(store)
    finally:
        store.close()


def upload_root(settings: Settings) -> Path:
    """Where uploads wait for their job: beside the ledger's data."""
    root = settings.data_dir / "uploads"
    root.mkdir(parents=True, exist_ok=True)
    return root


class Launcher:
    """Starts each job's process when a slot is free, and reports a process that died."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.slots = threading.BoundedSemaphore(settings.imports.workers)
        self.env = {**os.environ, **settings.to_env()}

    def submit(self, job: Job, ended: Callable[[], None] | None = None) -> None:
        """Run `job` when a slot is free; `ended` is called once it has ended, however it ended
        (an upload waiting for its job answers then, not at its next look at the job's row)."""
        threading.Thread(
            target=self._run, args=(job, ended), name=f"ssj-import-{job.id[:8]}", daemon=True
        ).start()

    def execute(self, job: Job) -> int:
        """Run the job in a process of its own; its exit status (negative: the signal)."""
        process = subprocess.Popen(
            [sys.executable, "-m", "ssj.services.import_jobs", job.id],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            start_new_session=True,  # a server's Ctrl-C does not cut an import short
        )
        return process.wait()

    def _run(self, job: Job, ended: Callable[[], None] | None) -> None:
        try:
            while not self.slots.acquire(timeout=HEARTBEAT):
                with job_store(self.settings) as jobs:
                    jobs.beat(job.id)  # still waiting for a slot, not lost
            try:
                code = self.execute(job)
            finally:
                self.slots.release()
            with job_store(self.settings) as jobs:
                found = jobs.get(job.id)
                if found is not None and not found.finished:
                    jobs.fail(job.id, _died(code))
        except Exception:
            logger.exception("import job %s could not be run", job.id)
            try:
                with job_store(self.settings) as jobs:
                    jobs.fail(job.id, error_body(RuntimeError()))
            except Exception:
                logger.exception("import job %s: could not record the failure", job.id)
        finally:
            shutil.rmtree(Path(job.path).parent, ignore_errors=True)
            if ended is not None:
                ended()


def _died(code: int) -> dict[str, Any]:
    how = f"信号 {-code}" if code < 0 else f"退出码 {code}"
    how_en = f"signal {-code}" if code < 0 else f"exit code {code}"
    return _interrupted(
        f"导入进程意外结束（{how}）", f"the import process ended unexpectedly ({how_en})"
    )


def _interrupted(zh: str, en: str) -> dict[str, Any]:
    return {
        "code": "import_interrupted",
        "status": 500,
        "message_zh": f"{zh}，可能只写入了部分数据；请重新导入同一文件：已写入的不会重复，未写入的会补全",
        "message_en": f"{en} and may have written part of the file; import the same file again: "
        "what was written is not written twice and the rest is completed",
    }


# --- the job's own process ----------------------------------------------------------------------


class _Progress:
    """What the job has done so far; written by the import, read by the heartbeat thread."""

    def __init__(self) -> None:
        self.phase = "reading"
        self.rows_read = 0
        self.records_checked = 0
        self.records_written = 0
        self.records_total: int | None = None
        self.done = 0
        self.total = 0

    def reading(self, table: Table) -> None:
        self.rows_read = table.last_row
        self.records_checked = table.records_read
        self.done, self.total = table.position()

    def writing(self, done: int, total: int) -> None:
        self.phase = "writing"
        self.records_written, self.records_total = done, total

    def snapshot(self) -> dict[str, Any]:
        if self.phase == "writing":
            share = self.records_written / self.records_total if self.records_total else 1.0
        else:
            share = self.done / self.total if self.total else 0.0
        return {
            "phase": self.phase,
            "percent": round(100 * min(share, 1.0), 1),
            "rows_read": self.rows_read,
            "records_checked": self.records_checked,
            "records_written": self.records_written,
            "records_total": self.records_total,
        }


class _Heartbeat(threading.Thread):
    def __init__(self, settings: Settings, job_id: str, progress: _Progress) -> None:
        super().__init__(name="ssj-import-heartbeat", daemon=True)
        self.settings, self.job_id, self.progress = settings, job_id, progress
        self.stopping = threading.Event()

    def run(self) -> None:
        with job_store(self.settings) as jobs:
            while not self.stopping.wait(HEARTBEAT):
                try:
                    jobs.beat(self.job_id, self.progress.snapshot())
                except Exception:
                    logger.exception("import job %s: heartbeat failed", self.job_id)

    def stop(self) -> None:
        self.stopping.set()
        self.join()


def peak_memory() -> int:
    """This process's peak resident memory, in bytes: VmHWM, the high-water mark of its own
    memory since it started. (`ru_maxrss` would not do: Linux carries the parent's peak over
    into a child at fork and exec, so every job would seem as large as the API process.)"""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # an upper bound


def run(settings: Settings, job_id: str) -> None:
    """Run one queued job to its end in this process (the child's whole life)."""
    from ssj.services.context import Services
    from ssj.services.imports import import_file

    with job_store(settings) as jobs:
        job = jobs.get(job_id)
        if job is None or not jobs.start(job_id, os.getpid(), socket.gethostname()):
            return
        progress = _Progress()
        heartbeat = _Heartbeat(settings, job_id, progress)
        heartbeat.start()
        try:
            services = Services(settings)
            try:
                principal = services.principal(job.username)

                def writing(done: int, total: int) -> None:
                    progress.writing(done, total)
                    # Keep the read models current batch by batch, so that API reads do not
                    # pay for projecting this import's events.
                    services.refresh()

                report = import_file(
                    services,
                    principal,
                    job.kind,
                    Path(job.path),
                    department=job.department,
                    progress=writing,
                    reading=progress.reading,
                )
                body = report.as_dict()
                if report.written:
                    body["seq"] = services.ledger.head_seq()
            finally:
                services.close()
            heartbeat.stop()
            jobs.finish(job_id, body, progress.snapshot(), peak_memory())
        except BaseException as e:
            heartbeat.stop()
            if not isinstance(e, SsjError):
                logger.exception("import job %s failed", job_id)
            jobs.fail(job_id, error_body(e), progress.snapshot(), peak_memory())
            if not isinstance(e, Exception):
                raise
        finally:
            shutil.rmtree(Path(job.path).parent, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m ssj.services.import_jobs JOB_ID", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    run(Settings.from_env(), args[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
