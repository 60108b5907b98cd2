"""The registry commands as officials run them: real subprocesses, both backends.

Each call is a new process (~0.7 s), so each test does a few calls that matter and sets up its
jurisdiction in-process (tests.services.conftest.Jurisdiction).
"""

from __future__ import annotations

import csv
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest

from ssj.config import Settings
from ssj.domain.access import Refusal
from ssj.domain.organisation import Role
from ssj.domain.targets import FIELD_LABELS as TARGET_LABELS
from ssj.ledger.application import Ledger
from ssj.services.context import Services
from tests.cli.inprocess import run_ssj
from tests.conftest import settings_env
from tests.services.conftest import OWN, Jurisdiction, uscc

OPERATOR = f"{Role.OPERATOR.value}-own"
LEADER = f"{Role.LEADER.value}-own"
REVIEWER = f"{Role.REVIEWER.value}-own"


def run(
    settings: Settings, *args: str, user: str | None = "root", **extra: str
) -> subprocess.CompletedProcess[str]:
    env = settings_env(settings)
    env.pop("SSJ_USER", None)
    if user is not None:
        env["SSJ_USER"] = user
    env.update(extra)
    return run_ssj(args, env)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def size(settings: Settings) -> int:
    """The ledger's size as a fresh reader sees it (`Ledger(settings).size()`)."""
    ledger = Ledger(settings)
    try:
        return ledger.size()
    finally:
        ledger.close()


@pytest.fixture
def jurisdiction(settings: Settings) -> Iterator[Jurisdiction]:
    """A city bureau, two sections and one user per role ("operator-own", …), in-process."""
    services = Services(settings)
    try:
        services.ledger.initialise()
        yield Jurisdiction(services)
    finally:
        services.close()


TARGET_HEADER = [
    "统一社会信用代码",
    "名称",
    "地址",
    "行政区划代码",
    "对象类型",
    "责任部门",
    "信用风险分类",
    "标签",
]


def target_csv(path: Path, rows: list[list[str]], encoding: str = "gbk") -> Path:
    with path.open("w", encoding=encoding, newline="") as f:
        writer = csv.writer(f)
        writer.writerow(TARGET_HEADER)
        writer.writerows(rows)
    return path


def target_rows(n: int, department: str = OWN) -> list[list[str]]:
    return [
        [
            uscc(i),
            f"常州第{i}机械有限公司",
            f"天宁区青龙街道{i}号",
            "320402",
            "企业",
            department,
            "B类",
            "投诉较多、重点",
        ]
        for i in range(n)
    ]


# Organisation ----------------------------------------------------------------------------------


def test_bootstrap_departments_users_tokens_and_who_may_act(settings: Settings) -> None:
    boot = run(
        settings,
        "bootstrap",
        "--username",
        "root",
        "--name",
        "系统管理员",
        "--department",
        "CZ-SJJ",
        "--department-name",
        "常州市市场监督管理局",
        "--region-code",
        "320400",
        user=None,
    )
    ok(boot)
    assert "root" in boot.stdout
    ok(
        run(
            settings,
            *("departments", "add", OWN, "--name", "特种设备安全监察科"),
            *("--region-code", "320400", "--parent", "CZ-SJJ"),
        )
    )
    ok(
        run(
            settings,
            "users",
            "add",
            "op",
            "--name",
            "张三",
            "--department",
            OWN,
            "--role",
            "操作员",
        )
    )
    users = json.loads(ok(run(settings, "users", "list", "--format", "json")))
    assert {u["username"]: u["roles"] for u in users} == {"op": ["operator"], "root": ["admin"]}

    issued = run(settings, "tokens", "issue", "op", "--label", "数据对接")
    secret = ok(issued).strip()
    assert secret.startswith("ssj_") and "\n" not in secret  # the secret alone on stdout
    assert secret not in issued.stderr

    # A forbidden command: exit 2, one line; nothing it asked for is written, only the refusal.
    before = size(settings)
    refused = run(
        settings,
        "departments",
        "add",
        "X",
        "--name",
        "新科室",
        "--region-code",
        "320400",
        user="op",
    )
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and "may not manage_organisation" in refused.stderr
    ledger = Ledger(settings)
    try:
        new = ledger.read(before, 10)
    finally:
        ledger.close()
    assert len(new) == 1 and isinstance(new[0].event, Refusal.Recorded)  # type: ignore[attr-defined]

    # Unknown or missing acting user: one clear line, nothing written at all.
    before = size(settings)
    unknown = run(settings, "departments", "list", user="nobody")
    assert unknown.returncode == 2 and unknown.stdout == ""
    assert "user nobody does not exist" in unknown.stderr and "用户 nobody" in unknown.stderr
    missing = run(settings, "users", "list", user=None)
    assert missing.returncode == 2 and "SSJ_USER" in missing.stderr
    assert size(settings) == before


