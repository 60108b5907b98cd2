"""Extending the chain: envelopes, signatures and Merkle nodes for a batch of stored events.

Pure computation shared by the SQLite and PostgreSQL recorders, which call it inside their write
transaction once they hold the log's lock and know the head.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from eventsourcing.persistence import StoredEvent

from ssj.errors import ValidationError
from ssj.ledger.envelope import GENESIS_PREV, Actor, Envelope, envelope_hash, utc_now_text
from ssj.ledger.keys import LedgerSigner
from ssj.ledger.merkle import CompactRange, leaf_hash


@dataclass(frozen=True)
class Head:
    """The state the next append starts from: size, hash of the last envelope, Merkle frontier."""

    size: int
    last_hash: bytes
    frontier: tuple[bytes, ...]

    @classmethod
    def empty(cls) -> Head:
        return cls(0, GENESIS_PREV, ())


EMPTY_HEAD = Head.empty()


@dataclass(frozen=True)
class Extension:
    """Rows to insert in the same transaction as the events, and the head after them."""

    envelopes: list[tuple[int, int, bytes, bytes]]  # seq, notification_id, envelope, signature
    nodes: list[tuple[int, int, bytes]]  # level, index, hash
    head: Head


def require_actor(kwargs: dict[str, object]) -> Actor:
    actor = kwargs.get("actor")
    if not isinstance(actor, Actor):
        raise ValidationError(
            "未指明操作人：每条记录都必须记明谁做的",
            "no actor given: every event must record who did it",
        )
    return actor


def extend(
    head: Head,
    stored_events: Sequence[StoredEvent],
    notification_ids: Sequence[int],
    actor: Actor,
    signer: LedgerSigner,
) -> Extension:
    if len(notification_ids) != len(stored_events):
        raise RuntimeError("notification ids do not match stored events")
    tree = CompactRange(head.size, head.frontier)
    recorded_at = utc_now_text()
    prev = head.last_hash
    envelopes: list[tuple[int, int, bytes, bytes]] = []
    nodes: list[tuple[int, int, bytes]] = []
    seq = head.size
    for stored, nid in zip(stored_events, notification_ids, strict=True):
        data = Envelope(
            seq=seq,
            notification_id=nid,
            originator_id=str(stored.originator_id),
            originator_version=stored.originator_version,
            topic=stored.topic,
            state_sha256=hashlib.sha256(stored.state).digest(),
            actor=actor,
            recorded_at=recorded_at,
            prev_hash=prev,
            key_id=signer.key_id,
        ).to_bytes()
        envelopes.append((seq, nid, data, signer.sign(data)))
        nodes.extend(tree.append(leaf_hash(data)))
        prev = envelope_hash(data)
        seq += 1
    return Extension(envelopes, nodes, Head(seq, prev, tuple(tree.frontier)))
