"""The ledger: one eventsourcing application, one total order, for every bounded context.

Every `save` must name its actor; the chained recorder turns each stored event into a signed,
chained, Merkle-logged envelope in the same transaction. Checkpoints (signed tree heads) are
issued on demand and automatically every N events or T seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

import orjson
from eventsourcing.application import (
    Application,
    ProcessingEvent,
    ProjectorFunction,
    Repository,
    project_aggregate,
)
from eventsourcing.domain import Aggregate, MutableOrImmutableAggregate
from eventsourcing.persistence import (
    EventStore,
    IntegrityError,
    Mapper,
    Notification,
    PersistenceError,
    Recording,
    StoredEvent,
)

from ssj.config import Settings
from ssj.errors import (
    ConfigurationError,
    ConflictError,
    NotFoundError,
    SigningKeyError,
    ValidationError,
)
from ssj.ledger import merkle, note
from ssj.ledger.checkpoint import Checkpoint
from ssj.ledger.contract import ChainedRecorder
from ssj.ledger.decoding import EventDecoder
from ssj.ledger.encoding import LedgerTranscoder
from ssj.ledger.envelope import ENVELOPE_VERSION, SYSTEM, Actor
from ssj.ledger.group import GroupCommitter
from ssj.ledger.keyring import KEYRING_ID, TLOG_ID, KeyRing, TransparencyLog
from ssj.ledger.keys import KeyStore, LedgerSigner
from ssj.ledger.mapper import PreparedEvent, TextCheckingMapper
from ssj.ledger.sqlite import ChainedSQLiteRecorder
from ssj.ledger.suite import DEFAULT, Suite

# Both backends implement the recorder contract: checked here by mypy, and at run time by
# tests/ledger/test_recorder_contract.py (one test case per backend). The PostgreSQL backend is
# imported by eventsourcing from APPLICATION_RECORDER_TOPIC when the database is PostgreSQL, so
# that a process on SQLite never loads psycopg and asyncio (about 0.2 CPU-s of every start).
if TYPE_CHECKING:
    from ssj.ledger.postgres import ChainedPostgresRecorder

    BACKENDS: tuple[type[ChainedRecorder], ...] = (
        ChainedSQLiteRecorder,
        ChainedPostgresRecorder,
    )


@dataclass(frozen=True, init=False)
class LoggedEvent:
    """A domain event at its place in the log, with the actor and time its envelope recorded."""

    seq: int
    actor: Actor
    recorded_at: str
    event: Any
    # Paths of values escaped because no read model could store them (see ssj.ledger.mapper).
    escaped: tuple[str, ...] = ()
    # The originator id as canonical text, as the database spelt it (read models key rows by
    # it; formatting a UUID per event and per projection costs more than reading it).
    originator: str = ""

    def __init__(
        self,
        seq: int,
        actor: Actor,
        recorded_at: str,
        event: Any,
        escaped: tuple[str, ...] = (),
        originator: str = "",
    ) -> None:
        # The fields written straight into the instance's dict: the generated __init__ of a
        # frozen dataclass sets each through object.__setattr__ (0.70 against 0.29 us an event,
        # made once per event by every log reader and replay; 2026-12-05).
        fields = self.__dict__
        fields["seq"] = seq
        fields["actor"] = actor
        fields["recorded_at"] = recorded_at
        fields["event"] = event
        fields["escaped"] = escaped
        fields["originator"] = originator

    @property
    def aggregate_id(self) -> str:
        """The event's originator id as text."""
        return self.originator or str(self.event.originator_id)


logger = logging.getLogger(__name__)


def _stored_actor(user: str, department: str, role: str) -> Actor:
    """The actor an envelope names, as stored (not validated again: the ledger outlives the
    rules, and what it holds is judged by `ssj verify`, not by a reader)."""
    actor = Actor.__new__(Actor)
    object.__setattr__(actor, "user", user)
    object.__setattr__(actor, "department", department)
    object.__setattr__(actor, "role", role)
    return actor


