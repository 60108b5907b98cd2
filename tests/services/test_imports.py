"""Importing registries from files, on both backends: round trips, idempotence, atomicity."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import openpyxl
import pytest
from prometheus_client import REGISTRY

from ssj.domain.organisation import Role
from ssj.imports.errors import ImportLimitError
from ssj.services.context import Services
from ssj.services.imports import import_file
from tests.services.conftest import OTHER, OWN, Jurisdiction, uscc

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


def target_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as f:
        writer = csv.writer(f)
        writer.writerow(TARGET_HEADER)
        writer.writerows(rows)
    return path


def rows(n: int, department: str = OWN, credit: str = "B") -> list[list[str]]:
    return [
        [
            uscc(i),
            f"常州第{i}机械有限公司",
            f"天宁区{i}号",
            "320402",
            "企业",
            department,
            credit,
            "投诉较多",
        ]
        for i in range(n)
    ]


def import_rows(outcome: str) -> float:
    found = REGISTRY.get_sample_value(
        "ssj_import_rows_total", {"kind": "targets", "outcome": outcome}
    )
    return found or 0.0


def test_round_trip_and_idempotent_reimport(jurisdiction: Jurisdiction, tmp_path: Path) -> None:
    j = jurisdiction
    operator = j.as_role(Role.OPERATOR)
    path = target_csv(tmp_path / "targets.csv", rows(25), encoding="gbk")
    before = {o: import_rows(o) for o in ("created", "unchanged")}
    report = import_file(j.services, operator, "targets", path)
    assert report.written and report.created == 25 and not report.problems
    size = j.services.ledger.size()
    again = import_file(j.services, operator, "targets", path)
    assert again.written and again.unchanged == 25 and again.created == again.updated == 0
    # Counted for /metrics: ssj_import_rows_total{kind, outcome}.
    assert import_rows("created") - before["created"] == 25
    assert import_rows("unchanged") - before["unchanged"] == 25
    assert j.services.ledger.size() == size  # nothing written
    changed = rows(25)
    changed[3][6] = "D"
    report = import_file(j.services, operator, "targets", target_csv(tmp_path / "t2.csv", changed))
    assert (report.updated, report.unchanged) == (1, 24)
    last = j.services.ledger.read(j.services.ledger.head_seq(), 1)[0].event
    assert last.changes == {"credit_class": "D"}
    j.services.refresh()
    listed = {s["identifier"]: s for s in j.services.queries.states("targets")}
    assert listed[uscc(3)]["credit_class"] == "D"
    assert listed[uscc(4)]["tags"] == ["投诉较多"]


def test_one_bad_row_at_the_end_writes_nothing(jurisdiction: Jurisdiction, tmp_path: Path) -> None:
    j = jurisdiction
    data = rows(300)
    data[-1][0] = data[-1][0][:-1] + ("0" if data[-1][0][-1] != "0" else "1")  # bad check char
    data.append(list(data[5]))  # a duplicate
    size = j.services.ledger.size()
    report = import_file(
        j.services, j.as_role(Role.OPERATOR), "targets", target_csv(tmp_path / "t.csv", data)
    )
    assert not report.written
    assert j.services.ledger.size() == size
    assert [(p.row, p.column) for p in report.problems] == [(301, "A"), (302, "A")]
    assert "校验" in report.problems[0].zh and "check character" in report.problems[0].en
    assert "duplicate of row 7" in report.problems[1].en


def test_other_departments_rows_and_unknown_departments_are_problems(
    jurisdiction: Jurisdiction, tmp_path: Path
) -> None:
    j = jurisdiction
    data = rows(3)
    data[1][5] = OTHER
    data[2][5] = "NOWHERE"
    report = import_file(
        j.services, j.as_role(Role.OPERATOR), "targets", target_csv(tmp_path / "t.csv", data)
    )
    assert not report.written
    assert [p.row for p in report.problems] == [3, 4]
    assert "“NOWHERE” is not the code, name or alias of a registered department" in (
        report.problems[1].en
    )
    assert report.unresolved_departments == [{"name": "NOWHERE", "rows": [4]}]


def test_item_list_with_merged_cells_and_continuation_rows(
    jurisdiction: Jurisdiction, tmp_path: Path
) -> None:
    j = jurisdiction
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["常州市市场监管局随机抽查事项清单（2025年版）"])
    ws.merge_cells("A1:H1")
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
            "《特种设备安全法》第五十七条",
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
    path = tmp_path / "items.xlsx"
    wb.save(path)
    report = import_file(j.services, j.as_role(Role.LEADER), "items", path)
    assert report.written and report.created == 2, report.problems
    j.services.refresh()
    items = {s["code"]: s for s in j.services.queries.states("items")}
    assert items["TZ-001"]["legal_bases"] == [
        "《特种设备安全法》第五十七条",
        "《特种设备安全监察条例》第五十条",
    ]
    assert items["TZ-002"]["category"] == "特种设备"
    assert items["TZ-002"]["methods"] == ["on_site", "documents"]
    assert import_file(j.services, j.as_role(Role.LEADER), "items", path).unchanged == 2


@pytest.mark.slow
def test_ten_megabyte_file_with_one_bad_row_at_the_end(
    sqlite_settings: object, tmp_path: Path
) -> None:
    """The documented rule on a realistic size: validated whole, nothing written, one problem."""
    from ssj.services.context import Services

    services = Services(sqlite_settings)  # type: ignore[arg-type]
    try:
        services.ledger.initialise()
        j = Jurisdiction(services)
        data = rows(60_000)
        for row in data:
            row[2] = row[2] + "，" + "某某工业园区" * 8  # realistic long addresses
        data[-1][3] = "32040"  # a five-digit region code in the very last row
        path = target_csv(tmp_path / "big.csv", data)
        assert path.stat().st_size > 10_000_000
        size = services.ledger.size()
        report = import_file(services, j.as_role(Role.OPERATOR), "targets", path)
        assert not report.written and report.rows == 60_000
        assert [(p.row, p.column) for p in report.problems] == [(60_001, "D")]
        assert services.ledger.size() == size
    finally:
        services.close()


def test_checking_stops_at_the_problem_limit(jurisdiction: Jurisdiction, tmp_path: Path) -> None:
    j = jurisdiction
    data = rows(500)
    for row in data:
        row[3] = "32040"  # every row bad
    path = target_csv(tmp_path / "t.csv", data)
    size = j.services.ledger.size()
    given = replace(j.services.settings.imports, problems=50)
    report = import_file(j.services, j.as_role(Role.OPERATOR), "targets", path, limits=given)
    assert not report.written and report.stopped
    assert report.rows == 50  # the rows after the 50th problem were not read
    assert [p.row for p in report.problems[:-1]] == list(range(2, 52))
    assert report.problems[-1].row == 0 and "50 problems found" in report.problems[-1].en
    assert j.services.ledger.size() == size


def test_limits_come_from_the_settings(jurisdiction: Jurisdiction, tmp_path: Path) -> None:
    j = jurisdiction
    path = target_csv(tmp_path / "t.csv", rows(30))
    tight = replace(j.services.settings, imports=replace(j.services.settings.imports, rows=10))
    services = Services(tight)
    try:
        with pytest.raises(ImportLimitError, match="SSJ_IMPORT_MAX_ROWS"):
            import_file(services, j.as_role(Role.OPERATOR), "targets", path)
    finally:
        services.close()
