"""Keeping read models fed outside requests, and knowing how far they have got.

A `Runner` applies events; this module decides *when* and tells *others*:

- `ledger_wakeup`: what a runner sleeps on between rounds. On PostgreSQL a LISTEN connection to
  the ledger's channel (eventsourcing NOTIFYs it inside every insert transaction, so it arrives
  on commit) with a periodic poll as the fallback for a lost notification or a dropped
  connection; on SQLite the poll alone.
- `ProjectionWatch`: one process's view of the seq the read models have reached, and `wait_for(seq)` with
  a timeout. On PostgreSQL it LISTENs for the runner's own NOTIFY after each committed batch
  (`projections.runner.projected_channel`), so a waiting request wakes at once; everywhere it
  also re-reads their seqs every `poll` seconds (replicas cannot LISTEN).
- `ProjectionThread`: a runner in a background thread of the API process, for single-process
  serving and tests; production runs `ssj projections run` instead.

The API never applies events itself: it waits here, and answers 503 when the wait times out.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from projections.runner import (
    ORGANISATION_MARK,
    UNCHANGED_MARK,
    Runner,
    Wakeup,
    projected_channel,
)
from projections.store import ViewStore
from ssj.config import DatabaseURL
from ssj.errors import UnavailableError
from ssj.ledger.application import Ledger

if TYPE_CHECKING:
    import psycopg

logger = logging.getLogger(__name__)

DEFAULT_WAIT_SECONDS = 10.0
# The LISTEN loop waits at most 1 s per round; a connection silent for longer than this is not
# trusted to have delivered every notification, and seqs are read by query instead.
LISTEN_FRESH_SECONDS = 2.5
LISTEN_POLL_SECONDS = 0.5  # how often a wait re-reads seqs while notifications arrive


def read_seq(store: ViewStore, names: Sequence[str]) -> int:
    """The seq every named read model has reached (-1: none yet)."""
    rows = dict(store.query("SELECT name, seq FROM projection_positions"))
    return min((int(rows.get(n, -1)) for n in names), default=-1)


class Listener:
    """A dedicated autocommit connection LISTENing on one channel; reconnects after a failure
    (the caller polls meanwhile). `wait(timeout)` returns the payloads that arrived."""

    def __init__(self, db: DatabaseURL, channel: str) -> None:
        self.db = db
        self.channel = channel
        self.conn: psycopg.Connection[Any] | None = None
        self._retry_at = 0.0

    def _connect(self) -> psycopg.Connection[Any] | None:
        # Imported here: a process on SQLite never loads psycopg (part of every `ssj` start).
        import psycopg
        from psycopg import sql

        if self.conn is not None and not self.conn.closed:
            return self.conn
        if time.monotonic() < self._retry_at:
            return None
        try:
            conn = psycopg.connect(
                host=self.db.host,
                port=self.db.port,
                user=self.db.user,
                password=self.db.password or None,
                dbname=self.db.dbname,
                autocommit=True,
                connect_timeout=5,
            )
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
        except psycopg.Error as e:
            logger.warning("LISTEN %s unavailable (%s); polling", self.channel, e)
            self._retry_at = time.monotonic() + 5.0
            return None
        self.conn = conn
        return conn

    def wait(self, timeout: float) -> list[str] | None:
        """Payloads received within `timeout` ([] none); None when not listening (poll)."""
        conn = self._connect()
        if conn is None:
            time.sleep(timeout)
            return None
        import psycopg

        try:
            return [n.payload for n in conn.notifies(timeout=timeout, stop_after=1)]
        except psycopg.Error as e:
            logger.warning("LISTEN %s lost (%s); reconnecting", self.channel, e)
            self.close()
            return None

    def close(self) -> None:
        if self.conn is not None:
            import psycopg

            with contextlib.suppress(psycopg.Error):
                self.conn.close()
            self.conn = None


def ledger_wakeup(
    ledger: Ledger, poll_seconds: float, nudged: threading.Event | None = None
) -> Wakeup:
    """Sleep until the ledger has new events (PostgreSQL), `nudged` is set (SQLite) or
    `poll_seconds` pass."""
    db = ledger.settings.database
    if not db.is_postgres:
        return Wakeup(None, poll_seconds, nudged=nudged)
    listener = Listener(db, ledger.recorder.channel_name)  # type: ignore[attr-defined]

    def listen(timeout: float) -> bool:
        return bool(listener.wait(timeout))

    return Wakeup(listen, poll_seconds, listener.close)


class ProjectionWatch:
    """How far the read models in `store` have got, as this process last saw it; waiting."""

    def __init__(
        self,
        store: ViewStore,
        names: Sequence[str],
        *,
        listen: DatabaseURL | None = None,
        poll: float = 0.05,
        timeout: float = DEFAULT_WAIT_SECONDS,
    ) -> None:
        self.store = store
        self.names = list(names)
        self.poll = poll
        # Set by a runner thread of this process (`ProjectionThread`): a wait asks it to catch up
        # at once rather than at its next poll.
        self.nudge: Callable[[], None] | None = None
        self.timeout = timeout
        self._seen_seq = -1
        # Seqs heard in the runner's notifications (not read by query), and how many of them,
        # or (re)connections that may have missed some, said users, tokens or departments changed.
        self._notified_seq = -1
        self._organisation_generation = 0
        self._heard = -1e9  # when the LISTEN connection last answered (monotonic seconds)
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if listen is not None and store.is_postgres:
            listener = Listener(listen, projected_channel(store))
            self._thread = threading.Thread(
                target=self._listen, args=(listener,), name="ssj-watch", daemon=True
            )
            self._thread.start()

    @property
    def seen_seq(self) -> int:
        """The newest seq seen, without a query."""
        return self._seen_seq

    def advance(self, seq: int) -> None:
        with self._cond:
            if seq > self._seen_seq:
                self._seen_seq = seq
                self._cond.notify_all()

    def notified(self, payload: str) -> None:
        """A runner's notification: `seq organisation` for a batch that changed users, tokens
        or departments, `seq -` for one that did not (see `organisation_generation`). A bare
        `seq` is an older runner's, which never says `organisation`: the seq is taken, the
        payload vouches for nothing, so nothing is kept while it is the newest heard."""
        seq_text, _, mark = payload.partition(" ")
        seq = int(seq_text)
        with self._cond:
            if mark == ORGANISATION_MARK:
                self._organisation_generation += 1
            if mark in (ORGANISATION_MARK, UNCHANGED_MARK):
                self._notified_seq = max(self._notified_seq, seq)
        self.advance(seq)

    def organisation_generation(self) -> int | None:
        """A number that changes whenever the read models' users, tokens or departments may
        have changed, or None when that cannot be known now: not listening, or the seq seen was
        read by query ahead of the notifications (one saying `organisation` may still be on its
        way). While it is unchanged, what they said of those still holds (what the API keeps:
        `Services.principal_for_token`, `Services.department_exists`)."""
        with self._cond:
            trusted = self._notified_seq >= self._seen_seq
            generation = self._organisation_generation
        return generation if trusted and self.listening() else None

    def current(self) -> int:
        """Read the seq now (one query)."""
        self.advance(read_seq(self.store, self.names))
        return self._seen_seq

    def listening(self) -> bool:
        """Whether the runner's notifications reach this watch now (its LISTEN connection
        answered within the last `LISTEN_FRESH_SECONDS`): then `seen_seq` is the read models' seq."""
        return time.monotonic() - self._heard < LISTEN_FRESH_SECONDS

    def seq(self) -> int:
        """The seq the read models have reached: as notified while listening (no query), else read."""
        if self._seen_seq >= 0 and self.listening():
            return self._seen_seq
        return self.current()

    def wait_for(self, seq: int, timeout: float | None = None) -> int:
        """Return the read models' seq once it is at least `seq`; UnavailableError after `timeout`.
        While listening, a notification ends the wait and seqs are re-read only every
        `LISTEN_POLL_SECONDS` as a fallback (each waiting request polling every 50 ms was
        most of the API's queries under write load); otherwise they are read every `poll`."""
        if self._seen_seq >= seq:
            return self._seen_seq
        if self.nudge is not None:
            self.nudge()
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        polled = time.monotonic()  # when this wait last read seqs (or began)
        while True:
            listening = self.listening()
            if listening:
                with self._cond:
                    if self._seen_seq < seq:
                        wait = min(deadline, polled + LISTEN_POLL_SECONDS) - time.monotonic()
                        self._cond.wait(max(0.0, wait))
                now = time.monotonic()
                if self._seen_seq < seq and now < min(deadline, polled + LISTEN_POLL_SECONDS):
                    # Woken by a notification short of `seq`: the next one is awaited, not
                    # read by query (every waiter querying at every batch was ~a third of a
                    # statement per command under the write mix).
                    continue
                polled = now
            reached = self._seen_seq if self._seen_seq >= seq else self.current()
            if reached >= seq:
                return reached
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise lagging(seq, reached)
            if not listening:
                with self._cond:
                    if self._seen_seq < seq:
                        self._cond.wait(min(remaining, self.poll))

    def _listen(self, listener: Listener) -> None:
        try:
            while not self._stop.is_set():
                payloads = listener.wait(1.0)
                if payloads is None:  # not connected: seqs are read by query meanwhile
                    self._heard = -1e9
                    continue
                if not self.listening():  # (re)connected: what was missed is read once
                    with self._cond:  # and may have changed users, tokens or departments
                        self._organisation_generation += 1
                    with contextlib.suppress(Exception):
                        self.current()
                self._heard = time.monotonic()
                for payload in payloads:
                    with contextlib.suppress(ValueError):
                        self.notified(payload)
        finally:
            listener.close()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=3)