def not_initialised() -> SigningKeyError:
    return SigningKeyError(
        "账本尚未初始化（没有密钥环）：请先运行 `ssj init`",
        "ledger is not initialised (no key ring): run `ssj init` first",
    )


def eventsourcing_env(settings: Settings) -> dict[str, str]:
    """Translate ssj settings into the environment eventsourcing's factories read."""
    db = settings.database
    create = "y" if settings.create_tables else "n"
    if db.is_postgres:
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "APPLICATION_RECORDER_TOPIC": "ssj.ledger.postgres:ChainedPostgresRecorder",
            "POSTGRES_DBNAME": db.dbname,
            "POSTGRES_HOST": db.host,
            "POSTGRES_PORT": str(db.port),
            "POSTGRES_USER": db.user,
            "POSTGRES_PASSWORD": db.password,
            "POSTGRES_SCHEMA": db.schema,
            "POSTGRES_LOCK_TIMEOUT": str(settings.lock_timeout_seconds),
            "POSTGRES_CONNECT_TIMEOUT": "5",
            "CREATE_TABLE": create,
        }
    return {
        "PERSISTENCE_MODULE": "ssj.ledger.sqlite:LedgerSQLiteFactory",
        "APPLICATION_RECORDER_TOPIC": "ssj.ledger.sqlite:ChainedSQLiteRecorder",
        "SQLITE_DBNAME": db.path,
        "SQLITE_LOCK_TIMEOUT": str(settings.lock_timeout_seconds),
        "CREATE_TABLE": create,
    }


def replay(
    aggregate: MutableOrImmutableAggregate[UUID] | None, events: Iterable[Any]
) -> MutableOrImmutableAggregate[UUID] | None:
    """eventsourcing's `project_aggregate` without its check of each event against a runtime
    protocol (about 30 us an event, on every replay of every aggregate a command reads): the
    events the ledger decodes are its domain events, each of which mutates."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


class LedgerRepository(Repository[UUID]):
    """The library's repository, replaying with `replay`."""

    def get(
        self,
        aggregate_id: UUID,
        *,
        version: int | None = None,
        projector_func: ProjectorFunction[Any, Any] = replay,
        fastforward_skipping: bool = False,
        deepcopy_from_cache: bool = True,
    ) -> Any:
        return super().get(
            aggregate_id,
            version=version,
            projector_func=projector_func,
            fastforward_skipping=fastforward_skipping,
            deepcopy_from_cache=deepcopy_from_cache,
        )


# Events a large batch's writer maps before drafting them and sending them to sign (measured on
# 100-event batches, quiet machine: 15 against 10 and 25).
MAP_PART = 15


class LedgerEventStore(EventStore[UUID]):
    """The library's event store, but a large batch is mapped in parts, each drafted as soon as
    it is mapped: a signer process signs the first envelopes while the writer maps the rest
    (`Drafting`). The stored events, envelopes and signatures are the same bytes."""

    def put(self, domain_events: Sequence[Any], **kwargs: Any) -> list[Recording[UUID]]:
        recorder = cast(ChainedRecorder, self.recorder)
        drafting = recorder.start_draft(len(domain_events), kwargs)
        if drafting is None:
            return super().put(domain_events, **kwargs)
        to_stored = self.mapper.to_stored_event
        stored: list[StoredEvent] = []
        try:
            for lo in range(0, len(domain_events), MAP_PART):
                part = [to_stored(e) for e in domain_events[lo : lo + MAP_PART]]
                stored += part
                drafting.add(part)
        except BaseException:
            drafting.discard()
            raise
        recorder.use_draft(stored, drafting.finish())
        ids = recorder.insert_events(stored, **kwargs)
        assert ids is not None and len(ids) == len(stored)
        return [
            Recording(
                d,
                Notification(
                    originator_id=s.originator_id,
                    originator_version=s.originator_version,
                    topic=s.topic,
                    state=s.state,
                    id=n_id,
                ),
            )
            for d, s, n_id in zip(domain_events, stored, ids, strict=True)
        ]


