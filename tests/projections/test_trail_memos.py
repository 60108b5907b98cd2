"""The trail's memos (projections/trail.py): a one-subject memo is its subject row's owner, any
other a trail_memos row. Whatever the batches, what the projection recalls equals the in-memory
fold `Replay` (the definition of the trail), on SQLite and PostgreSQL — two aggregates claiming
one subject, an owner whose memo becomes something else and then one subject again, a memo
remembered for another aggregate, one whose subject has no row in the same event."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid5

import orjson
import pytest

from projections.store import ViewStore, open_view_store
from projections.trail import TrailProjection
from ssj.config import Settings
from ssj.domain import trail
from ssj.ledger.application import LoggedEvent
from tests.projections.test_registry import OPERATOR

NS = UUID("6f2b2f6e-0000-4000-8000-000000000000")


def oid(name: str) -> UUID:
    return uuid5(NS, name)


@dataclass
class Said:
    """A test event: it remembers `memo` for `memo_for` (its own aggregate if None), names
    `subject` with a subject row when `row`, and shows what its aggregate's memo recalls."""

    originator_id: UUID
    originator_version: int
    subject: tuple[str, str]
    memo: dict[str, Any] | None = None
    memo_for: UUID | None = None
    row: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def _said(event: Any, recall: trail.Recall) -> trail.Described:
    own = str(event.originator_id)
    remember = {}
    if event.memo is not None:
        remember[str(event.memo_for or event.originator_id)] = event.memo
    departments = {event.subject: ("D",)} if event.row else {}
    recalled = orjson.dumps(recall(own), option=orjson.OPT_SORT_KEYS).decode()
    return trail.Described(
        "Said", "", recalled, (event.subject,), remember=remember, departments=departments
    )


def plain(subject: tuple[str, str]) -> dict[str, Any]:
    return {"subjects": [subject]}


A, B, C, D = oid("a"), oid("b"), oid("c"), oid("d")
S1, S2, S3, S4, S5 = (("target", f"s{n}") for n in range(1, 6))
EVENTS = [
    Said(A, 1, S1, plain(S1)),  # A owns s1
    Said(B, 1, S1, plain(S1)),  # B claims s1: A's memo needs a row
    Said(A, 2, S1),  # recalls A
    Said(B, 2, S1),  # recalls B
    Said(A, 3, S2, {"subjects": [S2], "x": 1}),  # not one subject: a memo row
    Said(A, 4, S2),
    Said(A, 5, S3, plain(S3)),  # one subject again: owner of s3
    Said(A, 6, S3),
    Said(C, 1, S4, plain(S4), memo_for=D),  # for another aggregate: a memo row
    Said(D, 1, S4),
    Said(B, 3, S5, plain(S5), row=False),  # no subject row in this event: a memo row
    Said(B, 4, S5),
    Said(A, 7, S3, {"subjects": [S3], "replace": ["x", "y"]}),  # merged with A's memo
    Said(A, 8, S3),
    Said(B, 5, S1, plain(S1)),  # B owns s1 again
    Said(A, 9, S1, plain(S1)),  # A takes it back
    Said(B, 6, S1),
    Said(A, 10, S1),
]


def logged(seq: int, event: Said) -> LoggedEvent:
    return LoggedEvent(seq, OPERATOR, f"2026-12-04T00:00:{seq:02d}.000000Z", event)


def replayed() -> list[tuple[Any, ...]]:
    """(subject kind, id, seq, summary) of the trail folded in memory."""
    replay = trail.Replay()
    for seq, event in enumerate(EVENTS):
        replay.feed(seq, "", OPERATOR, event)
    return sorted(
        (kind, ref, row.seq, row.summary)
        for (kind, ref), rows in replay.rows.items()
        for row in rows
    )


@pytest.fixture
def store(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[ViewStore]:
    """The read-model store, with `Said` described for this test only (the registry of the
    domain's descriptions holds exactly the aggregates' event classes)."""
    monkeypatch.setitem(trail.DESCRIBERS, Said, _said)
    s = open_view_store(settings)
    yield s
    s.close()


def batches(size: int) -> list[Sequence[LoggedEvent]]:
    events = [logged(seq, e) for seq, e in enumerate(EVENTS)]
    return [events[i : i + size] for i in range(0, len(events), size)]


def project(store: ViewStore, size: int) -> dict[str, list[tuple[Any, ...]]]:
    """The trail's tables after feeding EVENTS in batches of `size`."""
    projection = TrailProjection()
    with store.transaction() as c:
        projection.drop(c)
        projection.create(c)
    for batch in batches(size):
        with store.transaction() as c:
            projection.apply_batch(c, batch)
    return {
        t: sorted(tuple(str(v) for v in r) for r in store.query(f"SELECT * FROM {t}"))
        for t in ("trail", "trail_memos", "trail_subjects")
    }


def test_recalled_memos_equal_the_replay_whatever_the_batches(store: ViewStore) -> None:
    one_by_one = project(store, 1)
    got = sorted(
        (k, r, int(seq), summary) for k, r, seq, _, _, _, _, _, _, summary in one_by_one["trail"]
    )
    assert got == replayed()
    owners = [(r[1], r[3]) for r in one_by_one["trail_subjects"] if r[3] != "None"]
    assert owners == [("s1", str(A))]  # A took s1 back; s3 went with A's merged memo
    memos = {r[0] for r in one_by_one["trail_memos"]}
    assert memos == {str(B), str(D)}  # B's memo of s5 (no row there), D's from C
    for size in (2, 3, 5, len(EVENTS)):
        assert project(store, size) == one_by_one, size
