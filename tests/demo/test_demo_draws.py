"""The demo's plans and draws on a small jurisdiction, on SQLite and PostgreSQL: published plans,
revealed and verified draws, an abandoned one, second rounds that exclude the first, joint
teams, recusals, an idempotent second run, and `ssj demo` failing when a draw does not verify."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import orjson
import pytest

from ssj.config import Settings
from ssj.demo import draws as demo
from ssj.demo.jurisdiction import BUREAU
from ssj.domain.draws import MIN_DICE_DIGITS, commit_digest, draw_id
from ssj.domain.plans import plan_id
from ssj.draw.facts import DrawFacts
from ssj.services.context import Services
from ssj.services.draws import DrawService
from tests import worlds
from tests.conftest import settings_env

pytestmark = pytest.mark.slow  # a demo-sized jurisdiction

SMALL, SEED = worlds.SMALL, worlds.SEED
PLANS = {p.code: p for p in demo.schedule()}


@pytest.fixture(params=worlds.BACKENDS)
def services(request: pytest.FixtureRequest) -> Iterator[Services]:
    """A copy of the small jurisdiction (`tests/worlds.py`: built once a run and backend)."""
    with worlds.services_over(request, "built") as s:
        yield s


def draw_of(code: str, round: int) -> str:
    plan = PLANS[code]
    return str(draw_id(plan_id(plan.department, code), round))


def tasks_of(services: Services, draw: str) -> list[dict]:
    return services.draw_queries.list("tasks", {"draw_id": draw}, limit=1000).rows


def test_witnesses_and_dice_follow_from_the_seed() -> None:
    first = demo.witnesses(7, "CZ-SJJ-TZ/2026-TZ-01/1")
    assert first == demo.witnesses(7, "CZ-SJJ-TZ/2026-TZ-01/1")
    assert first != demo.witnesses(8, "CZ-SJJ-TZ/2026-TZ-01/1")
    assert first != demo.witnesses(7, "CZ-SJJ-TZ/2026-TZ-01/2")
    assert len(first) == 3 and sum(len(d) for d in first.values()) >= MIN_DICE_DIGITS
    assert all(set(d) <= set("123456") for d in first.values())


def test_schedule_has_every_kind_of_plan_and_draw() -> None:
    plans = demo.schedule()
    assert sum(1 for p in plans if p.fields["kind"] == "annual") >= 3
    assert any(p.fields["kind"] == "monthly" for p in plans)
    joint = [p for p in plans if p.fields.get("cooperating")]
    assert joint and all(p.fields["team_size"] >= 1 + len(p.fields["cooperating"]) for p in joint)
    assert any(p.fields.get("priority_uncovered") for p in plans)
    assert sum(1 for p in plans if len(p.rounds) >= 2) >= 2
    assert sum(1 for p in plans for r in p.rounds if r.abandon) == 1
    dates = [r.drawn_on for p in plans for r in p.rounds]
    assert all(d.startswith("2026-") for d in dates)


def test_plans_published_draws_verified_and_a_second_run_writes_nothing(
    services: Services,
) -> None:
    result = demo.run(services, seed=SEED)
    assert (result.plans, result.plans_created) == (5, 5)
    assert (result.draws, result.draws_created) == (8, 8) and not result.skipped
    q = services.draw_queries

    # Plans: drafted by the operator, approved by the section's leader, published.
    plans = services.plan_queries.all()
    assert {p["code"] for p in plans} == set(PLANS)
    for p in plans:
        assert p["status"] == "published"
        short = p["department"].rsplit("-", 1)[1].lower()
        assert (p["drafted_by"], p["approved_by"]) == (f"{short}.operator", f"{short}.leader")

    # Every draw verifies, the last revealed one also on read models replayed from the ledger.
    checked = demo.verify_all(services, replay=1)
    assert len(checked) == 8 and all(c.ok for c in checked), [c.failed for c in checked]
    assert [c.row["status"] for c in checked].count("revealed") == 7
    assert [c.replayed for c in checked] == [False] * 7 + [True]
    assert [c.row["drawn_on"] for c in checked] == sorted(
        r.drawn_on for p in PLANS.values() for r in p.rounds
    )
    draws = DrawService(services)
    first_tz = draw_of("2026-TZ-01", 1)
    replayed = draws.verify(first_tz, replay=True)
    assert replayed.ok, [c for c in replayed.checks if not c.ok]
    for c in checked:
        if c.row["status"] == "revealed":
            dice = c.verification.entropy["dice"]
            assert len(dice) == 3 and sum(len(d["digits"]) for d in dice) >= MIN_DICE_DIGITS

    # The abandoned draw: one witness's dice, then abandoned by the leader with the reason.
    abandoned = draws.draw(draw_of("2026-ZL-01", 1))
    reason = PLANS["2026-ZL-01"].rounds[0].abandon
    assert abandoned.status.value == "abandoned" and abandoned.abandoned_reason == reason
    assert len(abandoned.dice) == 1 and abandoned.outcome is None
    assert draws.draw(draw_of("2026-ZL-01", 2)).status.value == "revealed"

    # Second rounds exclude the first round's open tasks, and draw none of them again.
    for code in ("2026-TZ-01", "2026-XY-01"):
        first = {t["identifier"] for t in tasks_of(services, draw_of(code, 1))}
        second_id = draw_of(code, 2)
        facts = draws.draw(second_id).facts
        assert first and facts["exclusions"]["open_task"] == len(first)
        assert (
            facts["registry"]["considered"]
            == draws.draw(draw_of(code, 1)).facts["registry"]["considered"]
        )
        assert not first & {t["identifier"] for t in tasks_of(services, second_id)}
    xy = draws.draw(draw_of("2026-XY-01", 1)).facts
    assert xy["rules"]["priority_uncovered"] is True
    assert all(s["name"].endswith(":priority") for s in xy["strata"])

    # Joint teams: three members, at least one of each section.
    departments = {
        p["certificate_no"]: p["department"]
        for p in services.queries.states("inspectors", columns=("certificate_no", "department"))
    }
    joint = tasks_of(services, draw_of("2026-JL-LH-01", 1))
    assert joint
    for task in joint:
        assert len(task["inspectors"]) == 3 and len(set(task["inspectors"])) == 3
        assert {departments[c] for c in task["inspectors"]} == {f"{BUREAU}-JL", f"{BUREAU}-JG"}

    # The monthly plan's teams take one expert each.
    monthly = tasks_of(services, draw_of("2026-09-JY", 1))
    assert monthly and all(len(t["experts"]) == 1 for t in monthly)

    # Recusals: an inspector's declaration, and a target's request decided by the leader.
    tz = draws.draw(first_tz)
    assert Counter(r["kind"] for r in tz.recusals) == {"declared": 1, "requested": 1}
    (request,) = tz.requests.values()
    assert request["decision"] == {"approved": True, "reason": demo.DECISION_REASON}
    for r in tz.recusals:
        assert r["replacement"] in tz.team_of(r["target"])
        assert r["certificate_no"] not in tz.team_of(r["target"])
        task = q.list("tasks", {"draw_id": first_tz, "identifier": r["target"]}).rows[0]
        assert r["replacement"] in task["inspectors"]
    state = q.get("draws", [first_tz])
    assert state is not None and state["recusals"] == 2

    # A second run creates no plan and no draw, writes nothing, and still verifies every draw.
    size = services.ledger.size()
    again = demo.run(services, seed=SEED)
    assert (again.plans_created, again.draws_created, again.events_written) == (0, 0, 0)
    assert (again.plans, again.draws) == (5, 8)
    assert services.ledger.size() == size
    rechecked = demo.verify_all(services)
    assert len(rechecked) == 8 and all(c.ok for c in rechecked)
    assert services.ledger.size() == size


def test_demo_exits_non_zero_when_a_draw_does_not_verify(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ssj.cli.demo import run

    for name, value in settings_env(settings).items():
        if name.startswith("SSJ_"):
            monkeypatch.setenv(name, value)
    run(targets=SMALL, seed=SEED)
    first = capsys.readouterr().out
    assert "8/8 通过 / passed" in first and "✗" not in first
    assert "作废 / abandoned" in first and "回避 / recusal" in first
    assert "有未办结的检查任务" in first

    # Someone edits the read model: a target drawn in round 1 now reads as deregistered.
    services = Services(settings)
    try:
        identifier = tasks_of(services, draw_of("2026-TZ-01", 1))[0]["identifier"]
        with services.store.transaction() as c:
            c.execute(
                "UPDATE targets SET status = 'deregistered' WHERE identifier = ?", [identifier]
            )
    finally:
        services.close()
    with pytest.raises(SystemExit) as exited:
        run(targets=SMALL, seed=SEED)
    assert exited.value.code == 1
    second = capsys.readouterr().out
    assert "✗" in second and "DRAW VERIFICATION FAILED" in second
    assert "完好 / intact" in second  # the ledger itself is intact: only a view was changed


def test_stored_facts_are_the_typed_facts_byte_for_byte(services: Services) -> None:
    """Every draw the demo stores: its facts read back as DrawFacts give the stored form again
    (same keys in the same order, same values), the same commit digest, and re-deriving them
    from the registry (the export re-freezes and compares) gives the same facts."""
    demo.run(services, seed=SEED)
    draws = DrawService(services)
    rows = services.draw_queries.list("draws", {}, limit=100).rows
    assert len(rows) == 8
    for row in rows:
        draw = draws.draw(row["draw_id"])
        stored = draw.facts
        typed = DrawFacts.of(stored)
        assert orjson.dumps(typed.as_dict()) == orjson.dumps(stored)
        assert typed.digest() == commit_digest(stored)
        if draw.status.value == "revealed":
            export = draws.export(row["draw_id"])
            assert export["seed_inputs"]["commit_digest"] == typed.digest()
            assert [s["population_root"] for s in export["strata"]] == [
                s.root for s in typed.strata
            ]
