"""The audit trail's pure mapping: every event class maps, and representative events concern the
subjects officials would look them up by."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from dataclasses import fields
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import Aggregate

import ssj.domain
from ssj.domain import trail
from ssj.domain.access import Refusal
from ssj.domain.conflicts import Declaration
from ssj.domain.draws import Draw
from ssj.domain.followup import FollowUp
from ssj.domain.plans import Plan, plan_id
from ssj.domain.targets import Target, TargetRecord
from ssj.domain.tasks import Task, task_id
from ssj.domain.trail import DRAW, INSPECTOR, ITEM, PLAN, TARGET, TASK, USER, Replay, describe
from ssj.ledger.envelope import Actor
from ssj.ledger.keyring import KeyRing, TransparencyLog
from tests.services.conftest import uscc

USCC = uscc(1)
MOMENT = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
OPERATOR = Actor("operator-own", "CZ-SJJ-TZ", "operator")


def aggregates() -> list[type[Aggregate]]:
    found: list[type[Aggregate]] = [KeyRing, TransparencyLog]
    for info in pkgutil.iter_modules(ssj.domain.__path__):
        module = importlib.import_module(f"ssj.domain.{info.name}")
        for value in vars(module).values():
            if (
                inspect.isclass(value)
                and issubclass(value, Aggregate)
                and value.__module__ == module.__name__
            ):
                found.append(value)
    return found


def event_classes(aggregate: type[Aggregate]) -> list[type[Any]]:
    """The aggregate's own event classes (not the base `Event`, nor the library's default
    `Created` when the aggregate names its creation event otherwise)."""
    found = [
        v
        for n, v in vars(aggregate).items()
        if inspect.isclass(v) and issubclass(v, Aggregate.Event) and n != "Event"
    ]
    created = [v for v in found if issubclass(v, Aggregate.Created)]
    if len(created) > 1:
        found = [v for v in found if v.__name__ != "Created"]
    return found


def synthetic(cls: type[Any], fixed: int | None = None) -> Any:
    """An instance with a plausible empty value for every field; with `fixed`, the same on every
    run (that originator id, one moment, named non-empty text, true flags)."""
    values: dict[str, Any] = {}
    for f in fields(cls):
        kind = str(f.type)
        if f.name == "originator_id":
            values[f.name] = uuid4() if fixed is None else UUID(int=fixed)
        elif f.name == "timestamp":
            values[f.name] = datetime.now(UTC) if fixed is None else MOMENT
        elif kind.startswith("dict"):
            values[f.name] = {}
        elif kind.startswith("list"):
            values[f.name] = []
        elif kind == "bool":
            values[f.name] = fixed is not None
        elif kind == "int":
            values[f.name] = 1 if fixed is None else 7
        elif "None" in kind:
            values[f.name] = None
        else:
            values[f.name] = "x" if fixed is None else f"{f.name}-x"
    return cls(**values)


EVENT_CLASSES = [cls for a in aggregates() for cls in event_classes(a)]


def test_every_event_class_is_described_and_nothing_else() -> None:
    """The registry holds exactly the aggregates' event classes: none forgotten, none stale."""
    assert len(EVENT_CLASSES) > 50
    missing = [c.__qualname__ for c in EVENT_CLASSES if c not in trail.DESCRIBERS]
    assert missing == [], "register a description beside the aggregate: @trail.describes(...)"
    assert set(trail.DESCRIBERS) == set(EVENT_CLASSES)


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda c: c.__qualname__)
def test_every_event_class_maps_without_error(cls: type[Any]) -> None:
    event = synthetic(cls)
    # The description itself, not `describe`'s safety net, must cope with it.
    described = trail.DESCRIBERS[cls](event, lambda _: None)
    assert described.kind == cls.__qualname__
    assert described.kind_zh, cls
    assert all(kind in trail.KINDS and ref for kind, ref in described.subjects)


def test_a_class_is_described_once() -> None:
    with pytest.raises(ValueError, match="described twice"):
        trail.describes(Target.Registered)(lambda event, recall: trail.unknown(event))


def test_unknown_and_malformed_events_map_to_no_subject() -> None:
    class Stranger:
        pass

    found = describe(Stranger(), lambda _: None)
    assert found.subjects == () and found.kind.endswith("Stranger")
    broken = synthetic(Target.Updated)
    object.__setattr__(broken, "changes", 42)  # not a mapping: a malformed old event
    assert describe(broken, lambda _: None).subjects == ()


def _events(*aggregates: Aggregate) -> list[Any]:
    return [e for a in aggregates for e in a.collect_events()]


def _record(identifier: str = USCC, **changes: Any) -> TargetRecord:
    raw = {
        "identifier": identifier,
        "name": "常州第1机械有限公司",
        "region_code": "320402",
        "target_type": "企业",
        "department": "CZ-SJJ-TZ",
        "credit_class": "B",
        **changes,
    }
    return TargetRecord.parse(raw)


