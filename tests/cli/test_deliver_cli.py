"""Delivery faults, end to end, on both backends: `ssj subscribers` and `ssj deliver` as real
subprocesses, the reference receiver (ops/receiver.py) as a real separate process — down,
refusing, slow beyond the timeout, answering 500 then 200, answering 200 twice for one record,
vanishing mid-stream; the worker killed -9 mid-batch and restarted; a platform removed while
records are pending; a bad endpoint and an unknown record kind. After each: nothing lost,
nothing stored twice by the receiver, order kept, and `ssj verify` finds the ledger intact."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ssj.config import Settings
from tests.cli.inprocess import SSJ
from tests.cli.test_registry_cli import jurisdiction, ok, run
from tests.conftest import settings_env
from tests.services.conftest import Jurisdiction
from tests.services.test_draws import World
from tests.services.test_tasks import Tasks

pytestmark = pytest.mark.slow  # the receiver and the worker as real processes, kill -9

__all__ = ["jurisdiction"]

RECORDS = 6
ROOT = str(Path(__file__).resolve().parents[2])


class ReceiverProcess:
    """`python -m ops.receiver` in its own process, on a free port, with a store that outlives
    it (restarting it keeps what it got)."""

    def __init__(self, directory: Path, keys: list[str]) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "keys.txt").write_text("\n".join(keys) + "\n")
        self.db = directory / "received.sqlite"
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self, *flags: str, port: int = 0) -> str:
        port_file = self.directory / "port"
        port_file.unlink(missing_ok=True)
        args = ["--db", str(self.db), "--keys", str(self.directory / "keys.txt")]
        args += ["--port", str(port), "--port-file", str(port_file), *flags]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ops.receiver", *args], cwd=ROOT, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text():
            assert self.process.poll() is None, self.process.stderr.read()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the receiver did not start"
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{port_file.read_text()}/ssj"
        return self.url

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1].split("/")[0])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def stored(self) -> list[tuple[str, int]]:
        if not self.db.exists():
            return []
        with sqlite3.connect(self.db) as db:
            return db.execute("SELECT id, seq FROM received ORDER BY n").fetchall()

    def duplicates(self) -> int:
        with sqlite3.connect(self.db) as db:
            found = db.execute("SELECT n FROM counters WHERE name = 'duplicates'").fetchone()
        return int(found[0]) if found else 0


class Scene:
    """Published results (one record each) and a receiver process."""

    def __init__(self, settings: Settings, j: Jurisdiction, tmp: Path) -> None:
        self.settings = settings
        world = World(j)
        world.publish()
        self.t = Tasks(world)
        for n in range(RECORDS):
            ref = self.t.ref_of(n)
            self.t.confirmed(ref)
            self.t.tasks.publish(self.t.operator, ref, on="2026-03-10", public_summary="未发现问题")
        self.keys = [k["verifier_key"] for k in j.services.ledger.key_listing()]
        self.receiver = ReceiverProcess(tmp / "receiver", self.keys)

    def ssj(self, *args: str, user: str | None = "root") -> subprocess.CompletedProcess[str]:
        return run(self.settings, *args, user=user)

    def add(self, name: str, url: str, *options: str) -> None:
        ok(
            self.ssj(
                "subscribers", "add", name, url, "--kinds", "results", "--from-seq", "0", *options
            )
        )

    def deliver(self, *options: str, backoff: float = 0) -> subprocess.CompletedProcess[str]:
        """`ssj deliver --once`; with a backoff, a failed record waits that long (±½) before
        its next try, so the run ends after one try of it."""
        return self.ssj("deliver", "--once", "--backoff", str(backoff), *options, user=None)

    def outbox(self, name: str | None = None) -> list[dict[str, object]]:
        args = ["deliver", "status", "--format", "json", "--limit", "1000"]
        if name:
            args += ["--subscriber", name]
        return json.loads(ok(self.ssj(*args)))["items"]

    def check(self, name: str) -> None:
        """Nothing lost, nothing stored twice, order kept, the ledger intact."""
        stored = self.receiver.stored()
        ids = [i for i, _ in stored]
        assert len(ids) == len(set(ids)) == RECORDS, stored
        seqs = [s for _, s in stored]
        assert seqs == sorted(seqs)
        assert {r["status"] for r in self.outbox(name)} == {"delivered"}
        verified = self.ssj("verify", user=None)
        assert verified.returncode == 0, verified.stdout + verified.stderr


@pytest.fixture
def scene(settings: Settings, jurisdiction: Jurisdiction, tmp_path: Path) -> Iterator[Scene]:
    found = Scene(settings, jurisdiction, tmp_path)
    try:
        yield found
    finally:
        found.receiver.stop()


def test_receiver_down_then_up(scene: Scene) -> None:
    url = scene.receiver.start()
    scene.receiver.stop()  # the port is known, nothing listens there now
    scene.add("platform", url, "--max-tries", "20")
    first = scene.deliver("--timeout", "2", backoff=1)
    assert first.returncode == 1, first.stdout + first.stderr  # still undelivered
    assert "未送达 6" in first.stdout
    head = [r for r in scene.outbox("platform") if r["tries"]]
    assert len(head) == 1 and "Connect" in str(head[0]["last_error"])  # only the head was tried
    scene.receiver.start(port=scene.receiver.port)
    time.sleep(1.0)  # its next try is due
    assert scene.deliver().returncode == 0
    scene.check("platform")


def test_refusing_receiver_dead_letters_then_retry(scene: Scene) -> None:
    url = scene.receiver.start("--refuse")
    scene.add("platform", url, "--max-tries", "3")
    assert scene.deliver().returncode == 1
    rows = scene.outbox("platform")
    dead = [r for r in rows if r["status"] == "dead"]
    assert len(dead) == 1 and dead[0]["tries"] == 3 and "403" in str(dead[0]["last_error"])
    assert sum(r["status"] == "pending" for r in rows) == RECORDS - 1  # blocked behind it
    report = json.loads(ok(scene.ssj("overdue", "--as-of-date", "2026-06-30", "-f", "json")))
    assert [d["seq"] for d in report["dead_letters"]] == [dead[0]["seq"]]
    scene.receiver.stop()
    scene.receiver.start(port=scene.receiver.port)
    refused = scene.ssj("deliver", "retry", "platform", "--as", "operator-own", user=None)
    assert refused.returncode == 2 and "无权" in refused.stderr
    ok(scene.ssj("deliver", "retry", "platform", "--reason", "平台已恢复"))
    assert scene.deliver().returncode == 0
    scene.check("platform")


def test_slow_receiver_beyond_the_timeout(scene: Scene) -> None:
    url = scene.receiver.start("--delay", "1.5")
    scene.add("platform", url, "--max-tries", "20")
    slow = scene.deliver("--timeout", "0.5", backoff=1)
    assert slow.returncode == 1
    timed_out = [r for r in scene.outbox("platform") if r["tries"]]
    assert "超时" in str(timed_out[0]["last_error"])
    time.sleep(1.6)  # the receiver finishes what it was sent (it may have stored it)
    scene.receiver.stop()
    scene.receiver.start(port=scene.receiver.port)
    assert scene.deliver().returncode == 0
    scene.check("platform")


def test_500_then_200_and_200_twice_for_one_record(scene: Scene) -> None:
    url = scene.receiver.start("--fail-first", "1")
    scene.add("platform", url)
    assert scene.deliver().returncode == 0
    scene.check("platform")
    rows = scene.outbox("platform")
    assert sorted(r["tries"] for r in rows) == [1] * (RECORDS - 1) + [2]
    # A platform that stored a record while its answer was lost (500 after storing) gets it
    # again, answers 200 again, and stores it once.
    scene.receiver.stop()
    lossy = ReceiverProcess(scene.receiver.directory.parent / "lossy", scene.keys)
    url = lossy.start("--fail-rate", "1.0", "--seed", "3")  # 500 before, then after storing
    scene.add("lossy", url, "--max-tries", "2")
    assert scene.deliver().returncode == 1
    assert len(lossy.stored()) == 1  # the head: stored, unacknowledged, dead-lettered
    lossy.stop()
    lossy.start(port=lossy.port)
    ok(scene.ssj("deliver", "retry", "lossy", "--reason", "应答丢失"))
    assert scene.deliver().returncode == 0
    ids = [i for i, _ in lossy.stored()]
    assert len(ids) == len(set(ids)) == RECORDS and lossy.duplicates() == 1
    lossy.stop()


def test_receiver_vanishing_mid_stream(scene: Scene) -> None:
    url = scene.receiver.start("--die-after", "3")
    scene.add("platform", url, "--max-tries", "20")
    assert scene.deliver(backoff=1).returncode == 1
    assert scene.receiver.process is not None and scene.receiver.process.wait(10) == 3
    assert len(scene.receiver.stored()) == 3  # the third was stored, never answered
    scene.receiver.start(port=scene.receiver.port)
    time.sleep(1.0)
    assert scene.deliver().returncode == 0
    assert scene.receiver.duplicates() == 1  # the third came again: answered, not stored
    scene.check("platform")


def test_worker_killed_mid_batch_and_restarted(scene: Scene) -> None:
    url = scene.receiver.start("--delay", "0.4")
    scene.add("platform", url)
    env = settings_env(scene.settings)
    worker = subprocess.Popen(
        [SSJ, "deliver", "--backoff", "0", "--poll", "0.2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while len(scene.receiver.stored()) < 2:
        assert worker.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(10)
    time.sleep(1.0)  # a request already on the wire is still answered (and stored)
    got = len(scene.receiver.stored())
    assert 2 <= got < RECORDS
    # Nothing was acknowledged in the ledger for the batch in flight: it is all still owed.
    rows = scene.outbox("platform")
    assert sum(r["status"] == "pending" for r in rows) == RECORDS
    assert scene.deliver().returncode == 0
    assert scene.receiver.duplicates() == got  # sent again, answered, not stored twice
    scene.check("platform")


def test_platform_removed_while_records_are_pending(scene: Scene) -> None:
    url = scene.receiver.start()
    scene.add("platform", url)
    ok(scene.ssj("subscribers", "pause", "platform", "--reason", "维护"))
    assert scene.deliver().returncode == 1  # paused: its records wait
    ok(scene.ssj("subscribers", "remove", "platform", "--reason", "停止接收"))
    assert scene.deliver().returncode == 0  # nothing is owed to a removed platform
    assert {r["status"] for r in scene.outbox("platform")} == {"cancelled"}
    assert scene.receiver.stored() == []
    listed = json.loads(ok(scene.ssj("subscribers", "list", "-f", "json")))
    assert listed[0]["status"] == "removed" and listed[0]["counts"] == {"cancelled": RECORDS}
    assert scene.ssj("verify", user=None).returncode == 0


def test_bad_endpoint_and_unknown_kind(scene: Scene) -> None:
    before = scene.ssj("subscribers", "list", "-f", "json")
    bad = scene.ssj("subscribers", "add", "p", "ftp://credit.example/in", "--kinds", "results")
    assert bad.returncode == 2 and "http" in bad.stderr and "接收地址" in bad.stderr
    bad = scene.ssj("subscribers", "add", "p", "https://credit.example/", "--kinds", "licences")
    assert bad.returncode == 2 and "licences" in bad.stderr and "无效取值" in bad.stderr
    bad = scene.ssj(
        "deliver",
        "export",
        "--kind",
        "licences",
        "--from",
        "2026-01-01",
        "--to",
        "2026-12-31",
        "-o",
        "x.csv",
    )
    assert bad.returncode == 2
    assert scene.ssj("subscribers", "list", "-f", "json").stdout == before.stdout == "[]\n"


def test_export_of_penalties_and_bad_worker_options(scene: Scene, tmp_path: Path) -> None:
    """`ssj deliver export --kind penalties` writes the standard's Chinese headers (CSV with
    BOM, or XLSX by the file name); bad worker options are exit 2, nothing sent."""
    import openpyxl

    from ssj.services.followups import FollowUpService
    from tests.services.test_delivery import AUTHORITY_CODE
    from tests.services.test_tasks import TODAY

    ref = scene.t.ref_of(RECORDS)
    scene.t.inspected(ref, "违法违规 (立案)")
    followups = FollowUpService(scene.t.s, clock=lambda: TODAY)
    followups.file_case(
        scene.t.operator,
        ref,
        case_no="常市监罚〔2026〕7号",
        decision="罚款人民币2万元",
        decided_on="2026-03-09",
        violation_type="未按规定定期检验特种设备",
        facts="在用压力容器超过检验有效期仍继续使用",
        basis="《中华人民共和国特种设备安全法》第八十四条",
        penalty_types=["罚款"],
        fine="2",
        authority_code=AUTHORITY_CODE,
        legal_representative="王某",
    )
    followups.publish_case(scene.t.operator, ref, "常市监罚〔2026〕7号", "2026-03-12")
    days = ("--from", "2026-01-01", "--to", "2099-12-31")
    csv_file = tmp_path / "处罚.csv"
    shown = ok(scene.ssj("deliver", "export", "--kind", "penalties", *days, "-o", str(csv_file)))
    assert "1" in shown
    raw = csv_file.read_bytes()
    assert raw.startswith("\ufeff".encode())
    lines = raw.decode("utf-8-sig").splitlines()
    header = lines[0].split(",")
    assert header[:4] == ["账本序号", "操作", "更正/撤回的记录序号", "行政相对人名称"]
    assert {"行政处罚决定书文号", "罚款金额（万元）", "处罚机关统一社会信用代码"} <= set(header)
    assert len(lines) == 2 and "常市监罚〔2026〕7号" in lines[1] and ",公示," in lines[1]
    xlsx_file = tmp_path / "处罚.xlsx"
    ok(scene.ssj("deliver", "export", "--kind", "penalties", *days, "-o", str(xlsx_file)))
    sheet = openpyxl.load_workbook(xlsx_file).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    values = dict(zip(rows[0], rows[1], strict=True))
    assert values["罚款金额（万元）"] == 2 and values["处罚类别"] == "罚款"
    empty = tmp_path / "empty.csv"
    ok(
        scene.ssj(
            "deliver",
            "export",
            "--kind",
            "penalties",
            "--from",
            "2000-01-01",
            "--to",
            "2000-12-31",
            "-o",
            str(empty),
        )
    )
    assert len(empty.read_bytes().decode("utf-8-sig").splitlines()) == 1  # the header only
    url = scene.receiver.start()
    scene.add("platform", url)
    before = scene.outbox("platform")
    bad = scene.ssj("deliver", "--once", "--timeout", "0", user=None)
    assert bad.returncode == 2 and "超时" in bad.stderr and "timeout" in bad.stderr
    assert scene.outbox("platform") == before and scene.receiver.stored() == []
