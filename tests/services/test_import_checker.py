"""A large import under --skip-invalid is checked by a checker process
(ssj.services.import_check) while the importing process writes: the same report, rejects file
and entries as checking in the importing process, a file-level refusal raised as it was
raised there, and re-imports idempotent across the two. SSJ_IMPORT_CHECKER chooses the way
(files here are far below the size that chooses the process by itself). The stored bytes of
both ways: test_import_stored_bytes.py."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pytest

from ssj.domain.access import Command, Principal
from ssj.domain.organisation import Role
from ssj.imports.errors import ImportFileError
from ssj.imports.spreadsheet import Table
from ssj.ledger.envelope import Actor
from ssj.services import import_check
from ssj.services.imports import CheckJob, Options, import_file
from tests.data.real import synthetic
from tests.services.conftest import OTHER, OWN, Jurisdiction, accounted, uscc


def test_checker_process_reports_and_writes_as_inline(
    jurisdiction: Jurisdiction, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    j = jurisdiction
    operator = j.as_role(Role.OPERATOR)
    path = synthetic.targets_xml2003(tmp_path)
    reports = {}
    for checker in ("process", "inline"):
        monkeypatch.setenv("SSJ_IMPORT_CHECKER", checker)
        rejects = tmp_path / f"退回-{checker}.xlsx"
        options = Options(department=OWN, skip_invalid=True, rejects=rejects)
        reports[checker] = import_file(j.services, operator, "targets", path, options=options)
        assert rejects.read_bytes()[:2] == b"PK"
    first, again = reports["process"], reports["inline"]
    assert first.written and (first.created, first.rejected) == (6, 1)
    assert again.written and (again.created, again.unchanged, again.rejected) == (0, 6, 1)
    assert [(p.row, p.column, p.zh) for p in first.problems] == [
        (p.row, p.column, p.zh) for p in again.problems
    ]
    assert first.problems[0].row == 7 and f"“{synthetic.BAD_USCC}”" in first.problems[0].zh
    assert [n.en for n in first.notes] == [n.en for n in again.notes]
    assert first.columns == again.columns and first.format == again.format == "xml2003"
    assert first.preview == again.preview and len(first.preview) == 5


def test_checker_process_rejects_rows_of_entries_the_user_may_not_change(
    jurisdiction: Jurisdiction, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Entries are looked up in the importing process, batch by batch, as the checker sends
    them: a row that would move another department's target is rejected there."""
    monkeypatch.setenv("SSJ_IMPORT_CHECKER", "process")
    j = jurisdiction
    theirs, mine = uscc(1), uscc(2)
    path = tmp_path / "targets.csv"

    def write(*rows: tuple[str, str, str]) -> None:
        with path.open("w", encoding="gbk", newline="") as handle:
            out = csv.writer(handle)
            out.writerow(["企业名称", "统一社会信用代码", "责任部门"])
            out.writerows(rows)

    write(("他人的公司", theirs, OTHER), ("本部门的公司", mine, OWN))
    assert import_file(j.services, j.as_role(Role.ADMIN), "targets", path).created == 2
    write(("改名的公司", theirs, OWN), ("改名的本部门公司", mine, OWN))
    rejects = tmp_path / "rejects.csv"
    options = Options(skip_invalid=True, rejects=rejects)
    report = import_file(j.services, j.as_role(Role.OPERATOR), "targets", path, options=options)
    assert report.written and (report.updated, report.rejected) == (1, 1)
    [problem] = report.problems
    assert problem.row == 2 and theirs in problem.zh
    assert "改名的公司" in rejects.read_text(encoding="gb18030")
    j.services.refresh()
    names = {s["identifier"]: s["name"] for s in j.services.queries.states("targets")}
    assert names == {theirs: "他人的公司", mine: "改名的本部门公司"}


