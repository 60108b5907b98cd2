"""Draw facts as one typed structure whose stored form is byte for byte the dict the commit
records: read back exactly (key order included), hashed to the same commit digest, and refusing
any other shape."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from ssj.domain.draws import commit_digest
from ssj.draw import procedure
from ssj.draw.facts import ALGORITHM, DrawFacts, FactsError
from tests.draw.test_golden import DAY, ENTROPY, NONCE_COMMITMENT, PLANS, plan_view, registry


def exact(value: Any) -> bytes:
    """The bytes as stored (insertion order, not sorted): the Committed event's state."""
    return orjson.dumps(value)


def golden_facts(name: str) -> DrawFacts:
    return procedure.freeze(
        plan_view(**PLANS[name]), 1, DAY, registry(), ENTROPY, NONCE_COMMITMENT
    ).facts


@pytest.fixture(scope="module")
def golden() -> dict[str, DrawFacts]:
    return {name: golden_facts(name) for name in PLANS}


def test_golden_facts_read_back_exactly(golden: dict[str, DrawFacts]) -> None:
    for facts in golden.values():
        stored = orjson.loads(exact(facts.as_dict()))  # as the ledger hands it back
        again = DrawFacts.of(stored)
        assert again == facts
        assert exact(again.as_dict()) == exact(stored)
        assert list(stored) == list(DrawFacts.KEYS)
        assert again.digest() == commit_digest(stored)
        assert again.canonical() == orjson.dumps(stored, option=orjson.OPT_SORT_KEYS)


def test_a_named_drand_round_reads_back(golden: dict[str, DrawFacts]) -> None:
    entropy = {
        **ENTROPY,
        "drand": {"chain": "52db9b", "round": 9_000_000, "round_time": 1_692_803_367},
    }
    facts = procedure.freeze(
        plan_view(**PLANS["fixed"]), 1, DAY, registry(), entropy, NONCE_COMMITMENT
    ).facts
    assert facts.entropy.drand is not None and facts.entropy.drand.round_time == 1_692_803_367
    stored = orjson.loads(exact(facts.as_dict()))
    assert exact(DrawFacts.of(stored).as_dict()) == exact(stored)
    assert stored["entropy"] == entropy


def test_typed_reads(golden: dict[str, DrawFacts]) -> None:
    facts = golden["joint"]
    stored = facts.as_dict()
    assert facts.algorithm == ALGORITHM == stored["algorithm"]
    assert facts.plan.department == stored["plan"]["department"]
    assert facts.label == f"{stored['plan']['department']}/{stored['plan']['code']}/第1轮"
    assert [s.name for s in facts.strata] == [s["name"] for s in stored["strata"]]
    assert facts.stratum(facts.strata[0].name).k == stored["strata"][0]["k"]
    assert facts.entropy.witnesses == tuple(ENTROPY["witnesses"])
    assert facts.pools.experts.size == stored["pools"]["experts"]["size"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(algorithm="ssj-draw/2"), "unknown algorithm"),
        (lambda d: d.update(extra=1), "expected keys"),
        (lambda d: d.pop("window"), "expected keys"),
        (lambda d: d["plan"].update(version="3"), "plan.version"),
        (lambda d: d["strata"][0].pop("root"), "strata[0]"),
        (lambda d: d["entropy"].update(drand={"round": 1}), "entropy.drand"),
        (lambda d: d.update(window=["2026-01-01"]), "two dates"),
    ],
)
def test_any_other_shape_is_refused(
    golden: dict[str, DrawFacts], change: Any, message: str
) -> None:
    stored = orjson.loads(exact(golden["fixed"].as_dict()))
    change(stored)
    with pytest.raises(FactsError, match=message.replace("[", r"\[").replace("]", r"\]")):
        DrawFacts.of(stored)
