"""Creating commands run twice with identical arguments, as officials retry them: real `ssj`
subprocesses, both backends. The second says in Chinese and English that the identical record
exists, names it, exits 0 and writes nothing (the services' rule: tests/services/test_identical.py).
"""

from __future__ import annotations

import json
from pathlib import Path

from ssj.config import Settings
from tests.cli.test_registry_cli import LEADER, OPERATOR, jurisdiction, ok, run, size
from tests.services.conftest import Jurisdiction, inspector_row, target_row
from tests.services.test_draws import DAY, WITNESSES, World
from tests.services.test_tasks import Tasks

__all__ = ["jurisdiction"]


def twice(settings: Settings, *args: str, user: str = "root") -> tuple[str, str]:
    """(first stdout, second stdout); the second wrote nothing and exited 0."""
    first = ok(run(settings, *args, user=user))
    before = size(settings)
    second = run(settings, *args, user=user)
    assert second.returncode == 0, second.stderr
    assert size(settings) == before
    return first, second.stdout + second.stderr


def test_conflicts_declare_twice(settings: Settings, jurisdiction: Jurisdiction) -> None:
    j = jurisdiction
    j.registry.save_target(j.root, target_row(1))
    j.registry.save_inspector(j.root, inspector_row(1))
    args = (
        "conflicts",
        "declare",
        "--inspector",
        str(inspector_row(1)["certificate_no"]),
        "--target",
        str(target_row(1)["identifier"]),
        "--relation",
        "近亲属",
        "--from",
        "2025-01-01",
        "--reason",
        "配偶任该企业法定代表人",
    )
    first, second = twice(settings, *args)
    declaration_id = first.strip()
    assert declaration_id in second
    assert "相同的利害关系声明已存在" in second and "an identical declaration exists" in second


def test_departments_and_users_add_twice(settings: Settings, jurisdiction: Jurisdiction) -> None:
    _, second = twice(
        settings, "departments", "add", "CZ-SJJ-JL", "--name", "计量科", "--region-code", "320400",
        "--parent", "CZ-SJJ",
    )  # fmt: skip
    assert "CZ-SJJ-JL" in second and "相同的部门" in second and "identical department" in second
    different = run(
        settings, "departments", "add", "CZ-SJJ-JL", "--name", "价格科", "--region-code", "320400"
    )
    assert different.returncode == 2 and "已存在" in different.stderr
    _, second = twice(
        settings, "users", "add", "zhao", "--name", "赵六", "--department", "CZ-SJJ-JL",
        "--role", "operator",
    )  # fmt: skip
    assert "zhao" in second and "相同的用户" in second and "identical user" in second


def test_plans_draft_twice(settings: Settings, jurisdiction: Jurisdiction, tmp_path: Path) -> None:
    World(jurisdiction, targets=2, inspectors=2)
    plan = tmp_path / "plan.json"
    plan.write_text(
        json.dumps(
            {"code": "P-9", "department": "CZ-SJJ-TZ", "title": "计划", "year": 2026,
             "items": ["TZ-001"]},
            ensure_ascii=False,
        )
    )  # fmt: skip
    _, second = twice(settings, "plans", "draft", "--file", str(plan), user=OPERATOR)
    assert "CZ-SJJ-TZ/P-9" in second
    assert "相同的抽查计划已存在" in second and "an identical plan exists" in second


def test_draw_commit_twice(settings: Settings, jurisdiction: Jurisdiction) -> None:
    w = World(jurisdiction)
    w.publish()
    witnesses = [a for name in WITNESSES for a in ("--witness", name)]
    args = ("draws", "commit", "CZ-SJJ-TZ", "2026-01", *witnesses, "--date", DAY)
    _, second = twice(settings, *args, user=OPERATOR)
    assert "CZ-SJJ-TZ/2026-01/第1轮" in second
    assert "相同的抽取已封存" in second and "identical draw is committed" in second
    w.s.refresh()
    assert w.s.draw_queries.list("draws", {}, limit=10).total == 1  # never a second round


def test_followup_remind_and_recusal_request_twice(
    settings: Settings, jurisdiction: Jurisdiction
) -> None:
    w = World(jurisdiction)
    w.publish()
    t = Tasks(w)
    t.inspected(t.ref, "follow_up")
    args = ("followups", "remind", t.ref, "--text", "请提交整改报告", "--date", "2026-03-07")
    _, second = twice(settings, *args, user=OPERATOR)
    assert "相同的催告（第 1 项）已有记录" in second and "identical reminder 1" in second
    recusal = run(settings, "draws", "request-recusal", t.draw_id, t.targets[1],
                  t.tasks.row(t.ref_of(1))["inspectors"][0], "--reason", "曾有纠纷", user=LEADER)  # fmt: skip
    assert recusal.returncode == 0, recusal.stderr
    before = size(settings)
    again = run(settings, "draws", "request-recusal", t.draw_id, t.targets[1],
                t.tasks.row(t.ref_of(1))["inspectors"][0], "--reason", "曾有纠纷", user=LEADER)  # fmt: skip
    assert again.returncode == 0 and size(settings) == before
    assert again.stdout.strip() == recusal.stdout.strip()
    assert "相同的回避申请已登记" in again.stderr and "identical recusal request" in again.stderr
