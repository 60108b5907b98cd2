"""Feeding projections from the ledger, in seq order, exactly once.

Each batch of events is applied to every projection and its seq advanced in one transaction
of the projections database, so a crash in the middle leaves either all of a batch or none of it:
resuming starts after the last committed seq and never applies an event twice. A projection can
be dropped and rebuilt from the ledger at any time, with the same result.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, runtime_checkable

from projections.store import Cursor, ViewStore
from ssj.ledger.application import Ledger, LoggedEvent
from ssj.services import collector

BATCH = 2000
# A catch-up whose first batch came back full (a rebuild, a daemon far behind) goes on in larger
# batches: fewer queries and commits per event (each commit of a large batch checkpoints
# SQLite's WAL), and still about a second per transaction.
LARGE_BATCH = 10_000
# Connections a PostgreSQL rebuild makes its deferred read indexes on at once (a server builds
# each index on one core; two: this machine's, and no more than a small server's).
INDEX_CONNECTIONS = 2
logger = logging.getLogger(__name__)


class Projection(Protocol):
    name: str
    version: int  # bump when tables or rows change shape: the runner then rebuilds it

    def create(self, c: Cursor) -> None:
        """Create its tables (idempotent)."""

    def drop(self, c: Cursor) -> None: ...

    def apply_batch(self, c: Cursor, events: Sequence[LoggedEvent]) -> None:
        """Apply consecutive events in seq order inside the caller's transaction; what a
        projection holds in memory for the batch it writes before returning."""


@runtime_checkable
class ReadIndexed(Protocol):
    """A projection whose indexes serve reads only (none of its own or any later projection's
    batches look rows up by them): a rebuild drops them and creates them once at the end, which
    costs less than keeping them up to date row by row."""

    def read_indexes(self, c: Cursor) -> Sequence[tuple[str, str]]:
        """(index name, its CREATE INDEX IF NOT EXISTS statement), as `create` makes them in
        the database of `c` (which may decide which there are: the trigram index of names only
        where PostgreSQL has pg_trgm, named by the extension's schema)."""
        ...


class Runner:
    def __init__(
        self,
        ledger: Ledger,
        store: ViewStore,
        projections: Sequence[Projection],
        *,
        prepare: bool = True,
    ) -> None:
        """`prepare=False` for a read-only store (a replica): no tables created or reshaped."""
        self.ledger = ledger
        self.store = store
        self.projections = list(projections)
        self._lock = threading.Lock()
        # Told the seq of each committed batch (an in-process watch: SQLite has no NOTIFY).
        self.on_batch: Callable[[int], None] | None = None
        # Told (first seq, last seq, events, seconds) after each catch-up that applied any.
        self.on_round: Callable[[int, int, int, float], None] | None = None
        if prepare:
            self._prepare()

    def _prepare(self) -> None:
        with self.store.transaction() as c:
            c.execute(
                "CREATE TABLE IF NOT EXISTS projection_positions "
                "(name TEXT PRIMARY KEY, seq BIGINT NOT NULL)"
            )
            c.execute(
                "CREATE TABLE IF NOT EXISTS projection_versions "
                "(name TEXT PRIMARY KEY, version BIGINT NOT NULL)"
            )
            # Events whose values no read model could store as written (see
            # ssj.ledger.mapper): the read models hold them escaped, and say so here.
            c.execute(
                "CREATE TABLE IF NOT EXISTS projection_escapes "
                "(seq BIGINT PRIMARY KEY, topic TEXT NOT NULL, paths TEXT NOT NULL)"
            )
            for p in self.projections:
                c.execute("SELECT version FROM projection_versions WHERE name = ?", (p.name,))
                row = c.fetchone()
                if row is None or int(row[0]) != p.version:
                    # A new or reshaped read model: start it again from seq 0.
                    p.drop(c)
                    c.execute("DELETE FROM projection_positions WHERE name = ?", (p.name,))
                    c.execute("DELETE FROM projection_versions WHERE name = ?", (p.name,))
                    c.execute(
                        "INSERT INTO projection_versions (name, version) VALUES (?, ?)",
                        (p.name, p.version),
                    )
                p.create(c)

    def seq(self, name: str) -> int:
        """Last applied seq, or -1."""
        rows = self.store.query("SELECT seq FROM projection_positions WHERE name = ?", (name,))
        return int(rows[0][0]) if rows else -1

    def seqs(self) -> dict[str, int]:
        found = dict(self.store.query("SELECT name, seq FROM projection_positions"))
        return {p.name: int(found.get(p.name, -1)) for p in self.projections}

    def catch_up(
        self, progress: Callable[[int, int], None] | None = None, until: int | None = None
    ) -> int:
        """Apply everything new (up to seq `until` if given); returns the number of events
        applied (per projection, max).

        The cyclic collector is paused while a batch is read and applied
        (`ssj.services.collector`): a batch holds hundreds of thousands of containers (events,
        states, rows) and none forms a cycle, yet its full passes rescanned them all several times
        per rebuild (a fifth of a SQLite rebuild's CPU, a third of a PostgreSQL one's client CPU,
        on the bench ledger). Between batches it runs, so that a cycle made anyway is freed."""
        with self._lock:
            started = time.perf_counter()
            first = start = min(self.seqs().values(), default=-1) + 1
            # The ledger's size only when a bound is asked for: otherwise a batch shorter than
            # asked is the end (seqs commit in order), one query fewer per daemon round.
            total = None
            if until is not None:
                total = until + 1
            elif progress is not None:
                total = self.ledger.size()
            applied = 0
            size = BATCH  # LARGE_BATCH once a full batch shows the runner is behind
            while total is None or start < total:
                limit = size if total is None else min(size, total - start)
                with collector.paused():
                    batch = self.ledger.read(start, limit)
                    if batch:
                        self.apply_batch(batch)
                if not batch:
                    break
                applied += len(batch)
                start = batch[-1].seq + 1
                if progress is not None and total is not None:
                    progress(start, total)
                if total is None and len(batch) < limit:
                    break
                size = LARGE_BATCH
            if applied and self.on_round is not None:
                self.on_round(first, start - 1, applied, time.perf_counter() - started)
            return applied

    def apply_batch(self, batch: Sequence[LoggedEvent]) -> None:
        """Apply one batch of consecutive events to every projection and advance their seqs,
        in one transaction: each projection reads what it needs for the whole batch at once and
        writes its rows together (COPY on PostgreSQL), so a crash anywhere inside leaves none of
        the batch applied."""
        with self.store.transaction() as c:
            # Another process may have applied part of this batch meanwhile: seqs are
            # read again under the writer lock.
            self.store.exclusive(c)
            c.execute("SELECT name, seq FROM projection_positions")
            reached = {name: int(seq) for name, seq in c.fetchall()}
            self._record_escapes(c, batch)
            advanced: dict[str, int] = {}
            organisation = False
            for p in self.projections:
                done = reached.get(p.name, -1)
                todo = batch if done < batch[0].seq else [e for e in batch if e.seq > done]
                if todo:
                    p.apply_batch(c, todo)
                    advanced[p.name] = todo[-1].seq
                    organisation = organisation or changes_organisation(p, todo)
            self._save_seqs(c, advanced)
            if self.store.is_postgres:
                # Delivered on commit: API workers waiting for this seq wake at once.
                c.execute(
                    "SELECT pg_notify(?, ?)",
                    (projected_channel(self.store), projected_payload(batch[-1].seq, organisation)),
                )
        if self.on_batch is not None:
            self.on_batch(batch[-1].seq)

    @staticmethod
    def _record_escapes(c: Cursor, batch: Sequence[LoggedEvent]) -> None:
        for logged in batch:
            if logged.escaped:
                topic = type(logged.event).__qualname__
                logger.warning(
                    "seq %d (%s): unstorable characters escaped in %s",
                    logged.seq,
                    topic,
                    ", ".join(logged.escaped),
                )
                c.execute(
                    "INSERT INTO projection_escapes (seq, topic, paths) VALUES (?, ?, ?) "
                    "ON CONFLICT (seq) DO NOTHING",
                    (logged.seq, topic, ", ".join(logged.escaped)),
                )

    def escapes(self) -> list[tuple[int, str, str]]:
        """Events the read models hold escaped: (seq, event kind, paths), oldest first."""
        rows = self.store.query("SELECT seq, topic, paths FROM projection_escapes ORDER BY seq")
        return [(int(seq), str(topic), str(paths)) for seq, topic, paths in rows]

    @staticmethod
    def _save_seqs(c: Cursor, advanced: dict[str, int]) -> None:
        """Every advanced projection's seq in one statement (was a DELETE and an INSERT
        each: 14 of a one-event batch's ~27 statements)."""
        if not advanced:
            return
        marks = ", ".join("(?, ?)" for _ in advanced)
        c.execute(
            f"INSERT INTO projection_positions (name, seq) VALUES {marks} "
            "ON CONFLICT (name) DO UPDATE SET seq = excluded.seq",
            [value for pair in advanced.items() for value in pair],
        )

    def rebuild(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Drop every projection and replay the whole ledger into it, in large batches, with
        the indexes that serve only reads created at the end (a rebuild stopped before that
        gets them back from `create` when a runner next starts), then checkpoint SQLite's WAL
        (its writer checkpoints only every 64 MiB: `projections.store.WRITER_CHECKPOINT_PAGES`)."""
        with self._lock, self.store.transaction() as c:
            per_projection = [
                list(p.read_indexes(c)) for p in self.projections if isinstance(p, ReadIndexed)
            ]
            deferred = [i for indexes in per_projection for i in indexes]
            for p in self.projections:
                p.drop(c)
                p.create(c)
                c.execute("DELETE FROM projection_positions WHERE name = ?", (p.name,))
            for name, _ in deferred:
                c.execute(f"DROP INDEX IF EXISTS {name}")
        applied = self.catch_up(progress)
        with self._lock:
            self._create_indexes([i for i in per_projection if i])
        self.store.checkpoint()
        return applied

    def _create_indexes(self, per_projection: Sequence[Sequence[tuple[str, str]]]) -> None:
        """Make the read indexes a rebuild deferred. On PostgreSQL each projection's in a
        transaction of their own, on `INDEX_CONNECTIONS` connections at once: the server builds
        an index on one core, and the client waits meanwhile (the trail's three and the
        targets' trigram index take about the same time). One transaction on SQLite: one
        writer at a time. Each is `IF NOT EXISTS`: a runner started after a failure here makes
        the missing ones (`Projection.create`)."""

        def make(indexes: Sequence[tuple[str, str]]) -> None:
            with self.store.transaction() as c:
                for _, create in indexes:
                    c.execute(create)

        if not self.store.is_postgres or len(per_projection) < 2:
            make([i for indexes in per_projection for i in indexes])
            return
        with ThreadPoolExecutor(INDEX_CONNECTIONS, thread_name_prefix="read-indexes") as pool:
            for made in [pool.submit(make, indexes) for indexes in per_projection]:
                made.result()

    def run_forever(self, stop: threading.Event, wakeup: Wakeup | None = None) -> None:
        """Catch up, then sleep until the ledger says it has more (PostgreSQL's NOTIFY) or the
        poll interval passes (SQLite has no notifications; a poll also covers a lost NOTIFY).
        A failed round is logged and retried after the interval: the stored seqs make it safe."""
        wakeup = wakeup or Wakeup(None)
        try:
            while not stop.is_set():
                try:
                    self.catch_up()
                except Exception:
                    logger.exception("projection round failed; retrying")
                    stop.wait(wakeup.poll_seconds)
                    continue
                wakeup.wait(stop)
        finally:
            wakeup.close()


ORGANISATION_MARK = "organisation"
UNCHANGED_MARK = "-"  # every payload carries a mark: one without is an older runner's


def changes_organisation(projection: Projection, batch: Sequence[LoggedEvent]) -> bool:
    """Whether `batch` changes who a token stands for or which departments exist (the
    projection's `organisation_events`: users, tokens, departments)."""
    kinds: tuple[type, ...] = getattr(projection, "organisation_events", ())
    return bool(kinds) and any(isinstance(e.event, kinds) for e in batch)


def projected_payload(seq: int, organisation: bool) -> str:
    """The NOTIFY payload for a committed batch: its last seq, then `organisation` when it
    changed users, tokens or departments (an API process then forgets what it kept of them),
    else `-`. A runner older than the mark sends the seq alone, and an API process that hears
    such a payload keeps nothing (`ProjectionWatch.organisation_generation`), whichever of the
    two was restarted first in an upgrade."""
    return f"{seq} {ORGANISATION_MARK if organisation else UNCHANGED_MARK}"


def projected_channel(store: ViewStore) -> str:
    """The NOTIFY channel on which a PostgreSQL runner announces each committed batch's seq."""
    schema = getattr(store, "schema", "views")
    return f"{schema}_projected"[:63]


class Wakeup:
    """What a runner sleeps on between rounds: a LISTEN connection to the ledger's channel
    (eventsourcing NOTIFYs it in every insert transaction), or only the poll interval."""

    def __init__(
        self,
        listen: Callable[[float], bool] | None,
        poll_seconds: float = 1.0,
        close: Callable[[], None] | None = None,
    ) -> None:
        self.poll_seconds = poll_seconds
        self._listen = listen
        self._close = close

    def wait(self, stop: threading.Event) -> None:
        if self._listen is None:
            stop.wait(self.poll_seconds)
            return
        deadline = time.monotonic() + self.poll_seconds
        while not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            # Short slices, so that a stop request is seen promptly.
            if self._listen(min(remaining, 0.2)):
                return

    def close(self) -> None:
        if self._close is not None:
            self._close()
