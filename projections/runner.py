"""Feeding projections from the ledger, in seq order, exactly once.

Each batch of events is applied to every projection and its seq advanced in one transaction
of the projections database, so a crash in the middle leaves either all of a batch or none of it:
resuming starts after the last committed seq and never applies an event twice. A projection can
be dropped and rebuilt from the ledger at any time, with the same result.
"""

from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Protocol, cast, runtime_checkable

from projections.store import Cursor, ScratchSQLiteViewStore, ViewStore, open_view_store
from ssj import collector
from ssj.config import Settings
from ssj.ledger.application import Ledger, LoggedEvent
from ssj.processes import process_cpu

BATCH = 2000
# A catch-up whose first batch came back full (a rebuild, a daemon far behind) goes on in larger
# batches: fewer queries and commits per event (each commit of a large batch checkpoints
# SQLite's WAL), and still about a second per transaction.
LARGE_BATCH = 10_000
# Connections a PostgreSQL rebuild makes its deferred read indexes on at once (a server builds a
# GIN index on one core, a B-tree with what parallel workers it allows; two: this machine's
# cores, and no more than a small server's).
INDEX_CONNECTIONS = 2
# A rebuild replays the projections that depend on no other in a second process
# (`Runner._rebuild_apart`) from this many events of the ledger, while other processes leave
# enough of the cores free.
APART_MIN_EVENTS = 20_000
APART_FREE_CORES = 1.5  # cores other processes leave free: this one's and most of another
APART_SAMPLE_SECONDS = 0.1  # the shortest window those are counted over
# Windows counted, one after another, before the rebuild gives the second process up: a busy
# spell at its start (a tenth of a second, as on 2026-12-07 at 30c35aa) no longer costs it the
# other core throughout; a machine busy for all of them costs it half a second of counting.
APART_WINDOWS = 5
APART_COMMAND = ("-m", "projections.apart")  # run by this interpreter (tests run another)
# A rebuild's phases in order (`Runner.phases`), as `ssj projections rebuild` names them.
REBUILD_PHASES: dict[str, tuple[str, str]] = {
    "start_over": ("清空读模型", "emptying the read models"),
    "cores": ("统计空闲核心", "counting the free cores"),
    "replay": ("重放账本", "replaying the ledger"),
    "read_indexes": ("建立读索引", "making the read indexes"),
    "waiting": ("等待第二进程", "waiting for the second process"),
    "taking_in": ("并入第二进程的表", "taking in the second process's tables"),
    "wal": ("合并预写日志", "merging the write-ahead log"),
}
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


@runtime_checkable
class RebuiltApart(Protocol):
    """A projection that reads no other projection's tables, and none of whose tables any other
    reads: a rebuild may replay it in a second process (`Runner.rebuild`)."""

    name: str
    own_tables: tuple[str, ...]  # all its tables, which `create` makes and `drop` drops


class CoresSample:
    """How many cores other processes leave free, counted from now until `cores` is asked:
    the machine's idle time (Linux's /proc/stat) and the CPU time of this process and of
    `ours` (the rebuild's second process, which may still be starting), over the wall time.
    Where /proc/stat cannot be read, the cores less the load average."""

    def __init__(self, ours: int | None = None) -> None:
        self.ours = ours
        self.started = (time.monotonic(), self._own_cpu(), _idle_seconds())

    def _own_cpu(self) -> float:
        theirs = 0.0 if self.ours is None else process_cpu(self.ours)
        return time.process_time() + theirs

    def cores(self) -> float:
        wall, cpu, idle = self.started
        elapsed = time.monotonic() - wall
        if elapsed < APART_SAMPLE_SECONDS:
            time.sleep(APART_SAMPLE_SECONDS - elapsed)
            elapsed = APART_SAMPLE_SECONDS
        now = _idle_seconds()
        if idle is None or now is None:
            return (os.cpu_count() or 1) - os.getloadavg()[0]
        return (now - idle + self._own_cpu() - cpu) / max(elapsed, 1e-9)


def cores_free(ours: int) -> bool:
    """Whether other processes leave `APART_FREE_CORES` cores free in any of `APART_WINDOWS`
    windows counted one after another (`CoresSample`, `ours` the second process): the first
    such window ends the count."""
    return any(CoresSample(ours).cores() >= APART_FREE_CORES for _ in range(APART_WINDOWS))


def _idle_seconds() -> float | None:
    """Seconds all cores have been idle (or waiting for I/O) since boot, or None."""
    try:
        with open("/proc/stat", "rb") as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    if len(fields) < 6 or fields[0] != b"cpu":
        return None
    return (int(fields[4]) + int(fields[5])) / os.sysconf("SC_CLK_TCK")