# Targets ---------------------------------------------------------------------------------------


def test_targets_gbk_import_json_at_seq_and_export_round_trip(
    settings: Settings, jurisdiction: Jurisdiction, tmp_path: Path
) -> None:
    rows = target_rows(3)
    imported = run(
        settings, "targets", "import", str(target_csv(tmp_path / "t.csv", rows)), user=OPERATOR
    )
    assert "created 3" in ok(imported) and "unchanged 0" in imported.stdout
    before_update = size(settings) - 1

    rows[1][1] = "常州第1机械股份有限公司"
    rows[1][6] = "A类"
    changed = run(
        settings, "targets", "import", str(target_csv(tmp_path / "t2.csv", rows)), user=OPERATOR
    )
    assert "updated 1" in ok(changed) and "unchanged 2" in changed.stdout

    # --format json: exactly one JSON array on stdout, every matching row.
    listed = json.loads(ok(run(settings, "targets", "list", "--format", "json")))
    assert [t["identifier"] for t in listed] == sorted(uscc(i) for i in range(3))
    by_id = {t["identifier"]: t for t in listed}
    assert by_id[uscc(1)]["name"] == "常州第1机械股份有限公司"
    assert by_id[uscc(1)]["credit_class"] == "A"
    assert by_id[uscc(0)] | {"tags": None} == {
        "identifier": uscc(0),
        "id_kind": "uscc",
        "name": "常州第0机械有限公司",
        "address": "天宁区青龙街道0号",
        "region_code": "320402",
        "target_type": "enterprise",
        "department": OWN,
        "credit_class": "B",
        "status": "active",
        "applicable_items": [],
        "tags": None,
    }
    assert by_id[uscc(0)]["tags"] == ["投诉较多", "重点"]

    # The table as it stood before the update: the old name and class, filtered and paged.
    old_table = ("targets", "list", "--credit-class", "B类", "--search", "第1机械", "--limit", "10")
    at_seq = run(settings, *old_table, "--at-seq", str(before_update), COLUMNS="200")
    table = ok(at_seq)
    assert "常州第1机械有限公司" in table and "股份" not in table and "常州第0机械" not in table
    assert "信用风险分类" in table and f"共 1 条，账本序号 {before_update} 时" in table
    assert "deprecated" not in at_seq.stderr
    # --as-of, --at-seq's deprecated first name, still works for one release, with a note.
    as_of = run(settings, *old_table, "--as-of", str(before_update), COLUMNS="200")
    assert ok(as_of) == table and "--as-of is deprecated: use --at-seq" in as_of.stderr
    both = run(settings, *old_table, "--as-of", "1", "--at-seq", "2")
    assert both.returncode == 2 and both.stdout == "" and "differ: use --at-seq" in both.stderr

    # Export → re-import: nothing changes, nothing is written.
    xlsx, csv_file = tmp_path / "out.xlsx", tmp_path / "out.csv"
    ok(run(settings, "targets", "export", str(xlsx)))
    ok(run(settings, "targets", "export", str(csv_file)))
    assert csv_file.read_bytes().startswith(b"\xef\xbb\xbf" + "统一社会信用代码".encode())
    sheet = openpyxl.load_workbook(xlsx, read_only=True).active
    header, *body = list(sheet.iter_rows(values_only=True))
    assert list(header) == list(TARGET_LABELS.values()) and len(body) == 3
    assert "投诉较多、重点" in body[0]

    written = size(settings)
    for path in (xlsx, csv_file):
        report = json.loads(ok(run(settings, "targets", "import", str(path), "--format", "json")))
        assert report["written"] and report["problems"] == []
        assert (report["created"], report["updated"], report["unchanged"]) == (0, 0, 3)
    assert size(settings) == written


# Items -----------------------------------------------------------------------------------------