def test_checker_process_refusal_is_raised_as_in_the_importing_process(
    jurisdiction: Jurisdiction, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSJ_IMPORT_CHECKER", "process")
    j = jurisdiction
    path = tmp_path / "no-identifier.csv"
    path.write_text("企业名称,登记机关\n某公司,某局\n", encoding="utf-8")
    size = j.services.ledger.size()
    options = Options(department=OWN, skip_invalid=True)
    with pytest.raises(ImportFileError) as refused:
        import_file(j.services, j.as_role(Role.ADMIN), "targets", path, options=options)
    assert "缺少标识列" in refused.value.zh and "no identifier column" in refused.value.en
    assert j.services.ledger.size() == size


def _read_elsewhere(monkeypatch: pytest.MonkeyPatch) -> list[import_check.RemoteTable]:
    """The tables a checker process read, so that a test fails if the file was read in the
    importing process after all."""
    tables: list[import_check.RemoteTable] = []
    reading_elsewhere = import_check.reading_elsewhere

    @contextmanager
    def kept(job: CheckJob) -> Iterator[Table]:
        with reading_elsewhere(job) as table:
            tables.append(cast(import_check.RemoteTable, table))
            yield table

    monkeypatch.setattr(import_check, "reading_elsewhere", kept)
    return tables


def _synthetic_targets_with_every_kind_of_problem(path: Path) -> None:
    """Synthetic: each problem that needs the rows before it (a duplicate, a duplicate of a
    refused row, an unresolved name), a refused department, the reader's (a formula) and a
    placeholder, most twice."""
    rows = [
        ("常州第1机械有限公司", uscc(1), OWN, ""),  # row 2
        ("常州第2机械有限公司", uscc(2), OWN, "N/A"),  # 3: placeholder
        ("重复一", uscc(1), OWN, ""),  # 4: duplicate of row 2
        ("无此部门一", uscc(4), "不存在的科", ""),  # 5: unresolved
        ("重复二", uscc(2), OWN, ""),  # 6: duplicate of row 3
        ("他科一", uscc(5), OTHER, ""),  # 7: refused
        ("=1+1", uscc(7), OWN, ""),  # 8: formula
        ("无此部门二", uscc(10), "不存在的科", ""),  # 9: unresolved
        ("坏代码", uscc(3)[:-1] + "0", OWN, ""),  # 10: bad code
        ("常州第9机械有限公司", uscc(9), OWN, "N/A"),  # 11: placeholder
        ("他科二", uscc(6), OTHER, ""),  # 12: refused
        ("常州第11机械有限公司", uscc(11), "特种设备安全监察科", ""),  # 13: named
        ("他科一重复", uscc(5), OTHER, ""),  # 14: duplicate of a refused row
        ("=2+2", uscc(8), OWN, ""),  # 15: formula
    ]
    with path.open("w", encoding="gbk", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["企业名称", "统一社会信用代码", "责任部门", "信用等级"])
        out.writerows(rows)


def test_a_file_read_elsewhere_reports_as_read_here(
    jurisdiction: Jurisdiction, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --skip-invalid a large file is read by the checker process while the importing
    process checks its records as they come: the report is the one a single process makes, to
    the problem, note and count, nothing is written, and the refusal (rows of another
    department) is recorded once."""
    j = jurisdiction
    path = tmp_path / "targets.csv"
    _synthetic_targets_with_every_kind_of_problem(path)
    operator = j.as_role(Role.OPERATOR)
    tables = _read_elsewhere(monkeypatch)
    reports = {}
    for checker in ("process", "inline"):
        monkeypatch.setenv("SSJ_IMPORT_CHECKER", checker)
        before = accounted(j.services)
        report = import_file(j.services, operator, "targets", path)
        assert not report.written and accounted(j.services) == before + 1
        reports[checker] = report.as_dict()
    assert [t.records_read for t in tables] == [14]
    shared, alone = reports["process"], reports["inline"]
    assert shared == alone
    assert [p["row"] for p in alone["problems"]] == [4, 5, 6, 7, 8, 9, 10, 12, 14, 15]
    assert alone["problem_count"] == 10 and alone["rows"] == 14
    assert alone["unresolved_departments"] == [{"name": "不存在的科", "rows": [5, 9]}]
    assert any(n["en"].startswith("2 row(s)") and "N/A" in n["en"] for n in alone["notes"])


def test_a_file_read_elsewhere_stops_at_the_problem_limit_as_read_here(
    jurisdiction: Jurisdiction, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The importing process decides where checking stops, whatever the checker has read
    ahead."""
    j = jurisdiction
    path = tmp_path / "targets.csv"
    _synthetic_targets_with_every_kind_of_problem(path)
    limits = replace(j.services.settings.imports, problems=3)
    tables = _read_elsewhere(monkeypatch)
    reports = {}
    for checker in ("process", "inline"):
        monkeypatch.setenv("SSJ_IMPORT_CHECKER", checker)
        report = import_file(j.services, j.as_role(Role.ADMIN), "targets", path, limits=limits)
        reports[checker] = report.as_dict()
    assert len(tables) == 1 and tables[0].stopped and tables[0].records_read < 14
    assert reports["process"] == reports["inline"]
    assert reports["inline"]["stopped"] and reports["inline"]["rows"] < 14


def test_a_file_read_elsewhere_writes_as_read_here(
    jurisdiction: Jurisdiction, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    j = jurisdiction
    path = tmp_path / "targets.csv"
    with path.open("w", encoding="gbk", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["企业名称", "统一社会信用代码", "责任部门", "地区编码"])
        out.writerows((f"常州第{n}机械有限公司", uscc(n), OWN, "") for n in range(1, 8))
    tables = _read_elsewhere(monkeypatch)
    monkeypatch.setenv("SSJ_IMPORT_CHECKER", "process")
    first = import_file(j.services, j.as_role(Role.OPERATOR), "targets", path)
    assert first.written and first.created == 7 and [t.records_read for t in tables] == [7]
    monkeypatch.setenv("SSJ_IMPORT_CHECKER", "inline")
    again = import_file(j.services, j.as_role(Role.OPERATOR), "targets", path)
    assert again.written and (again.created, again.unchanged) == (0, 7)
    assert [n.en for n in first.notes] == [n.en for n in again.notes]
    assert first.preview == again.preview


def test_an_item_list_read_elsewhere_reports_and_writes_as_read_here(
    jurisdiction: Jurisdiction, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An item list (merged units carried down, legal bases on continuation rows, a footer
    note, an unmapped column) read by a checker process: the importing process carries the
    unit and category from row to row as it checks, so the same report and the same items."""
    j = jurisdiction
    j.registry.add_department_alias(j.root, OWN, "合成省市场监督管理局")
    j.registry.add_department_alias(j.root, OTHER, "生态环境部门")
    j.registry.add_department_alias(j.root, OTHER, "合成应急管理局")
    path = synthetic.item_list(tmp_path)
    tables = _read_elsewhere(monkeypatch)
    monkeypatch.setenv("SSJ_IMPORT_CHECKER", "process")
    first = import_file(j.services, j.root, "items", path, options=Options(dry_run=True))
    monkeypatch.setenv("SSJ_IMPORT_CHECKER", "inline")
    again = import_file(j.services, j.root, "items", path, options=Options(dry_run=True))
    assert len(tables) == 1 and tables[0].records_read == 5
    assert first.as_dict() == again.as_dict() and first.problems == []
    assert any("row 9 is a footer note" in n.en for n in first.notes)
    monkeypatch.setenv("SSJ_IMPORT_CHECKER", "process")
    written = import_file(j.services, j.root, "items", path)
    assert written.written and written.created == 5


@pytest.mark.parametrize(
    ("checker", "skip_invalid"), [("inline", False), ("process", False), ("process", True)]
)
def test_the_write_is_authorised_for_every_department_its_rows_belong_to(
    jurisdiction: Jurisdiction,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    checker: str,
    skip_invalid: bool,
) -> None:
    """Each row's departments travel with its checked record (through the spool, or the
    checker process's pipe under --skip-invalid) to the authorisation of the write as a
    whole, which names them all."""
    monkeypatch.setenv("SSJ_IMPORT_CHECKER", checker)
    j = jurisdiction
    path = tmp_path / "targets.csv"
    with path.open("w", encoding="gbk", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["企业名称", "统一社会信用代码", "责任部门"])
        out.writerows([("甲公司", uscc(1), OWN), ("乙公司", uscc(2), OTHER)])
    asked: list[list[str]] = []
    authorise = j.services.authorise

    def recorded(principal: Principal, command: Command, departments: Any = ()) -> Actor:
        asked.append(sorted(departments))
        return authorise(principal, command, departments)

    monkeypatch.setattr(j.services, "authorise", recorded)
    options = Options(skip_invalid=skip_invalid)
    report = import_file(j.services, j.as_role(Role.ADMIN), "targets", path, options=options)
    assert report.written and report.created == 2
    assert [OTHER, OWN] in asked
