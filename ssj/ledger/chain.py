"""Extending the chain: envelopes, signatures and Merkle nodes for a batch of stored events.

Pure computation shared by the SQLite and PostgreSQL recorders. A writer *drafts* a batch from
the head it last committed, before taking the log's lock, and has a large batch signed by other
processes while the database works (`ssj.ledger.signing`); the ledger drafts a large batch part
by part as it maps the events (`Drafting`), so the signing starts with the first part. Under
the lock the recorder compares the true head with the draft's: if another writer got in first,
it drafts again there. So signatures sit on the critical path of a single writer as little as
the cores allow, and are never wrong for many.

Only Merkle nodes at `STORED_LEVEL` and above are stored: the lower levels are recomputed from
at most 2**STORED_LEVEL - 1 envelopes, which keeps proofs at O(log n) reads and cuts the rows
written per event from two to about one eighth.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import orjson
from eventsourcing.persistence import StoredEvent

from ssj.errors import ValidationError
from ssj.ledger.envelope import GENESIS_PREV, Actor, EnvelopeWriter, utc_now_text
from ssj.ledger.keys import LedgerSigner
from ssj.ledger.signing import Signing
from ssj.ledger.suite import Suite

STORED_LEVEL = 3


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
    signing: Signing
    nodes: list[tuple[int, int, bytes]]  # level, index, hash (level >= STORED_LEVEL)
    end: Head

    def signatures(self) -> list[bytes]:
        return self.signing.result()

    def each_signature(self) -> Iterator[bytes]:
        """In order, a signer process's part waited for only when reached (`Signing.each`)."""
        return self.signing.each()

    def discard(self) -> None:
        """Not written: free the signer processes still working on it."""
        self.signing.discard()


def require_actor(kwargs: dict[str, object]) -> Actor:
    actor = kwargs.get("actor")
    if not isinstance(actor, Actor):
        raise ValidationError(
            "未指明操作人：每条记录都必须记明谁做的",
            "no actor given: every event must record who did it",
        )
    return actor


def extend(head: Head, envelopes: Sequence[bytes], suite: Suite) -> Head | None:
    """`head` advanced over envelopes other writers appended after it (read under the lock),
    or None if the first of them does not link to `head` (the database holds another history
    than the one this process last wrote: rebuild the head from the stored nodes instead)."""
    if not envelopes or orjson.loads(envelopes[0]).get("prev") != head.last_hash.hex():
        return None
    digest = suite.digest
    frontier = list(head.frontier)
    seq = head.size
    for data in envelopes:
        h = digest(b"\x00" + data)
        index = seq
        while index & 1:
            h = digest(b"\x01" + frontier.pop() + h)
            index >>= 1
        frontier.append(h)
        seq += 1
    return Head(seq, digest(envelopes[-1]), tuple(frontier))


def event_actors(kwargs: dict[str, object], count: int) -> Actor | list[Actor]:
    """Who caused each event of a batch: one actor for all, or (a group commit of several
    commands, `ssj.ledger.group`) one per event, under `actors`."""
    actor = require_actor(kwargs)
    actors = kwargs.get("actors")
    if actors is None:
        return actor
    if (
        not isinstance(actors, list)
        or len(actors) != count
        or not all(isinstance(a, Actor) for a in actors)
    ):
        raise ValidationError(
            "操作人与记录条数不符：每条记录都必须记明谁做的",
            "actors do not match the events: every event must record who did it",
        )
    return actors


def draft(
    head: Head,
    stored_events: Sequence[StoredEvent],
    actor: Actor | Sequence[Actor],
    signer: LedgerSigner,
) -> Draft:
    """`actor`: one for the whole batch, or one per event (a group commit's commands)."""
    drafting = Drafting(head, actor, signer, len(stored_events))
    drafting.add(stored_events)
    return drafting.finish()


class Drafting:
    """A draft built part by part: a writer that maps a large batch's events in parts drafts
    each part as soon as it is mapped, and its signatures are made (by a signer process) while
    the rest are mapped. The envelopes, nodes and signatures are those `draft` makes of the
    whole batch at once (one `recorded_at` for the batch, taken here)."""

    def __init__(
        self,
        head: Head,
        actor: Actor | Sequence[Actor],
        signer: LedgerSigner,
        size: int,
        recorded_at: str | None = None,
    ) -> None:
        """`size`: the events the batch will have in all; `actor`: one for the whole batch,
        or one per event."""
        suite = signer.suite
        self._start = head
        self._signer = signer
        self._recorded_at = utc_now_text() if recorded_at is None else recorded_at
        self._writers: dict[Actor, EnvelopeWriter] = {}
        self._actors = None if isinstance(actor, Actor) else actor
        self._write = (
            EnvelopeWriter(actor, self._recorded_at, signer.key_id, suite.state_key)
            if isinstance(actor, Actor)
            else None
        )
        self._frontier = list(head.frontier)  # the Merkle tree's right edge
        self._prev = head.last_hash
        self.envelopes: list[bytes] = []
        self._nodes: list[tuple[int, int, bytes]] = []
        self._signing = Signing(signer.signer_key, signer.sign, size=size)

    def add(self, stored_events: Sequence[StoredEvent]) -> None:
        """The batch's next events: their envelopes and nodes, handed to the signing."""
        signer = self._signer
        suite = signer.suite
        digest = suite.digest
        writers, actors, write = self._writers, self._actors, self._write
        frontier, prev, nodes = self._frontier, self._prev, self._nodes
        envelopes: list[bytes] = []
        done = len(self.envelopes)
        seq = self._start.size + done
        for n, stored in enumerate(stored_events, done):
            if actors is not None:
                who = actors[n]
                write = writers.get(who)
                if write is None:
                    write = writers[who] = EnvelopeWriter(
                        who, self._recorded_at, signer.key_id, suite.state_key
                    )
            assert write is not None
            data = write(
                seq,
                str(stored.originator_id),
                stored.originator_version,
                stored.topic,
                digest(stored.state),
                prev,
            )
            envelopes.append(data)
            h = digest(b"\x00" + data)
            index, level = seq, 0
            while index & 1:
                h = digest(b"\x01" + frontier.pop() + h)
                index >>= 1
                level += 1
                if level >= STORED_LEVEL:
                    nodes.append((level, index, h))
            frontier.append(h)
            prev = digest(data)
            seq += 1
        self._prev = prev
        self.envelopes.extend(envelopes)
        self._signing.add(envelopes)

    def finish(self) -> Draft:
        size = self._start.size + len(self.envelopes)
        end = Head(size, self._prev, tuple(self._frontier))
        return Draft(
            self._start, self._signer.key_id, self.envelopes, self._signing, self._nodes, end
        )

    def discard(self) -> None:
        """Not to be written (mapping an event failed): free the signer processes."""
        self._signing.discard()