def replay_apart(
    settings: Settings,
    scratch: Path | None,
    told: Callable[[], tuple[Sequence[Projection], int] | None],
) -> None:
    """The second process of a rebuild (`python -m projections.apart`): opens the ledger (and
    on PostgreSQL the read models) while the first empties the read models, then asks `told`
    which projections to replay up to which seq (None: none, the rebuild went on in one
    process). It replays them, their read indexes made at the end (here, beside the first
    process), either from seq 0 into a new scratch store at `scratch` (`Runner._take_apart`
    copies the tables and indexes as they are), or, with no `scratch` (a
    `ViewStore.side_by_side` store), into the read models themselves from where they stand,
    their seqs committed batch by batch."""
    ledger = Ledger(settings)
    store = open_view_store(settings) if scratch is None else None
    try:
        order = told()
        if order is None:
            return
        group, until = order
        if store is None:
            assert scratch is not None
            store = ScratchSQLiteViewStore(scratch)
        runner = Runner(ledger, store, group, prepare=scratch is not None, part=True)
        if scratch is not None:
            with store.transaction() as c:
                runner._start_over(c)
        runner.catch_up(until=until)
        with store.transaction() as c:
            for _, create in _read_indexes(c, group):
                c.execute(create)
    finally:
        if store is not None:
            store.close()
        ledger.close()


class SecondProcess:
    """A rebuild's second process (`python -m projections.apart`, a new interpreter, not a
    fork: it shares no connection, lock or thread with this one), started before the rebuild
    empties the read models and told what to replay after: meanwhile it imports ssj and opens
    the ledger, about 0.3 s of its start that no longer comes after the start-over (the
    server's work, mostly). Told nothing (its standard input closed), it exits having written
    nothing."""

    def __init__(self, settings: Settings, scratch: Path | None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, *APART_COMMAND], stdin=subprocess.PIPE, close_fds=True
        )
        self._send((settings, scratch))

    def _send(self, message: object) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        with suppress(BrokenPipeError):  # it ended already: its exit code says so
            pickle.dump(message, stdin)
            stdin.flush()

    def replay(self, group: Sequence[Projection], until: int) -> None:
        """Have it replay `group` up to seq `until`."""
        self._send((group, until))
        self.release()

    def release(self) -> None:
        """Tell it nothing more: an untold process then exits."""
        stdin = self.process.stdin
        assert stdin is not None
        with suppress(BrokenPipeError):  # it ended already, unflushed
            stdin.close()

    def wait(self) -> int:
        return self.process.wait()

    def stop(self) -> None:
        """Released, and killed if it still runs (a rebuild that stopped)."""
        self.release()
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _read_indexes(c: Cursor, projections: Sequence[Projection]) -> list[tuple[str, str]]:
    return [i for p in projections if isinstance(p, ReadIndexed) for i in p.read_indexes(c)]