def test_items_xlsx_import_list_export_and_retire(
    settings: Settings, jurisdiction: Jurisdiction, tmp_path: Path
) -> None:
    book = openpyxl.Workbook()
    ws = book.active
    ws.append(["常州市市场监督管理局随机抽查事项清单（2026 年版）"])
    ws.append(
        [
            "事项编码",
            "抽查类别",
            "抽查事项",
            "检查对象类型",
            "检查方式",
            "抽查依据",
            "抽查比例",
            "牵头部门",
        ]
    )
    ws.append(
        [
            "TZ-001",
            "特种设备",
            "使用单位监督检查",
            "企业",
            "现场检查",
            "《特种设备安全法》第五十七条、第五十八条",
            "5%",
            OWN,
        ]
    )
    ws.append([None, None, None, None, None, "《特种设备安全监察条例》第五十条", None, None])
    ws.append(
        [
            "TZ-002",
            None,
            "充装单位监督检查",
            "企业",
            "现场检查、书面检查",
            "《特种设备安全法》第四十九条",
            "10",
            OWN,
        ]
    )
    ws.merge_cells("B3:B5")
    source = tmp_path / "items.xlsx"
    book.save(source)

    assert "created 2" in ok(run(settings, "items", "import", str(source), user=LEADER))
    items = json.loads(ok(run(settings, "items", "list", "--format", "json", user=REVIEWER)))
    assert [i["code"] for i in items] == ["TZ-001", "TZ-002"]
    assert items[0]["legal_bases"] == [
        "《特种设备安全法》第五十七条、第五十八条",
        "《特种设备安全监察条例》第五十条",
    ]
    assert items[1]["category"] == "特种设备" and items[1]["methods"] == ["on_site", "documents"]

    exported = tmp_path / "items-out.xlsx"
    ok(run(settings, "items", "export", str(exported)))
    again = json.loads(
        ok(run(settings, "items", "import", str(exported), "-f", "json", user=LEADER))
    )
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)

    ok(run(settings, "items", "retire", OWN, "TZ-002", "--reason", "并入 TZ-001", user=LEADER))
    jurisdiction.services.refresh()
    retired = jurisdiction.services.queries.get("items", [OWN, "TZ-002"])
    assert retired is not None and retired["retired_reason"] == "并入 TZ-001"


# Bad input -------------------------------------------------------------------------------------


def test_bad_input_is_row_level_exit_2_and_writes_nothing(
    settings: Settings, jurisdiction: Jurisdiction, tmp_path: Path
) -> None:
    rows = target_rows(4)
    rows[1][0] = rows[1][0][:-1] + ("0" if rows[1][0][-1] != "0" else "1")  # wrong check char
    rows[2][4] = "公司"  # no such target type
    rows[3][0] = rows[0][0]  # duplicate of the first data row
    bad = target_csv(tmp_path / "bad.csv", rows)
    before = size(settings)

    result = run(settings, "targets", "import", str(bad), user=OPERATOR)
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert "nothing was imported" in lines[0]
    assert [line.split("：")[0] for line in lines[1:]] == [
        "第 3 行 A 列",
        "第 4 行 E 列",
        "第 5 行 A 列",
    ]
    assert "row 3 column A: " in lines[1] and "duplicate of row 2" in lines[3]

    missing = run(settings, "targets", "import", str(tmp_path / "nowhere.csv"), user=OPERATOR)
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
    assert "cannot read nowhere.csv" in missing.stderr

    # A good file, but the user may not edit targets (a reviewer only reads).
    good = target_csv(tmp_path / "good.csv", target_rows(2))
    reviewer = run(settings, "targets", "import", str(good), user=REVIEWER)
    assert reviewer.returncode == 2 and "第 2 行 F 列" in reviewer.stderr
    assert "may not edit_targets" in reviewer.stderr

    beyond = run(settings, "targets", "list", "--format", "json", "--at-seq", "99999")
    assert beyond.returncode == 2 and beyond.stdout == "" and "no ledger seq 99999" in beyond.stderr
    # Nothing was written but the record of the reviewer's refused import (全程留痕).
    assert size(settings) == before + 1
    ledger = Ledger(settings)
    try:
        refusal = ledger.read(before, 1)[0]
    finally:
        ledger.close()
    assert isinstance(refusal.event, Refusal.Recorded)  # type: ignore[attr-defined]
    assert refusal.actor.user == REVIEWER and refusal.event.command == "edit_targets"