class Ledger(Application[UUID]):
    """The single event log of ssj; every bounded context saves through it."""

    name = "ssj"

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.from_env()
        if not self.settings.database.is_postgres:
            from pathlib import Path

            Path(self.settings.database.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            super().__init__(eventsourcing_env(self.settings))
            self.ledger_recorder.check_schema()
        except (PersistenceError, OSError) as e:
            raise ConfigurationError(
                f"无法打开数据库 {self.settings.database.redacted()}：{e}",
                f"cannot open database {self.settings.database.redacted()}: {e}",
            ) from None
        self.keystore = KeyStore(self.settings.keys_dir)
        self.ledger_recorder.configure_signer(None, None, self._load_signer)
        self._issuing = threading.local()  # per thread: other threads keep their own checks
        self._last_checkpoint_size: int | None = None
        self._last_checkpoint_time = time.monotonic()
        self._suite: Suite | None = None
        self.witness_outcomes: list[Any] = []  # what the witnesses answered to the last checkpoint
        self._witness_lock = threading.Lock()
        self._decoder: EventDecoder | None = None
        # Concurrent saves of this process share appends (ssj/ledger/group.py).
        self.group_commit = GroupCommitter(self._append)

    def construct_repository(self) -> Repository[UUID]:
        """The library's repository, as it configures it, replaying with `replay`."""
        found = super().construct_repository()
        repository = LedgerRepository(
            event_store=found.event_store,
            snapshot_store=found.snapshot_store,
            fastforward=found.fastforward,
            fastforward_skipping=found.fastforward_skipping,
            deepcopy_from_cache=found.deepcopy_from_cache,
        )
        repository.cache = found.cache
        return repository

    def construct_event_store(self) -> EventStore[UUID]:
        return LedgerEventStore(mapper=self.mapper, recorder=self.recorder)

    def construct_transcoder(self) -> LedgerTranscoder:
        transcoder = LedgerTranscoder()
        self.register_transcodings(transcoder)
        return transcoder

    def construct_mapper(self) -> Mapper[UUID]:
        return self.factory.mapper(
            transcoder=self.construct_transcoder(), mapper_class=TextCheckingMapper
        )

    @property
    def ledger_recorder(self) -> ChainedRecorder:
        """The recorder as ssj uses it (ssj/ledger/contract.py): both backends implement it."""
        return cast(ChainedRecorder, self.recorder)

    # Keys ------------------------------------------------------------------------------------

    def _load_signer(
        self, stored: Sequence[StoredEvent] | None = None
    ) -> tuple[int | None, LedgerSigner]:
        """The active signer: from the repository, or from stored events the recorder read
        inside its write transaction (where another connection might wait behind us)."""
        if stored is None:
            keyring = self.keyring()
        elif stored:
            keyring = cast(
                KeyRing,
                project_aggregate(None, [self.mapper.to_domain_event(e) for e in stored]),
            )
        else:
            raise not_initialised()
        return keyring.version, self.keystore.load(keyring.active_key_id)

    def keyring(self) -> KeyRing:
        try:
            return cast(KeyRing, self.repository.get(KEYRING_ID))
        except Exception as e:  # AggregateNotFoundError
            if type(e).__name__ == "AggregateNotFoundError":
                raise not_initialised() from None
            raise

    def is_initialised(self) -> bool:
        return self.ledger_recorder.ledger_size() > 0

    @property
    def suite(self) -> Suite:
        """The ledger's cryptographic suite: its genesis key's (the default before `init`)."""
        if self._suite is None:
            if not self.is_initialised():
                return DEFAULT
            self._suite = self.keyring().suite
            self.ledger_recorder.suite = self._suite
        return self._suite

    def initialise(self, actor: Actor = SYSTEM, suite: Suite = DEFAULT) -> str:
        """Create the first key and the genesis events; returns the key id. Idempotent for the
        same suite; asking for another suite than the ledger's is refused (never mixed)."""
        if self.is_initialised():
            if self.suite is not suite:
                raise ConflictError(
                    f"账本已使用密码套件 {self.suite.name} 初始化，不能改为 {suite.name}",
                    f"the ledger was initialised with suite {self.suite.name}, "
                    f"not {suite.name}: suites are never mixed",
                )
            return self.keyring().active_key_id
        signer = self.keystore.create(self.settings.log_origin, suite)
        keyring = KeyRing(signer.verifier_key)
        tlog = TransparencyLog(self.settings.log_origin)
        # The genesis key signs its own introduction (seq 0).
        self.ledger_recorder.configure_signer(signer, None, self._load_signer)
        self.ledger_recorder.suite = suite
        self.save(keyring, tlog, actor=actor)
        self._suite = suite
        return signer.key_id

    def rotate_key(self, actor: Actor, key_id: str | None = None) -> str:
        """Make a new key (or an existing key file) the signing key; the old one retires."""
        signer = (
            self.keystore.load(key_id)
            if key_id
            else self.keystore.create(self.settings.log_origin, self.suite)
        )
        keyring = self.keyring()
        keyring.rotate(signer.verifier_key)
        self.save(keyring, actor=actor)
        return signer.key_id

    def revoke_key(self, actor: Actor, key_id: str, as_of_seq: int, reason: str) -> None:
        keyring = self.keyring()
        size = self.ledger_recorder.ledger_size()
        if as_of_seq > size:
            raise ValidationError(
                f"吊销起始序号 {as_of_seq} 超过账本长度 {size}",
                f"as-of seq {as_of_seq} is beyond the ledger size {size}",
            )
        keyring.revoke(key_id, as_of_seq, reason)
        self.save(keyring, actor=actor)

    def key_listing(self) -> list[dict[str, Any]]:
        """The key ring with each key's validity in ledger positions, for `ssj keys list`."""
        seq_of = dict(self.ledger_recorder.select_seqs(KEYRING_ID))
        keys: dict[str, dict[str, Any]] = {}
        for e in self.events.get(KEYRING_ID):
            seq = seq_of.get(e.originator_version)
            name = type(e).__name__
            if name in ("Created", "Rotated"):
                verifier_key: str = e.verifier_key  # type: ignore[attr-defined]
                key_id = note.key_id(verifier_key)
                keys[key_id] = {
                    "key_id": key_id,
                    "suite": note.parse_verifier_key(verifier_key).suite.name,
                    "verifier_key": verifier_key,
                    "valid_from_seq": 0 if name == "Created" else (seq or 0) + 1,
                    "valid_to_seq": None,
                    "revoked_as_of_seq": None,
                    "status": "active",
                }
                if name == "Rotated":
                    old = keys[e.retired_key_id]  # type: ignore[attr-defined]
                    old["valid_to_seq"] = seq
                    old["status"] = "retired"
            elif name == "Revoked":
                entry = keys[e.key_id]  # type: ignore[attr-defined]
                entry["revoked_as_of_seq"] = e.as_of_seq  # type: ignore[attr-defined]
                entry["status"] = "revoked"
        for entry in keys.values():
            entry["private_key_here"] = self.keystore.has(entry["key_id"])
        return list(keys.values())

    # Writing ---------------------------------------------------------------------------------

    def save(  # type: ignore[override]  # aggregates only, and every save names its actor
        self,
        *objs: MutableOrImmutableAggregate[UUID] | PreparedEvent | None,
        actor: Actor | None = None,
        **kwargs: Any,
    ) -> list[Recording[UUID]]:
        """Append the new events of `objs` (aggregates, and events of aggregates not built:
        `PreparedEvent`), in order, as one batch."""
        if not isinstance(actor, Actor):
            raise ValidationError(
                "未指明操作人：每条记录都必须记明谁做的",
                "no actor given: every event must record who did it",
            )
        # The library's ProcessingEvent.collect_events checks every object against runtime
        # Protocols, which costs more per event than signing it; our aggregates are concrete.
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        for obj in objs:
            if isinstance(obj, Aggregate):
                processing_event.events.extend(obj.collect_events())
                processing_event.aggregates[obj.id] = obj
            elif isinstance(obj, PreparedEvent):
                processing_event.events.append(obj)  # type: ignore[arg-type]
            elif obj is not None:
                processing_event.collect_events(obj)
        processing_event.saved_kwargs.update(kwargs, actor=actor)
        if kwargs or not processing_event.events:
            recordings = self._record(processing_event)
        else:
            recordings = self.group_commit.save(processing_event.events, actor)
            if self.repository.cache and not self.repository.fastforward:
                for aggregate_id, aggregate in processing_event.aggregates.items():
                    self.repository.cache.put(aggregate_id, aggregate)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        if recordings and not getattr(self._issuing, "active", False):
            self._maybe_checkpoint()
        return recordings

    def _append(self, events: Sequence[Any], actors: Sequence[Actor]) -> list[Recording[UUID]]:
        """One append of the group committer: each event with its command's actor (`actors`
        only when they differ; the envelopes are the same bytes either way)."""
        first = actors[0]
        if any(a != first for a in actors):
            return self.events.put(events, actor=first, actors=list(actors))
        return self.events.put(events, actor=first)

    def _maybe_checkpoint(self) -> None:
        head = self.ledger_recorder.cached_head
        if head is None:
            return
        if self._last_checkpoint_size is None:
            self._last_checkpoint_size = self.transparency_log().last_size
        pending = head.size - self._last_checkpoint_size
        due_by_count = 0 < self.settings.checkpoint_every_events <= pending
        elapsed = time.monotonic() - self._last_checkpoint_time
        due_by_time = pending > 0 and elapsed >= self.settings.checkpoint_every_seconds
        if due_by_count or due_by_time:
            # The caller's events are committed: a checkpoint that fails now must not look like
            # a failed save (the caller would record its events twice). Another writer winning
            # the race has issued one anyway; anything else is logged and retried next time.
            try:
                signed = self.issue_checkpoint(SYSTEM, attempts=1, witnesses=False)
            except Exception:
                logger.warning("automatic checkpoint not issued", exc_info=True)
                self._last_checkpoint_size = None  # re-read: another writer may have issued one
                self._last_checkpoint_time = time.monotonic()
            else:
                self._witness_in_background(signed)

    # Reading the log in seq order ------------------------------------------------------------

    def read(self, start: int, limit: int) -> list[LoggedEvent]:
        """Events from seq `start`, decoded, with who recorded them: what projections consume.

        Plain rows in two queries (envelopes, then their events with the originator id spelled
        by the database); each envelope parsed once for its actor and time (one `Actor` per
        distinct actor of the batch); states decoded by `EventDecoder` (orjson), after
        escaping what no read model can store (`TextCheckingMapper.escape_unstorable_state`)."""
        recorder = self.ledger_recorder
        rows = recorder.select_envelope_texts(start, limit)
        if not rows:
            return []
        events = recorder.select_event_rows(rows[0][1], len(rows), stop=rows[-1][1])
        by_nid = {e[0]: e for e in events}
        mapper = cast(TextCheckingMapper, self.mapper)
        decoder = self._decoder
        if decoder is None:
            decoder = self._decoder = EventDecoder(mapper)
        actors: dict[tuple[str, str, str], Actor] = {}
        loads = orjson.loads
        logged = []
        for seq, nid, data in rows:
            found = by_nid.get(nid)
            if found is None:
                raise NotFoundError(
                    f"第 {seq} 条的事件缺失：请运行 `ssj verify`",
                    f"the event of seq {seq} is missing: run `ssj verify`",
                )
            _, originator_id, version, topic, state = found
            envelope = loads(data)
            if envelope.get("v") != ENVELOPE_VERSION:
                raise ValueError(f"unsupported envelope version {envelope.get('v')!r}")
            who = envelope["actor"]
            key = (who["user"], who["department"], who["role"])
            actor = actors.get(key)
            if actor is None:
                actor = actors[key] = _stored_actor(*key)
            escaped: tuple[str, ...] = ()
            if mapper.may_need_escaping(state):
                stored, paths = mapper.escape_unstorable_state(
                    StoredEvent(
                        originator_id=originator_id,
                        originator_version=version,
                        topic=topic,
                        state=state,
                    )
                )
                state, escaped = stored.state, tuple(paths)
            logged.append(
                LoggedEvent(
                    seq,
                    actor,
                    envelope["recorded_at"],
                    decoder.event(originator_id, version, topic, state),
                    escaped,
                    originator_id,
                )
            )
        return logged

    # Checkpoints and proofs ------------------------------------------------------------------

    def transparency_log(self) -> TransparencyLog:
        return cast(TransparencyLog, self.repository.get(TLOG_ID))

    def size(self) -> int:
        """How many events the ledger holds: the RFC 9162 tree size, `head_seq() + 1`."""
        return self.ledger_recorder.ledger_size()

    def head_seq(self) -> int:
        """The seq of the newest event (-1: an empty ledger)."""
        return self.ledger_recorder.ledger_size() - 1

    def written_seq(self) -> int:
        """The newest seq this process has written (-1: none yet), without a query."""
        head = self.ledger_recorder.cached_head
        return -1 if head is None else head.size - 1

    def issue_checkpoint(
        self, actor: Actor = SYSTEM, attempts: int = 5, witnesses: bool = True
    ) -> str:
        """Sign a tree head over the whole ledger and record it; returns the signed note. With
        `witnesses`, send it to the configured witnesses (`witness_outcomes` holds what each
        answered; every answer is recorded in the ledger)."""
        self._issuing.active = True
        self.witness_outcomes = []
        try:
            for _ in range(attempts):
                size = self.size()
                root = self.root(size)
                _, signer = self._load_signer()
                checkpoint = Checkpoint(self.settings.log_origin, size, root)
                signed = signer.sign_note(checkpoint.to_text())
                tlog = self.transparency_log()
                if tlog.last_size >= size:
                    signed = self.latest_checkpoint() or signed
                else:
                    tlog.issue(size, root.hex(), signed)
                    try:
                        self.save(tlog, actor=actor)
                    except IntegrityError:
                        continue  # another process issued one at the same time: try again
                    self._last_checkpoint_size = size
                    self._last_checkpoint_time = time.monotonic()
                if witnesses:
                    self.send_to_witnesses(signed)
                return signed
            raise ConflictError(
                f"其他写入方同时签发检查点，{attempts} 次尝试均未成功",
                f"other writers issued checkpoints at the same time: {attempts} attempts failed",
            )
        finally:
            self._issuing.active = False

    def send_to_witnesses(self, signed: str) -> list[Any]:
        """Send a checkpoint to the configured witnesses and record their answers (outcomes of
        `ssj.witness.log.send`); never raises: a failure to ask is logged and returned."""
        from ssj.witness.log import send

        active = getattr(self._issuing, "active", False)
        self._issuing.active = True  # the answers it records must not trigger a checkpoint
        try:
            with self._witness_lock:  # one sender at a time: they record on one aggregate
                self.witness_outcomes = send(self, signed)
        except Exception:
            logger.warning("checkpoint not sent to witnesses", exc_info=True)
            self.witness_outcomes = []
        finally:
            self._issuing.active = active
        return list(self.witness_outcomes)

    def _witness_in_background(self, signed: str) -> None:
        """Witnesses answer over the network: off the writer's path, and only if there are any
        (so a ledger without witnesses starts no thread that could outlive it)."""
        from ssj.witness.log import witness_set

        try:
            found = witness_set(self)
        except Exception:
            logger.warning("witnesses not read", exc_info=True)
            return
        if found is not None and found.active():
            threading.Thread(target=self._send_in_background, args=(signed,), daemon=True).start()

    def _send_in_background(self, signed: str) -> None:
        with self._witness_lock:
            if self.latest_checkpoint() != signed:
                return  # superseded: the newer checkpoint's own thread sends that one
        for outcome in self.send_to_witnesses(signed):
            if not outcome.ok:
                logger.error("witness problem: %s", outcome.line())

    def checkpoints(self) -> list[tuple[int, str]]:
        """All recorded checkpoints, oldest first, as (tree size, signed note)."""
        events = self.events.get(TLOG_ID)
        return [
            (e.size, e.signed_note)
            for e in events
            if isinstance(e, TransparencyLog.CheckpointIssued)
        ]

    def latest_checkpoint(self) -> str | None:
        found = self.checkpoints()
        return found[-1][1] if found else None

    def _check_size(self, size: int) -> None:
        if 0 <= size <= self.written_seq() + 1:
            return  # within what this process wrote: the ledger only grows, no query needed
        current = self.size()
        if not 0 <= size <= current:
            raise ValidationError(
                f"树大小 {size} 超出账本范围（0–{current}）",
                f"tree size {size} is outside the ledger (0-{current})",
            )

    def _range_hashes(
        self, ranges: Sequence[tuple[int, int]], leaves: Mapping[int, bytes] | None = None
    ) -> list[bytes]:
        """Each range's MTH; a range asked for several times (the upper levels shared by the
        proofs of nearby leaves) is planned and folded once. `leaves`: envelope bytes by seq
        the caller has read already (not read again for the low nodes)."""
        tree = self.suite.tree  # also tells the recorder the suite before it rebuilds nodes
        plans = {r: merkle.subtree_nodes(*r) for r in dict.fromkeys(ranges)}
        wanted = sorted({c for plan in plans.values() for c in plan})
        found = self.ledger_recorder.node_hashes(wanted, leaves)
        missing = [c for c in wanted if c not in found]
        if missing:
            raise NotFoundError(
                f"默克尔节点缺失：{missing[:3]}", f"Merkle nodes missing: {missing[:3]}"
            )
        folded = {r: tree.fold([found[c] for c in plan]) for r, plan in plans.items()}
        return [folded[r] for r in ranges]

    def root(self, size: int) -> bytes:
        self._check_size(size)
        if size == 0:
            return self.suite.tree.empty_root
        return self._range_hashes([(0, size)])[0]

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        self._check_size(size)
        if not 0 <= index < size:
            raise ValidationError(
                f"序号 {index} 不在树大小 {size} 之内", f"seq {index} is not below tree size {size}"
            )
        return self._range_hashes(merkle.inclusion_ranges(index, size))

    def inclusion_proofs(
        self, indices: Sequence[int], size: int, leaves: Mapping[int, bytes] | None = None
    ) -> dict[int, list[bytes]]:
        """Inclusion proofs of several leaves in one tree, from one read of the nodes (the
        delivery worker proves hundreds of records against one checkpoint). `leaves`:
        envelope bytes by seq already read (the worker reads its records' 8-leaf blocks)."""
        self._check_size(size)
        wanted = sorted(set(indices))
        if wanted and not 0 <= wanted[0] <= wanted[-1] < size:
            raise ValidationError(
                f"序号不在树大小 {size} 之内", f"an index is not below tree size {size}"
            )
        plans = {index: merkle.inclusion_ranges(index, size) for index in wanted}
        hashes = iter(self._range_hashes([r for ranges in plans.values() for r in ranges], leaves))
        return {index: [next(hashes) for _ in ranges] for index, ranges in plans.items()}

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        self._check_size(new_size)
        if not 0 <= old_size <= new_size:
            raise ValidationError(
                f"旧树大小 {old_size} 应在 0 与 {new_size} 之间",
                f"old size {old_size} must be between 0 and {new_size}",
            )
        return self._range_hashes(merkle.consistency_ranges(old_size, new_size))
