"""Item lists as published (issue #11 items 1, 2): categories numbered, several items below,
sub-items, legal bases on continuation rows, merged unit names, free text kept beside what is
derived, blanks left blank, unmapped columns kept; a joint list with departments by name.
On synthetic fixtures in the provinces' shape (tests/data/real/synthetic.py)."""

from __future__ import annotations

from pathlib import Path

from ssj.domain.items import derived_code
from ssj.domain.organisation import Role
from ssj.services.imports import Options, import_file
from tests.data.real import synthetic
from tests.services.conftest import OTHER, OWN, Jurisdiction


def items(j: Jurisdiction) -> dict[str, dict]:
    j.services.refresh()
    return {s["name"]: s for s in j.services.queries.states("items")}


def test_item_list_as_published(jurisdiction: Jurisdiction, tmp_path: Path) -> None:
    j = jurisdiction
    j.registry.add_department_alias(j.root, OWN, "合成省市场监督管理局")
    j.registry.add_department_alias(j.root, OTHER, "生态环境部门")
    j.registry.add_department_alias(j.root, OTHER, "合成应急管理局")
    path = synthetic.item_list(tmp_path)
    report = import_file(j.services, j.root, "items", path)
    assert report.problems == [] and report.written, report.problems
    assert report.created == 5 and report.header_rows == [2]
    found = items(j)
    lift = found["电梯使用单位检查"]
    assert lift["parent"] == "特种设备使用单位检查" and lift["category"] == "特种设备"
    assert lift["number"] == "1" and lift["department"] == OWN
    assert lift["default_ratio"] == "5" and lift["published"].get("default_ratio") is None
    assert (lift["yearly_frequency"], lift.get("frequency_max")) == (2, None)
    assert lift["code"] == derived_code("特种设备", "特种设备使用单位检查", "电梯使用单位检查")
    assert lift["extra"] == {"备注": "重点"}
    boiler = found["锅炉使用单位检查"]
    assert boiler["legal_bases"] == [
        "《中华人民共和国特种设备安全法》第五十七条",
        "《特种设备安全监察条例》第五十条",
    ]
    assert boiler["methods"] == ["on_site", "documents"]
    assert boiler["published"]["methods"] == "现场检查或书面检查"
    assert (boiler["default_ratio"], boiler["ratio_max"]) == (None, "30")
    assert boiler["published"]["default_ratio"] == "不超过30%/年"
    assert (boiler["yearly_frequency"], boiler["frequency_max"]) == (1, 2)
    assert boiler["cooperating_departments"] == [OTHER]
    canteen = found["学校食堂检查"]
    assert canteen["number"] == "2" and canteen["department"] == OWN  # merged unit carries
    assert (
        canteen["target_type"] == "enterprise" and canteen["published"]["target_type"] == "中小学校"
    )
    assert canteen["default_ratio"] == "0.2" and canteen["yearly_frequency"] is None
    assert canteen["published"]["yearly_frequency"] == "根据实际情况确定"
    assert canteen["methods"] == ["on_site", "documents"]
    hotel = found["旅馆卫生检查"]
    assert hotel["default_ratio"] is None and "default_ratio" not in hotel["published"]
    assert hotel["methods"] == ["online"] and hotel["category"] == "食品安全"
    food = found["食品生产企业检查"]
    assert food["methods"] == [] and food["published"]["methods"] == "飞行检查"
    assert food["legal_bases"] == []
    notes = [n.en for n in report.notes]
    assert any("row 9 is a footer note" in n for n in notes)
    assert "5 row(s): no item code in the list: a stable code derived" in " ".join(notes)
    assert any(n.startswith("1 row(s): no ratio given: left blank") for n in notes)
    assert any(n.startswith("1 row(s): no legal basis given") for n in notes)
    assert any(n.startswith("column L (备注) maps to no field") for n in notes)

    size = j.services.ledger.size()
    again = import_file(j.services, j.root, "items", path)
    assert again.unchanged == 5 and j.services.ledger.size() == size


def test_joint_list_with_departments_by_name(jurisdiction: Jurisdiction, tmp_path: Path) -> None:
    j = jurisdiction
    path = synthetic.joint_item_list(tmp_path)
    dry = import_file(j.services, j.root, "items", path, options=Options(dry_run=True))
    assert not dry.written
    assert [u["name"] for u in dry.unresolved_departments] == sorted(
        ["合成省市场监督管理局", "教育部门", "文化和旅游部门", "卫生健康部门"]
    )
    j.registry.add_department_alias(j.root, OWN, "合成省市场监督管理局")
    for name in ("教育部门", "卫生健康部门", "文化和旅游部门"):
        j.registry.add_department_alias(j.root, OTHER, name)
    report = import_file(j.services, j.root, "items", path)
    assert report.written and report.created == 2, report.problems
    found = items(j)
    school = found["学校食品安全联合检查"]
    assert (school["number"], school["department"], school["cooperating_departments"]) == (
        "LH-1",
        OWN,
        [OTHER],
    )
    assert school["code"] == derived_code("校园安全", None, "学校食品安全联合检查")
    assert school["category"] == "校园安全" and school["methods"] == []
    tour = found["旅游市场联合检查"]
    assert tour["default_ratio"] is None and tour["yearly_frequency"] is None
    assert tour["target_type"] is None and tour["published"]["target_type"] == "旅行社"
    leader = j.as_role(Role.LEADER)
    assert import_file(j.services, leader, "items", path).unchanged == 2


def test_a_new_edition_amends_and_retires_nothing_silently(
    jurisdiction: Jurisdiction, tmp_path: Path
) -> None:
    j = jurisdiction
    first = tmp_path / "first.csv"
    first.write_text(
        "抽查事项,检查方式,抽查比例\n电梯检查,现场检查,5%\n锅炉检查,现场检查,3%\n", encoding="utf-8"
    )
    report = import_file(j.services, j.root, "items", first, department=OWN)
    assert report.created == 2
    second = tmp_path / "second.csv"
    second.write_text("抽查事项,检查方式,抽查比例\n电梯检查,书面检查,10%\n", encoding="utf-8")
    report = import_file(j.services, j.root, "items", second, department=OWN)
    assert (report.created, report.updated) == (0, 1)
    [absent] = [n for n in report.notes if n.kind == "absent"]
    code = derived_code(None, None, "锅炉检查")
    assert f"{OWN}/{code}（锅炉检查）" in absent.zh
    assert items(j)["锅炉检查"]["retired_reason"] is None
    assert items(j)["电梯检查"]["default_ratio"] == "10"
