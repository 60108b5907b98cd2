"""Import jobs run in the test process, for tests about what an upload does rather than about the
job's process.

Why: each job's own process (`python -m ssj.services.import_jobs`) costs about 0.7 CPU-s of
start-up (Python, ssj's domain classes, psycopg) before it reads a row; a test that uploads in a
loop spent most of its time there. `InProcessLauncher` runs the very same `run(settings, job_id)`
the child runs, in the launcher's thread, with its own `Services` and connections as the child
has. The process itself stays tested: tests/api/test_import_jobs.py (exit codes, kill -9, memory)
and the users named in `processes_for` (real processes in the same test).
"""

from __future__ import annotations

from collections.abc import Collection

from fastapi.testclient import TestClient

from ssj.config import Settings
from ssj.services.import_jobs import Job, Launcher, run


class InProcessLauncher(Launcher):
    """Runs jobs in this process, except those of the users in `processes_for`."""

    def __init__(self, settings: Settings, processes_for: Collection[str] = ()) -> None:
        super().__init__(settings)
        self.processes_for = set(processes_for)
        self.processes = 0  # jobs that ran in a process of their own

    def execute(self, job: Job) -> int:
        if job.username in self.processes_for:
            self.processes += 1
            return super().execute(job)
        run(self.settings, job.id)
        return 0


def in_process_jobs(
    client: TestClient, settings: Settings, processes_for: Collection[str] = ()
) -> InProcessLauncher:
    """Let the app behind `client` run its import jobs in this process."""
    launcher = InProcessLauncher(settings, processes_for)
    client.app.state.import_launcher = launcher  # type: ignore[attr-defined]
    return launcher
