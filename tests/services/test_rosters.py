"""Inspector rosters as kept (issue #11 item 4): the official template's title, instruction and
sample rows skipped and its 参数表 ignored; certificate numbers stored as numbers, validity as a
date serial, one 有效期 cell or none (unknown validity: never eligible until set)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from ssj.domain.inspectors import eligible_on
from ssj.domain.organisation import Role
from ssj.services.imports import import_file
from tests.data.real import synthetic
from tests.real_corpus import real_file
from tests.services.conftest import OWN, Jurisdiction


def filled_row(name: str, certificate: object, validity: object, **cells: object) -> list[object]:
    row: list[object] = [None] * len(synthetic.ROSTER_HEADER)
    row[1], row[17], row[18] = name, certificate, validity
    row[20] = cells.get("status", "有效")
    row[15] = cells.get("unit")
    row[3], row[4] = cells.get("id_number"), cells.get("phone")
    row[10] = cells.get("scope")
    return row


def test_template_with_filled_rows(jurisdiction: Jurisdiction, tmp_path: Path) -> None:
    j = jurisdiction
    j.registry.add_department_alias(j.root, OWN, "消保分局")
    filled = [
        filled_row(
            "合成甲",
            4541399,
            date(2027, 12, 31),
            unit="消保分局",
            phone="13800000000",
            scope="A01.直销违法行为检查，B01.获证食品生产企业监管,B02.保健食品生产企业证后监督",
        ),
        filled_row("合成乙", "ZJ-0002", "2020-01-01至2025-12-31", unit="消保分局"),
        filled_row("合成丙", "ZJ-0003", None, unit="消保分局"),
        filled_row("合成丁", "ZJ-0004", "长期", unit="消保分局", status="失效"),
    ]
    path = synthetic.roster_template(tmp_path, filled)
    report = import_file(j.services, j.as_role(Role.OPERATOR), "inspectors", path)
    assert report.problems == [] and report.written and report.created == 4
    assert report.sheet == "人员名录库"
    skipped = [(n.row, n.en.split(",")[0]) for n in report.notes if n.kind == "skipped"]
    assert skipped == [
        (3, "row 3 is an instruction row"),
        (4, "row 4 is a sample row (the template's example)"),
    ]
    assert any(
        n.en.startswith("1 row(s): no certificate validity given: registered as unknown")
        for n in report.notes
    )
    j.services.refresh()
    found = {s["name"]: s for s in j.services.queries.states("inspectors")}
    a = found["合成甲"]
    assert (a["certificate_no"], a["certificate_valid_to"], a["department"]) == (
        "4541399",
        "2027-12-31",
        OWN,
    )
    assert a["phone"] == "13800000000" and a["extra"]["执法事项范围"].startswith("A01.")
    b = found["合成乙"]
    assert (b["certificate_valid_from"], b["certificate_valid_to"]) == ("2020-01-01", "2025-12-31")
    assert b["published"] == {"validity": "2020-01-01至2025-12-31"}
    c = found["合成丙"]
    assert c["certificate_valid_to"] is None and not eligible_on(c, date(2026, 6, 1))
    assert eligible_on(a, date(2026, 6, 1)) and not eligible_on(b, date(2026, 6, 1))
    d = found["合成丁"]
    assert d["certificate_valid_to"] == "9999-12-31" and d["status"] == "suspended"
    # The roster's personal data is for officials: the public page names no phone or ID.
    assert "13800000000" not in str(j.services.queries.states("items"))


@pytest.mark.parametrize("name", ["zj17_roster_tpl_scjg.xls", "zj17_roster_tpl_dept.xls"])
def test_real_roster_templates_hold_no_inspector(jurisdiction: Jurisdiction, name: str) -> None:
    j = jurisdiction
    path = real_file(name)
    report = import_file(j.services, j.as_role(Role.OPERATOR), "inspectors", path, department=OWN)
    assert report.rows == 0 and not report.written
    assert [p.en for p in report.problems] == ["the file has no data rows"]
    assert [n.row for n in report.notes if n.kind == "skipped"] == [3, 4]
    assert report.sheet == "人员名录库" and report.format == "xlsx"
    assert next(n for n in report.notes if n.kind == "format").en.startswith(
        "the file is named .xls but holds an Excel workbook (.xlsx)"
    )


def test_generic_document_number_yields_and_blacklist_suspends(
    jurisdiction: Jurisdiction, tmp_path: Path
) -> None:
    """A roster laid out like the Hainan specification's (hn16_roster_sample.xls): 证件编号 beside
    执法编号 is the identity document's number, kept as an extra; alone, it is the certificate
    number. 黑名单 inspectors are suspended (never drawn), 白名单 ones active."""
    j = jurisdiction
    both = tmp_path / "both.csv"
    both.write_text(
        "执法姓名,执法编号,证件类型,证件编号,黑白名单\n合成甲,HN-1,工号,G-1,白名单\n合成乙,HN-2,工号,G-2,黑名单\n",
        encoding="utf-8",
    )
    report = import_file(j.services, j.root, "inspectors", both, department=OWN)
    assert report.problems == [] and report.created == 2
    assert {c["label"]: c["field"] for c in report.columns}["证件编号"] is None
    alone = tmp_path / "alone.csv"
    alone.write_text("姓名,证件编号\n合成丙,HN-3\n", encoding="utf-8")
    assert import_file(j.services, j.root, "inspectors", alone, department=OWN).created == 1
    j.services.refresh()
    found = {s["certificate_no"]: s for s in j.services.queries.states("inspectors")}
    assert (found["HN-1"]["status"], found["HN-2"]["status"]) == ("active", "suspended")
    assert found["HN-1"]["extra"]["证件编号"] == "G-1" and "HN-3" in found
