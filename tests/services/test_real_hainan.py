"""Three real files of one province (tests/data/real/README.md, "The Hainan files"): the
provincial item list of 2020, the joint-inspection list (second edition) and a county's
registration-system export, imported as published once the departments they name are
registered, on both backends."""

from __future__ import annotations

from pathlib import Path

from ssj.domain.organisation import Role
from ssj.services.imports import Options, import_file
from tests.real_corpus import manifest, real_file
from tests.services.conftest import OWN, Jurisdiction

ITEMS = "hn20_items.xlsx"
JOINT = "hn19_joint_items.xls"
TARGETS = "hn21_wanning_targets.xls"


def register(j: Jurisdiction, names: list[str], prefix: str, full: str) -> None:
    """One department per name the file uses, registered under its full name with the file's
    name as an alias: what an administrator does before importing (`ssj departments alias`)."""
    for number, name in enumerate(names):
        code = f"{prefix}-{number:02d}"
        j.registry.add_department(
            j.root, code, full.format(name), "province", "bureau", None, "460000"
        )
        j.registry.add_department_alias(j.root, code, name)


def items(j: Jurisdiction) -> dict[str, dict]:
    j.services.refresh()
    return {s["name"]: s for s in j.services.queries.states("items")}


def derived(report) -> dict[str, str]:
    return {n.en.split(": ", 1)[-1]: n.en for n in report.notes if n.kind == "derived"}


def test_provincial_item_list_imports_as_published(jurisdiction: Jurisdiction) -> None:
    entry = manifest()[ITEMS]
    path = real_file(ITEMS)
    j = jurisdiction
    register(j, entry["departments"], "HN", "海南{}")
    report = import_file(j.services, j.root, "items", path)
    assert report.problems == [] and report.written, sorted(
        {(p.row, p.column, p.zh[:60], p.en[-50:]) for p in report.problems}
    )
    assert report.header_rows == [2, 3]
    assert report.created == entry["expected_count"]["value"]
    notes = derived(report)
    assert notes["检查主体 names further units on the rows below: joined with “、”"].startswith(
        f"{len(entry['subject_continued_rows'])} row(s)"
    )
    variants = "an item repeated for another 检查对象 (with its own 事项类别 …): imported as"
    assert next(v for k, v in notes.items() if k.startswith(variants)).startswith(
        f"{len(entry['variant_rows'])} row(s)"
    )
    found = items(j)
    seed = found["农作物种子监督抽查"]  # rows 169-170: a second unit under 检查主体
    assert seed["subject"] == "省农业农村厅种业管理处、省种子总站"
    assert seed["number"] == "51" and seed["category"] == "农业生产资料监管"
    licence = found["食品经营许可情况的检查"]  # rows 314-315: one item, two 检查对象
    canteens = found["食品经营许可情况的检查（学校、托幼机构、养老机构等食堂）"]
    assert licence["item_class"] == "general" and canteens["item_class"] == "key"
    assert canteens["parent"] == "食品经营许可情况的检查"
    assert canteens["legal_bases"] == licence["legal_bases"] != []
    assert licence["department"] == canteens["department"]
    assert found["中小学教育装备产品（文体教育用品）检查"]["published"]["target_type"] == "中小学校"

    size = j.services.ledger.size()
    again = import_file(j.services, j.root, "items", path)
    assert again.unchanged == report.created and j.services.ledger.size() == size


def test_joint_list_with_departments_by_function(jurisdiction: Jurisdiction) -> None:
    entry = manifest()[JOINT]
    path = real_file(JOINT)
    j = jurisdiction
    register(j, entry["departments"], "WN", "万宁市{}")
    report = import_file(j.services, j.root, "items", path)
    assert report.problems == [] and report.written, sorted(
        {(p.row, p.column, p.zh[:60], p.en[-50:]) for p in report.problems}
    )
    assert report.created == entry["expected_count"]["value"]
    unnamed = derived(report)[
        "配合部门 names no particular department (e.g. 市场监管领域相关部门): the text is kept "
        "as an extra field"
    ]
    assert unnamed.startswith(f"{entry['cooperating_unnamed_rows']} row(s)")
    found = items(j)
    consulting = found["工程咨询单位备案信息一致性及其他情况的检查"]
    assert consulting["extra"] == {"配合部门（原文）": "市场监管领域相关部门"}
    assert consulting.get("cooperating_departments", []) == []
    assert consulting["category"] == "工程咨询单位抽查" and consulting["number"] == "1"


def test_county_export_imports_what_is_intact(jurisdiction: Jurisdiction, tmp_path: Path) -> None:
    """The registration system's own export (pinyin headers, numbers for identifiers and
    phones, date serials): the rows whose 18-digit USCC a float has damaged and those with no
    name are reported and left out under --skip-invalid; the rest import."""
    entry = manifest()[TARGETS]
    path = real_file(TARGETS)
    j = jurisdiction
    operator = j.as_role(Role.OPERATOR)
    refused = import_file(j.services, operator, "targets", path, department=OWN)
    assert not refused.written
    assert refused.rows == entry["expected_count"]["value"]
    damaged = {p.row for p in refused.problems if "(TYXYDM) holds the number" in p.en}
    assert len(damaged) == entry["damaged_uscc_rows"]
    options = Options(department=OWN, skip_invalid=True, rejects=tmp_path / "rejects.xlsx")
    report = import_file(j.services, operator, "targets", path, options=options)
    assert report.written and report.created == entry["expected_valid_rows"]
    assert report.created + report.rejected == report.rows
    columns = {c["label"]: c["field"] for c in report.columns}
    assert columns["TYXYDM"] == "identifier" and columns["注册号"] == "registration_no"
    assert columns["企业类型名称"] == "enterprise_type" and columns["LXDH"] == "phone"
    j.services.refresh()
    found = {s["identifier"]: s for s in j.services.queries.states("targets")}
    cooperative = found["469006NA000129X"]  # a farmers' cooperative's 注册号: region, NA …
    assert cooperative["target_type"] == "enterprise"
    assert cooperative["established_on"] == "2009-12-02"  # the serial 40149
    assert found["92469006MA5RJQT183"]["target_type"] == "individual"
    assert (cooperative["id_kind"], cooperative["region_code"]) == ("registration_no", "469006")
