"""`LedgerVerifier.check_row` checks ordinary rows in one pass and sends every other row through
`_check_row_fully`. Both must leave the verifier in the same state, with the same damage named.
The rows of a real ledger (key ring, two checkpoints, a key rotation) are fed to a verifier that
takes the fast path and to one that never does: unchanged, then with each field of each row
altered in turn, and with a key's validity cut short at each row; the reports and the verifiers'
state must be equal every time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import orjson
import pytest

from ssj.ledger.application import Ledger
from ssj.ledger.audit import envelope_rows, event_rows, row_notification
from ssj.ledger.verify import LedgerVerifier
from tests.conftest import base_settings
from tests.ledger.test_ledger import ALICE, Thing

Row = tuple[int, int, bytes, bytes, tuple[Any, ...] | None]


class FullOnly(LedgerVerifier):
    """The reference: every row through the full path."""

    def check_row(self, *args: Any) -> None:
        self._check_row_fully(*args)


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, list[Row]]:
    """A small real ledger: key ring, a checkpoint, a key rotation, more events, a checkpoint."""
    tmp: Path = tmp_path_factory.mktemp("fastpath")
    ledger = Ledger(base_settings(tmp, f"sqlite:///{tmp / 'ledger.sqlite'}"))
    try:
        ledger.initialise()
        for i in range(12):
            if i == 4:
                ledger.issue_checkpoint()
            if i == 8:
                ledger.rotate_key(ALICE)
            thing = Thing(f"thing-{i}")
            thing.rename(f"thing-{i}-renamed")
            ledger.save(thing, actor=ALICE)
        ledger.issue_checkpoint()
        events = {e[0]: e for e in event_rows(ledger)}
        rows: list[Row] = []
        for seq, nid, data, signature in envelope_rows(ledger):
            e = events.get(nid)
            rows.append((seq, nid, data, signature, None if e is None else (*e[1:], e)))
        return ledger.mapper, rows
    finally:
        ledger.close()


Cut = tuple[int, str, str, int]  # at row index, of key id, set this validity field to seq + n


def run(cls: type[LedgerVerifier], mapper: Any, rows: list[Row], cut: Cut | None = None) -> Any:
    """Feed the rows; with `cut`, one key's validity is changed before that row (the key ring
    never revokes its active key, so no stored ledger holds such a state; the verifier must still
    judge it the same way on both paths)."""
    verifier = cls(mapper, checkpoint_sizes=range(len(rows) + 2))
    verifier.to_notification = row_notification
    for i, row in enumerate(rows):
        if cut is not None and i == cut[0] and cut[1] in verifier.keys:
            setattr(verifier.keys[cut[1]], cut[2], row[0] + cut[3])
        verifier.check_row(*row)
    state = (
        verifier.expected_seq,
        verifier.prev_hex,
        verifier.last_nid,
        list(verifier.pending),
        {k: (s.valid_from, s.valid_to, s.revoked_from, s.runs) for k, s in verifier.keys.items()},
        dict(verifier.roots),
        [(seq, cp.to_text()) for seq, cp in verifier.recorded],
    )
    return asdict(verifier.finish()), state


def test_the_published_ledger_is_intact_on_both_paths(published: tuple[Any, list[Row]]) -> None:
    mapper, rows = published
    fast, full = run(LedgerVerifier, mapper, rows), run(FullOnly, mapper, rows)
    assert fast == full
    report = fast[0]
    assert report["damage"] == [] and report["signatures"] == len(rows)
    assert report["checkpoints"] == 2


def test_a_key_revoked_while_active_is_named_on_both_paths(
    published: tuple[Any, list[Row]],
) -> None:
    mapper, rows = published
    at, last = len(rows) - 3, len(rows) - 1  # the last row is a checkpoint
    active = orjson.loads(rows[-1][2])["key_id"]
    cut = (at, active, "revoked_from", 0)
    fast, full = (run(cls, mapper, rows, cut) for cls in (LedgerVerifier, FullOnly))
    assert fast == full
    named = sorted((d["seq"], d["kind"]) for d in fast[0]["damage"])
    revoked = [(seq, "revoked_key") for seq in range(at, last + 1)]
    assert named == sorted([*revoked, (last, "checkpoint")])


def _with(data: bytes, key: str, value: Any) -> bytes:
    env = json.loads(data)
    if value is DROP:
        env.pop(key, None)
    else:
        env[key] = value(env.get(key)) if callable(value) else value
    return json.dumps(env, separators=(",", ":")).encode()  # orjson refuses 10**30


DROP = object()
ENVELOPE_KEYS = ("seq", "v", "prev", "key_id", "originator_id", "originator_version", "topic")
# Values put in an envelope field: absent, other types, the same value as another type.
ODD = (DROP, None, 0, -1, 10**30, "x", [], {}, True, str, lambda v: [v], lambda v: v * 2)
ODD_NUMBERS = (float, lambda v: v + 1)  # for the int fields


def alterations(row: Row, key_ids: list[str]) -> Iterator[tuple[str, Row | None]]:
    """(what, the row altered that way, or None: the row removed)."""
    seq, nid, data, signature, event = row
    yield "removed", None
    yield "event missing", (seq, nid, data, signature, None)
    for n in (-1, 1, 2):
        yield f"seq {n:+}", (seq + n, nid, data, signature, event)
        yield f"nid {n:+}", (seq, nid + n, data, signature, event)
    yield "signature zeroed", (seq, nid, data, bytes(64), event)
    yield "envelope cut", (seq, nid, data[:-1], signature, event)
    yield "envelope a list", (seq, nid, b"[1, 2]", signature, event)
    if event is not None:
        yield "state", (seq, nid, data, signature, (*event[:3], event[3] + b" ", event[4]))
        yield "topic", (seq, nid, data, signature, (*event[:2], "ssj.x:Y.Z", *event[3:]))
        yield "version", (seq, nid, data, signature, (event[0], event[1] + 1, *event[2:]))
    for key in ENVELOPE_KEYS:
        numeric = key in ("seq", "v", "originator_version")
        for i, value in enumerate(ODD + ODD_NUMBERS if numeric else ODD):
            yield f"envelope {key} #{i}", (seq, nid, _with(data, key, value), signature, event)
    for key_id in key_ids:
        yield f"key {key_id}", (seq, nid, _with(data, "key_id", key_id), signature, event)
    for what, bytes_altered in byte_alterations(seq, data):
        yield what, (seq, nid, bytes_altered, signature, event)


def byte_alterations(seq: int, data: bytes) -> Iterator[tuple[str, bytes]]:
    """Envelopes as bytes no writer of ssj makes: what a stricter decoder than orjson would refuse
    or read otherwise (a faster one was tried for the ordinary path, and these are how it
    differed), and what the ordinary path's subscripts must not take for a field."""
    yield "invalid UTF-8 in the actor", data.replace(b'"user":"', b'"user":"\xff', 1)
    yield "a lone surrogate in the actor", data.replace(b'"user":"', b'"user":"\\ud800', 1)
    yield "an escaped character", data.replace(b'"user":"', b'"user":"\\u0041', 1)
    yield "a field more, out of range", data[:-1] + b',"zz":1e999}'
    yield "a field more", data[:-1] + b',"zz":1}'
    yield "the actor with a member more", data.replace(b'"actor":{', b'"actor":{"x":1,', 1)
    yield "the actor a list", _with(data, "actor", ["a"])
    yield "the actor without its role", _with(data, "actor", lambda a: {"user": "u"})
    yield "recorded_at a number", _with(data, "recorded_at", 5)
    yield "recorded_at missing", _with(data, "recorded_at", DROP)
    yield "seq twice, the first wrong", b'{"seq":%d,' % (seq + 7) + data[1:]
    yield "seq twice, the last wrong", data[:-1] + b',"seq":%d}' % (seq + 7)
    yield "spaces", data.replace(b",", b" , ").replace(b":", b" : ")
    yield "seq as 1.0e0", _with(data, "seq", float(seq))
    yield "trailing garbage", data + b"x"
    yield "trailing space", data + b" "


