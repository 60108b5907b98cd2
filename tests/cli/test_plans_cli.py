"""The plan commands as officials run them: real subprocesses of `ssj`, both backends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ssj.config import Settings
from ssj.domain.access import Refusal
from tests.cli.test_registry_cli import LEADER, OPERATOR, REVIEWER, jurisdiction, ok, run, size
from tests.services.conftest import OTHER, OWN, Jurisdiction, item_row

__all__ = ["jurisdiction"]  # the registry CLI tests' fixture, shared here


@pytest.fixture
def items(jurisdiction: Jurisdiction) -> Jurisdiction:
    j = jurisdiction
    j.registry.save_item(j.root, item_row("TZ-001"))
    j.registry.save_item(j.root, item_row("TZ-002", target_type="个体工商户"))
    j.registry.save_item(j.root, item_row("SP-001", OTHER, name="食品生产企业监督检查"))
    return j


def plan_file(tmp_path: Path, **overrides: object) -> Path:
    plan: dict[str, object] = {
        "code": "2026-A1",
        "department": OWN,
        "title": "2026 年度特种设备使用单位双随机抽查计划",
        "year": 2026,
        "items": ["TZ-001"],
        "ratios": {"D": "40"},
    }
    plan.update(overrides)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan, ensure_ascii=False), encoding="utf-8")
    return path


def test_workflow_from_draft_to_publication(
    settings: Settings, items: Jurisdiction, tmp_path: Path
) -> None:
    path = plan_file(tmp_path)
    drafted = ok(
        run(
            settings,
            "plans",
            "draft",
            "--file",
            str(path),
            "--item",
            "TZ-001,TZ-002",
            "--cooperating",
            f"{OTHER}=SP-001",
            "--set",
            "exclusion_days=60",
            user=OPERATOR,
        )
    )
    assert f"{OWN}/2026-A1" in drafted and "草稿" in drafted
    ok(run(settings, "plans", "submit", OWN, "2026-A1", user=OPERATOR))

    before = size(settings)
    refused = run(settings, "plans", "approve", OWN, "2026-A1", user=OPERATOR)
    assert (
        refused.returncode == 2 and "错误" in refused.stderr and "approve_plans" in refused.stderr
    )
    assert size(settings) == before + 1
    items.services.refresh()
    assert isinstance(items.services.ledger.read(before, 1)[0].event, Refusal.Recorded)  # type: ignore[attr-defined]

    approved = ok(
        run(settings, "plans", "approve", OWN, "2026-A1", "--comment", "同意", user=LEADER)
    )
    assert "已批准" in approved
    assert "已公布" in ok(run(settings, "plans", "publish", OWN, "2026-A1", user=OPERATOR))

    listed = json.loads(ok(run(settings, "plans", "list", "--format", "json", user=REVIEWER)))
    assert [p["code"] for p in listed] == ["2026-A1"]
    plan = listed[0]
    assert plan["status"] == "published" and plan["approved_by"] == LEADER
    assert plan["items"] == ["TZ-001", "TZ-002"] and plan["cooperating"] == {OTHER: ["SP-001"]}
    assert plan["ratios"] == {"A": "1", "B": "3", "C": "10", "D": "40"}
    assert plan["exclusion_days"] == 60 and plan["target_types"] == ["enterprise", "individual"]

    table = ok(run(settings, "plans", "list", "--status", "已公布", user=OPERATOR))
    assert "计划编号" in table and "已公布" in table and "2026-A1" in table
    shown = ok(run(settings, "plans", "show", OWN, "2026-A1", user=OPERATOR))
    assert "配合部门及其抽查事项" in shown and "D 类 40%" in shown

    # Amending a published plan: a reason is required, and the plan needs approval again.
    before = size(settings)
    missing = run(settings, "plans", "amend", OWN, "2026-A1", "--team-size", "3", user=OPERATOR)
    assert missing.returncode == 2 and "理由" in missing.stderr
    assert size(settings) == before
    amended = ok(
        run(
            settings,
            "plans",
            "amend",
            OWN,
            "2026-A1",
            "--team-size",
            "3",
            "--reason",
            "增加检查人员",
            user=OPERATOR,
        )
    )
    assert "已修改" in amended and "草稿" in amended
    shown = json.loads(
        ok(run(settings, "plans", "show", OWN, "2026-A1", "-f", "json", user=OPERATOR))
    )
    assert shown["status"] == "draft" and shown["team_size"] == 3 and shown["amendments"] == 1


def test_bad_input_writes_nothing(settings: Settings, items: Jurisdiction, tmp_path: Path) -> None:
    before = size(settings)
    zero = run(settings, "plans", "draft", "--file", str(plan_file(tmp_path)), "--ratio", "A=0")
    assert zero.returncode == 2 and "A 类" in zero.stderr and "class A" in zero.stderr
    retired_or_missing = run(
        settings, "plans", "draft", "--file", str(plan_file(tmp_path, items=["TZ-404"]))
    )
    assert retired_or_missing.returncode == 2 and "TZ-404" in retired_or_missing.stderr
    bad_set = run(settings, "plans", "draft", "--file", str(plan_file(tmp_path)), "--set", "x")
    assert bad_set.returncode == 2 and "KEY=VALUE" in bad_set.stderr
    not_json = tmp_path / "broken.json"
    not_json.write_text("{code: 1", encoding="utf-8")
    broken = run(settings, "plans", "draft", "--file", str(not_json))
    assert broken.returncode == 2 and "JSON" in broken.stderr
    assert size(settings) == before
    missing = run(settings, "plans", "show", OWN, "2026-B9")
    assert missing.returncode == 2 and "不存在" in missing.stderr
