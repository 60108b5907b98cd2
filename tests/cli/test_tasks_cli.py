"""The task commands as officials and inspectors run them: real `ssj` subprocesses, both backends.

The jurisdiction, a revealed draw and the team members' users are set up in-process
(tests.services.test_tasks); the lifecycle and its refusals go through the command line.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from ssj.config import Settings
from ssj.domain.access import Refusal
from tests.cli.test_draws_cli import refused
from tests.cli.test_registry_cli import OPERATOR, jurisdiction, ok, run, size
from tests.services.conftest import Jurisdiction
from tests.services.test_draws import World
from tests.services.test_tasks import ITEM, Tasks

__all__ = ["jurisdiction"]  # the registry CLI tests' fixture

SUPERVISOR = "supervisor-own"


@pytest.fixture
def t(jurisdiction: Jurisdiction) -> Tasks:
    w = World(jurisdiction)
    w.publish()
    return Tasks(w)


def task(settings: Settings, t: Tasks, *args: str, user: str = OPERATOR) -> str:
    return ok(run(settings, "tasks", *args, user=user))


def test_lifecycle_on_the_command_line(settings: Settings, t: Tasks, tmp_path: Path) -> None:
    first, second = (t.users[c] for c in t.tasks.row(t.ref)["inspectors"])
    shown = task(settings, t, "notify", t.ref, "--how", "电话通知", "--date", "2026-03-03")
    assert "已通知" in shown and t.target in shown and ITEM in shown
    task_id = t.tasks.resolve(t.ref)

    record = tmp_path / "现场检查记录.pdf"
    record.write_bytes(b"%PDF-1.4 inspection record")
    drafted = task(
        settings,
        t,
        "result",
        task_id,
        ITEM,
        "--method",
        "现场检查",
        "--date",
        "2026-03-05",
        "--findings",
        "安全附件未定期校验，已当场责令改正",
        "--category",
        "发现问题已责令改正",
        "--evidence-file",
        str(record),
        user=first,
    )
    assert "已起草" in drafted and "发现问题已责令改正" in drafted and "ssj tasks sign" in drafted
    signed = task(settings, t, "sign", task_id, ITEM, user=second)
    assert "已签署" in signed and "ssj tasks complete" in signed
    assert "检查完成" in task(settings, t, "complete", task_id, "--date", "2026-03-05", user=first)
    task(settings, t, "inform", t.ref, "--date", "2026-03-06")
    assert "无异议" in task(settings, t, "confirm", t.ref)
    published = task(
        settings,
        t,
        "publish",
        t.ref,
        "--date",
        "2026-03-10",
        "--summary",
        "发现问题已责令改正",
        "--redact",
        "公示摘要",
    )
    assert "已公示" in published
    assert "已办结" in task(settings, t, "close", t.ref, "--date", "2026-03-11")

    listed = json.loads(task(settings, t, "list", "--status", "已办结", "--format", "json"))
    assert [r["task_id"] for r in listed] == [task_id]
    assert listed[0]["category"] == "rectified" and listed[0]["published_on"] == "2026-03-10"
    table = task(settings, t, "list", "--draw", t.label, "--limit", "3")
    assert "待检查" in table and "共 11 条" in table
    shown = task(settings, t, "show", t.ref, user=SUPERVISOR)
    assert "已办结 closed" in shown and "发现问题已责令改正 rectified" in shown
    assert "现场检查" in shown and "签署 signed" in shown and "2026-03-10" in shown
    assert "起草检查结果 ResultDrafted" in shown and first in shown
    assert hashlib.sha256(record.read_bytes()).hexdigest() in shown


def test_refusals_and_bad_input_exit_2(settings: Settings, t: Tasks) -> None:
    outsider = t.users[t.outsider(t.ref).certificate_no or ""]
    first = t.users[t.tasks.row(t.ref)["inspectors"][0]]
    task(settings, t, "notify", t.ref, "--how", "现场告知", "--date", "2026-03-03")
    args = ["--method", "现场检查", "--findings", "未发现问题", "--category", "未发现问题"]

    before = size(settings)
    result = run(
        settings, "tasks", "result", t.ref, ITEM, *args, "--date", "2026-03-05", user=outsider
    )
    refused(result, "检查组", "team")
    assert size(settings) == before + 1  # the refusal, and nothing else
    last = t.s.ledger.read(before, 1)[0].event
    assert isinstance(last, Refusal.Recorded)  # type: ignore[attr-defined]

    before = size(settings)
    other_item = "CZ-SJJ-TZ/TZ-999"
    result = run(
        settings, "tasks", "result", t.ref, other_item, *args, "--date", "2026-03-05", user=first
    )
    refused(result, "不在本任务的抽查事项中", "not one of this task's items")
    result = run(
        settings, "tasks", "result", t.ref, ITEM, *args, "--date", "2099-01-01", user=first
    )
    refused(result, "晚于今天", "future")
    result = run(settings, "tasks", "publish", t.ref, "--summary", "x", user=OPERATOR)
    refused(result, "已通知", "notified")
    assert size(settings) == before
