"""Conflicts of interest: declarations with windows, and structural rules."""

from __future__ import annotations

from datetime import date

import pytest

from ssj.domain.conflicts import ConflictRules, Declaration, conflicts_on
from ssj.domain.fields import FieldError
from ssj.errors import ConflictError

INSPECTOR = {"certificate_no": "32040012345", "home_region_code": "320402"}
TARGET = {"identifier": "91320402MA1M00000X", "region_code": "320402"}


def declared(relation: str, valid_from: str, valid_to: str | None = None) -> dict[str, str | None]:
    d = Declaration.declare(
        certificate_no="32040012345",
        target_identifier="91320402MA1M00000X",
        relation=relation,
        valid_from=valid_from,
        valid_to=valid_to,
        reason="自行申报",
    )
    return {"relation": d.relation, "valid_from": d.valid_from, "valid_to": d.valid_to}


def test_declarations_apply_within_their_window() -> None:
    d = declared("近亲属", "2024-01-01", "2024-12-31")
    assert conflicts_on(date(2024, 6, 1), INSPECTOR, TARGET, [d], {}) == ["declared:kinship"]
    assert conflicts_on(date(2025, 1, 1), INSPECTOR, TARGET, [d], {}) == []
    assert conflicts_on(date(2023, 12, 31), INSPECTOR, TARGET, [d], {}) == []


def test_past_employment_counts_for_n_years_when_the_rule_says_so() -> None:
    d = declared("曾任职", "2015-03-01", "2022-02-28")
    rules = {"employment_within_years": 3}
    assert conflicts_on(date(2025, 2, 28), INSPECTOR, TARGET, [d], rules) == ["declared:employment"]
    assert conflicts_on(date(2025, 3, 1), INSPECTOR, TARGET, [d], rules) == []
    assert conflicts_on(date(2023, 1, 1), INSPECTOR, TARGET, [d], {}) == []


def test_own_district_rule() -> None:
    rules = ConflictRules(department="CZ-SJJ")
    rules.set_rules({"not_own_district": True})
    assert conflicts_on(date(2025, 1, 1), INSPECTOR, TARGET, [], rules.rules) == [
        "rule:not_own_district"
    ]
    elsewhere = {**TARGET, "region_code": "320411"}
    assert conflicts_on(date(2025, 1, 1), INSPECTOR, elsewhere, [], rules.rules) == []


def test_bad_declarations_and_rules_are_refused() -> None:
    with pytest.raises(FieldError):
        declared("朋友", "2024-01-01")
    with pytest.raises(FieldError):
        declared("纠纷", "2024-01-01", "2023-01-01")
    with pytest.raises(FieldError):
        ConflictRules(department="d").set_rules({"employment_within_years": 99})
    d = Declaration.declare(
        certificate_no="1",
        target_identifier="2",
        relation="纠纷",
        valid_from="2024-01-01",
        valid_to=None,
        reason="诉讼",
    )
    d.withdraw("诉讼已结")
    with pytest.raises(ConflictError):
        d.withdraw("again")
