"""What the SQLite and PostgreSQL chained recorders share: drafting, the head cache, the signer.

An append goes: draft from the cached head and start signing (no lock held); the library's insert
transaction takes the lock and inserts the events; our hook reads the true head (last envelope,
key ring version), keeps the draft if it still fits or drafts again, and inserts envelopes and
Merkle nodes in the same transaction. The cache is only updated after commit, so a rolled-back
batch never poisons it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent

from ssj.errors import SchemaError, SigningKeyError
from ssj.ledger import merkle, signing
from ssj.ledger.chain import (
    EMPTY_HEAD,
    STORED_LEVEL,
    Draft,
    Drafting,
    Head,
    draft,
    event_actors,
    extend,
)
from ssj.ledger.envelope import envelope_hash
from ssj.ledger.keyring import KEYRING_ID
from ssj.ledger.keys import LedgerSigner
from ssj.ledger.suite import DEFAULT, Suite

SCHEMA_VERSION = 1

# Loads the signer from the key ring's stored events, read inside the write transaction (another
# connection could wait behind this very transaction): returns (key ring version, signer).
SignerLoader = Callable[[Sequence[StoredEvent]], tuple[int | None, LedgerSigner]]
KeyringReader = Callable[[], Sequence[StoredEvent]]
Coord = tuple[int, int]
NodeReader = Callable[[Sequence[Coord]], dict[Coord, bytes]]
EnvelopeReader = Callable[[int, int], list[bytes]]


def known_first(read: EnvelopeReader, leaves: Mapping[int, bytes] | None) -> EnvelopeReader:
    """Read envelopes [lo, hi) from `leaves` when it holds them all, else from the database."""
    if not leaves:
        return read

    def reader(lo: int, hi: int) -> list[bytes]:
        if all(n in leaves for n in range(lo, hi)):
            return [leaves[n] for n in range(lo, hi)]
        return read(lo, hi)

    return reader


def check_schema_version(found: int) -> None:
    """Refuse a database written by a newer ssj: its rows may mean something we cannot check."""
    if found > SCHEMA_VERSION:
        raise SchemaError(
            f"数据库结构版本 {found} 比本程序支持的 {SCHEMA_VERSION} 新，请升级 ssj",
            f"database schema version {found} is newer than this ssj supports "
            f"({SCHEMA_VERSION}): upgrade ssj",
        )


class AbortTransaction(BaseException):
    """Carries an error out of the library's insert transaction so that it rolls back.

    The PostgreSQL recorder catches `Exception` inside its transaction block; a BaseException
    passes through, the transaction rolls back, and `insert_events` re-raises the cause.
    """

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


class ChainedRecorderMixin:
    """Drafting, head cache and signer selection for each append."""

    signer: LedgerSigner | None = None
    keyring_version: int | None = None
    signer_loader: SignerLoader | None = None
    suite: Suite = DEFAULT  # the ledger's suite, for reads (set by the Ledger once it knows it)

    def init_chain(self) -> None:
        self._cached_head: Head | None = None
        self._local = threading.local()
        self._lock = threading.Lock()

    @property
    def cached_head(self) -> Head | None:
        """The head after the last append this process committed (None before the first)."""
        return self._cached_head

    def select_envelopes(
        self, start: int, limit: int, stop: int | None = None
    ) -> list[tuple[int, int, bytes, bytes]]:
        return self._envelope_rows("seq, notification_id, envelope, signature", start, limit, stop)

    def select_envelope_texts(
        self, start: int, limit: int, stop: int | None = None
    ) -> list[tuple[int, int, bytes]]:
        return self._envelope_rows("seq, notification_id, envelope", start, limit, stop)

    def _envelope_rows(self, columns: str, start: int, limit: int, stop: int | None) -> list[Any]:
        """`columns` of the envelopes from seq `start`, below `stop`, as tuples (the backend's)."""
        raise NotImplementedError

    def configure_signer(
        self, signer: LedgerSigner | None, keyring_version: int | None, loader: SignerLoader
    ) -> None:
        self.signer = signer
        self.keyring_version = keyring_version
        self.signer_loader = loader

    def _current_signer(
        self, keyring_version: int | None, read_keyring: KeyringReader
    ) -> LedgerSigner:
        if keyring_version != self.keyring_version or self.signer is None:
            if self.signer_loader is None:
                raise SigningKeyError("未配置签名密钥", "no signing key configured")
            stored = [
                e
                for e in read_keyring()
                if keyring_version is not None and e.originator_version <= keyring_version
            ]
            version, signer = self.signer_loader(stored)
            with self._lock:
                self.keyring_version, self.signer = version, signer
        assert self.signer is not None
        return self.signer

    def start_draft(self, size: int, kwargs: dict[str, Any]) -> Drafting | None:
        """For a writer about to map a large batch of `size` events: an optimistic draft to add
        them to as they are mapped (`Drafting`; hand it back with `use_draft`), or None when
        `_before_insert` drafts (no head or signer known yet, or a batch no worker signs)."""
        head, signer = self._cached_head, self.signer
        if head is None or signer is None or size < signing.FROM:
            return None
        return Drafting(head, event_actors(kwargs, size), signer, size)

    def use_draft(self, stored_events: Sequence[StoredEvent], drafted: Draft) -> None:
        """The draft of exactly `stored_events` (this list), for their `insert_events` next."""
        self._local.early = (stored_events, drafted)

    def _before_insert(self, stored_events: Sequence[StoredEvent], kwargs: dict[str, Any]) -> None:
        """No lock held: check the actor (nothing written without one) and draft optimistically
        (unless the writer drafted these events while it mapped them)."""
        actor = event_actors(kwargs, len(stored_events))
        early: tuple[Sequence[StoredEvent], Draft] | None = getattr(self._local, "early", None)
        self._local.early = None
        head, signer = self._cached_head, self.signer
        self._local.pending = None
        if early is not None and early[0] is stored_events:
            self._local.draft = early[1]
            return
        if early is not None:
            early[1].discard()
        self._local.draft = (
            draft(head, stored_events, actor, signer)
            if head is not None and signer is not None and stored_events
            else None
        )

    def _under_lock(
        self,
        last: tuple[int, bytes] | None,
        keyring_version: int | None,
        stored_events: Sequence[StoredEvent],
        kwargs: dict[str, Any],
        read_nodes: NodeReader,
        read_envelopes: EnvelopeReader,
        read_keyring: KeyringReader,
        tail: tuple[int, Sequence[bytes]] | None = None,
        known: Head | None = None,
    ) -> Draft:
        """Called holding the lock: `last` is (seq, envelope) of the newest envelope; `tail`,
        when the recorder read them with it, (seq, envelopes) from that seq up to `last`;
        `known`, instead of `last`, the head itself when the recorder knows that nothing was
        written since its own last commit (nothing is read or hashed)."""
        actor = event_actors(kwargs, len(stored_events))
        # The head query already sees this batch; what signs it is the key ring before it.
        in_batch = [s.originator_version for s in stored_events if s.originator_id == KEYRING_ID]
        if in_batch:
            keyring_version = (min(in_batch) - 1) or None
        signer = self._current_signer(keyring_version, read_keyring)
        optimistic: Draft | None = self._local.draft
        self._local.draft = None
        if known is not None:
            head = known
        elif last is None:
            head = EMPTY_HEAD
        else:
            size, last_hash = last[0] + 1, envelope_hash(last[1], signer.suite)
            cached = self._cached_head
            if cached is not None and cached.size == size and cached.last_hash == last_hash:
                head = cached
            elif (
                cached is not None
                and tail is not None
                and tail[0] == cached.size
                and tail[0] + len(tail[1]) == last[0]
                and (extended := extend(cached, [*tail[1], last[1]], signer.suite)) is not None
            ):
                # Another process appended since our last append: its envelopes came with the
                # head query, so no Merkle nodes need reading while the lock is held.
                head = extended
            else:
                coords = merkle.subtree_nodes(0, size)
                found = self._resolve_nodes(coords, read_nodes, read_envelopes, signer.suite)
                try:
                    head = Head(size, last_hash, tuple(found[c] for c in coords))
                except KeyError:
                    raise RuntimeError(
                        f"Merkle nodes missing for tree size {size}: run `ssj verify`"
                    ) from None
        if (
            optimistic is not None
            and optimistic.start == head
            and optimistic.key_id == signer.key_id
        ):
            result = optimistic
        else:
            if optimistic is not None:
                optimistic.discard()
            result = draft(head, stored_events, actor, signer)
        self._local.pending = result.end
        self._local.draft = result  # freed by _discard if the transaction fails
        return result

    @staticmethod
    def _resolve_nodes(
        coords: Sequence[Coord],
        read_nodes: NodeReader,
        read_envelopes: EnvelopeReader,
        suite: Suite,
    ) -> dict[Coord, bytes]:
        """Hashes of complete subtrees: stored ones read, lower ones rebuilt from envelopes —
        read in runs of nearby leaves (one query for the low nodes of hundreds of proofs, not
        one per node), each leaf hashed once."""
        tree = suite.tree
        found = read_nodes([c for c in coords if c[0] >= STORED_LEVEL])
        low = [(level, index) for level, index in coords if level < STORED_LEVEL]
        spans = sorted({(i << lv, (i + 1) << lv) for lv, i in low})
        runs: list[list[int]] = []
        for lo, hi in spans:  # merge spans less than a stored node's width apart
            if runs and lo - runs[-1][1] <= 1 << STORED_LEVEL:
                runs[-1][1] = max(runs[-1][1], hi)
            else:
                runs.append([lo, hi])
        leaves: dict[int, bytes] = {}
        for lo, hi in runs:
            datas = read_envelopes(lo, hi)
            if len(datas) == hi - lo:
                leaves.update((lo + n, tree.leaf_hash(d)) for n, d in enumerate(datas))
                continue
            for a, b in spans:  # a short run (the ledger's end, or a gap): span by span
                if lo <= a < hi:
                    datas = read_envelopes(a, b)
                    if len(datas) == b - a:
                        leaves.update((a + n, tree.leaf_hash(d)) for n, d in enumerate(datas))
        for level, index in low:
            lo, hi = index << level, (index + 1) << level
            if all(n in leaves for n in range(lo, hi)):
                found[(level, index)] = tree.root([leaves[n] for n in range(lo, hi)])
        return found

    def _after_commit(self) -> None:
        pending = getattr(self._local, "pending", None)
        if pending is not None:
            with self._lock:  # two threads' commits may finish in either order: never go back
                cached = self._cached_head
                if cached is None or pending.size > cached.size:
                    self._cached_head = pending
        self._local.pending = None
        self._local.draft = None

    def _discard(self) -> None:
        self._local.pending = None
        optimistic: Draft | None = getattr(self._local, "draft", None)
        if optimistic is not None:
            optimistic.discard()
        self._local.draft = None
