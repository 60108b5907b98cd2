"""The audit trail read model, on SQLite and PostgreSQL: it equals a replay of the ledger from
seq 0 through the pure mapping, for every subject of a small demo year; filters and pagination;
a signature tampered with by the DBA shows as invalid."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from projections.trail import COLUMNS, TrailFilters, subject_departments, trail_page
from ssj.domain.organisation import Role
from ssj.domain.trail import KINDS, SUBSCRIBER, USER, Replay, Subject
from ssj.errors import ValidationError
from ssj.services.context import Services
from ssj.services.trail import TrailService, make_filters
from tests import worlds
from tests.ledger.test_tamper import RawDB, raw  # noqa: F401  (the DBA fixture)
from tests.services.conftest import Jurisdiction, jurisdiction  # noqa: F401  (fixture)
from tests.services.test_draws import World

SMALL, SEED = worlds.SMALL, worlds.SEED
NOVEMBER = worlds.NOVEMBER


@pytest.fixture(params=worlds.BACKENDS)
def demo(request: pytest.FixtureRequest) -> Iterator[Services]:
    """A copy of the demo's small year to 2026-11-20, follow-up included (`tests/worlds.py`)."""
    with worlds.services_over(request, "followed") as s:
        yield s


def replay(services: Services) -> Replay:
    """The trail computed from the ledger alone, from seq 0."""
    folded = Replay()
    start = 0
    while True:
        batch = services.ledger.read(start, 2000)
        for logged in batch:
            folded.feed(logged.seq, logged.recorded_at, logged.actor, logged.event)
        if len(batch) < 2000:
            return folded
        start = batch[-1].seq + 1


def model_rows(services: Services) -> dict[Subject, list[dict[str, Any]]]:
    found: dict[Subject, list[dict[str, Any]]] = {}
    for row in services.store.query(
        f"SELECT subject_kind, subject_id, {', '.join(COLUMNS)} FROM trail "
        "ORDER BY subject_kind, subject_id, seq"
    ):
        found.setdefault((row[0], row[1]), []).append(dict(zip(COLUMNS, row[2:], strict=True)))
    return found


def replay_rows(folded: Replay) -> dict[Subject, list[dict[str, Any]]]:
    return {
        subject: [{c: getattr(r, c) for c in COLUMNS} for r in rows]
        for subject, rows in folded.rows.items()
    }


@pytest.mark.slow
def test_audit_trail_equals_a_replay(demo: Services) -> None:
    folded = replay(demo)
    expected = replay_rows(folded)
    model = model_rows(demo)
    assert model.keys() == expected.keys()
    assert model == expected
    # Every kind is there, with real histories, and the departments agree.
    for kind in KINDS:
        if kind == SUBSCRIBER:  # the demo registers no platform: tests/services/test_delivery.py
            continue
        subjects = sorted(s for s in expected if s[0] == kind)
        assert len(subjects) >= 3, kind
        for subject in subjects[:5] + subjects[-5:]:
            total, rows = trail_page(demo.store, subject, TrailFilters(), limit=None)
            assert rows == expected[subject] and total == len(rows)
            departments = folded.departments.get(subject, ())
            assert subject_departments(demo.store, subject) == departments
    kinds = {r["kind"] for rows in expected.values() for r in rows}
    for kind in (
        "Target.Registered",
        "Inspector.Registered",
        "Item.Published",
        "Plan.Approved",
        "Draw.Revealed",
        "Draw.Recused",
        "Draw.Abandoned",
        "Task.ResultSigned",
        "Task.ObjectionDecided",
        "Task.Closed",
        "FollowUp.Rechecked",
        "User.CertificateLinked",
    ):
        assert kind in kinds, kind
    # A task's history holds the draw that made it and its whole lifecycle, in seq order.
    closed = [
        rows
        for (k, _), rows in expected.items()
        if k == "task" and rows[-1]["kind"] in {"Task.Closed", "FollowUp.Rechecked"}
    ]
    assert closed
    assert closed[0][0]["kind"] == "Draw.Revealed"
    assert [r["seq"] for r in closed[0]] == sorted(r["seq"] for r in closed[0])
    # Rebuilt from the ledger alone: the same rows.
    demo.runner.rebuild()
    assert model_rows(demo) == expected


@pytest.fixture
def world(jurisdiction: Jurisdiction) -> World:  # noqa: F811
    w = World(jurisdiction, targets=20, inspectors=4)
    w.publish()
    return w


