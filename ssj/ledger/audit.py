"""`ssj verify`: run the streaming verifier over a ledger database.

The database is read, never trusted: the recorded checkpoints are only used to know which tree
sizes to remember, and are themselves re-checked as the stream passes them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from uuid import UUID

from eventsourcing.persistence import Notification

from ssj.ledger import note
from ssj.ledger.application import Ledger
from ssj.ledger.checkpoint import Checkpoint
from ssj.ledger.verify import (
    EnvelopeRow,
    LedgerVerifier,
    Report,
    check_quorum,
    unverified_checkpoint,
)

PAGE = 5000
PARALLEL_FROM = 20_000  # below this, worker start-up costs more than it saves

Progress = Callable[[int, int], None]


def envelope_rows(ledger: Ledger, start: int = 0, stop: int | None = None) -> Iterator[EnvelopeRow]:
    """Stored envelopes from seq `start` (to `stop`, exclusive), page by page."""
    recorder = ledger.ledger_recorder
    while True:
        rows = recorder.select_envelopes(start, PAGE, stop=stop)
        yield from rows
        if len(rows) < PAGE:
            return
        start = rows[-1][0] + 1


def stored_events(
    ledger: Ledger, start: int = 1, stop: int | None = None
) -> Iterator[Notification]:
    """Stored events from notification id `start` (to `stop`, inclusive), page by page."""
    recorder = ledger.recorder
    while True:
        rows = recorder.select_notifications(start, PAGE, stop=stop)
        yield from rows
        if len(rows) < PAGE:
            return
        start = rows[-1].id + 1


EventRow = tuple[int, str, int, str, bytes]  # nid, originator text, version, topic, state


def event_rows(ledger: Ledger, start: int = 1, stop: int | None = None) -> Iterator[EventRow]:
    """Stored events as plain values (`select_event_rows`), page by page."""
    recorder = ledger.ledger_recorder
    while True:
        rows = recorder.select_event_rows(start, PAGE, stop=stop)
        yield from rows
        if len(rows) < PAGE:
            return
        start = rows[-1][0] + 1


def row_notification(row: EventRow) -> Notification:
    """The Notification of a plain event row (only key ring and checkpoint events need one)."""
    nid, originator, version, topic, state = row
    return Notification(
        id=nid, originator_id=UUID(originator), originator_version=version, topic=topic, state=state
    )


def _stream(ledger: Ledger, verifier: LedgerVerifier, progress: Progress | None, total: int) -> int:
    """Every envelope with the event it seals (by notification id) through the verifier, in seq
    order; events no envelope seals are damage where they stand. `pair_streams` over plain rows:
    no UUID or Notification objects on the hot path."""
    verifier.to_notification = row_notification
    check_row, damage = verifier.check_row, verifier.damage
    events = event_rows(ledger)
    pending = next(events, None)
    done, seq = 0, -1
    for seq, nid, data, signature in envelope_rows(ledger):
        while pending is not None and pending[0] < nid:
            damage(seq, "unsealed_event", f"notification {pending[0]}")
            pending = next(events, None)
        if pending is not None and pending[0] == nid:
            check_row(seq, nid, data, signature, (*pending[1:], pending))
            pending = next(events, None)
        else:
            check_row(seq, nid, data, signature, None)
        done += 1
        if progress is not None and done % PAGE == 0:
            progress(done, total)
    while pending is not None:
        damage(seq + 1, "unsealed_event", f"notification {pending[0]}")
        pending = next(events, None)
    return done


def verify_ledger(
    ledger: Ledger,
    outside: Sequence[str] = (),
    trusted_keys: Sequence[str] = (),
    jobs: int | None = None,
    progress: Progress | None = None,
    witness_keys: Sequence[str] = (),
    quorum: int = 0,
) -> Report:
    """Verify everything; `outside` are signed checkpoints kept outside the database. With
    `witness_keys`, the newest checkpoint needs `quorum` valid cosignatures by them."""
    total = ledger.size()
    if jobs is None:
        jobs = os.cpu_count() or 1 if total >= PARALLEL_FROM else 1
    outside_cps = [unverified_checkpoint(s) for s in outside]
    sizes = {size for size, _ in ledger.checkpoints()}
    sizes |= {cp.size for cp in outside_cps if cp is not None}
    verifier = LedgerVerifier(ledger.mapper, sizes, jobs=jobs)
    done = 0
    try:
        done = _stream(ledger, verifier, progress, total)
    finally:
        report = verifier.finish()
    if progress is not None:
        progress(done, total)
    _check_consistency(ledger, verifier)
    _check_stored_root(ledger, verifier, report)
    _check_outside(verifier, report, outside, outside_cps, trusted_keys)
    if witness_keys or quorum:
        check_quorum(verifier, witness_keys, quorum, outside)
    return report


def _check_consistency(ledger: Ledger, verifier: LedgerVerifier) -> None:
    """Successive recorded checkpoints must be consistent, by proofs served from storage."""
    previous: Checkpoint | None = None
    for seq, cp in verifier.recorded:
        if previous is not None and previous.size <= cp.size <= verifier.tree.size:
            try:
                proof = ledger.consistency_proof(previous.size, cp.size)
            except Exception as e:
                verifier.damage(seq, "merkle_nodes", str(e))
                proof = []
            if not ledger.suite.tree.verify_consistency(
                previous.size, cp.size, previous.root_hash, cp.root_hash, proof
            ):
                verifier.damage(seq, "consistency", f"sizes {previous.size} -> {cp.size}")
        previous = cp


def _check_stored_root(ledger: Ledger, verifier: LedgerVerifier, report: Report) -> None:
    try:
        stored = ledger.root(report.size) if report.size <= ledger.size() else None
    except Exception as e:
        verifier.damage(report.size, "merkle_nodes", str(e))
        return
    if stored is not None and stored != report.root:
        verifier.damage(max(report.size - 1, 0), "merkle_nodes", "root at full size")


def _check_outside(
    verifier: LedgerVerifier,
    report: Report,
    outside: Sequence[str],
    parsed: Sequence[Checkpoint | None],
    trusted_keys: Sequence[str],
) -> None:
    every_key: list[note.Verifier | str] = [s.verifier for s in verifier.keys.values()]
    keys: Sequence[note.Verifier | str] = list(trusted_keys) or every_key
    for signed, cp in zip(outside, parsed, strict=True):
        report.outside_checkpoints += 1
        at = max(cp.size - 1, 0) if cp is not None else 0
        verifier.check_checkpoint(at, signed, keys)
