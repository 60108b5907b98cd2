"""A large import under --skip-invalid is checked by a checker process
(ssj.services.import_check) while the importing process writes: the same report, rejects file
and entries as checking in the importing process, a file-level refusal raised as it was
raised there, and re-imports idempotent across the two. SSJ_IMPORT_CHECKER chooses the way
(files here are far below the size that chooses the process by itself). The stored bytes of
both ways: test_import_stored_bytes.py."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from ssj.domain.organisation import Role
from ssj.imports.errors import ImportFileError
from ssj.services.imports import Options, import_file
from tests.data.real import synthetic
from tests.services.conftest import OTHER, OWN, Jurisdiction, uscc


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