@pytest.mark.slow
def test_every_altered_row_is_named_the_same_way(published: tuple[Any, list[Row]]) -> None:
    mapper, rows = published
    key_ids = sorted({orjson.loads(r[2])["key_id"] for r in rows})
    cases = 0
    special = [i for i, r in enumerate(rows) if r[4] is None or ":KeyRing." in r[4][2]]
    special += [i for i, r in enumerate(rows) if "Checkpoint" in str(r[4] and r[4][2])]
    # The first rows, every key ring and checkpoint row, the rows after them, two ordinary ones.
    chosen = sorted({0, 1, 2, 5, len(rows) - 2, *special, *(i + 1 for i in special)})
    for i in (i for i in chosen if i < len(rows)):
        row = rows[i]
        for what, altered in alterations(row, key_ids):
            changed = [*rows[:i], *([altered] if altered else []), *rows[i + 1 :]]
            fast, full = run(LedgerVerifier, mapper, changed), run(FullOnly, mapper, changed)
            assert fast == full, (i, what)
            # Undamaged only if set to what it was, or the newest row cut (no outside checkpoint).
            unseen = altered == row or (altered is None and i == len(rows) - 1)
            unseen |= what.startswith("nid +") and i == len(rows) - 1  # nids only pair
            assert fast[0]["damage"] or unseen, (i, what)
            cases += 1
    assert cases >= 90 * len(chosen)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("field", "offset"), [("valid_from", 1), ("valid_to", -1), ("revoked_from", 0)]
)
def test_a_key_cut_short_at_any_row_is_named_the_same_way(
    published: tuple[Any, list[Row]], field: str, offset: int
) -> None:
    mapper, rows = published
    for i, row in enumerate(rows):
        cut = (i, orjson.loads(row[2])["key_id"], field, offset)
        fast, full = (run(cls, mapper, rows, cut) for cls in (LedgerVerifier, FullOnly))
        assert fast == full, i
        assert fast[0]["damage"] or i == 0, i  # (the genesis row makes the first key)