def lagging(seq: int, reached: int) -> UnavailableError:
    return UnavailableError(
        f"读模型尚未更新到账本序号 {seq}（当前 {reached}）：投影进程可能未运行或落后，请稍后重试",
        f"read models have not reached seq {seq} yet (at {reached}): the projection daemon "
        "may be down or behind; retry later",
    )


class ProjectionThread:
    """A runner in a background thread of this process, woken by the ledger, and by a request
    of this process waiting for it (`ProjectionWatch.nudge`): on SQLite, which has no
    notifications, a command's own write is then read back without waiting for a poll."""

    def __init__(
        self,
        runner: Runner,
        watch: ProjectionWatch | None = None,
        poll_seconds: float | None = None,
    ) -> None:
        self.runner = runner
        is_pg = runner.ledger.settings.database.is_postgres
        self.poll_seconds = poll_seconds or (1.0 if is_pg else 0.05)
        self._stop = threading.Event()
        self._nudged = threading.Event()
        if watch is not None:
            runner.on_batch = watch.advance
            watch.nudge = self._nudged.set
        self._thread = threading.Thread(target=self._run, name="ssj-projections", daemon=True)

    def start(self) -> ProjectionThread:
        self._thread.start()
        return self

    def _run(self) -> None:
        wakeup = ledger_wakeup(self.runner.ledger, self.poll_seconds, self._nudged)
        self.runner.run_forever(self._stop, wakeup)

    def stop(self) -> None:
        self._stop.set()
        self._nudged.set()
        self._thread.join(timeout=10)


def run_daemon(runner: Runner, stop: threading.Event, poll_seconds: float) -> None:
    """`ssj projections run`: catch up, then follow the ledger until `stop` is set, logging each
    round that applied something (one JSON line: events, from and to seq, duration)."""
    applied_total = 0

    def on_round(first: int, last: int, events: int, seconds: float) -> None:
        nonlocal applied_total
        applied_total += events
        logger.info(
            "projected",
            extra={
                "fields": {
                    "from_seq": first,
                    "to_seq": last,
                    "events": events,
                    "duration_ms": round(seconds * 1000, 2),
                    "events_per_second": round(events / seconds) if seconds > 0 else None,
                }
            },
        )

    runner.on_round = on_round
    logger.info(
        "projection daemon started",
        extra={"fields": {"seqs": runner.seqs(), "poll_seconds": poll_seconds}},
    )
    runner.run_forever(stop, ledger_wakeup(runner.ledger, poll_seconds))
    logger.info("projection daemon stopped", extra={"fields": {"events": applied_total}})
