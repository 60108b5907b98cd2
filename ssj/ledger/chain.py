"""Extending the chain: envelopes, signatures and Merkle nodes for a batch of stored events.

Pure computation shared by the SQLite and PostgreSQL recorders. A writer *drafts* a batch from
the head it last committed, before taking the log's lock, and signs it in a thread pool while the
database works (Ed25519 signing in `cryptography` releases the GIL). Under the lock the recorder
compares the true head with the draft's: if another writer got in first, it drafts again there.
So signatures never sit on the critical path of a single writer, and are never wrong for many.

Only Merkle nodes at `STORED_LEVEL` and above are stored: the lower levels are recomputed from
at most 2**STORED_LEVEL - 1 envelopes, which keeps proofs at O(log n) reads and cuts the rows
written per event from two to about one eighth.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass

from eventsourcing.persistence import StoredEvent

from ssj.errors import ValidationError
from ssj.ledger.envelope import GENESIS_PREV, Actor, Envelope, envelope_hash, utc_now_text
from ssj.ledger.keys import LedgerSigner
from ssj.ledger.merkle import CompactRange

STORED_LEVEL = 3
SIGN_CHUNK = 64  # envelopes per signing task


@dataclass(frozen=True)
class Head:
    """The state the next append starts from: size, hash of the last envelope, Merkle frontier."""

    size: int
    last_hash: bytes
    frontier: tuple[bytes, ...]


EMPTY_HEAD = Head(0, GENESIS_PREV, ())


@dataclass
class Draft:
    """A batch's envelopes computed from an assumed head; signatures may still be in flight."""

    start: Head
    key_id: str
    envelopes: list[bytes]
    signing: list[Future[list[bytes]]] | list[bytes]
    nodes: list[tuple[int, int, bytes]]  # level, index, hash (level >= STORED_LEVEL)
    end: Head

    def signatures(self) -> list[bytes]:
        if self.signing and isinstance(self.signing[0], Future):
            return [s for f in self.signing for s in f.result()]
        return self.signing  # type: ignore[return-value]


def require_actor(kwargs: dict[str, object]) -> Actor:
    actor = kwargs.get("actor")
    if not isinstance(actor, Actor):
        raise ValidationError(
            "未指明操作人：每条记录都必须记明谁做的",
            "no actor given: every event must record who did it",
        )
    return actor


def _sign_chunk(signer: LedgerSigner, datas: list[bytes]) -> list[bytes]:
    return [signer.sign(d) for d in datas]


def draft(
    head: Head,
    stored_events: Sequence[StoredEvent],
    actor: Actor,
    signer: LedgerSigner,
    pool: Executor | None = None,
) -> Draft:
    suite = signer.suite
    digest = suite.digest
    state_key = suite.state_key
    leaf_hash = suite.tree.leaf_hash
    tree = CompactRange(head.size, head.frontier, suite.tree)
    recorded_at = utc_now_text()
    prev = head.last_hash
    envelopes: list[bytes] = []
    nodes: list[tuple[int, int, bytes]] = []
    seq = head.size
    for stored in stored_events:
        data = Envelope(
            seq=seq,
            originator_id=str(stored.originator_id),
            originator_version=stored.originator_version,
            topic=stored.topic,
            state_digest=digest(stored.state),
            actor=actor,
            recorded_at=recorded_at,
            prev_hash=prev,
            key_id=signer.key_id,
            state_key=state_key,
        ).to_bytes()
        envelopes.append(data)
        nodes.extend(n for n in tree.append(leaf_hash(data)) if n[0] >= STORED_LEVEL)
        prev = envelope_hash(data, suite)
        seq += 1
    signing: list[Future[list[bytes]]] | list[bytes]
    if pool is None:
        signing = _sign_chunk(signer, envelopes)
    else:
        signing = [
            pool.submit(_sign_chunk, signer, envelopes[i : i + SIGN_CHUNK])
            for i in range(0, len(envelopes), SIGN_CHUNK)
        ]
    return Draft(
        head, signer.key_id, envelopes, signing, nodes, Head(seq, prev, tuple(tree.frontier))
    )
