"""Draws through `DrawService` on stored registries give the same facts, samples and teams as
they always did, on SQLite and PostgreSQL.

The digests were computed by the draw service as it stood before it was made faster (issue #13:
reading the population, caching frozen strata, ranking teams). The registry holds 3,000 targets
in five districts, declared conflicts and the own-district rule; the second draw of the plan
reads the first one's open tasks. The server nonce, random by design, is fixed here so that the
seed is the same on every run, as the witnesses' dice are.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import pytest

from projections import registry_view
from projections.registry_view import load_registry_view
from ssj.domain.organisation import Role
from ssj.domain.targets import Target, TargetRecord
from ssj.draw.registry_view import RegistryView
from ssj.ledger.envelope import Actor
from ssj.services.draws import DrawService
from ssj.services.plans import PlanService
from tests.services.conftest import (  # noqa: F401  (the jurisdiction fixture)
    OWN,
    Jurisdiction,
    inspector_row,
    item_row,
    jurisdiction,
    target_row,
)

TARGETS = 3000
REGIONS = ("320402", "320404", "320411", "320412", "320481")
CLASSES = "AABBBBBBCD"
DAY = "2026-03-02"
WITNESSES = {"公证员张三": "31415926535", "企业代表李四": "89793238462"}

GOLDEN = {
    1: {
        "facts": "095f8b22022f337f01463bc7fc183ea3938df607e7db3b90163ad398bc8a4ea0",
        "seed": "43a71c86e652414644f80df1c99e55ba75202fb311f2bd3818a6df950cca58f5",
        "outcome": "d0793656a45efad5755c550f759aec044ad706d796c2098e1d52ce9905595029",
    },
    2: {
        "facts": "a0555937bbb4043e07f56d318a68f8a08a536ac60d812df07ae1fb28acad3f47",
        "seed": "61415db0fd6974ab550d335bde0ded8b89f8192089a20b3272fb26cd6d58989e",
        "outcome": "48de7540f058d7c32c732033d1974f381cdf4ff010100edc91dc9053b6028323",
    },
}


def digest(value: Any) -> str:
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()


def set_up(j: Jurisdiction) -> tuple[DrawService, Any, Any]:
    s = j.services
    operator, leader = j.as_role(Role.OPERATOR), j.as_role(Role.LEADER)
    j.registry.save_item(operator, item_row("TZ-001"))
    actor = Actor("operator-own", OWN, "operator")
    for start in range(0, TARGETS, 1000):
        batch = []
        for n in range(start, start + 1000):
            raw = target_row(
                n,
                credit_class=CLASSES[n % len(CLASSES)],
                region_code=REGIONS[n * 7 % len(REGIONS)],
                status="active" if n % 37 else "abnormal",
            )
            batch.append(Target.register(TargetRecord.parse(raw)))
        s.ledger.save(*batch, actor=actor)
    for n in range(12):
        j.registry.save_inspector(operator, inspector_row(n, home_region_code=REGIONS[n % 5]))
    j.registry.set_conflict_rules(j.root, OWN, {"not_own_district": True})
    for n in range(3, TARGETS, 150):
        j.registry.declare_conflict(
            operator,
            {
                "certificate_no": inspector_row(n % 12)["certificate_no"],
                "target_identifier": target_row(n)["identifier"],
                "relation": "kinship",
                "valid_from": "2025-01-01",
                "reason": "近亲属",
            },
        )
    plans = PlanService(s)
    plans.draft(
        operator,
        {
            "code": "2026-01",
            "department": OWN,
            "title": "2026年特种设备使用单位双随机抽查",
            "year": 2026,
            "kind": "annual",
            "items": ["TZ-001"],
            "ratios": {"A": "1", "B": "3", "C": "10", "D": "30"},
            "team_size": 2,
        },
    )
    plans.submit(operator, OWN, "2026-01")
    plans.approve(leader, OWN, "2026-01", "同意")
    plans.publish(operator, OWN, "2026-01")
    draws = DrawService(s)
    nonces = iter(f"{n:02x}" * 32 for n in range(1, 10))
    draws.nonces.new = lambda: next(nonces)  # type: ignore[method-assign]
    return draws, operator, leader


def run(draws: DrawService, operator: Any) -> Any:
    draw, _ = draws.commit(operator, OWN, "2026-01", list(WITNESSES), drawn_on=DAY)
    for witness, digits in WITNESSES.items():
        draws.record_dice(operator, str(draw.id), witness, digits)
    return draws.reveal(operator, str(draw.id))


@pytest.mark.slow
def test_draws_on_stored_registries_are_unchanged(
    jurisdiction: Jurisdiction,  # noqa: F811
) -> None:
    draws, operator, _ = set_up(jurisdiction)
    drawn = 0
    for round in (1, 2):
        draw = run(draws, operator)
        assert draw.round == round
        assert draw.facts["exclusions"].get("open_task", 0) == drawn
        drawn = len(draw.outcome["teams"])
        found = {
            "facts": digest(draw.facts),
            "seed": draw.seed,
            "outcome": digest(draw.outcome),
        }
        assert found == GOLDEN[round], (round, found)
        verification = draws.verify(str(draw.id))
        assert verification.ok, [c for c in verification.checks if not c.ok]


@pytest.mark.slow
def test_a_registry_read_in_two_halves_draws_the_same(
    jurisdiction: Jurisdiction,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PostgreSQL reads a large targets table as two halves of its pages in two sessions at
    once (projections.registry_view): forced here on 3,000 targets, the same draws and views."""
    if not jurisdiction.services.store.is_postgres:
        pytest.skip("the split read is PostgreSQL's")
    draws, operator, _ = set_up(jurisdiction)
    store = jurisdiction.services.store
    seq = min(jurisdiction.services.runner.seqs().values())
    whole = load_registry_view(store, seq, OWN)
    monkeypatch.setattr(registry_view, "SPLIT_PAGES", 0)
    halves = load_registry_view(store, seq, OWN)
    assert len(whole.target_groups()) > 1
    assert canonical_groups(halves) == canonical_groups(whole)
    draw = run(draws, operator)
    found = {"facts": digest(draw.facts), "seed": draw.seed, "outcome": digest(draw.outcome)}
    assert found == GOLDEN[1]
    assert draws.verify(str(draw.id)).ok


def canonical_groups(view: RegistryView) -> list[tuple[Any, ...]]:
    return sorted((*g[:-1], tuple(sorted(g.identifiers))) for g in view.target_groups())
