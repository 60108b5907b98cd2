"""Registry exports as received (issue #11 items 3, 6, 8): identifiers of every kind, combined
and pinyin headers, derived region codes and target types, department names and aliases,
--skip-invalid with a rejects file that re-imports once fixed, dry runs, idempotent re-runs.
On synthetic fixtures that copy the real corpus (tests/data/real/synthetic.py) and, where the
corpus is on this machine, on the real files."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from ssj.domain.organisation import Role
from ssj.services.imports import Options, import_file
from tests.data.real import synthetic
from tests.real_corpus import manifest, real_file
from tests.services.conftest import OWN, Jurisdiction, uscc


def states(j: Jurisdiction) -> dict[str, dict]:
    j.services.refresh()
    return {s["identifier"]: s for s in j.services.queries.states("targets")}


def test_synthetic_zhejiang_list_with_skip_invalid_and_rejects_that_reimport(
    jurisdiction: Jurisdiction, tmp_path: Path
) -> None:
    j = jurisdiction
    operator = j.as_role(Role.OPERATOR)
    path = synthetic.targets_xml2003(tmp_path)
    refused = import_file(j.services, operator, "targets", path, department=OWN)
    assert not refused.written and refused.problem_count == 1
    [problem] = refused.problems
    assert (problem.row, problem.column) == (7, "B")
    assert f"“{synthetic.BAD_USCC}”" in problem.zh and "position 18" in problem.en
    size = j.services.ledger.size()

    options = Options(department=OWN, skip_invalid=True, rejects=tmp_path / "退回.xlsx")
    report = import_file(j.services, operator, "targets", path, options=options)
    assert report.written and (report.created, report.rejected) == (6, 1)
    assert report.format == "xml2003" and report.rejects_file == str(tmp_path / "退回.xlsx")
    found = states(j)
    a = found[synthetic.USCC_A]
    assert (a["id_kind"], a["region_code"], a["target_type"]) == ("uscc", "330100", "enterprise")
    assert (
        a["registration_authority"] == "杭州市市场监督管理局" and a["jurisdiction"] == "朝晖工商所"
    )
    assert found[synthetic.USCC_B]["target_type"] == "individual"  # USCC 9 2
    regno = found[synthetic.REGNO15]
    assert (regno["id_kind"], regno["region_code"], regno["name"]) == (
        "registration_no",
        "330327",
        "合成示范贸易有限公司",
    )
    assert regno["jurisdiction"] == "机场分局"
    assert found[synthetic.REGNO13]["region_code"] == "330106"
    cjk = found[synthetic.REGNO14_CJK]
    assert (cjk["id_kind"], cjk["region_code"]) == ("registration_no", "320400")  # department's
    notes = {n.kind: n for n in report.notes}
    assert notes["format"].en.startswith("the file is named .xlsx but holds an Excel 2003 XML")
    derived = [n.en for n in report.notes if n.kind == "derived"]
    assert "6 row(s): department from --department" in derived
    assert any(n.startswith("5 row(s): region code from the USCC") for n in derived)
    assert "1 row(s): region code from the department (the identifier holds none)" in derived
    assert "6 row(s): no credit class given: registered as B (the draws' default)" in derived

    book = openpyxl.load_workbook(tmp_path / "退回.xlsx")
    rows = [list(r) for r in book.active.iter_rows(values_only=True)]
    assert rows[0] == ["企业名称", "注册号/统一社会信用代码", "RegOrgName", "管辖单位", "问题"]
    assert rows[1][:2] == ["合成示范广告有限公司", synthetic.BAD_USCC]
    assert "第 18 位校验码" in rows[1][4]
    assert len(rows) == 2

    # Fixed, the rejects file imports; the first file again changes nothing.
    sheet = book.active
    sheet.cell(2, 2, synthetic.uscc("91330200", "MA2C0000"))
    book.save(tmp_path / "退回.xlsx")
    fixed = import_file(
        j.services, operator, "targets", tmp_path / "退回.xlsx", options=Options(department=OWN)
    )
    assert fixed.written and fixed.created == 1 and fixed.problems == []
    assert [c["label"] for c in fixed.columns if c["field"] is None] == ["问题"]
    after = j.services.ledger.size()
    again = import_file(j.services, operator, "targets", path, options=options)
    assert again.unchanged == 6 and again.created == again.updated == 0
    assert j.services.ledger.size() == after > size


def test_pinyin_headers_floats_dates_and_personal_data(
    jurisdiction: Jurisdiction, tmp_path: Path
) -> None:
    """A registration system's export (synthetic): pinyin headers, ids and phones stored as
    numbers, an 18-digit code that a float has already damaged, date serials and strings."""
    j = jurisdiction
    path = tmp_path / "synthetic_pinyin.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(
        ["TYXYDM", "ZCH", "QYMC", "QYLX", "FDDBR", "JYDZ", "CLRQ", "ZT", "DJJG", "LXDH", "BZ"]
    )
    sheet.append(
        [
            synthetic.USCC_A,
            None,
            "甲公司",
            "有限责任公司",
            "张某",
            "西湖区1号",
            42801,
            "存续",
            "杭州市市场监督管理局",
            13800138000.0,
            "备注一",
        ]
    )
    sheet.append(
        [
            None,
            330106600012345.0,
            "乙小吃店",
            "个体工商户",
            "李某",
            None,
            "2015/6/1",
            "在业",
            "杭州市西湖区市场监督管理局",
            None,
            None,
        ]
    )
    sheet.append(
        [
            913301007161035748.0,
            None,
            "丙公司",
            "有限责任公司",
            None,
            None,
            "2016年1月2日",
            "存续",
            None,
            None,
            None,
        ]
    )
    sheet.cell(2, 7).number_format = "yyyy-mm-dd"
    book.save(path)
    report = import_file(
        j.services,
        j.as_role(Role.OPERATOR),
        "targets",
        path,
        options=Options(department=OWN, skip_invalid=True),
    )
    assert report.written and (report.created, report.rejected) == (2, 1)
    [problem] = report.problems
    assert (problem.row, problem.column) == (4, "A")
    assert "913301007161036000" in problem.en and "15 digits" in problem.en
    assert [c["field"] for c in report.columns] == [
        "identifier",
        "registration_no",
        "name",
        "enterprise_type",
        "legal_representative",
        "address",
        "established_on",
        "status",
        "registration_authority",
        "phone",
        None,
    ]
    found = states(j)
    a = found[synthetic.USCC_A]
    assert (a["established_on"], a["phone"], a["legal_representative"]) == (
        "2017-03-07",
        "13800138000",
        "张某",
    )
    assert a["extra"] == {"BZ": "备注一"} and a["enterprise_type"] == "有限责任公司"
    b = found["330106600012345"]
    assert (b["id_kind"], b["target_type"], b["established_on"]) == (
        "registration_no",
        "individual",
        "2015-06-01",
    )
    assert b["published"] == {"established_on": "2015/6/1"}


def test_department_names_resolve_by_alias(jurisdiction: Jurisdiction, tmp_path: Path) -> None:
    j = jurisdiction
    path = synthetic.targets_ooxml(tmp_path)
    report = import_file(
        j.services, j.as_role(Role.ADMIN), "targets", path, options=Options(dry_run=True)
    )
    assert not report.written and report.dry_run
    names = [u["name"] for u in report.unresolved_departments]
    assert "朝晖工商所" in names and "文新市场监管所" in names
    assert report.unresolved_departments[names.index("朝晖工商所")]["rows"] == [2]
    assert any(n.kind == "departments" for n in report.notes)
    for name in {row[3].strip() for row in synthetic.TARGET_ROWS}:
        j.registry.add_department_alias(j.root, OWN, name)
    assert j.registry.add_department_alias(j.root, OWN, "朝晖工商所") is False
    options = Options(skip_invalid=True, dry_run=True)
    report = import_file(j.services, j.as_role(Role.ADMIN), "targets", path, options=options)
    assert report.unresolved_departments == [] and report.rejected == 1
    assert report.preview[0]["department"] == OWN
    assert j.services.ledger.size() > 0


def test_local_authority_and_a_closing_note(jurisdiction: Jurisdiction, tmp_path: Path) -> None:
    """As in a Hainan system's target table (hn16_targets_sample.xls): 属地监管机关 is the
    jurisdiction unit, resolved like 管辖单位 when no --department is given; a closing
    “注意：…” alone on its row is a footer, not a target (it refused the file)."""
    j = jurisdiction
    j.registry.add_department_alias(j.root, OWN, "合成市东兴工商所")
    path = tmp_path / "企业信息.csv"
    rows = [f"合成第{n}种养专业合作社,{uscc(n)},合成市东兴工商所" for n in (1, 2)]
    note = "注意：属地监管机关数据格式规范请遵照附件1要求！"
    path.write_bytes("\n".join(["企业名称,注册号,属地监管机关", *rows, note, ""]).encode("gbk"))
    report = import_file(j.services, j.as_role(Role.ADMIN), "targets", path)
    assert report.problems == [] and report.created == 2 and report.encoding == "gb18030"
    assert [(n.row, n.kind) for n in report.notes if n.kind == "skipped"] == [(4, "skipped")]
    found = states(j)[uscc(1)]
    assert (found["jurisdiction"], found["department"]) == ("合成市东兴工商所", OWN)


@pytest.mark.parametrize(
    "name",
    [
        "zj17_targets_478.xlsx",
        "zj17_targets_478_ooxml.xlsx",
        "zj17_targets_5.xlsx",
        "zj17_targets_2883.xlsx",
    ],
)
def test_real_target_lists_import_whole(
    jurisdiction: Jurisdiction, tmp_path: Path, name: str
) -> None:
    entry = manifest()[name]
    path = real_file(name)
    j = jurisdiction
    report = import_file(j.services, j.as_role(Role.OPERATOR), "targets", path, department=OWN)
    assert report.problems == [] and report.written
    assert report.created == entry["expected_count"]["value"]
    kinds = {}
    for state in states(j).values():
        kinds[state["id_kind"]] = kinds.get(state["id_kind"], 0) + 1
    classes = entry["identifier_classes"]
    assert kinds.get("uscc", 0) == classes.get("uscc_valid", 0)
    assert kinds.get("registration_no", 0) == sum(
        v for k, v in classes.items() if k.startswith(("regno", "other"))
    )


def test_real_42782_list_two_bad_codes_do_not_block_the_rest(
    jurisdiction: Jurisdiction, tmp_path: Path
) -> None:
    name = "zj17_targets_42782.xlsx"
    entry = manifest()[name]
    path = real_file(name)
    j = jurisdiction
    operator = j.as_role(Role.OPERATOR)
    refused = import_file(j.services, operator, "targets", path, department=OWN)
    assert not refused.written
    expected = [(int(p["cell"][1:]), p["cell"][0]) for p in entry["expected_problems"]]
    assert [(p.row, p.column) for p in refused.problems] == expected
    for problem, cell in zip(refused.problems, entry["expected_problems"], strict=True):
        assert f"“{cell['text']}”" in problem.zh
    options = Options(department=OWN, skip_invalid=True, rejects=tmp_path / "rejects.xlsx")
    report = import_file(j.services, operator, "targets", path, options=options)
    assert report.written and report.created == entry["expected_valid_rows"]
    assert report.rejected == len(entry["expected_problems"])
    found = states(j)
    assert found["企合浙绍总字第002112号"]["id_kind"] == "registration_no"
    assert found["330382101730300"]["region_code"] == "330382"
    assert found["3300001003617"]["region_code"] == "330000"
    assert found["91331127L60481988W"]["name"] == "景宁新平食用菌经营部"
    rejected = openpyxl.load_workbook(tmp_path / "rejects.xlsx").active
    assert [r[1] for r in rejected.iter_rows(min_row=2, values_only=True)] == [
        p["text"] for p in entry["expected_problems"]
    ]


@pytest.mark.parametrize("name", ["cnreg_js_1990.csv", "cnreg_xj_2016.csv", "cnreg_xz_2019.csv"])
def test_real_registration_compilations_import_whole(
    jurisdiction: Jurisdiction, tmp_path: Path, name: str
) -> None:
    """Three provinces and years of registrations as a UTF-8 CSV (tests/data/real/README.md):
    注册日期 is the establishment date, 法人代表 the legal representative (officials only), N/A
    a blank (企业类型 N/A leaves the type to the identifier), the other columns kept as extras."""
    entry = manifest()[name]
    path = real_file(name)
    j = jurisdiction
    report = import_file(j.services, j.as_role(Role.OPERATOR), "targets", path, department=OWN)
    assert report.problems == [] and report.written
    assert report.created == entry["expected_count"]["value"]
    columns = {c["label"]: c["field"] for c in report.columns}
    assert columns["注册日期"] == "established_on"
    assert columns["法人代表"] == "legal_representative"
    assert [c for c, f in columns.items() if f is None] == [
        "注册资金",
        "经营范围",
        "所在省份",
        "地区",
    ]
    derived = {n.en.split(": ", 1)[-1]: n.zh for n in report.notes if n.kind == "derived"}
    placeholder = derived["cells reading N/A or 无资料内容 (not available) taken as blank"]
    assert placeholder.startswith(f"{entry['rows_with_na']:,} 行")
    from_department = derived.get("region code from the department (the identifier holds none)")
    assert from_department is None  # every identifier here carries its region
    found = states(j)
    kinds: dict[str, int] = {}
    for state in found.values():
        kinds[state["id_kind"]] = kinds.get(state["id_kind"], 0) + 1
    classes = entry["identifier_classes"]
    assert kinds.get("uscc", 0) == classes["uscc_valid"]
    assert kinds.get("registration_no", 0) == sum(
        v for k, v in classes.items() if k.startswith("regno")
    )
    assert (
        sum(1 for s in found.values() if not s.get("enterprise_type"))
        == (entry["enterprise_type_na"])
    )
    assert len({s["extra"]["地区"] for s in found.values()}) == entry["distinct"]["地区"]
    assert all(s["extra"]["所在省份"] == entry["province"] for s in found.values())
    assert all(s["established_on"].startswith(str(entry["year"])) for s in found.values())
    spots = {s["cell"]: s["text"] for s in entry["spot"]}
    for cell, text in spots.items():
        if cell[0] != "B":
            continue
        state = found[text]
        row = cell[1:]
        assert state["name"] == spots.get(f"A{row}", state["name"])
        assert state["region_code"] == (text[2:8] if len(text) == 18 else text[:6])
        assert state["legal_representative"]  # kept, for officials
        if spots.get(f"D{row}") == "个体工商户":
            assert state["target_type"] == "individual"
        if spots.get(f"D{row}") == "N/A":
            assert "enterprise_type" not in state or state["enterprise_type"] is None
            assert state["target_type"] == "enterprise"
