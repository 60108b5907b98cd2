"""Import jobs below the API, on both backends: the job's life run in this process, a job
whose process went silent, a job run twice, and the error a job records."""

from __future__ import annotations

import csv
import time
from pathlib import Path

from ssj.services import import_jobs
from ssj.services.import_jobs import ImportJobs, Job, job_store, run, upload_root
from tests.services.conftest import OWN, Jurisdiction, uscc


def queued(j: Jurisdiction, rows: int, who: str = "operator-own", name: str = "t.csv") -> Job:
    directory = upload_root(j.services.settings) / f"job-{time.monotonic_ns()}"
    directory.mkdir()
    path = directory / name
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["统一社会信用代码", "名称", "行政区划代码", "对象类型", "责任部门"])
        writer.writerows(
            [uscc(n), f"常州第{n}机械有限公司", "320402", "企业", OWN] for n in range(rows)
        )
    return ImportJobs(j.services.store).create(
        kind="targets",
        path=path,
        size=path.stat().st_size,
        username=who,
        user_department=OWN,
        department=None,
    )


def test_a_job_runs_to_its_report(jurisdiction: Jurisdiction) -> None:
    j = jurisdiction
    job = queued(j, 5)
    jobs = ImportJobs(j.services.store)
    assert jobs.get(job.id) == job and job.status == "queued"
    run(j.services.settings, job.id)
    done = jobs.get(job.id)
    assert done is not None and done.status == "done", done
    assert done.report is not None and done.report["created"] == 5
    assert done.report["seq"] == j.services.ledger.head_seq()
    assert done.progress["phase"] == "writing" and done.progress["records_written"] == 5
    assert done.started_at is not None and done.finished_at is not None
    assert not Path(job.path).parent.exists()  # the upload is gone
    # Run again (a second launcher, a retry): nothing happens, the report stays.
    size = j.services.ledger.size()
    run(j.services.settings, job.id)
    assert jobs.get(job.id) == done and j.services.ledger.size() == size


def test_a_refused_import_fails_its_job_with_the_status(jurisdiction: Jurisdiction) -> None:
    j = jurisdiction
    # A user deactivated (here: unknown) since submitting: refused when the job starts.
    job = queued(j, 2, who="ghost")
    run(j.services.settings, job.id)
    failed = ImportJobs(j.services.store).get(job.id)
    assert failed is not None and failed.status == "failed"
    assert failed.error is not None
    assert (failed.error["code"], failed.error["status"]) == ("forbidden", 403)
    assert failed.error["message_zh"] and failed.error["message_en"]
    pdf = queued(j, 1)
    Path(pdf.path).write_bytes(b"%PDF-1.7\n1 0 obj\n")  # no spreadsheet, whatever its name
    run(j.services.settings, pdf.id)
    failed = ImportJobs(j.services.store).get(pdf.id)
    assert failed is not None and failed.error is not None
    assert (failed.error["code"], failed.error["status"]) == ("import_file", 422)


def test_a_silent_job_is_reported_failed(jurisdiction: Jurisdiction) -> None:
    j = jurisdiction
    job = queued(j, 1)
    jobs = ImportJobs(j.services.store)
    assert jobs.start(job.id, 999_999, "elsewhere")
    assert not jobs.start(job.id, 999_999, "elsewhere")  # only a queued job starts
    with j.services.store.transaction() as c:  # as if its process died 31 s ago
        c.execute(
            "UPDATE import_jobs SET heartbeat_at = ? WHERE id = ?",
            (time.time() - import_jobs.STALE - 1, job.id),
        )
    failed = jobs.get(job.id)
    assert failed is not None and failed.status == "failed", failed
    assert failed.error is not None and failed.error["code"] == "import_interrupted"
    assert "import the same file again" in failed.error["message_en"]
    # A late word from the dead process changes nothing.
    jobs.finish(job.id, {"written": True}, {}, 1)
    assert jobs.get(job.id) == failed
    # Another connection (another API worker) sees the same.
    with job_store(j.services.settings) as other:
        assert other.get(job.id) == failed
        total, listed = other.list("operator-own", 0, 10)
        assert total == 1 and [x.id for x in listed] == [job.id]
