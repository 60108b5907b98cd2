"""The offline audit bundle: exporting it from a ledger, and re-running its draws offline.

Export reads the database and writes one `ssj-audit-bundle/2` file (or `/1` on request; formats
in `ssj.ledger.bundle` and `ssj.ledger.bundle_v2`): rows exactly as stored, never decoded and re-encoded, so a damaged database
exports to a bundle that fails the same way. Offline, every draw in the bundle is re-run with
`verify_draw` on read models replayed from the bundle's own events into an in-memory SQLite
store (scratch computation, not anyone's database): one pass over the registry, plan, draw and
task events only (version tables give each draw its registry as of its own seq), in a second
process beside the ledger check for large bundles. A re-run counts only if the ledger checks
pass and it read the same bytes (SHA-256 of everything before the manifest) and the same events
as the ledger check did.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import orjson
from eventsourcing.application import project_aggregate
from eventsourcing.persistence import Mapper, Notification
from eventsourcing.utils import get_topic

import ssj
from projections.draws import DrawProjection
from projections.plans import PlanProjection
from projections.registry import RegistryProjection
from projections.registry_view import index_target_groups, load_registry_view
from projections.store import SQLiteViewStore
from projections.versioned import VersionedProjection
from ssj import collector
from ssj.domain.conflicts import ConflictRules, Declaration
from ssj.domain.draws import Draw
from ssj.domain.inspectors import Inspector
from ssj.domain.items import Item
from ssj.domain.organisation import ApiToken, Department, User
from ssj.domain.plans import Plan
from ssj.domain.targets import Target
from ssj.domain.tasks import Task
from ssj.draw.procedure import PlanView
from ssj.errors import SsjError, ValidationError
from ssj.ledger import merkle
from ssj.ledger.application import Ledger, LoggedEvent
from ssj.ledger.audit import envelope_rows, stored_events
from ssj.ledger.bundle import (
    CHUNK,
    FORMAT,
    FORMAT_V1,
    PROGRESS_EVERY,
    BundleResult,
    Progress,
    bundle_format,
    event_from_json,
    event_json,
    event_of_record,
    offline_mapper,
    open_writer,
    row_json,
    unb64,
    verify_bundle,
)
from ssj.ledger.bundle_v2 import EventBlock, FrameReader
from ssj.ledger.decoding import EventDecoder
from ssj.ledger.envelope import Actor, Envelope, utc_now_text
from ssj.ledger.keyring import KEYRING_ID, TLOG_ID, TransparencyLog
from ssj.ledger.verify import pair_streams
from ssj.services.draws import Verification, verify_draw

DRAW_PREFIX = get_topic(Draw) + "."
PLAN_PREFIX = get_topic(Plan) + "."


# Export ----------------------------------------------------------------------------------------


@dataclass
class ExportSummary:
    path: Path
    from_seq: int
    to_seq: int
    events: int
    unsealed: int
    checkpoints: int
    context: int
    bytes: int


def _checkpoints(ledger: Ledger) -> list[tuple[int, int, str]]:
    """(record seq, size, signed note) of every recorded checkpoint; none if unreadable (the
    events themselves still carry them, and the verifier will say what is wrong)."""
    try:
        seq_of = dict(ledger.ledger_recorder.select_seqs(TLOG_ID))
        return [
            (seq_of[e.originator_version], e.size, e.signed_note)
            for e in ledger.events.get(TLOG_ID)
            if isinstance(e, TransparencyLog.CheckpointIssued)
        ]
    except Exception:
        return []


def _origin(ledger: Ledger) -> str:
    try:
        return str(ledger.transparency_log().origin)
    except Exception:
        return ledger.settings.log_origin


def _keys(ledger: Ledger) -> list[dict[str, Any]]:
    try:
        listing = ledger.key_listing()
    except Exception:
        return []
    return [
        {"kind": "key", **{k: v for k, v in entry.items() if k != "private_key_here"}}
        for entry in listing
    ]


def _row_at(ledger: Ledger, seq: int) -> tuple[tuple[int, int, bytes, bytes], Notification | None]:
    [row] = ledger.ledger_recorder.select_envelopes(seq, 1, stop=seq + 1)
    found = ledger.recorder.select_notifications(row[1], 1, stop=row[1])
    event = found[0] if found and found[0].id == row[1] else None
    return row, event


def export_bundle(
    ledger: Ledger,
    output: Path,
    from_seq: int | None = None,
    to_seq: int | None = None,
    progress: Progress | None = None,
    fmt: str = FORMAT,
) -> ExportSummary:
    """Write the whole ledger, or seqs from_seq..to_seq (inclusive) with the proofs and key ring
    events that tie them to the log, to one bundle file in format `fmt`. Writes nothing to the
    ledger."""
    size = ledger.size()
    if size == 0:
        raise ValidationError(
            "账本为空，没有可导出的内容", "the ledger is empty: nothing to export"
        )
    full = from_seq is None and to_seq is None
    a = 0 if from_seq is None else from_seq
    b = size - 1 if to_seq is None else to_seq
    if not 0 <= a <= b < size:
        raise ValidationError(
            f"序号范围 {a}–{b} 无效：应满足 0 ≤ 起 ≤ 止 ≤ {size - 1}",
            f"invalid seq range {a}-{b}: need 0 <= from <= to <= {size - 1}",
        )
    checkpoints = _checkpoints(ledger)
    cp_sizes = sorted({s for _, s, _ in checkpoints})
    latest = cp_sizes[-1] if cp_sizes else 0
    proof_size = None if full else max(latest, b + 1)
    sizes = set(cp_sizes) if full else {*cp_sizes, a, b + 1}
    expected = size - a if full else b - a + 1
    writer = open_writer(output, fmt)
    unsealed = 0
    events = 0
    try:
        writer.write(
            {
                "kind": "header",
                "format": fmt,
                "origin": _origin(ledger),
                "exported_at": utc_now_text(),
                "generator": f"ssj {ssj.__version__}",
                "ledger_size": size,
                "from_seq": a,
                "to_seq": None if full else b,
                "proof_size": proof_size,
                "events": expected,
            }
        )
        for key in _keys(ledger):
            writer.write(key)
        context_seqs: list[int] = []
        if proof_size is not None:
            keyring_seqs = [s for _, s in ledger.ledger_recorder.select_seqs(KEYRING_ID)]
            context_seqs = sorted(
                {s for s in keyring_seqs if s < a or b < s < proof_size}
                | ({a - 1} if a > 0 else set())
            )
            for seq in context_seqs:
                row, event = _row_at(ledger, seq)
                entry = row_json("context", row, event)
                entry["size"] = proof_size
                entry["proof"] = [h.hex() for h in ledger.inclusion_proof(seq, proof_size)]
                writer.write(entry)
        for seq, cp_size, signed in checkpoints:
            writer.write({"kind": "checkpoint", "seq": seq, "size": cp_size, "note": signed})
        if a > 0:
            ranges = [(i << lvl, (i + 1) << lvl) for lvl, i in merkle.subtree_nodes(0, a)]
            frontier = ledger._range_hashes(ranges)
            writer.write({"kind": "frontier", "size": a, "hashes": [h.hex() for h in frontier]})
        ordered = sorted(sizes)
        for old, new in itertools.pairwise(ordered):
            try:
                proof = [h.hex() for h in ledger.consistency_proof(old, new)]
            except SsjError:
                proof = []  # damaged storage: the verifier reports the proof as failing
            writer.write({"kind": "consistency", "old_size": old, "new_size": new, "proof": proof})

        def on_unsealed(seq: int, event: Notification) -> None:
            nonlocal unsealed
            unsealed += 1
            writer.write({"kind": "unsealed", "seq": seq, "event": event_json(event)})

        if full:
            envs: Iterator[tuple[int, int, bytes, bytes]] = envelope_rows(ledger)
            stored: Iterator[Notification] = stored_events(ledger)
        else:
            first, _ = _row_at(ledger, a)
            last, _ = _row_at(ledger, b)
            envs = envelope_rows(ledger, a, b + 1)
            stored = stored_events(ledger, first[1], last[1])
        for row, event in pair_streams(envs, stored, on_unsealed):
            writer.event(row, event)
            events += 1
            if progress is not None and events % PROGRESS_EVERY == 0:
                progress(events, expected)
        if progress is not None:
            progress(events, max(events, expected))
        writer.close()
    except BaseException:
        writer.abort()
        raise
    return ExportSummary(
        output,
        a,
        a + events - 1,
        events,
        unsealed,
        len(checkpoints),
        len(context_seqs),
        output.stat().st_size,
    )


# Offline draws ---------------------------------------------------------------------------------

# The aggregates whose events feed the read models a draw re-run needs (registries, plans, draws
# and their tasks); the rest of the ledger (filler, trail, follow-ups …) is skipped unread.
REGISTRY_AGGREGATES = frozenset(
    get_topic(cls)
    for cls in (Department, User, ApiToken, Item, Target, Inspector, Declaration, ConflictRules)
)
DRAW_AGGREGATE = get_topic(Draw)
PLAN_AGGREGATE = get_topic(Plan)
REPLAYED = REGISTRY_AGGREGATES | {PLAN_AGGREGATE, DRAW_AGGREGATE, get_topic(Task)}
_REPLAYED_BYTES = frozenset(t.encode() for t in REPLAYED)


def _replayed_topic(topic: str) -> bool:
    return topic.rpartition(".")[0] in REPLAYED


_TOPIC = b'"topic":"'
_MANIFEST = b'{"kind":"manifest"'
PARALLEL_EVENTS = 20_000  # bundles of this many events replay the draws in a second process
# Events applied together in the draws' replay. Smaller batches measured faster, most likely
# because a batch's decoded events are still in the CPU's caches when the read models take
# them (not checked with hardware counters): on the bundle benchmark's 994,934 events
# (2026-12-06, runs interleaved) the replay took 16.4-20.7 CPU-s in 7 runs at 5,000 and
# 12.0-15.3 in 5 at 500 (250: 12.0-14.3; 20,000: 20.8-21.9).
REPLAY_BATCH = 500
# Draws re-run from which the replay first indexes the targets by group
# (`projections.registry_view.index_target_groups`). On the bundle benchmark's 994,934 events
# (8 draws, a targets table of about 530,000 versions; 2026-12-07, one process, alternated
# four times each) the 8 re-runs took 4.22-5.20 CPU-s without it and 2.04-2.29 with it, and
# making it took 1.32-1.54: about 0.27 CPU-s saved a draw, so worth it from six draws (a
# year's bundle holds many more).
GROUPS_INDEX_FROM = 6


@dataclass
class DrawCheck:
    """One draw of the bundle: re-run and passed or failed, or skipped with the reason."""

    draw_id: str
    label: str
    status: str  # passed | failed | skipped
    reason_zh: str = ""
    reason_en: str = ""
    verification: Verification | None = None

    def as_dict(self) -> dict[str, Any]:
        v = self.verification
        return {
            "draw_id": self.draw_id,
            "label": self.label,
            "status": self.status,
            "reason_zh": self.reason_zh,
            "reason_en": self.reason_en,
            "checks": []
            if v is None
            else [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in v.checks],
        }


@dataclass
class _Logged:
    seq: int
    envelope: bytes
    event: Notification


@dataclass
class Replay:
    """What the draw re-run read from the file, for the ledger check to vouch for: the digest of
    every byte before the manifest and the selected events (seq, aggregate, originator id) it
    replayed must equal what `verify_bundle` checked; and each draw re-run as if it did."""

    body_sha256: str = ""
    selected: list[tuple[int, str, str]] = field(default_factory=list)
    checks: list[DrawCheck] = field(default_factory=list)
    error: str = ""


@dataclass
class OfflineAudit:
    """Everything `ssj audit verify` found."""

    result: BundleResult
    draws: list[DrawCheck]

    @property
    def ok(self) -> bool:
        return self.result.ok and all(d.status != "failed" for d in self.draws)


def audit_bundle(
    path: Path,
    outside: list[str] | None = None,
    trusted_keys: list[str] | None = None,
    jobs: int | None = None,
    progress: Progress | None = None,
    draw_progress: Callable[[int, int], None] | None = None,
    parallel: bool | None = None,
    witness_keys: list[str] | None = None,
    quorum: int = 0,
) -> OfflineAudit:
    """Check the bundle's ledger and re-run each of its draws; no database, no network.

    On a large bundle (or `parallel=True`) the draws are replayed in a second process while this
    one checks the ledger; their outcome counts only if the ledger checks pass and both read the
    same bytes and the same events."""
    if parallel is None:
        big = _events_claimed(path) >= PARALLEL_EVENTS
        parallel = big and jobs != 1 and (os.cpu_count() or 1) > 1
    side: ProcessPoolExecutor | None = None
    future: Future[Replay] | None = None
    if parallel:
        side = ProcessPoolExecutor(max_workers=1)
        future = side.submit(replay_draws, path)
    try:
        result = verify_bundle(
            path,
            outside or [],
            trusted_keys or [],
            jobs,
            progress,
            REPLAYED,
            witness_keys or [],
            quorum,
        )
        replay: Replay | None = None
        if future is not None:
            try:
                replay = future.result()
            except Exception as e:
                replay = Replay(error=f"{type(e).__name__}: {e}")
        elif result.ok:
            replay = replay_draws(path, draw_progress)
    finally:
        if side is not None:
            side.shutdown(cancel_futures=True)
    draws = judge(result, replay)
    if draw_progress is not None and future is not None:
        draw_progress(len(draws), len(draws))
    return OfflineAudit(result, draws)


def _events_claimed(path: Path) -> int:
    """The event count the header claims (only to choose how to run; 0 if unreadable)."""
    try:
        for obj in _header_records(path):
            return int(obj.get("events", 0))
    except Exception:
        return 0
    return 0


def _header_records(path: Path) -> Iterator[dict[str, Any]]:
    if bundle_format(path) == FORMAT_V1:
        with path.open("rb") as f:
            yield orjson.loads(f.readline())
        return
    for section, _, payload in FrameReader(path, lambda kind, detail: None):
        if section == "header":
            yield orjson.loads(bytes(payload).split(b"\n", 1)[0])
        return


def judge(result: BundleResult, replay: Replay | None) -> list[DrawCheck]:
    """The re-runs' outcome, vouched for by the ledger check, or each draw skipped or failed."""
    draw_ids = list(dict.fromkeys(oid for _, agg, oid in result.selected if agg == DRAW_AGGREGATE))
    if not result.ok:
        labels = {c.draw_id: c.label for c in replay.checks} if replay is not None else {}
        return [
            DrawCheck(
                i,
                labels.get(i, i),
                "skipped",
                "账本校验未通过，不重算抽取",
                "the ledger checks failed: draws are not re-run",
            )
            for i in draw_ids
        ]
    if replay is None:
        zh, en = "未能重算", "the re-run did not run"
    elif replay.body_sha256 != result.body_sha256 or replay.selected != result.selected:
        zh = "重算读取的审计包内容与校验的内容不一致（文件在校验期间被改动？）"
        en = "the re-run read other bytes or events than the ledger check (file changed?)"
        if replay.error:
            zh, en = f"{zh}；{replay.error}", f"{en}; {replay.error}"
    elif replay.error:
        zh, en = f"重算出错：{replay.error}", f"the re-run failed: {replay.error}"
    else:
        return replay.checks
    return [DrawCheck(i, i, "failed", zh, en) for i in draw_ids]


