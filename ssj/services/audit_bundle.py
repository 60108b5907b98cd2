"""The offline audit bundle: exporting it from a ledger, and re-running its draws offline.

Export reads the database and writes one `ssj-audit-bundle/1` file (format in
`ssj.ledger.bundle`): rows exactly as stored, never decoded and re-encoded, so a damaged database
exports to a bundle that fails the same way. Offline, every draw in the bundle is re-run with
`verify_draw` on read models replayed from the bundle's own events into an in-memory SQLite
store (scratch computation, not anyone's database).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from uuid import UUID

import orjson
from eventsourcing.application import project_aggregate
from eventsourcing.persistence import Mapper, Notification
from eventsourcing.utils import get_topic

import ssj
from projections.draws import DrawProjection
from projections.plans import PlanProjection
from projections.registry import RegistryProjection
from projections.runner import Runner
from projections.snapshot import load_snapshot
from projections.store import SQLiteViewStore
from ssj.domain.draws import Draw, draw_label
from ssj.domain.plans import Plan
from ssj.draw.procedure import PlanView
from ssj.errors import SsjError, ValidationError
from ssj.ledger import merkle
from ssj.ledger.application import Ledger, LoggedEvent
from ssj.ledger.audit import envelope_rows, stored_events
from ssj.ledger.bundle import (
    FORMAT,
    PROGRESS_EVERY,
    BundleResult,
    BundleWriter,
    Progress,
    event_from_json,
    event_json,
    offline_mapper,
    row_json,
    unb64,
    verify_bundle,
)
from ssj.ledger.envelope import Envelope, utc_now_text
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
            (seq_of[e.originator_version], e.size, e.signed_note)  # type: ignore[attr-defined]
            for e in ledger.events.get(TLOG_ID)
            if isinstance(e, TransparencyLog.CheckpointIssued)  # type: ignore[attr-defined]
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
) -> ExportSummary:
    """Write the whole ledger, or seqs from_seq..to_seq (inclusive) with the proofs and key ring
    events that tie them to the log, to one bundle file. Writes nothing to the ledger."""
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
    writer = BundleWriter(output)
    unsealed = 0
    events = 0
    try:
        writer.write(
            {
                "kind": "header",
                "format": FORMAT,
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
            writer.write(row_json("event", row, event))
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


class BundleLog:
    """The bundle's events in seq order behind the `read(start, limit)` and `size()` that the
    projection Runner asks of a Ledger; reads the file forward, reopening to go back."""

    def __init__(self, path: Path, mapper: Mapper[Any], size: int) -> None:
        self.path = path
        self.mapper = mapper
        self._size = size
        self._rows: Iterator[dict[str, Any]] | None = None
        self._next = 0

    def size(self) -> int:
        return self._size

    def _open(self) -> Iterator[dict[str, Any]]:
        with self.path.open("rb") as f:
            for line in f:
                if line.startswith(b'{"kind":"event"'):
                    yield orjson.loads(line)

    def read(self, start: int, limit: int) -> list[LoggedEvent]:
        if self._rows is None or start < self._next:
            self._rows = self._open()
        out: list[LoggedEvent] = []
        while len(out) < limit:
            obj = next(self._rows, None)
            if obj is None:
                break
            seq = int(obj["seq"])
            self._next = seq + 1
            if seq < start or obj.get("event") is None:
                continue
            envelope = Envelope.from_bytes(unb64(obj["envelope"]))
            event = self.mapper.to_domain_event(event_from_json(obj["event"]))
            out.append(LoggedEvent(seq, envelope.actor, envelope.recorded_at, event))
        return out


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
class DrawCollector:
    """Keeps the draw and plan events as the verifier streams past them (the rest is not kept)."""

    draws: dict[UUID, list[_Logged]] = field(default_factory=dict)
    plans: dict[UUID, list[_Logged]] = field(default_factory=dict)

    def __call__(self, seq: int, envelope: bytes, event: Notification) -> None:
        topic = event.topic
        if topic.startswith(DRAW_PREFIX):
            self.draws.setdefault(event.originator_id, []).append(_Logged(seq, envelope, event))
        elif topic.startswith(PLAN_PREFIX):
            self.plans.setdefault(event.originator_id, []).append(_Logged(seq, envelope, event))


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
) -> OfflineAudit:
    """Check the bundle's ledger, then re-run each of its draws; no database, no network."""
    collector = DrawCollector()
    result = verify_bundle(path, outside or [], trusted_keys or [], jobs, progress, collector)
    return OfflineAudit(result, rerun_draws(path, result, collector, draw_progress))


