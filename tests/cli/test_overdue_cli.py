"""`ssj overdue` and `ssj followups` as officials run them: real subprocesses on both backends,
table and JSON, scoped by role, re-checks by team members only, bad input refused with one
bilingual line and nothing written."""

from __future__ import annotations

import json
from datetime import date

from ssj.config import Settings
from tests.cli.test_draws_cli import refused
from tests.cli.test_registry_cli import OPERATOR, jurisdiction, ok, run, size
from tests.services.conftest import OTHER, OWN, Jurisdiction
from tests.services.test_draws import World
from tests.services.test_followups import CASE_FIELDS
from tests.services.test_overdue import completed, published, tasks_in
from tests.services.test_tasks import Tasks

__all__ = ["jurisdiction"]  # the registry CLI tests' fixture


def test_overdue_on_the_command_line(settings: Settings, jurisdiction: Jurisdiction) -> None:
    t = tasks_in(World(jurisdiction), 2025, date(2025, 12, 31))
    published(t, t.ref_of(0), "2025-09-26", "2025-11-04")
    completed(t, t.ref_of(1), "2025-09-26")
    table = ok(run(settings, "overdue", "--as-of-date", "2025-11-07", user=OPERATOR, COLUMNS="300"))
    for header in ("逾期未公示", "逾期公示", "应公示日期", "逾期工作日", OWN, "2025-10-30"):
        assert header in table, table
    report = json.loads(
        ok(
            run(
                settings, "overdue", "--as-of-date", "2025-11-07", "--format", "json", user=OPERATOR
            )
        )
    )
    late = {r["identifier"]: r["working_days_late"] for r in report["publication"]}
    assert late == {t.targets[0]: 3, t.targets[1]: 6}
    every = json.loads(
        ok(
            run(
                settings,
                "overdue",
                "--as-of-date",
                "2025-11-07",
                "-f",
                "json",
                user="supervisor-own",
            )
        )
    )
    assert every["department"] is None
    refused(
        run(settings, "overdue", "--department", OTHER, user=OPERATOR),
        OTHER,
    )
    refused(run(settings, "overdue", "--as-of-date", "2025-13-01", user=OPERATOR), "on")


def test_follow_up_on_the_command_line(settings: Settings, jurisdiction: Jurisdiction) -> None:
    world = World(jurisdiction)
    world.publish()
    t = Tasks(world)
    t.inspected(t.ref, "rectified")
    first, _ = (t.users[c] for c in t.tasks.row(t.ref)["inspectors"])
    rectify = (
        "followups",
        "rectify",
        t.ref,
        "--deadline",
        "2026-03-20",
        "--requirement",
        "限期校验",
    )
    shown = ok(run(settings, *rectify, "--date", "2026-03-06", user=OPERATOR))
    assert "已责令整改" in shown and t.target in shown
    before = size(settings)
    refused(run(settings, "followups", "recheck", t.ref, "1", "--result", "通过", user=OPERATOR))
    assert size(settings) == before + 1  # the refusal, recorded
    refused(
        run(settings, "followups", "recheck", t.ref, "1", "--result", "也许", user=first), "passed"
    )
    assert size(settings) == before + 1
    rechecked = ok(
        run(
            settings,
            "followups",
            "recheck",
            t.ref,
            "1",
            "--result",
            "未通过",
            "--date",
            "2026-03-18",
            user=first,
        )
    )
    assert "未通过" in rechecked
    case = (
        *("followups", "case", t.ref, "--case-no", "罚〔2026〕1号", "--decision", "罚款"),
        *("--violation-type", "未按规定定期检验", "--facts", "超期使用", "--basis", "第八十四条"),
        *("--penalty-type", "警告", "--penalty-type", "罚款", "--fine", "0.5"),
        *("--authority-code", str(CASE_FIELDS["authority_code"])),
        *("--legal-representative", "王某"),
    )
    filed = ok(run(settings, *case, "--credit-class", "D", "--date", "2026-03-09", user=OPERATOR))
    assert "→ D" in filed
    ok(run(settings, "followups", "remind", t.ref, "--text", "请提交报告", user=OPERATOR))
    ok(
        run(
            settings,
            "followups",
            "refer",
            t.ref,
            "--to-kind",
            "公安机关",
            "--reason",
            "涉嫌伪造",
            user=OPERATOR,
        )
    )
    refused(
        run(
            settings,
            "followups",
            "refer",
            t.ref,
            "--to-kind",
            "其他部门",
            "--reason",
            "x",
            user=OPERATOR,
        ),
        "to",
    )
    shown = json.loads(ok(run(settings, "followups", "show", t.ref, "--json", user=OPERATOR)))
    assert shown["cases"][0]["credit_class"] == "D" and len(shown["referrals"]) == 1
    report = json.loads(
        ok(run(settings, "overdue", "--as-of-date", "2026-03-25", "-f", "json", user=OPERATOR))
    )
    assert [r["rectification"] for r in report["rectifications"]] == [1]
    assert [r["working_days_late"] for r in report["penalties"]] == [5]