def _project(mapper: Mapper[Any], logged: list[_Logged], version: int | None = None) -> Any:
    events = [mapper.to_domain_event(x.event) for x in logged]
    if version is not None:
        events = [e for e in events if e.originator_version <= version]
    return project_aggregate(None, events)


class _Replayer:
    """Feeds the draws' read models (registries, plans, draws with their tasks) from the
    bundle's events in seq order in one pass, in an in-memory SQLite store (scratch, not anyone's
    database). Version tables give every draw its registry as of its own `as_of_seq`, so one
    pass serves all draws."""

    def __init__(self) -> None:
        self.mapper = offline_mapper()
        self.decoder = EventDecoder(self.mapper)  # the same events as the mapper's, faster
        self.store = SQLiteViewStore(Path(":memory:"))
        self.registry = RegistryProjection()
        self.plans_projection = PlanProjection()
        self.draws_projection = DrawProjection()
        self.projections: tuple[VersionedProjection, ...] = (
            self.registry,
            self.plans_projection,
            self.draws_projection,
        )
        # Events not yet applied: every read model takes the batch and applies the events
        # routed to it, as a runner's batch (`projections.runner.Runner.apply_batch`).
        self.pending: list[LoggedEvent] = []
        self.draws: dict[str, list[_Logged]] = {}
        self.plans: dict[str, list[_Logged]] = {}
        self.selected: list[tuple[int, str, str]] = []
        self.digest = hashlib.sha256()
        self.from_seq = 0
        self.to_seq = -1

    def read(self, path: Path) -> None:
        v1 = bundle_format(path) == FORMAT_V1
        with self.store.transaction() as c:
            # Without the indexes only reads use (`projections.runner.ReadIndexed`): the
            # re-runs read whole tables as of a seq, which none of them serves.
            unread = [name for p in self.projections for name, _ in p.read_indexes(c)]
            for p in self.projections:
                p.create(c)
            for name in unread:
                c.execute(f"DROP INDEX {name}")
            if v1:
                self._read_v1(path, c)
            else:
                self._read_v2(path, c)
            self._flush(c)

    def _read_v2(self, path: Path, c: Any) -> None:
        """Every frame is read and hashed (as the ledger check does); only the replayed
        aggregates' events are sliced out of the event frames."""
        reader = FrameReader(path, lambda kind, detail: None)
        try:
            for section, head, payload in reader:
                if section == "header":
                    self._header(bytes(payload).split(b"\n", 1)[0])
                elif section == "event":
                    try:
                        block = EventBlock.of(head, payload)
                    except (KeyError, TypeError, ValueError):
                        continue  # the ledger check reports it
                    for seq, ev, state, envelope in block.pick(_replayed_topic):
                        aggregate = ev[3].rpartition(".")[0]
                        self._use(c, seq, aggregate, ev[1], (ev, state), envelope)
        finally:
            self.digest = reader.total

    def _read_v1(self, path: Path, c: Any) -> None:
        with path.open("rb") as f:
            carry = b""
            first = True
            while True:
                chunk = f.read(CHUNK)
                if not chunk:
                    self.digest.update(carry)
                    return
                buf = carry + chunk if carry else chunk
                lines = buf.split(b"\n")
                carry = lines.pop()
                pos = 0
                for line in lines:
                    if first:
                        self._header(line)
                        first = False
                    elif line.startswith(_MANIFEST):
                        self.digest.update(memoryview(buf)[:pos])
                        return
                    pos += len(line) + 1
                    i = line.find(_TOPIC)
                    if i < 0:
                        continue
                    i += len(_TOPIC)
                    topic = line[i : line.find(b'"', i)]
                    if topic.rpartition(b".")[0] in _REPLAYED_BYTES:
                        self._apply(c, line)
                self.digest.update(memoryview(buf)[:pos])

    def _header(self, line: bytes) -> None:
        header = orjson.loads(line)
        self.from_seq = int(header["from_seq"])
        to_seq = header.get("to_seq")
        self.to_seq = -1 if to_seq is None else int(to_seq)

    def _apply(self, c: Any, line: bytes) -> None:
        obj = orjson.loads(line)
        ev = obj.get("event") if obj.get("kind") == "event" else None
        if not isinstance(ev, dict) or not isinstance(ev.get("topic"), str):
            return
        aggregate = ev["topic"].rpartition(".")[0]
        if aggregate not in REPLAYED:
            return
        seq = int(obj["seq"])
        notification = event_from_json(ev)
        self._use(c, seq, aggregate, ev["originator_id"], notification, unb64(obj["envelope"]))

    def _use(
        self,
        c: Any,
        seq: int,
        aggregate: str,
        originator_id: str,
        record: Notification | tuple[list[Any], bytes],
        data: bytes,
    ) -> None:
        """One event of a replayed aggregate (a v1 line's, or a v2 event column with its
        state) into the read models (a range: only listed)."""
        self.selected.append((seq, aggregate, originator_id))
        if self.from_seq > 0:
            # A range: registries cannot be rebuilt, draws are only listed (with the reason).
            if aggregate in (PLAN_AGGREGATE, DRAW_AGGREGATE):
                found = self.plans if aggregate == PLAN_AGGREGATE else self.draws
                found.setdefault(originator_id, []).append(
                    _Logged(seq, data, event_of_record(record))
                )
            return
        if isinstance(record, Notification):
            n = record
            event = self.decoder.event(n.originator_id, n.originator_version, n.topic, n.state)
        else:
            (_, originator, version, topic, _), state = record
            event = self.decoder.event(originator, version, topic, state)
        # Rows are keyed by the id as the bundle spells it (the ledger check holds it to the
        # signed envelope's): not formatted again from the event's UUID.
        if aggregate in REGISTRY_AGGREGATES:
            # The registry read model reads neither actor nor time: no envelope parse.
            anyone = cast(Actor, None)
            self._hold(c, LoggedEvent(seq, anyone, "", event, (), originator_id))
            return
        notification = event_of_record(record)
        envelope = Envelope.from_bytes(data)
        logged = LoggedEvent(seq, envelope.actor, envelope.recorded_at, event, (), originator_id)
        self._hold(c, logged)
        if aggregate == PLAN_AGGREGATE:
            self.plans.setdefault(originator_id, []).append(_Logged(seq, data, notification))
        elif aggregate == DRAW_AGGREGATE:
            self.draws.setdefault(originator_id, []).append(_Logged(seq, data, notification))

    def _hold(self, c: Any, logged: LoggedEvent) -> None:
        """Applied in batches of `REPLAY_BATCH`, in seq order, as a runner's: one event at a
        time cost a prefetch and a flush per event."""
        self.pending.append(logged)
        if len(self.pending) >= REPLAY_BATCH:
            self._flush(c)

    def _flush(self, c: Any) -> None:
        if self.pending:
            for p in self.projections:
                p.apply_batch(c, self.pending)
        self.pending = []