class Runner:
    def __init__(
        self,
        ledger: Ledger,
        store: ViewStore,
        projections: Sequence[Projection],
        *,
        prepare: bool = True,
        part: bool = False,
    ) -> None:
        """`prepare=False` for a read-only store (a replica): no tables created or reshaped.
        `part`: a runner of a part of the projections, beside a runner of another part (a
        rebuild's two processes): it takes only its projections' writer locks."""
        self.ledger = ledger
        self.store = store
        self.projections = list(projections)
        self._names = [p.name for p in self.projections] if part else None
        self._lock = threading.Lock()
        # Told the seq of each committed batch (an in-process watch: SQLite has no NOTIFY).
        self.on_batch: Callable[[int], None] | None = None
        # Told (first seq, last seq, events, seconds) after each catch-up that applied any.
        self.on_round: Callable[[int, int, int, float], None] | None = None
        # Seconds of the last rebuild by phase (`REBUILD_PHASES`): where its time went.
        self.phases: dict[str, float] = {}
        if prepare:
            self._prepare()

    def _prepare(self) -> None:
        with self.store.transaction() as c:
            self.store.upgrade(c)
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

        The cyclic collector is paused until the last batch is applied
        (`ssj.collector`): a batch holds hundreds of thousands of containers (events,
        states, rows) and none forms a cycle, yet its full passes rescanned them all several times
        per rebuild (a fifth of a SQLite rebuild's CPU, a third of a PostgreSQL one's client CPU,
        on the bench ledger). Not switched on between batches either: each time, its first young
        pass scanned the batch just applied and the one read ahead (0.9 CPU-s of a PostgreSQL
        rebuild's first process on the bench ledger, by `gc.callbacks`; 0.04 paused throughout).
        Reference counting frees each batch; a cycle made meanwhile, by this or another thread
        of the process, waits for the end (184 objects after the bench ledger's 293,037
        events)."""
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
            limit = BATCH if total is None else min(BATCH, total - start)
            ahead: Future[list[LoggedEvent]] | None = None
            # Behind, on PostgreSQL, the next batch is read and decoded in a thread while this
            # one is applied: this process mostly waits for the server's writes meanwhile. Not on
            # SQLite, whose writes are this process's own work and whose rebuild has its second
            # process on the other core (measured there: slower, not faster).
            read_ahead = self.store.is_postgres
            with (
                collector.paused(),
                ThreadPoolExecutor(1, thread_name_prefix="ledger-read-ahead") as reader,
            ):
                while limit > 0:
                    batch = ahead.result() if ahead else self.ledger.read(start, limit)
                    ahead = None
                    if not batch:
                        break
                    start = batch[-1].seq + 1
                    full = len(batch) == limit
                    # Behind (a full batch, or a bound): larger batches from now on.
                    limit = LARGE_BATCH if total is None else min(LARGE_BATCH, total - start)
                    if read_ahead and (full or total is not None) and limit > 0:
                        ahead = reader.submit(self.ledger.read, start, limit)
                    self.apply_batch(batch)
                    applied += len(batch)
                    if progress is not None and total is not None:
                        progress(start, total)
                    if total is None and not full:
                        break
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
            self.store.exclusive(c, self._names)
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
        (its writer checkpoints only every 64 MiB: `projections.store.WRITER_CHECKPOINT_PAGES`).
        Where a core is idle (`cores_free`), the projections that depend on no other
        (`RebuiltApart`: the trail) are replayed in a second process meanwhile
        (`_rebuild_apart`). `phases` says where the time went."""
        self.phases = {}
        group = self._apart()
        second: SecondProcess | None = None
        try:
            if group:
                self.store.clear_apart()  # left by a rebuild that stopped
                second = SecondProcess(self.ledger.settings, self.store.apart_path)
            with self._phase("start_over"), self._lock, self.store.transaction() as c:
                deferred = self._start_over(c)
            # Counted after the start-over: on PostgreSQL the server's work of dropping the
            # tables is this rebuild's, not another process's (and so is the second one's).
            if second is not None and self._cores_free_for(second):
                applied = self._rebuild_apart(second, group, progress)
            else:
                with self._phase("replay"):
                    applied = self.catch_up(progress)
        finally:
            if second is not None:
                second.stop()
                self.store.clear_apart()
        with self._phase("read_indexes"), self._lock:
            self._create_indexes(deferred)
        if self.store.is_postgres:
            return applied  # no journal of its own to merge (`ViewStore.checkpoint`)
        with self._phase("wal"):
            self.store.checkpoint()
        return applied

    def _cores_free_for(self, second: SecondProcess) -> bool:
        """Whether other processes leave cores free for `second` (`cores_free`, counted as the
        phase "cores"); if not, it is released, told nothing."""
        with self._phase("cores"):
            free = cores_free(second.process.pid)
        if not free:
            second.release()
        return free

    @contextmanager
    def _phase(self, name: str) -> Iterator[None]:
        """Add the seconds of the block to `phases[name]`."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.phases[name] = self.phases.get(name, 0.0) + time.perf_counter() - started

    def _start_over(self, c: Cursor) -> list[tuple[str, str]]:
        """Empty every projection's tables, forget their seqs and drop their read indexes;
        returns those indexes."""
        deferred = _read_indexes(c, self.projections)
        for p in self.projections:
            p.drop(c)
            p.create(c)
            c.execute("DELETE FROM projection_positions WHERE name = ?", (p.name,))
        for name, _ in deferred:
            c.execute(f"DROP INDEX IF EXISTS {name}")
        return deferred

    def _apart(self) -> list[Projection]:
        """The projections a rebuild may replay in a second process: those that depend on no
        other (`RebuiltApart`), when others remain, the ledger is large enough to pay for the
        process and the store can have a scratch store or writers side by side. It does so
        only where other processes left at least `APART_FREE_CORES` cores free as the rebuild
        started (`rebuild`, `cores_free`): the second process reads and decodes the whole log
        too (about a third more CPU altogether), a gain only where it runs beside the first,
        not in turn with it."""
        group: list[Projection] = [p for p in self.projections if isinstance(p, RebuiltApart)]
        if not group or len(group) == len(self.projections) or (os.cpu_count() or 1) < 2:
            return []
        if self.store.apart_path is None and not self.store.side_by_side:
            return []
        if self.ledger.size() < APART_MIN_EVENTS:
            return []
        return group

    def _rebuild_apart(
        self,
        second: SecondProcess,
        group: Sequence[Projection],
        progress: Callable[[int, int], None] | None,
    ) -> int:
        """Have the `second` process replay `group` while this one replays the other
        projections into the read models, up to the same seq.

        On SQLite (one writer) it replays into a scratch store, whose tables and seqs this one
        then takes in, in one transaction. Until then the read models hold none of `group`'s
        rows and no seq for it, as after a crash at the start of a rebuild: whatever stops
        either process, `catch_up` (here at the end, or when a runner next starts) replays
        `group` from seq 0, and the scratch store is left unused. On PostgreSQL
        (`ViewStore.side_by_side`) it writes the read models itself, committing `group`'s seq
        with each batch as any runner does: whatever stops it, `catch_up` goes on from there.

        This one makes its projections' read indexes before waiting for it (it is the slower of
        the two: it makes the trail's)."""
        until = self.ledger.size() - 1
        second.replay(list(group), until)
        rest = Runner(
            self.ledger,
            self.store,
            [p for p in self.projections if p not in group],
            prepare=False,
            part=True,
        )
        rest.on_batch = self.on_batch
        with self._phase("replay"):
            rest.catch_up(progress, until=until)
        # The other projections' read indexes while the second process may still run.
        with self._phase("read_indexes"):
            with rest.store.transaction() as c:
                rest_indexes = _read_indexes(c, rest.projections)
            rest._create_indexes(rest_indexes)
        with self._phase("waiting"):
            code = second.wait()
        if code != 0:
            logger.warning(
                "the rebuild's second process failed (exit code %s): %s replayed here",
                code,
                ", ".join(p.name for p in group),
            )
        elif self.store.apart_path is not None:
            with self._phase("taking_in"):
                taken = self._take_apart(group)
            if not taken:
                logger.warning("read models changed during the rebuild: its scratch copy dropped")
        with self._phase("replay"):  # what the second process did not replay, if anything
            self.catch_up(progress)
        return min(self.seqs().values(), default=-1) + 1

    def _take_apart(self, group: Sequence[Projection]) -> bool:
        """Move `group`'s tables and seqs from the scratch store into the read models, in one
        transaction; False (nothing moved) if another runner applied any of them meanwhile or
        the scratch store lacks a seq. Its read indexes are made on the empty tables first:
        the scratch store has them, and SQLite then copies their records too (0.19 s of a
        53,000-event rebuild's trail indexes made beside this process, ~0.06 s to copy)."""
        names = {p.name for p in group}
        with self._lock, self.store.joined_apart() as (c, apart):
            self.store.exclusive(c)
            c.execute("SELECT name FROM projection_positions")
            if names & {str(name) for (name,) in c.fetchall()}:
                return False
            c.execute(f"SELECT name, seq FROM {apart}projection_positions")
            seqs = {str(name): int(seq) for name, seq in c.fetchall() if name in names}
            if seqs.keys() != names:
                return False
            for _, create in _read_indexes(c, group):
                c.execute(create)
            for p in group:
                for table in cast(RebuiltApart, p).own_tables:
                    self.store.take_apart(c, table)
            self._save_seqs(c, seqs)
        return True

    def _create_indexes(self, indexes: Sequence[tuple[str, str]]) -> None:
        """Make the read indexes a rebuild deferred. On PostgreSQL each in a transaction of its
        own, `INDEX_CONNECTIONS` at a time, the GIN indexes first: the server builds a GIN
        index on one core while a B-tree takes parallel workers, and the targets' trigram index
        takes about as long as the registry's B-trees together (made one after the other,
        they were the longest part of a rebuild after its replay). One transaction on SQLite:
        one writer at a time. Each is `IF NOT EXISTS`: a runner started after a failure here
        makes the missing ones (`Projection.create`)."""

        def make(part: Sequence[tuple[str, str]]) -> None:
            with self.store.transaction() as c:
                for _, create in part:
                    c.execute(create)

        if not self.store.is_postgres or len(indexes) < 2:
            make(indexes)
            return
        ordered = sorted(indexes, key=lambda index: " USING gin " not in index[1])
        with ThreadPoolExecutor(INDEX_CONNECTIONS, thread_name_prefix="read-indexes") as pool:
            for made in [pool.submit(make, [index]) for index in ordered]:
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
    # Each class of the batch asked once, not each event (0.50 against 4.39 ms per 10,000).
    return bool(kinds) and any(issubclass(cls, kinds) for cls in {type(e.event) for e in batch})


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
    (eventsourcing NOTIFYs it in every insert transaction), or the poll interval, cut short
    by `nudged` (set by whoever stops the runner too)."""

    def __init__(
        self,
        listen: Callable[[float], bool] | None,
        poll_seconds: float = 1.0,
        close: Callable[[], None] | None = None,
        nudged: threading.Event | None = None,
    ) -> None:
        self.poll_seconds = poll_seconds
        self._listen = listen
        self._close = close
        self._nudged = nudged

    def wait(self, stop: threading.Event) -> None:
        if self._listen is None:
            if self._nudged is None:
                stop.wait(self.poll_seconds)
            else:  # cleared before the round it calls for, so a nudge during it calls another
                self._nudged.wait(self.poll_seconds)
                self._nudged.clear()
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