def test_filters_and_pagination(world: World) -> None:
    s = world.s
    draw_id = world.run()
    supervisor = world.j.as_role(Role.SUPERVISOR)
    trail = TrailService(s)
    plan = "CZ-SJJ-TZ/2026-01"
    everything = trail.page(supervisor, "plan", plan, limit=1000)["items"]
    kinds = [r["kind"] for r in everything]
    assert kinds[:4] == ["Plan.Drafted", "Plan.Submitted", "Plan.Approved", "Plan.Published"]
    assert kinds[-1] == "Draw.Revealed" and all(r["signature"] == "valid" for r in everything)
    # By actor and by the actor's department.
    by_leader = trail.page(supervisor, "plan", plan, make_filters(actor="leader-own"))
    assert [r["kind"] for r in by_leader["items"]] == ["Plan.Approved"]
    other = trail.page(supervisor, "plan", plan, make_filters(department="CZ-SJJ-SP"))
    assert other["total"] == 0 and other["items"] == []
    # Seq range, inclusive.
    seqs = [r["seq"] for r in everything]
    ranged = trail.page(supervisor, "plan", plan, make_filters(from_seq=seqs[1], to_seq=seqs[3]))
    assert [r["seq"] for r in ranged["items"]] == seqs[1:4]
    # Time range: a date is a whole day in Beijing time; recorded times are now.
    first = everything[0]["time_beijing"][:10]
    today = trail.page(supervisor, "plan", plan, make_filters(since=first, until=first))
    assert today["total"] == len(everything)
    assert trail.page(supervisor, "plan", plan, make_filters(until="2020-01-01"))["total"] == 0
    later = trail.page(supervisor, "plan", plan, make_filters(since=everything[2]["recorded_at"]))
    assert [r["seq"] for r in later["items"]] == seqs[2:]
    # Pages in seq order that add up to the whole.
    pages = [trail.page(supervisor, "plan", plan, offset=o, limit=3) for o in range(0, 12, 3)]
    assert all(p["total"] == len(everything) for p in pages)
    assert [r["seq"] for p in pages for r in p["items"]] == seqs
    # The draw by its label is the draw by its id.
    by_label = trail.page(supervisor, "draw", "CZ-SJJ-TZ/2026-01/第1轮")
    assert by_label["subject"]["id"] == draw_id and by_label["total"] == 4
    # Bad input: bilingual, nothing written.
    size = s.ledger.size()
    for call in (
        lambda: trail.page(supervisor, "firm", plan),
        lambda: trail.page(supervisor, "plan", "no-slash"),
        lambda: make_filters(since="2026-13-01"),
        lambda: make_filters(since="2026-03-02", until="2026-03-01"),
        lambda: make_filters(from_seq=5, to_seq=4),
        lambda: make_filters(from_seq=-1),
        lambda: trail.page(supervisor, "plan", plan, limit=0),
        lambda: trail.page(supervisor, "plan", plan, offset=-1),
        lambda: trail.page(supervisor, "plan", plan, limit=1001),
    ):
        with pytest.raises(ValidationError) as caught:
            call()
        assert caught.value.zh and caught.value.en and caught.value.zh != caught.value.en
    assert s.ledger.size() == size


def test_who_may_read_and_refusals_are_in_the_trail(world: World) -> None:
    from ssj.domain.access import Forbidden
    from ssj.errors import NotFoundError
    from tests.services.conftest import OTHER, inspector_row

    s = world.s
    trail = TrailService(s)
    operator = world.operator
    world.j.registry.add_user(world.j.root, "operator-other", "他科操作员", OTHER, ["operator"])
    stranger = s.principal("operator-other")
    own = trail.page(operator, "item", "CZ-SJJ-TZ/TZ-001")["items"]  # own department
    assert [r["kind"] for r in own] == ["Item.Published", "Plan.Drafted"]
    with pytest.raises(Forbidden):
        trail.page(stranger, "item", "CZ-SJJ-TZ/TZ-001")
    with pytest.raises(NotFoundError):
        trail.page(operator, "target", "no-such-target")
    # The refused attempt is on the stranger's own trail (全程留痕).
    supervisor = world.j.as_role(Role.SUPERVISOR)
    refused = trail.page(supervisor, USER, "operator-other")["items"]
    assert refused[-1]["kind"] == "Refusal.Recorded" and "read_registry" in refused[-1]["summary"]
    # An inspector registered by another department's operator is that department's.
    world.j.registry.save_inspector(stranger, inspector_row(9, department=OTHER))
    assert trail.page(stranger, "inspector", "32040000009")["total"] == 1


def test_a_tampered_signature_shows_as_invalid(world: World, raw: RawDB) -> None:  # noqa: F811
    s = world.s
    trail = TrailService(s)
    supervisor = world.j.as_role(Role.SUPERVISOR)
    rows = trail.page(supervisor, "item", "CZ-SJJ-TZ/TZ-001")["items"]
    seq = rows[0]["seq"]
    assert rows[0]["signature"] == "valid"
    _, _, signature = raw.envelope(seq)
    forged = bytes([signature[0] ^ 1]) + signature[1:]
    raw.run("UPDATE ssj_envelopes SET signature = ? WHERE seq = ?", forged, seq)
    row = trail.page(supervisor, "item", "CZ-SJJ-TZ/TZ-001")["items"][0]
    assert (row["signature"], row["signature_zh"]) == ("invalid", "签名无效")
    # The DBA edits the read model instead: the row no longer says what the ledger signed.
    target = trail.page(supervisor, "plan", "CZ-SJJ-TZ/2026-01")["items"][0]
    with s.store.transaction() as c:
        c.execute(
            "UPDATE trail SET actor = 'someone-else' WHERE subject_kind = 'plan' AND seq = ?",
            (target["seq"],),
        )
    [edited] = trail.page(supervisor, "plan", "CZ-SJJ-TZ/2026-01", limit=1)["items"]
    assert edited["actor"] == "someone-else" and edited["signature"] == "mismatch"


def test_an_altered_or_removed_event_shows_on_its_row(world: World, raw: RawDB) -> None:  # noqa: F811
    """Each row's stored event is read with its neighbours' (in runs), and still judged alone."""
    supervisor = world.j.as_role(Role.SUPERVISOR)
    trail = TrailService(world.s)
    rows = trail.page(supervisor, "item", "CZ-SJJ-TZ/TZ-001")["items"]
    assert len(rows) >= 2 and {r["signature"] for r in rows} == {"valid"}
    nid, _, state = raw.event(rows[0]["seq"])
    raw.run("UPDATE {events} SET state = ? WHERE {nid} = ?", state + b" ", nid)
    nid_last = raw.event(rows[-1]["seq"])[0]
    raw.run("DELETE FROM {events} WHERE {nid} = ?", nid_last)
    statuses = [r["signature"] for r in trail.page(supervisor, "item", "CZ-SJJ-TZ/TZ-001")["items"]]
    assert statuses[0] == "altered" and statuses[-1] == "missing"
    assert set(statuses[1:-1]) <= {"valid"}
