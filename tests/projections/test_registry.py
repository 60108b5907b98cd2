"""Registry projections on both backends: current and as-of views, crash and resume, rebuild."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from projections.registry import RegistryProjection, RegistryQueries
from projections.runner import Runner
from projections.store import open_view_store
from ssj.config import Settings
from ssj.domain.identifiers import make_uscc, organization_code_check_character
from ssj.domain.targets import Target, TargetRecord
from ssj.ledger.application import Ledger
from ssj.ledger.envelope import Actor

OPERATOR = Actor("op", "CZ-SJJ-XC", "operator")


def uscc(n: int) -> str:
    body = f"MA{n:06d}"
    return make_uscc("91320402" + body + organization_code_check_character(body))


def record(n: int, **overrides: object) -> TargetRecord:
    raw: dict[str, object] = {
        "identifier": uscc(n),
        "name": f"常州第{n}机械有限公司",
        "region_code": "320402",
        "target_type": "企业",
        "department": "CZ-SJJ-XC",
        "credit_class": "B",
    }
    raw.update(overrides)
    return TargetRecord.parse(raw)


@pytest.fixture
def ledger(settings: Settings) -> Iterator[Ledger]:
    led = Ledger(settings)
    led.initialise()
    yield led
    led.close()


def runner_for(ledger: Ledger) -> Runner:
    return Runner(ledger, open_view_store(ledger.settings), [RegistryProjection()])


def replay_targets(ledger: Ledger, at_seq: int) -> dict[str, dict[str, object]]:
    """The registry at `at_seq` by replaying aggregates straight from the ledger."""
    states: dict[str, dict[str, object]] = {}
    for logged in ledger.read(0, 10**6):
        if logged.seq > at_seq:
            break
        event = logged.event
        if isinstance(event, Target.Registered):  # type: ignore[attr-defined]
            states[event.identifier] = dict(event.state)
        elif isinstance(event, Target.Updated):  # type: ignore[attr-defined]
            target = next(
                s
                for s in states.values()
                if Target.create_id(s["identifier"]) == event.originator_id
            )
            target.update(event.changes)
    return states


def test_current_and_as_of_views_equal_a_replay(ledger: Ledger) -> None:
    targets = [Target.register(record(n)) for n in range(30)]
    ledger.save(*targets, actor=OPERATOR)
    first = ledger.head_seq()
    for t in targets[:10]:
        t.update(record(int(t.state["name"][3:-6]), credit_class="D"))
    ledger.save(*targets[:10], actor=OPERATOR)
    middle = ledger.head_seq()
    targets[3].update(record(3, status="注销", credit_class="D"))
    ledger.save(targets[3], actor=OPERATOR)
    runner = runner_for(ledger)
    runner.catch_up()
    queries = RegistryQueries(runner.store)
    for at_seq in (first, middle, ledger.head_seq(), None):
        expected = replay_targets(ledger, ledger.size() if at_seq is None else at_seq)
        got = {s["identifier"]: s for s in queries.states("targets", at_seq=at_seq)}
        assert got == expected
    page = queries.list("targets", {"credit_class": "D"}, limit=5)
    assert page.total == 10 and len(page.rows) == 5
    assert queries.list("targets", {"status": "deregistered"}).total == 1
    assert queries.list("targets", {"credit_class": "D"}, at_seq=first).total == 0
    assert queries.get("targets", [uscc(3)], at_seq=first)["status"] == "active"  # type: ignore[index]


def test_pages_equal_a_sorted_replay_at_every_seq(ledger: Ledger) -> None:
    """Every page, as of every seq, with filters and a name search: the replay's rows in
    identifier order (the current rows and the closed ones valid then are read apart)."""
    targets = [Target.register(record(n)) for n in range(23)]
    ledger.save(*targets, actor=OPERATOR)
    seqs = [ledger.head_seq()]
    numbers = range(len(targets))
    for rounds, chosen in enumerate((numbers[::3], numbers[1::4], numbers[::3])):
        for n in chosen:
            name = f"常州第{n}机械{rounds}有限公司"
            targets[n].update(record(n, credit_class="CD"[rounds % 2], name=name))
        ledger.save(*(targets[n] for n in chosen), actor=OPERATOR)
        seqs.append(ledger.head_seq())
    runner = runner_for(ledger)
    runner.catch_up()
    queries = RegistryQueries(runner.store)
    for at_seq in (*seqs, None):
        replayed = replay_targets(ledger, ledger.size() if at_seq is None else at_seq)
        rows = [replayed[k] for k in sorted(replayed)]
        for filters, search, wanted in (
            ({}, None, rows),
            ({"credit_class": "D"}, None, [r for r in rows if r["credit_class"] == "D"]),
            ({}, "机械1", [r for r in rows if "机械1" in str(r["name"])]),
        ):
            for offset in range(0, len(wanted) + 7, 7):
                page = queries.list(
                    "targets", filters, at_seq=at_seq, offset=offset, limit=7, search=search
                )
                assert (page.total, page.rows) == (len(wanted), wanted[offset : offset + 7])
    if ledger.settings.database.is_postgres:  # migrated: pg_trgm indexes the current names
        found = runner.store.query("SELECT indexdef FROM pg_indexes WHERE tablename = 'targets'")
        assert any("gin_trgm_ops" in d and "to_seq IS NULL" in d for (d,) in found)


def test_crash_and_resume_never_applies_twice(ledger: Ledger) -> None:
    ledger.save(*[Target.register(record(n)) for n in range(10)], actor=OPERATOR)
    runner = runner_for(ledger)

    class Crash(Exception):
        pass

    projection = runner.projections[0]
    real_apply = projection.apply_one  # type: ignore[attr-defined]
    calls = {"n": 0}

    def crashing_apply(w, logged):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 6:  # inside the batch: five events applied in memory, none written
            raise Crash
        real_apply(w, logged)

    projection.apply_one = crashing_apply  # type: ignore[attr-defined]
    with pytest.raises(Crash):
        runner.catch_up()
    projection.apply_one = real_apply  # type: ignore[attr-defined]
    assert runner.seq("registry") == -1  # the batch rolled back as a whole
    runner.catch_up()
    runner.catch_up()
    queries = RegistryQueries(runner.store)
    assert queries.list("targets").total == 10
    assert runner.seq("registry") == ledger.head_seq()


def test_rebuild_gives_the_same_result(ledger: Ledger) -> None:
    targets = [Target.register(record(n)) for n in range(8)]
    ledger.save(*targets, actor=OPERATOR)
    targets[0].update(record(0, tags="投诉较多"))
    ledger.save(targets[0], actor=OPERATOR)
    runner = runner_for(ledger)
    runner.catch_up()
    before = runner.store.query(
        "SELECT aggregate_id, from_seq, to_seq, state FROM targets ORDER BY 1, 2"
    )
    runner.rebuild()
    after = runner.store.query(
        "SELECT aggregate_id, from_seq, to_seq, state FROM targets ORDER BY 1, 2"
    )
    assert before == after and len(after) == 9
