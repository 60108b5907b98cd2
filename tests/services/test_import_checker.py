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

import pytest

from ssj.domain.organisation import Role
from ssj.imports.errors import ImportFileError
from ssj.services import import_check, imports
from ssj.services.imports import CheckJob, Options, RowCheck, import_file
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


def _taken_from_a_sharing_process(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the checks the importing process takes from the process sharing the rows, so
    that a test fails if the file was checked in one process after all; the rows are shared
    from the first (not after SHARED_FROM: these files are small)."""
    monkeypatch.setattr(imports, "SHARED_FROM", 0)
    taken: list[int] = []
    sharing = import_check.sharing

    @contextmanager
    def counted(job: CheckJob) -> Iterator[Iterator[RowCheck]]:
        with sharing(job) as checks:

            def counting() -> Iterator[RowCheck]:
                for check in checks:
                    taken.append(1)
                    yield check

            yield counting()

    monkeypatch.setattr(import_check, "sharing", counted)
    return taken


def _synthetic_targets_with_every_kind_of_problem(path: Path) -> None:
    """Synthetic: each problem that needs the rows before it (a duplicate, a refused
    department, an unresolved name) once on an even record and once on an odd one, the two
    halves the processes check, and the reader's (a formula) likewise."""
    rows = [
        ("常州第1机械有限公司", uscc(1), OWN, ""),  # record 0
        ("常州第2机械有限公司", uscc(2), OWN, "N/A"),  # 1: placeholder, odd
        ("重复一", uscc(1), OWN, ""),  # 2: duplicate of row 2, even
        ("重复二", uscc(2), OWN, ""),  # 3: duplicate of row 3, odd
        ("坏代码", uscc(3)[:-1] + "0", OWN, ""),  # 4
        ("无此部门一", uscc(4), "不存在的科", ""),  # 5: unresolved, odd
        ("他科一", uscc(5), OTHER, ""),  # 6: refused, even
        ("他科二", uscc(6), OTHER, ""),  # 7: refused, odd
        ("=1+1", uscc(7), OWN, ""),  # 8: formula, even
        ("=2+2", uscc(8), OWN, ""),  # 9: formula, odd
        ("常州第9机械有限公司", uscc(9), OWN, "N/A"),  # 10: placeholder, even
        ("他科一重复", uscc(5), OTHER, ""),  # 11: duplicate of a refused row, odd
        ("无此部门二", uscc(10), "不存在的科", ""),  # 12: unresolved, even
        ("常州第11机械有限公司", uscc(11), "特种设备安全监察科", ""),  # 13: named, odd
    ]
    with path.open("w", encoding="gbk", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["企业名称", "统一社会信用代码", "责任部门", "信用等级"])
        out.writerows(rows)


def test_shared_checking_reports_as_one_process(
    jurisdiction: Jurisdiction, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --skip-invalid a large file is checked by two processes, each every other
    record: the report is the one a single process makes, to the problem, note and count,
    nothing is written, and the refusal (rows of another department) is recorded once."""
    j = jurisdiction
    path = tmp_path / "targets.csv"
    _synthetic_targets_with_every_kind_of_problem(path)
    operator = j.as_role(Role.OPERATOR)
    taken = _taken_from_a_sharing_process(monkeypatch)
    reports = {}
    for checker in ("process", "inline"):
        monkeypatch.setenv("SSJ_IMPORT_CHECKER", checker)
        before = accounted(j.services)
        report = import_file(j.services, operator, "targets", path)
        assert not report.written and accounted(j.services) == before + 1
        reports[checker] = report.as_dict()
    assert len(taken) == 7  # the odd records
    shared, alone = reports["process"], reports["inline"]
    assert shared == alone
    assert [p["row"] for p in alone["problems"]] == [4, 5, 6, 7, 8, 9, 10, 11, 13, 14]
    assert alone["problem_count"] == 10 and alone["rows"] == 14
    assert alone["unresolved_departments"] == [{"name": "不存在的科", "rows": [7, 14]}]
    assert any(n["en"].startswith("2 row(s)") and "N/A" in n["en"] for n in alone["notes"])


def test_shared_checking_stops_at_the_problem_limit_as_one_process(
    jurisdiction: Jurisdiction, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The importing process decides where checking stops, whatever the other has read."""
    j = jurisdiction
    path = tmp_path / "targets.csv"
    _synthetic_targets_with_every_kind_of_problem(path)
    limits = replace(j.services.settings.imports, problems=3)
    taken = _taken_from_a_sharing_process(monkeypatch)
    reports = {}
    for checker in ("process", "inline"):
        monkeypatch.setenv("SSJ_IMPORT_CHECKER", checker)
        report = import_file(j.services, j.as_role(Role.ADMIN), "targets", path, limits=limits)
        reports[checker] = report.as_dict()
    assert taken  # some were taken, not necessarily all the other process checked
    assert reports["process"] == reports["inline"]
    assert reports["inline"]["stopped"] and reports["inline"]["rows"] < 14


def test_shared_checking_writes_as_one_process(
    jurisdiction: Jurisdiction, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    j = jurisdiction
    path = tmp_path / "targets.csv"
    with path.open("w", encoding="gbk", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["企业名称", "统一社会信用代码", "责任部门", "地区编码"])
        out.writerows((f"常州第{n}机械有限公司", uscc(n), OWN, "") for n in range(1, 8))
    taken = _taken_from_a_sharing_process(monkeypatch)
    monkeypatch.setenv("SSJ_IMPORT_CHECKER", "process")
    first = import_file(j.services, j.as_role(Role.OPERATOR), "targets", path)
    assert first.written and first.created == 7 and len(taken) == 3
    monkeypatch.setenv("SSJ_IMPORT_CHECKER", "inline")
    again = import_file(j.services, j.as_role(Role.OPERATOR), "targets", path)
    assert again.written and (again.created, again.unchanged) == (0, 7)
    assert [n.en for n in first.notes] == [n.en for n in again.notes]
    assert first.preview == again.preview
