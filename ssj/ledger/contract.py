"""The chained recorder as a contract: every method and attribute the ledger uses of its recorder.

Both backends (`ChainedSQLiteRecorder`, `ChainedPostgresRecorder`) are eventsourcing application
recorders with the chain added by `ChainedRecorderMixin`; what ssj asks of them beyond the
library's own recorder API is named here, so `Ledger.ledger_recorder` is typed by this protocol
(not a union of the two classes) and tests/ledger/test_recorder_contract.py checks every item
once per backend. A third backend implements this protocol and passes that test case.

Appending is the library's `insert_events` with an `actor` keyword: the backends chain, sign and
log the events inside the library's insert transaction (see each backend module for which
private hook runs under the lock).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent

from ssj.ledger.chain import Draft, Drafting, Head
from ssj.ledger.keys import LedgerSigner
from ssj.ledger.recorder import SignerLoader
from ssj.ledger.suite import Suite

Coord = tuple[int, int]  # (level, index) of a complete Merkle subtree


@runtime_checkable
class ChainedRecorder(Protocol):
    """What the ledger uses of its recorder."""

    suite: Suite  # the ledger's suite (set by the Ledger once it has read the genesis)
    events_table_name: str  # the library's stored-events table (migrations grant on it)

    # Set-up
    def check_schema(self) -> None:
        """Refuse a database written by a newer ssj (SchemaError)."""

    def configure_signer(
        self, signer: LedgerSigner | None, keyring_version: int | None, loader: SignerLoader
    ) -> None:
        """The signer to use, the key ring version it belongs to, and how to load another."""

    # Appending (eventsourcing's recorder API, with the actor as a keyword)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None: ...

    def start_draft(self, size: int, kwargs: dict[str, Any]) -> Drafting | None:
        """An optimistic draft of a large batch, to add its events to as they are mapped."""

    def use_draft(self, stored_events: Sequence[StoredEvent], drafted: Draft) -> None:
        """The draft of exactly `stored_events`, for their `insert_events` next."""

    @property
    def cached_head(self) -> Head | None:
        """The head after the last append this process committed (None before the first)."""

    # Reading the log
    def ledger_size(self) -> int:
        """Envelopes in the log: the next seq."""

    def select_envelopes(
        self, start: int, limit: int, stop: int | None = None
    ) -> list[tuple[int, int, bytes, bytes]]:
        """(seq, notification id, envelope bytes, signature) from `start`, below `stop`."""

    def select_envelope_texts(
        self, start: int, limit: int, stop: int | None = None
    ) -> list[tuple[int, int, bytes]]:
        """`select_envelopes` without the signatures, for readers that check none (the
        projections' feed reads the whole log; the signatures were a third of its rows' bytes
        and, on SQLite, ~1 µs a row to fetch)."""

    def select_seqs(self, originator_id: UUID) -> list[tuple[int, int]]:
        """(originator version, seq) of every event of one aggregate."""

    def select_event_rows(
        self, start: int, limit: int, stop: int | None = None
    ) -> list[tuple[int, str, int, str, bytes]]:
        """(notification id, originator id as canonical UUID text, version, topic, state) from
        notification id `start` to `stop` (inclusive): `ssj verify`'s plain rows."""

    def node_hashes(
        self, coords: Sequence[Coord], leaves: Mapping[int, bytes] | None = None
    ) -> dict[Coord, bytes]:
        """Complete-subtree hashes for proofs, from one read (`leaves`: envelope bytes by seq
        the caller holds already, not read again)."""

    # Reading events (eventsourcing's recorder API)
    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]: ...

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]: ...