@collector.pausing
def replay_draws(path: Path, progress: Callable[[int, int], None] | None = None) -> Replay:
    """Replay the bundle's registries, plans and draws and re-run every draw (as if the ledger
    checks passed: `judge` decides whether they count). With the cyclic collector paused
    (`ssj.collector`): its passes rescanned the replay's live rows and events, 6.0 of
    19.8 CPU-s on the bundle benchmark's 994,934 events (by `gc.callbacks`; 0.3 paused), and
    found no cycle to free."""
    replayer = _Replayer()
    try:
        replayer.read(path)
        checks = _rerun_all(replayer, progress)
    except Exception as e:
        return Replay(
            replayer.digest.hexdigest(), replayer.selected, [], f"{type(e).__name__}: {e}"
        )
    finally:
        replayer.store.close()
    return Replay(replayer.digest.hexdigest(), replayer.selected, checks)


def _rerun_all(r: _Replayer, progress: Callable[[int, int], None] | None) -> list[DrawCheck]:
    mapper = r.mapper
    checks: list[DrawCheck] = []
    runnable: list[tuple[int, DrawCheck, Draw, Any, list[_Logged]]] = []
    for draw_uuid, logged in r.draws.items():
        check = DrawCheck(draw_uuid, draw_uuid, "skipped")
        checks.append(check)
        if logged[0].event.originator_version != 1:
            check.reason_zh = f"本次抽取的提交在审计包范围（自第 {r.from_seq} 条）之前"
            check.reason_en = (
                f"the draw's commit is before the bundle's range (from seq {r.from_seq})"
            )
            continue
        try:
            draw = cast(Draw, _project(mapper, logged))
            facts = draw.committed  # facts of another shape: the draw's records are unreadable
            check.label = facts.label
            at_seq = facts.as_of_seq
            if r.from_seq > 0:
                check.reason_zh = (
                    f"名录须按第 {at_seq} 条时的状态重建，需要自第 0 条起的账本；"
                    f"审计包自第 {r.from_seq} 条起"
                )
                check.reason_en = (
                    f"the registries as of seq {at_seq} need the ledger from seq 0; "
                    f"the bundle starts at seq {r.from_seq}"
                )
                continue
            plan_logged = r.plans.get(facts.plan.id, [])
            version = facts.plan.version
            if len([x for x in plan_logged if x.event.originator_version <= version]) != version:
                check.reason_zh = "审计包中缺少本次抽取所依据的计划版本"
                check.reason_en = "the plan version the draw used is not in the bundle"
                continue
            plan = PlanView.of(_project(mapper, plan_logged, version))
        except Exception as e:
            check.status = "failed"
            check.reason_zh = f"无法解读抽取记录：{e}"
            check.reason_en = f"cannot read the draw's records: {type(e).__name__}: {e}"
            continue
        runnable.append((at_seq, check, draw, plan, logged))
    runnable.sort(key=lambda x: x[0])
    if len(runnable) >= GROUPS_INDEX_FROM:
        index_target_groups(r.store)
    for i, (at_seq, check, draw, plan, logged) in enumerate(runnable):
        try:
            v = _rerun(draw, plan, logged, r.store, at_seq)
        except Exception as e:
            check.status = "failed"
            check.reason_zh = f"重算出错：{e}"
            check.reason_en = f"the re-run failed: {type(e).__name__}: {e}"
            continue
        check.verification = v
        check.status = "passed" if v.ok else "failed"
        if not v.ok:
            bad = [c.name for c in v.checks if not c.ok]
            check.reason_zh = f"不符的检查：{', '.join(bad)}"
            check.reason_en = f"checks that failed: {', '.join(bad)}"
        if progress is not None:
            progress(i + 1, len(runnable))
    return checks


def _rerun(
    draw: Draw, plan: PlanView, logged: list[_Logged], store: SQLiteViewStore, at_seq: int
) -> Verification:
    """What `DrawService.verify` does, on the bundle's values."""
    v = Verification(str(draw.id), draw.status.value, facts=draw.facts, outcome=draw.outcome)
    for x in logged:
        name = x.event.topic.rsplit(".", 1)[-1]
        v.seqs.setdefault(name, x.seq)
        v.recorded_at.setdefault(name, Envelope.from_bytes(x.envelope).recorded_at)
    v.entropy = {"dice": [{"witness": w, "digits": d} for w, d in draw.dice], "drand": draw.drand}
    v.recusals = list(draw.recusals)
    v.abandoned_reason = draw.abandoned_reason
    facts = draw.committed
    commit_seq = v.seqs.get("Committed", -1)
    v.check(
        "as_of_before_commit",
        at_seq < commit_seq,
        f"population as of seq {at_seq}, committed at seq {commit_seq}",
    )
    registry = load_registry_view(store, at_seq, facts.plan.department, facts.plan.id)
    verify_draw(v, draw, plan, registry, commit_recorded_at=v.recorded_at["Committed"])
    return v