def _project(mapper: Mapper[Any], logged: list[_Logged], version: int | None = None) -> Any:
    events = [mapper.to_domain_event(x.event) for x in logged]
    if version is not None:
        events = [e for e in events if e.originator_version <= version]
    return project_aggregate(None, events)


def rerun_draws(
    path: Path,
    result: BundleResult,
    collector: DrawCollector,
    progress: Callable[[int, int], None] | None = None,
) -> list[DrawCheck]:
    mapper = offline_mapper()
    checks: list[DrawCheck] = []
    runnable: list[tuple[int, DrawCheck, Draw, Any, list[_Logged]]] = []
    for draw_uuid, logged in collector.draws.items():
        check = DrawCheck(str(draw_uuid), str(draw_uuid), "skipped")
        checks.append(check)
        if not result.ok:
            check.reason_zh = "账本校验未通过，不重算抽取"
            check.reason_en = "the ledger checks failed: draws are not re-run"
            continue
        if logged[0].event.originator_version != 1:
            check.reason_zh = f"本次抽取的提交在审计包范围（自第 {result.from_seq} 条）之前"
            check.reason_en = (
                f"the draw's commit is before the bundle's range (from seq {result.from_seq})"
            )
            continue
        try:
            draw = cast(Draw, _project(mapper, logged))
            facts = draw.facts
            check.label = draw_label(facts)
            as_of = int(facts["as_of_seq"])
            if result.from_seq > 0:
                check.reason_zh = (
                    f"名录须按第 {as_of} 条时的状态重建，需要自第 0 条起的账本；"
                    f"审计包自第 {result.from_seq} 条起"
                )
                check.reason_en = (
                    f"the registries as of seq {as_of} need the ledger from seq 0; "
                    f"the bundle starts at seq {result.from_seq}"
                )
                continue
            plan_logged = collector.plans.get(UUID(facts["plan"]["id"]), [])
            version = int(facts["plan"]["version"])
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
        runnable.append((as_of, check, draw, plan, logged))
    if not runnable:
        return checks
    runnable.sort(key=lambda r: r[0])
    store = SQLiteViewStore(Path(":memory:"))
    log = BundleLog(path, mapper, result.to_seq + 1)
    try:
        runner = Runner(
            cast(Ledger, log), store, [RegistryProjection(), PlanProjection(), DrawProjection()]
        )
        for i, (as_of, check, draw, plan, logged) in enumerate(runnable):
            try:
                runner.catch_up(until=as_of)
                v = _rerun(draw, plan, logged, store, as_of)
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
    finally:
        store.close()
    return checks


def _rerun(
    draw: Draw, plan: PlanView, logged: list[_Logged], store: SQLiteViewStore, as_of: int
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
    facts = draw.facts
    commit_seq = v.seqs.get("Committed", -1)
    v.check(
        "as_of_before_commit",
        as_of < commit_seq,
        f"population as of seq {as_of}, committed at seq {commit_seq}",
    )
    snapshot = load_snapshot(store, as_of, facts["plan"]["department"], facts["plan"]["id"])
    verify_draw(v, draw, plan, snapshot, commit_recorded_at=v.recorded_at["Committed"])
    return v
