"""Draws through the services, on SQLite and PostgreSQL: the ceremony, bad input, recusal,
joint teams, eligibility from earlier draws, verification and tampering."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from consistent_sampler import sampler

from ssj.config import Settings
from ssj.domain.access import Forbidden
from ssj.domain.organisation import Role
from ssj.draw import drand
from ssj.draw.seed import stratum_seed
from ssj.errors import ConflictError, NotFoundError, SsjError, ValidationError
from ssj.services.context import Services
from ssj.services.draws import DrawService
from ssj.services.plans import PlanService
from tests.ledger.test_tamper import RawDB, raw  # noqa: F401  (the DBA fixture)
from tests.services.conftest import (
    OTHER,
    OWN,
    Jurisdiction,
    accounted,
    inspector_row,
    item_row,
    target_row,
)

WITNESSES = ["公证员张三", "企业代表李四"]
DICE = {"公证员张三": "31415926535", "企业代表李四": "89793238462"}
DAY = "2026-03-02"
CLASSES = "AABBBBBBCD"


class World:
    """The jurisdiction with targets, inspectors, items and a published plan."""

    def __init__(self, j: Jurisdiction, *, targets: int = 60, inspectors: int = 6) -> None:
        self.j = j
        self.s = j.services
        self.draws = DrawService(self.s)
        self.plans = PlanService(self.s)
        self.operator = j.as_role(Role.OPERATOR)
        self.leader = j.as_role(Role.LEADER)
        reg = j.registry
        reg.save_item(self.operator, item_row("TZ-001"))
        for n in range(targets):
            reg.save_target(self.operator, target_row(n, credit_class=CLASSES[n % len(CLASSES)]))
        for n in range(inspectors):
            reg.save_inspector(self.operator, inspector_row(n))

    def publish(self, code: str = "2026-01", **overrides: Any) -> None:
        raw_plan: dict[str, Any] = {
            "code": code,
            "department": OWN,
            "title": "2026年特种设备使用单位双随机抽查",
            "year": 2026,
            "kind": "annual",
            "items": ["TZ-001"],
            "ratios": {"A": "10", "B": "10", "C": "20", "D": "50"},
        }
        raw_plan.update(overrides)
        self.plans.draft(self.operator, raw_plan)
        self.plans.submit(self.operator, OWN, code)
        self.plans.approve(self.leader, OWN, code, "同意")
        self.plans.publish(self.operator, OWN, code)

    def commit(self, code: str = "2026-01", **kwargs: Any) -> str:
        kwargs.setdefault("drawn_on", DAY)
        draw, _ = self.draws.commit(self.operator, OWN, code, WITNESSES, **kwargs)
        return str(draw.id)

    def dice(self, draw_id: str) -> None:
        for witness, digits in DICE.items():
            self.draws.record_dice(self.operator, draw_id, witness, digits)

    def run(self, code: str = "2026-01", **kwargs: Any) -> str:
        draw_id = self.commit(code, **kwargs)
        self.dice(draw_id)
        self.draws.reveal(self.operator, draw_id)
        return draw_id


@pytest.fixture
def world(jurisdiction: Jurisdiction) -> World:
    w = World(jurisdiction)
    w.publish()
    return w


def unchanged(world: World, call: Any, error: type[SsjError] = SsjError) -> SsjError:
    """Run a call that must fail, and check it wrote nothing (but the record of a refusal)."""
    before = accounted(world.s)
    with pytest.raises(error) as caught:
        call()
    refused = isinstance(caught.value, Forbidden)
    assert accounted(world.s) == before + refused  # a refusal recorded, or counted
    return caught.value


def test_ceremony_samples_with_the_reference_sampler_and_verifies(world: World) -> None:
    draw_id = world.run()
    draw = world.draws.draw(draw_id)
    assert draw.outcome is not None and draw.seed is not None
    strata = {s["name"]: s for s in draw.facts["strata"]}
    assert set(strata) == {"A", "B", "C", "D"}
    assert sum(s["size"] for s in strata.values()) == 60
    population = {s: [t for t in world.s.queries.states("targets")] for s in strata}
    for recorded in draw.outcome["strata"]:
        name = recorded["name"]
        ids = sorted(t["identifier"] for t in population[name] if t["credit_class"] == name)
        assert recorded["seed"] == stratum_seed(draw.seed, name)
        expected = list(sampler(ids, recorded["seed"], take=strata[name]["k"], output="id"))
        assert recorded["sample"] == expected
    drawn = [i for s in draw.outcome["strata"] for i in s["sample"]]
    # A 12 x 10%, B 36 x 10%, C 6 x 20%, D 6 x 50%, each rounded up
    assert len(drawn) == 2 + 4 + 2 + 3
    for target in drawn:
        team = draw.outcome["teams"][target]["inspectors"]
        assert len(team) == 2 and len(set(team)) == 2
    for replay in (False, True):
        verification = world.draws.verify(draw_id, replay=replay)
        assert verification.ok, [c for c in verification.checks if not c.ok]
    world.s.refresh()
    tasks = world.s.draw_queries.list("tasks", {"draw_id": draw_id}, limit=100)
    assert tasks.total == len(drawn)


def test_nothing_can_be_seen_before_the_reveal(world: World) -> None:
    draw_id = world.commit()
    draw = world.draws.draw(draw_id)
    assert draw.seed is None and draw.outcome is None and draw.nonce is None
    assert all("nonce" not in k for k in draw.facts if k != "nonce_commitment")
    world.s.refresh()
    state = world.s.draw_queries.get("draws", [draw_id])
    assert state is not None and state["seed"] is None and state["status"] == "committed"
    assert world.s.draw_queries.list("tasks", {"draw_id": draw_id}).total == 0
    nonce_file = world.s.settings.keys_dir / "nonces" / f"{draw_id}.nonce"
    assert nonce_file.stat().st_mode & 0o077 == 0
    error = unchanged(world, lambda: world.draws.reveal(world.operator, draw_id), ConflictError)
    assert "熵源尚未齐备" in error.zh
    verification = world.draws.verify(draw_id)
    assert verification.ok and verification.outcome is None


def test_bad_ceremony_input_writes_nothing(world: World) -> None:
    draw_id = world.commit()
    op = world.operator
    unchanged(world, lambda: world.draws.record_dice(op, draw_id, WITNESSES[0], "12a45"))
    unchanged(world, lambda: world.draws.record_dice(op, draw_id, "路人甲", "12345"))
    world.draws.record_dice(op, draw_id, WITNESSES[0], "12345")
    unchanged(world, lambda: world.draws.record_dice(op, draw_id, WITNESSES[0], "678"))
    world.draws.record_dice(op, draw_id, WITNESSES[1], "678")
    error = unchanged(world, lambda: world.draws.reveal(op, draw_id), ConflictError)
    assert "至少 20 位" in error.zh
    unchanged(world, lambda: world.draws.abandon(world.leader, draw_id, "  "))
    unchanged(world, lambda: world.draws.abandon(op, draw_id, "误操作"))  # leaders only
    world.draws.abandon(world.leader, draw_id, "见证人点数不足，重新组织抽取")
    unchanged(world, lambda: world.draws.reveal(op, draw_id), ConflictError)
    unchanged(world, lambda: world.draws.abandon(world.leader, draw_id, "再次作废"), ConflictError)
    past = drand.round_at(drand.GENESIS_TIME + 3000)
    unchanged(world, lambda: world.commit(drand_round=past), ValidationError)
    unchanged(world, lambda: world.commit(drawn_on="2099-01-01"), ValidationError)
    unchanged(world, lambda: world.draws.commit(op, OWN, "2026-01", []), ValidationError)
    unchanged(world, lambda: world.draws.commit(op, OWN, "no-such-plan", WITNESSES), NotFoundError)


def test_a_second_reveal_is_refused(world: World) -> None:
    draw_id = world.run()
    error = unchanged(world, lambda: world.draws.reveal(world.operator, draw_id), ConflictError)
    assert "已抽取" in error.zh


def test_concurrent_reveals_record_one(world: World, settings: Settings) -> None:
    draw_id = world.commit()
    world.dice(draw_id)
    results: list[object] = []
    others = [Services(settings) for _ in range(2)]
    try:
        barrier = threading.Barrier(2)

        def reveal(services: Services) -> None:
            principal = services.principal("operator-own")  # both catch up at once
            service = DrawService(services)
            barrier.wait(timeout=30)
            try:
                service.reveal(principal, draw_id)
                results.append("ok")
            except Exception as e:
                results.append(e)

        threads = [threading.Thread(target=reveal, args=(s,)) for s in others]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for s in others:
            s.close()
    assert results.count("ok") == 1 and len(results) == 2, results
    assert isinstance(next(r for r in results if r != "ok"), ConflictError)
    seqs = world.s.ledger.ledger_recorder.select_seqs(world.draws.draw(draw_id).id)
    assert len(seqs) == 1 + len(DICE) + 1  # committed, dice, one reveal


def test_fixed_count_larger_than_population_is_refused(jurisdiction: Jurisdiction) -> None:
    w = World(jurisdiction, targets=5)
    w.publish(fixed_count=6, ratios=None)
    unchanged(w, lambda: w.commit(), ValidationError)


def test_a_pool_too_small_is_refused_at_commit(jurisdiction: Jurisdiction) -> None:
    w = World(jurisdiction, targets=10, inspectors=1)
    w.publish()
    error = unchanged(w, lambda: w.commit(), ValidationError)
    assert "少于每组 2 人" in error.zh
    assert not list((w.s.settings.keys_dir / "nonces").glob("*.nonce"))  # no orphan nonce


def test_open_tasks_and_caps_exclude_targets_from_later_draws(world: World) -> None:
    first = world.run()
    drawn = world.draws.draw(first).outcome
    assert drawn is not None
    n = len(drawn["teams"])
    second = world.commit()
    facts = world.draws.draw(second).facts
    assert facts["exclusions"] == {"open_task": n}
    assert facts["registry"] == {"considered": 60, "eligible": 60 - n}
    assert facts["round"] == 2


def test_declared_conflicts_keep_inspectors_off_a_target(world: World) -> None:
    reg = world.j.registry
    target = target_row(0)["identifier"]
    for n in range(4):
        reg.declare_conflict(
            world.operator,
            {
                "certificate_no": inspector_row(n)["certificate_no"],
                "target_identifier": target,
                "relation": "近亲属",
                "valid_from": "2020-01-01",
                "reason": "配偶在该企业任职",
            },
        )
    world.publish("2026-02", fixed_count=60, ratios=None)
    draw_id = world.run("2026-02")
    draw = world.draws.draw(draw_id)
    assert draw.outcome is not None
    team = draw.outcome["teams"][target]["inspectors"]
    assert sorted(team) == sorted(inspector_row(n)["certificate_no"] for n in (4, 5))


def test_recusal_replaces_with_the_next_ranked_and_verifies(world: World) -> None:
    draw_id = world.run()
    draw = world.draws.draw(draw_id)
    assert draw.outcome is not None and draw.seed is not None
    target, team = next(iter(draw.outcome["teams"].items()))
    leaving = team["inspectors"][0]
    world.j.registry.link_certificate(world.j.root, "inspector-own", leaving)
    inspector = world.j.as_role(Role.INSPECTOR)  # declares their own conflict
    unchanged(world, lambda: world.draws.recuse(world.operator, draw_id, target, leaving, "x"))
    error = unchanged(
        world,
        lambda: world.draws.recuse(world.leader, draw_id, target, "nobody", "x"),
        ValidationError,
    )
    assert "不在" in error.zh
    replacement = world.draws.recuse(inspector, draw_id, target, leaving, "与该企业负责人系近亲属")
    assert replacement not in team["inspectors"]
    from ssj.draw import sampler as s
    from ssj.draw.seed import team_seed

    everyone = [inspector_row(n)["certificate_no"] for n in range(6)]
    ranking = s.ranked(team_seed(draw.seed, target), everyone)
    assert replacement == next(c for c in ranking if c not in team["inspectors"])
    # A target's request: on file until a leader decides.
    other = world.draws.draw(draw_id).team_of(target)[1]
    request, _ = world.draws.request_recusal(
        world.operator, draw_id, target, other, "曾与该检查员发生纠纷"
    )
    unchanged(
        world,
        lambda: world.draws.decide_recusal(world.operator, draw_id, request, True, "同意"),
    )
    second = world.draws.decide_recusal(world.leader, draw_id, request, True, "理由成立")
    assert second is not None and second not in (leaving, replacement, other)
    assert world.draws.draw(draw_id).team_of(target) == [replacement, second] or set(
        world.draws.draw(draw_id).team_of(target)
    ) == {replacement, second}
    verification = world.draws.verify(draw_id)
    assert verification.ok, [c for c in verification.checks if not c.ok]
    world.s.refresh()
    task = world.s.draw_queries.list("tasks", {"draw_id": draw_id, "identifier": target}).rows[0]
    assert set(task["inspectors"]) == {replacement, second}


def test_joint_teams_have_a_member_from_every_department(jurisdiction: Jurisdiction) -> None:
    w = World(jurisdiction, targets=20, inspectors=4)
    root = jurisdiction.root
    jurisdiction.registry.save_item(root, item_row("SP-001", OTHER, name="食品生产企业监督检查"))
    for n in range(10, 13):
        jurisdiction.registry.save_inspector(root, inspector_row(n, OTHER))
    w.publish(cooperating={OTHER: ["SP-001"]}, fixed_count=8, ratios=None)
    draw_id = w.run()
    outcome = w.draws.draw(draw_id).outcome
    assert outcome is not None
    other = {inspector_row(n, OTHER)["certificate_no"] for n in range(10, 13)}
    for team in outcome["teams"].values():
        members = team["inspectors"]
        assert len(members) == 2
        assert len(set(members) & other) == 1
    assert w.draws.verify(draw_id).ok


def test_drand_beacon_is_checked_and_bound_into_the_seed(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real quicknet beacon of round 657413 (2023): shift the genesis so that round is
    # still in the future now, for commit and verification alike.
    import time

    round, signature = (
        657413,
        (
            "b713718a38ae728dfd477991af2822e08d2f305e47718cef9f7848ce4050e7be"
            "41076862b98fad56e91a6b85b89cd97b"
        ),
    )
    randomness = "fc1873a13f3545aeade8401532ef5519920652eee6b0d2b19ca12643b87b3587"
    shift = int(time.time()) + 3600 - drand.round_time(round)
    monkeypatch.setattr(drand, "GENESIS_TIME", drand.GENESIS_TIME + shift)
    draw_id = world.commit(drand_round=round)
    world.dice(draw_id)
    unchanged(world, lambda: world.draws.reveal(world.operator, draw_id), ConflictError)
    bad = {"round": round, "randomness": "00" * 32, "signature": signature}
    unchanged(
        world, lambda: world.draws.record_drand(world.operator, draw_id, str(bad).replace("'", '"'))
    )
    beacon = f'{{"round": {round}, "randomness": "{randomness}", "signature": "{signature}"}}'
    world.draws.record_drand(world.operator, draw_id, beacon)
    world.draws.reveal(world.operator, draw_id)
    verification = world.draws.verify(draw_id)
    assert verification.ok, [c for c in verification.checks if not c.ok]
    names = {c.name for c in verification.checks}
    assert {"drand_round_in_future", "drand_beacon", "seed"} <= names


@pytest.fixture
def tampered_world(jurisdiction: Jurisdiction) -> Iterator[World]:
    w = World(jurisdiction, targets=30)
    w.publish()
    yield w


def _rewrite(raw: RawDB, seq: int, change: Any) -> None:  # noqa: F811
    import orjson

    nid, _topic, state = raw.event(seq)
    data = orjson.loads(state)
    change(data)
    raw.run("UPDATE {events} SET state = ? WHERE {nid} = ?", orjson.dumps(data), nid)


@pytest.mark.parametrize("what", ["population", "seed", "team"])
def test_tampering_makes_draw_verify_fail(
    tampered_world: World,
    raw: RawDB,  # noqa: F811
    what: str,
) -> None:
    w = tampered_world
    draw_id = w.run()
    draw = w.draws.draw(draw_id)
    seqs = dict(w.s.ledger.ledger_recorder.select_seqs(draw.id))
    committed, revealed = seqs[1], seqs[max(seqs)]

    def population(data: dict[str, Any]) -> None:
        data["facts"]["strata"][0]["size"] += 1

    def seed(data: dict[str, Any]) -> None:
        data["seed"] = "0" * 64

    def team(data: dict[str, Any]) -> None:
        first = next(iter(data["outcome"]["teams"].values()))
        everyone = (inspector_row(n)["certificate_no"] for n in range(6))
        first["inspectors"][0] = next(c for c in everyone if c not in first["inspectors"])

    changes = {
        "population": (committed, population),
        "seed": (revealed, seed),
        "team": (revealed, team),
    }
    seq, change = changes[what]
    _rewrite(raw, seq, change)
    fresh = Services(w.s.settings)
    try:
        verification = DrawService(fresh).verify(draw_id)
    finally:
        fresh.close()
    assert not verification.ok


def test_export_reproduces_with_the_reference_sampler(world: World) -> None:
    draw_id = world.run()
    exported = world.draws.export(draw_id)
    assert exported["format"] == "ssj-draw-export/1"
    assert exported["draw"]["commit_seq"] < exported["draw"]["reveal_seq"]
    for stratum in exported["strata"]:
        again = sampler(stratum["ids"], stratum["seed"], take=stratum["k"], output="id")
        assert list(again) == stratum["sample"]
    for team in exported["teams"]:
        assert set(team["team"]) <= {c for r in team["rankings"].values() for c in r}
    undrawn = world.commit()
    unchanged(world, lambda: world.draws.export(undrawn), ConflictError)


def test_an_inspector_recuses_only_themselves(world: World) -> None:
    draw_id = world.run()
    draw = world.draws.draw(draw_id)
    assert draw.outcome is not None
    target, team = next(iter(draw.outcome["teams"].items()))
    leaving = team["inspectors"][0]
    other = next(c for c in (inspector_row(n)["certificate_no"] for n in range(6)) if c != leaving)
    reg = world.j.registry
    unchanged(world, lambda: reg.link_certificate(world.operator, "inspector-own", leaving))
    reg.link_certificate(world.j.root, "inspector-own", other)
    error = unchanged(
        world,
        lambda: world.draws.recuse(world.j.as_role(Role.INSPECTOR), draw_id, target, leaving, "x"),
        Forbidden,
    )
    assert "只能为自己" in error.zh
    reg.link_certificate(world.j.root, "inspector-own", leaving)
    assert world.j.as_role(Role.INSPECTOR).certificate_no == leaving
    world.draws.recuse(world.j.as_role(Role.INSPECTOR), draw_id, target, leaving, "近亲属")
    unchanged(
        world,
        lambda: reg.link_certificate(world.j.root, "operator-own", leaving),
        ConflictError,
    )
