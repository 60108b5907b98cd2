"""Two sample tables of a 双随机 system's data specification (双随机数据规范表, 2016) that a
Hainan county held, filled with rows (tests/data/real/README.md, "The Hainan data
specification"): a roster with 执法编号 beside 证件类型/证件编号 and a 黑白名单 column, and ten
registrations with 属地监管机关; both close with a 注意： note. Imported on both backends."""

from __future__ import annotations

from ssj.domain.organisation import Role
from ssj.services.imports import Options, import_file
from tests.real_corpus import manifest, real_file, spot
from tests.services.conftest import OWN, Jurisdiction

ROSTER = "hn16_roster_sample.xls"
TARGETS = "hn16_targets_sample.xls"


def skipped(report) -> list[tuple[int, str]]:
    return [(n.row, n.en.split(",")[0]) for n in report.notes if n.kind == "skipped"]


def test_filled_roster_sample(jurisdiction: Jurisdiction) -> None:
    entry = manifest()[ROSTER]
    path = real_file(ROSTER)
    j = jurisdiction
    report = import_file(j.services, j.as_role(Role.OPERATOR), "inspectors", path, department=OWN)
    assert report.problems == [] and report.written
    assert report.created == entry["expected_count"]["value"] == 6
    assert report.header_rows == [entry["header_row"]]
    assert skipped(report) == [(9, "row 9 is a footer note")]
    fields = {c["label"]: c["field"] for c in report.columns}
    mapped = {k: v for k, v in entry["expected_columns"].items() if isinstance(v, str)}
    assert {label: fields[label] for label in mapped} == mapped
    for label in entry["expected_columns"]["unmapped (kept as extras)"]:
        assert fields[label] is None, label
    assert any(
        n.en.startswith("6 row(s): no certificate validity given: registered as unknown")
        for n in report.notes
    )
    j.services.refresh()
    found = {s["certificate_no"]: s for s in j.services.queries.states("inspectors")}
    first = found[spot(ROSTER, "E3")]
    assert sorted(found) == [f"A10000{n}" for n in range(1, 7)]
    assert first["certificate_kind"] == spot(ROSTER, "G3")
    assert first["extra"]["证件编号"] == spot(ROSTER, "H3")  # the 工号, kept beside the number
    assert first["specialties"] == [spot(ROSTER, "D3")]
    # 白名单: drawable; the note of row 9 says 黑名单 inspectors are never drawn.
    assert {s["status"] for s in found.values()} == {"active"}
    assert first["certificate_valid_to"] is None

    size = j.services.ledger.size()
    again = import_file(j.services, j.as_role(Role.OPERATOR), "inspectors", path, department=OWN)
    assert again.unchanged == 6 and j.services.ledger.size() == size


def test_target_sample_with_local_authority(jurisdiction: Jurisdiction) -> None:
    entry = manifest()[TARGETS]
    path = real_file(TARGETS)
    j = jurisdiction
    dry = import_file(
        j.services, j.root, "targets", path, options=Options(dry_run=True, department=OWN)
    )
    assert dry.problems == [] and not dry.written and dry.rows == 10
    report = import_file(j.services, j.root, "targets", path, department=OWN)
    assert report.problems == [] and report.written
    assert report.created == entry["expected_count"]["value"]
    assert skipped(report) == [(13, "row 13 is a footer note")]
    fields = {c["label"]: c["field"] for c in report.columns}
    assert fields["属地监管机关"] == "jurisdiction" and fields["注册号"] == "registration_no"
    j.services.refresh()
    found = {s["identifier"]: s for s in j.services.queries.states("targets")}
    assert len(found) == 10
    coop = found[spot(TARGETS, "B4")]
    assert (coop["id_kind"], coop["region_code"]) == ("registration_no", "469006")
    assert coop["jurisdiction"] == spot(TARGETS, "G4")
    assert coop["established_on"] == spot(TARGETS, "I4")
    assert found[spot(TARGETS, "B3")]["target_type"] == "individual"  # 个体工商户 in F3
    assert found[spot(TARGETS, "B12")]["established_on"] == spot(TARGETS, "I12")
    assert len({s["jurisdiction"] for s in found.values()}) == entry["distinct"]["属地监管机关"]