def representative_history(replay: Replay) -> list[trail.Described]:
    """A target, a conflict declared and withdrawn, a joint plan, its draw with a recusal, the
    drawn task, its follow-up and a refusal, fed to `replay` in order."""
    target = Target.register(_record())
    target.update(_record(status="经营异常"))
    declaration = Declaration.declare("3204001", USCC, "近亲属", "2025-01-01", None, "配偶任职")
    declaration.withdraw("已离职")
    plan_state = {"items": ["TZ-001"], "cooperating": {"CZ-SJJ-JL": ["JL-002"]}, "title": "计划"}
    plan = Plan(department="CZ-SJJ-TZ", code="2026-01", state=plan_state)
    plan.submit()
    pid = str(plan_id("CZ-SJJ-TZ", "2026-01"))
    facts = {
        "plan": {"department": "CZ-SJJ-TZ", "code": "2026-01"},
        "round": 1,
        "items": {"CZ-SJJ-TZ": ["TZ-001"]},
        "departments": ["CZ-SJJ-TZ", "CZ-SJJ-JL"],
        "strata": [{"name": "B", "size": 10, "k": 1}],
        "entropy": {"witnesses": ["公证员"]},
    }
    draw = Draw(plan_id=pid, round=1, facts=facts)
    outcome = {
        "strata": [{"name": "B", "sample": [USCC]}],
        "teams": {USCC: {"inspectors": ["3204001", "3204002"], "experts": []}},
    }
    draw._revealed(nonce="n", seed="s" * 64, outcome=outcome)  # the seed's checks: elsewhere
    draw.recuse(USCC, "3204001", "近亲属", "3204003")
    task = Task.notify(
        draw_id=str(draw.id),
        plan_id=pid,
        identifier=USCC,
        departments=["CZ-SJJ-TZ"],
        items={"CZ-SJJ-TZ": ["TZ-001"]},
        drawn_on="2026-03-02",
        on="2026-03-03",
        how="电话",
        today=date(2026, 3, 10),
    )
    follow = FollowUp.open(
        task_id=str(task.id),
        identifier=USCC,
        departments=["CZ-SJJ-TZ"],
        completed_on="2026-03-05",
        team=["3204002", "3204003"],
    )
    follow.remind(on="2026-03-06", text="请尽快整改", today=date(2026, 3, 10))
    refusal = Refusal(
        username="inspector-own",
        department="CZ-SJJ-TZ",
        roles=["inspector"],
        command="run_draws",
        departments=["CZ-SJJ-TZ"],
        reason="role(s) inspector may not run_draws",
    )
    events = _events(target, declaration, plan, draw, task, follow, refusal)
    return [
        replay.feed(n, "2026-03-10T01:00:00.000000Z", OPERATOR, e) for n, e in enumerate(events)
    ]


def test_representative_events_name_their_subjects() -> None:
    replay = Replay()
    described = representative_history(replay)
    by_kind = {d.kind: set(d.subjects) for d in described}
    draw_id = next(ref for kind, ref in by_kind["Draw.Committed"] if kind == DRAW)
    t, task_ref = (TARGET, USCC), (TASK, str(task_id(UUID(draw_id), USCC)))
    assert by_kind["Target.Updated"] == {t}
    assert by_kind["Declaration.Withdrawn"] == {(INSPECTOR, "3204001"), t}
    assert by_kind["Plan.Drafted"] == {
        (PLAN, "CZ-SJJ-TZ/2026-01"),
        (ITEM, "CZ-SJJ-TZ/TZ-001"),
        (ITEM, "CZ-SJJ-JL/JL-002"),
    }
    assert by_kind["Plan.Submitted"] == {(PLAN, "CZ-SJJ-TZ/2026-01")}
    draw_subjects = {(DRAW, draw_id), (PLAN, "CZ-SJJ-TZ/2026-01")}
    assert by_kind["Draw.Revealed"] == draw_subjects | {
        t,
        task_ref,
        (INSPECTOR, "3204001"),
        (INSPECTOR, "3204002"),
    }
    assert by_kind["Draw.Recused"] == draw_subjects | {
        t,
        task_ref,
        (INSPECTOR, "3204001"),
        (INSPECTOR, "3204003"),
    }
    # The task's team after the recusal: the replacement is a subject, the recused one not.
    assert by_kind["Task.Notified"] == {task_ref, t, (INSPECTOR, "3204002"), (INSPECTOR, "3204003")}
    assert by_kind["FollowUp.Reminded"] == {
        task_ref,
        t,
        (INSPECTOR, "3204002"),
        (INSPECTOR, "3204003"),
    }
    assert by_kind["Refusal.Recorded"] == {(USER, "inspector-own")}
    # Summaries in Chinese, per subject where it helps.
    assert "经营异常" in replay.rows[t][1].summary
    assert "替补" in replay.rows[(INSPECTOR, "3204003")][0].summary
    revealed = [r for r in replay.rows[t] if r.kind == "Draw.Revealed"]
    assert len(revealed) == 1 and "被抽中" in revealed[0].summary
    assert replay.departments[(DRAW, draw_id)] == ("CZ-SJJ-TZ", "CZ-SJJ-JL")
    assert replay.departments[task_ref] == ("CZ-SJJ-TZ", "CZ-SJJ-JL")
    assert replay.departments[t] == ("CZ-SJJ-TZ",)
