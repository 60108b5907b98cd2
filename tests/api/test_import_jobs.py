"""Imports as jobs over HTTP, on both backends: 202 and the job's status, who may read it, the
upload limit counted while receiving, and, on a real server (uvicorn in a subprocess, as
TestClient serialises requests), public reads answered while an import runs, the probe's bombs
refused with the job's memory bounded, and a killed import reported and completed on re-run.

Memory is the job process's own peak resident size (it records `ru_maxrss` when it ends) and the
server's VmHWM; work before a refusal is asserted in tests/imports/test_limits.py.
"""

from __future__ import annotations

import csv
import io
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from ssj.api import create_app
from ssj.config import Settings
from ssj.domain.organisation import Role
from ssj.services.context import Services
from ssj.services.import_jobs import ImportJobs
from tests.api.test_registry_api import (
    TARGET_HEADER,
    Api,
    assert_bilingual,
    csv_bytes,
    target_csv_row,
)
from tests.cli.inprocess import run_ssj
from tests.conftest import settings_env
from tests.imports.bombs import (
    MIB,
    csv_bomb,
    last_row_bomb,
    long_string_bomb,
    many_strings_bomb,
    sheet_bomb,
)
from tests.services.conftest import OWN, Jurisdiction, jurisdiction

pytestmark = pytest.mark.slow  # a real server, import processes, crafted files of hundreds of MB

__all__ = ["jurisdiction"]

MEMORY = 200 * MIB
SSJ = str(Path(sys.executable).parent / "ssj")


def finished(get: Any, url: str, who: Any = None, timeout: float = 180) -> dict[str, Any]:
    """Poll a job until it is done or failed."""
    deadline = time.monotonic() + timeout
    while True:
        response = get(url) if who is None else get(url, who)
        assert response.status_code == 200, response.text
        body = response.json()
        if body["status"] in ("done", "failed"):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.05)  # a job's row is one cheap read; the test waits no longer than it must


# --- the job flow (TestClient) -------------------------------------------------------------------


@pytest.fixture
def api(jurisdiction: Jurisdiction) -> Iterator[Api]:
    """As the other API tests' `api`, but each job runs in a process of its own, as in production."""
    with TestClient(create_app(jurisdiction.services)) as client:
        yield Api(jurisdiction, client)


def test_upload_answers_202_with_a_job_that_reports(api: Api) -> None:
    content = csv_bytes(TARGET_HEADER, [target_csv_row(n) for n in range(3)])
    response = api.submit("targets", "名录.csv", content, "operator")
    assert response.status_code == 202, response.text
    job = response.json()
    location = response.headers["Location"]
    assert location == f"/imports/jobs/{job['id']}"
    assert job["status"] in ("queued", "running", "done") and job["file"] == "名录.csv"
    assert job["submitted_by"] == "operator-own" and job["message_zh"] and job["message_en"]
    body = finished(api.get, location, "operator")
    assert body["status"] == "done", body
    report = body["report"]
    assert (report["created"], report["written"], report["rows"]) == (3, True, 3)
    assert report["seq"] == api.head_seq()
    assert body["progress"]["phase"] == "writing" and body["progress"]["percent"] == 100
    assert body["progress"]["records_written"] == body["progress"]["records_total"] == 3
    assert "已导入 3 行" in body["message_zh"] and "imported 3 rows" in body["message_en"]
    assert 0 < body["peak_memory_bytes"] < MEMORY
    assert api.get("/targets", who="operator").json()["total"] == 3
    # Only the submitter, administrators and supervisors read it.
    assert_bilingual(api.get(location, who="leader"), 403, "forbidden")
    assert api.get(location, who="supervisor").status_code == 200
    assert api.get(location).status_code == 200
    assert_bilingual(api.get("/imports/jobs/" + "0" * 32), 404, "not_found")
    assert api.get("/imports/jobs/nope").status_code == 422
    mine = api.get("/imports/jobs", who="operator").json()
    assert [j["id"] for j in mine["items"]] == [job["id"]] and mine["total"] == 1
    assert api.get("/imports/jobs", who="leader").json()["total"] == 0
    assert api.get("/imports/jobs?submitted_by=operator-own").json()["total"] == 1
    assert_bilingual(api.get("/imports/jobs?submitted_by=root", who="leader"), 403)


