"""What the SQLite and PostgreSQL chained recorders share: the head cache and the signer.

A recorder appends a batch in three steps inside the library's write transaction: read the head
(last envelope, key ring version), `chain.extend`, insert envelopes and Merkle nodes. The head is
cached per process and only trusted after commit, so a rolled-back batch never poisons it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent

from ssj.errors import SigningKeyError
from ssj.ledger import chain
from ssj.ledger.chain import Head
from ssj.ledger.envelope import envelope_hash
from ssj.ledger.keyring import KEYRING_ID
from ssj.ledger.keys import LedgerSigner
from ssj.ledger.merkle import subtree_nodes

SCHEMA_VERSION = 1

# Loads the signer for the key ring as it now stands in the database: (keyring version, signer).
SignerLoader = Callable[[], tuple[int | None, LedgerSigner]]


class AbortTransaction(BaseException):
    """Carries an error out of the library's insert transaction so that it rolls back.

    The PostgreSQL recorder catches `Exception` inside its transaction block; a BaseException
    passes through, the transaction rolls back, and `insert_events` re-raises the cause.
    """

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


class ChainedRecorderMixin:
    """Head cache, signer selection and the computation of each append."""

    signer: LedgerSigner | None = None
    keyring_version: int | None = None
    signer_loader: SignerLoader | None = None

    def init_chain(self) -> None:
        self._cached_head: Head | None = None
        self._local = threading.local()
        self._lock = threading.Lock()

    def configure_signer(
        self, signer: LedgerSigner | None, keyring_version: int | None, loader: SignerLoader
    ) -> None:
        self.signer = signer
        self.keyring_version = keyring_version
        self.signer_loader = loader

    def _current_signer(self, keyring_version: int | None) -> LedgerSigner:
        if keyring_version != self.keyring_version or self.signer is None:
            if self.signer_loader is None:
                raise SigningKeyError("未配置签名密钥", "no signing key configured")
            version, signer = self.signer_loader()
            with self._lock:
                self.keyring_version, self.signer = version, signer
        assert self.signer is not None
        return self.signer

    def _compute_extension(
        self,
        last: tuple[int, bytes] | None,
        keyring_version: int | None,
        stored_events: Sequence[StoredEvent],
        notification_ids: Sequence[int],
        kwargs: dict[str, Any],
        load_frontier: Callable[[list[tuple[int, int]]], dict[tuple[int, int], bytes]],
    ) -> chain.Extension:
        """Called with the lock held: `last` is (seq, envelope) of the newest envelope."""
        actor = chain.require_actor(kwargs)
        # The head query already sees this batch; what signs it is the key ring before it.
        in_batch = [s.originator_version for s in stored_events if s.originator_id == KEYRING_ID]
        if in_batch:
            keyring_version = (min(in_batch) - 1) or None
        signer = self._current_signer(keyring_version)
        if last is None:
            head = chain.EMPTY_HEAD
        else:
            size = last[0] + 1
            cached = self._cached_head
            last_hash = envelope_hash(last[1])
            if cached is not None and cached.size == size and cached.last_hash == last_hash:
                head = cached
            else:
                coords = subtree_nodes(0, size)
                found = load_frontier(coords)
                try:
                    frontier = tuple(found[c] for c in coords)
                except KeyError:
                    raise RuntimeError(
                        f"Merkle nodes missing for tree size {size}: run `ssj verify`"
                    ) from None
                head = Head(size, last_hash, frontier)
        extension = chain.extend(head, stored_events, notification_ids, actor, signer)
        self._local.pending = extension.head
        return extension

    def _after_commit(self) -> None:
        pending = getattr(self._local, "pending", None)
        if pending is not None:
            self._cached_head = pending
            self._local.pending = None

    def _discard_pending(self) -> None:
        self._local.pending = None