def test_problems_and_failures_are_reported_by_the_job(api: Api) -> None:
    rows = [target_csv_row(n) for n in range(3)]
    rows[2][0] = "not-a-uscc"
    size = api.size()
    submitted = api.submit("targets", "坏.csv", csv_bytes(TARGET_HEADER, rows), "operator")
    assert submitted.status_code == 202
    body = finished(api.get, submitted.headers["Location"], "operator")
    assert body["status"] == "done" and body["report"]["written"] is False
    assert [(p["row"], p["column"]) for p in body["report"]["problems"]] == [(4, "A")]
    assert "1 problem(s)" in body["message_en"] and body["error"] is None
    assert api.size() == size
    # Waiting gives the synchronous answer: 422 with every problem, and the job.
    waited = api.upload("targets", "坏.csv", csv_bytes(TARGET_HEADER, rows), "operator")
    answer = assert_bilingual(waited, 422, "import_problems")
    assert answer["job"] and waited.headers["Location"].endswith(answer["job"])
    # A file that is no spreadsheet fails its job, with the error and its HTTP status.
    pdf = api.submit("targets", "x.xlsx", b"%PDF-1.4 not a workbook")
    failed = finished(api.get, pdf.headers["Location"])
    assert failed["status"] == "failed" and failed["report"] is None
    assert failed["error"]["code"] == "import_file" and failed["error"]["status"] == 422
    assert "PDF" in failed["message_en"]
    assert_bilingual(api.upload("targets", "x.xlsx", b"%PDF-1.4 not a workbook"), 422)
    # Malformed uploads are refused before any job.
    for bad in (
        api.call("POST", "/imports/targets", json={"file": "x"}),
        api.call("POST", "/imports/targets", files={"other": ("a.csv", b"a,b")}),
        api.call("POST", "/imports/targets", data={"department": OWN}),
    ):
        assert_bilingual(bad, 422, "validation")
    assert api.get("/imports/jobs").json()["total"] == 4


def test_the_upload_limit_is_counted_while_receiving(
    jurisdiction: Jurisdiction, settings: Settings
) -> None:
    tight = replace(settings, imports=replace(settings.imports, upload_bytes=64 * 1024))
    services = Services(tight)
    uploads = settings.data_dir / "uploads"
    try:
        with TestClient(create_app(services)) as client:
            small = Api(jurisdiction, client)
            big = b"x" * (64 * 1024 + 1)
            refused = small.submit("targets", "大.csv", big, "operator")
            body = assert_bilingual(refused, 413, "import_limit")
            assert body["limit"] == "SSJ_IMPORT_MAX_UPLOAD_BYTES" and "64 KiB" in body["message_en"]

            def chunked() -> Iterator[bytes]:  # no Content-Length: counted as it comes
                yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="c.csv"\r\n\r\n'
                for _ in range(40):
                    yield b"y" * 4096
                yield b"\r\n--b--\r\n"

            streamed = client.post(
                "/imports/targets",
                content=chunked(),
                headers={
                    "Authorization": f"Bearer {small.tokens['operator']}",
                    "Content-Type": "multipart/form-data; boundary=b",
                },
            )
            assert_bilingual(streamed, 413, "import_limit")
            assert list(uploads.iterdir()) == []  # nothing kept
            assert small.get("/imports/jobs").json()["total"] == 0
            content = csv_bytes(TARGET_HEADER, [target_csv_row(1)])
            assert small.upload("targets", "小.csv", content, "operator").status_code == 200
    finally:
        services.close()


# --- a real server ---------------------------------------------------------------------------------


class Server:
    def __init__(self, url: str, process: subprocess.Popen[bytes], tokens: dict[str, str]) -> None:
        self.url, self.process, self.tokens = url, process, tokens
        self.client = httpx.Client(base_url=url, timeout=120)

    def headers(self, who: str = "operator") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def get(self, path: str, who: str = "operator") -> httpx.Response:
        return self.client.get(path, headers=self.headers(who))

    def upload(self, kind: str, path: Path, who: str = "operator", wait: int = 0) -> httpx.Response:
        with path.open("rb") as handle:
            files = {"file": (path.name, handle, "application/octet-stream")}
            return self.client.post(
                f"/imports/{kind}?wait={wait}", files=files, headers=self.headers(who)
            )

    def peak_memory(self) -> int:
        """The server process's peak resident size (VmHWM), in bytes."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmHWM")


@pytest.fixture
def server(jurisdiction: Jurisdiction, settings: Settings) -> Iterator[Server]:
    tokens = {
        who: jurisdiction.registry.issue_token(jurisdiction.root, user, "server tests")
        for who, user in (("operator", f"{Role.OPERATOR.value}-own"), ("root", "root"))
    }
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = settings_env(settings)
    process = subprocess.Popen(
        [SSJ, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    try:
        while True:
            assert process.poll() is None, "the server exited"
            try:
                if httpx.get(f"{url}/public/items", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        yield Server(url, process, tokens)
    finally:
        process.terminate()
        process.wait(timeout=30)


def targets_file(path: Path, count: int, start: int = 0) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(TARGET_HEADER)
        writer.writerows(target_csv_row(n) for n in range(start, start + count))
    return path


def test_public_reads_answer_while_an_import_runs(
    server: Server, jurisdiction: Jurisdiction, tmp_path: Path
) -> None:
    path = targets_file(tmp_path / "名录.csv", 20_000)
    submitted = server.upload("targets", path)
    assert submitted.status_code == 202, submitted.text
    location = submitted.headers["Location"]
    while (job := server.get(location).json())["status"] == "queued":
        time.sleep(0.1)
    assert job["status"] == "running", job
    answered = 0
    latencies = []
    while True:
        began = time.monotonic()
        public = server.client.get("/public/items")
        latencies.append(time.monotonic() - began)
        assert public.status_code == 200
        after = server.get(location).json()
        if after["status"] != "running":
            break
        answered += 1  # answered while the import was still running
        time.sleep(0.5)
    assert answered >= 1, "no public read overlapped the import"
    assert after["status"] == "done" and after["report"]["created"] == 20_000, after
    assert after["peak_memory_bytes"] < MEMORY
    print(f"public reads during the import: {answered}, slowest {max(latencies):.3f} s")
    # A killed import is reported failed at once, and re-running it completes it. 5,000 rows
    # (the overlap above needs 20,000): the job is killed as soon as it is seen running (polled
    # every 0.05 s), long before a file this size is read, and the re-run imports all of it.
    more = targets_file(tmp_path / "更多.csv", 5_000, start=20_000)
    location = server.upload("targets", more).headers["Location"]
    jobs = ImportJobs(jurisdiction.services.store)
    job_id = location.rsplit("/", 1)[1]
    while (row := jobs.get(job_id)) is not None and row.status == "queued":
        time.sleep(0.05)
    assert row is not None and row.status == "running" and row.pid is not None, row
    os.kill(row.pid, signal.SIGKILL)
    killed = finished(server.get, location)
    assert killed["status"] == "failed", killed
    assert killed["error"]["code"] == "import_interrupted" and "signal 9" in killed["message_en"]
    again = server.upload("targets", more, wait=300)
    assert again.status_code == 200, again.text
    assert again.json()["created"] + again.json()["unchanged"] == 5_000
    verified = run_ssj(["verify"], settings_env(jurisdiction.services.settings))
    assert verified.returncode == 0, verified.stderr


def test_the_probes_bombs_are_refused(server: Server, tmp_path: Path) -> None:
    header = TARGET_HEADER
    bombs = {
        "last_row": last_row_bomb(tmp_path / "末行.xlsx", header, target_csv_row(1)),
        "sheet": sheet_bomb(tmp_path / "大表.xlsx", header=header),
        "long_string": long_string_bomb(tmp_path / "长串.xlsx", header=header),
        "many_strings": many_strings_bomb(tmp_path / "多串.xlsx", header=header),
    }
    for name, path in bombs.items():
        assert path.stat().st_size < 2 * MIB, name
        submitted = server.upload("targets", path)
        assert submitted.status_code == 202, (name, submitted.text)
        job = finished(server.get, submitted.headers["Location"])
        assert job["peak_memory_bytes"] < MEMORY, (name, job)
        if name == "last_row":  # read quickly: one record and one bad row (only column A filled)
            assert job["status"] == "done" and job["report"]["rows"] == 2, job
            problems = job["report"]["problems"]  # every bad field of that row, none other
            assert {p["row"] for p in problems} == {1_048_576}
        else:
            assert job["status"] == "failed" and job["error"]["code"] == "import_limit", job
        print(f"{name}: {job['status']}, job peak memory {job['peak_memory_bytes'] / MIB:.0f} MiB")
    # 200 MB of CSV with one bad last row: over the upload limit, refused as it arrives.
    big = csv_bomb(tmp_path / "大.csv")
    assert big.stat().st_size > 200_000_000
    before = server.peak_memory()
    refused = server.upload("targets", big)
    body = assert_bilingual(refused, 413, "import_limit")
    assert body["limit"] == "SSJ_IMPORT_MAX_UPLOAD_BYTES"

    def chunks() -> Iterator[bytes]:
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n\r\n'
        with big.open("rb") as handle:
            while block := handle.read(1 << 20):
                yield block
        yield b"\r\n--b--\r\n"

    streamed = server.client.post(
        "/imports/targets",
        content=chunks(),
        headers={**server.headers(), "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert_bilingual(streamed, 413, "import_limit")
    after = server.peak_memory()
    print(
        f"server peak memory {before / MIB:.0f} MiB before the 200 MB uploads, {after / MIB:.0f} after"
    )
    assert after < MEMORY
    assert server.get("/imports/jobs").json()["total"] == len(bombs)


def test_the_command_line_refuses_a_bomb(jurisdiction: Jurisdiction, tmp_path: Path) -> None:
    path = long_string_bomb(tmp_path / "长串.xlsx", header=TARGET_HEADER)
    env = {**settings_env(jurisdiction.services.settings), "SSJ_USER": "operator-own"}
    result = run_ssj(["targets", "import", str(path)], env)
    assert result.returncode == 2, result.stderr
    assert "SSJ_IMPORT_MAX_CELL_CHARS" in result.stderr and "未导入任何数据" in result.stderr
    # The same limits, from the same settings.
    rows = io.StringIO()
    csv.writer(rows).writerows([TARGET_HEADER, *[target_csv_row(n) for n in range(5)]])
    small = tmp_path / "五行.csv"
    small.write_text(rows.getvalue(), encoding="utf-8")
    limited = run_ssj(["targets", "import", str(small)], {**env, "SSJ_IMPORT_MAX_ROWS": "3"})
    assert limited.returncode == 2 and "SSJ_IMPORT_MAX_ROWS" in limited.stderr
