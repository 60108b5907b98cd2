"""Commands on draws: commit, entropy, reveal, abandon, recusal; and their verification.

Every computation is a call into `ssj.draw.procedure` on a registry of the registries as of the
commit's `as_of_seq`; the service only authorises, loads, saves and keeps the server nonce.
Verification re-runs the same functions from the ledger (through the read models, or through
fresh ones replayed from the ledger alone) and compares with what was recorded.
"""

from __future__ import annotations

import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from projections.draws import DrawProjection
from projections.plans import PlanProjection
from projections.registry import RegistryProjection
from projections.registry_view import load_registry_view
from projections.runner import Projection, Runner
from projections.store import SQLiteViewStore, ViewStore
from ssj import collector
from ssj.domain import fields
from ssj.domain.access import Command, Forbidden, Principal
from ssj.domain.draws import STATUS_LABELS_ZH, Draw, DrawStatus, commit_digest
from ssj.domain.organisation import Role
from ssj.domain.plans import Plan, PlanStatus, plan_id
from ssj.draw import drand, procedure, sampler
from ssj.draw import seed as seeds
from ssj.draw.facts import DrawFacts, FactsError
from ssj.draw.procedure import PlanView
from ssj.draw.registry_view import RegistryView
from ssj.errors import ConflictError, ValidationError
from ssj.ledger.application import LoggedEvent
from ssj.ledger.envelope import Envelope
from ssj.services import workers
from ssj.services.base import Outcome, Service
from ssj.services.context import Services
from ssj.services.nonces import NonceStore

CHINA = ZoneInfo("Asia/Shanghai")
MAX_WITNESSES = 10


def today() -> date:
    return datetime.now(CHINA).date()


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class Verification:
    """The outcome of re-running a draw: every check, and the recorded draw itself."""

    draw_id: str
    status: str
    checks: list[Check] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    outcome: dict[str, Any] | None = None
    seqs: dict[str, int] = field(default_factory=dict)
    recorded_at: dict[str, str] = field(default_factory=dict)
    entropy: dict[str, Any] = field(default_factory=dict)
    recusals: list[dict[str, Any]] = field(default_factory=list)
    abandoned_reason: str | None = None

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        self.checks.append(Check(name, ok, detail))
        return ok


class DrawService(Service):
    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self.nonces = NonceStore(services.settings.keys_dir / "nonces")
        # What a commit froze and read, kept for a reveal in the same process (else re-read).
        self._frozen: OrderedDict[str, tuple[procedure.Frozen, RegistryView]] = OrderedDict()

    # Loading -----------------------------------------------------------------------------------

    def draw(self, draw_id: str | UUID) -> Draw:
        try:
            uuid = UUID(str(draw_id))
        except ValueError:
            raise ValidationError(
                f"抽取编号无效：{draw_id}", f"invalid draw id {draw_id!r}"
            ) from None
        return self._get(Draw, uuid, f"抽取 {draw_id}")

    def plan(self, department: str, code: str) -> Plan:
        return self._get(Plan, plan_id(department, code), f"计划 {department}/{code}")

    def _plan_at(self, facts: DrawFacts) -> PlanView:
        plan: Plan = self.s.ledger.repository.get(UUID(facts.plan.id), version=facts.plan.version)
        return PlanView.of(plan)

    def _registry_view(self, store: ViewStore, facts: DrawFacts) -> RegistryView:
        return load_registry_view(store, facts.as_of_seq, facts.plan.department, facts.plan.id)

    def _read_seq(self) -> int:
        """The seq every read model has reached (after catching them up): a commit's as-of."""
        self.s.refresh()
        return min(self.s.runner.seqs().values())

    # The ceremony ------------------------------------------------------------------------------

    @collector.pausing
    def commit(
        self,
        principal: Principal,
        department: str,
        code: str,
        witnesses: list[str],
        drand_round: int | None = None,
        drawn_on: str | None = None,
    ) -> tuple[Draw, Outcome]:
        """Freeze population, pools and rules, name the entropy to come, commit to a nonce.
        The same commit again while the plan's last draw still waits for its reveal is that
        draw, "unchanged" (nothing written: a retried commit never opens a second round)."""
        workers.warm()
        names = [fields.text("witness", w, max_length=100) for w in witnesses]
        if not names or len(names) > MAX_WITNESSES or len(set(names)) != len(names):
            raise ValidationError(
                f"须登记 1–{MAX_WITNESSES} 名不同的见证人",
                f"name 1-{MAX_WITNESSES} distinct witnesses",
            )
        day = self._drawn_on(drawn_on)
        plan = self.plan(department, code)
        actor = self.s.authorise(principal, Command.RUN_DRAWS, [plan.department])
        if plan.status is not PlanStatus.PUBLISHED:
            raise ConflictError(
                f"计划 {plan.label} 尚未公布，不能抽取", f"plan {plan.label} is not published"
            )
        self.s.refresh()
        round = 1 + self.s.draw_queries.list("draws", {"plan_id": str(plan.id)}, limit=1).total
        last = self._find(Draw, Draw.create_id(plan_id=str(plan.id), round=round - 1))
        if last and last.repeats_commit(plan.version, names, drand_round, day.isoformat()):
            return last, "unchanged"
        entropy: dict[str, Any] = {"witnesses": names, "min_dice_digits": 20, "drand": None}
        if drand_round is not None:
            entropy["drand"] = self._future_round(drand_round)
        seq = self._read_seq()
        view = PlanView.of(plan)
        registry = load_registry_view(self.s.store, seq, plan.department, view.plan_id)
        draw_id = str(Draw.create_id(plan_id=view.plan_id, round=round))
        nonce = self.nonces.new()
        frozen = procedure.freeze(
            view, round, day, registry, entropy, seeds.nonce_commitment(nonce), workers.run
        )
        self.nonces.keep(draw_id, nonce)
        draw = Draw(plan_id=view.plan_id, round=round, facts=frozen.facts.as_dict())
        self._save(actor, draw)
        self._frozen[draw_id] = (frozen, registry)
        while len(self._frozen) > 4:
            self._frozen.popitem(last=False)
        return draw, "created"

    @staticmethod
    def _drawn_on(value: str | None) -> date:
        if value is None:
            return today()
        day = date.fromisoformat(str(fields.iso_date("drawn_on", value)))
        if day > today():
            raise ValidationError(
                f"抽取日期 {day} 晚于今天", f"the draw date {day} is in the future"
            )
        return day

    @staticmethod
    def _future_round(round: int) -> dict[str, Any]:
        if not 1 <= round < drand.MAX_ROUND:
            raise ValidationError(f"drand 轮次无效：{round}", f"invalid drand round {round}")
        at = drand.round_time(round)
        if at <= time.time():
            raise ValidationError(
                f"drand 第 {round} 轮已于 {datetime.fromtimestamp(at, CHINA):%Y-%m-%d %H:%M:%S} 产生，"
                "封存时只能指定未来的轮次",
                f"drand round {round} is not in the future (it was published at {at}): "
                "name a future round",
            )
        return {"chain": drand.CHAIN_HASH, "round": round, "round_time": at}

    def record_dice(self, principal: Principal, draw_id: str, witness: str, digits: str) -> Draw:
        draw = self.draw(draw_id)
        actor = self.s.authorise(principal, Command.RUN_DRAWS, [draw.committed.plan.department])
        draw.record_dice(witness, digits)
        self._save(actor, draw)
        return draw

    def record_drand(self, principal: Principal, draw_id: str, beacon_json: str | bytes) -> Draw:
        draw = self.draw(draw_id)
        actor = self.s.authorise(principal, Command.RUN_DRAWS, [draw.committed.plan.department])
        beacon = drand.Beacon.parse(beacon_json)
        checked = drand.check(beacon, draw.drand_round or beacon.round)
        if not checked.ok:
            raise ValidationError(
                "drand 信标无效：" + "；".join(p.split(" / ")[0] for p in checked.problems()),
                "invalid drand beacon: " + "; ".join(checked.problems()),
            )
        raw = {
            "round": beacon.round,
            "randomness": beacon.randomness,
            "signature": beacon.signature,
        }
        draw.record_drand(raw, bls_verified=checked.verified)
        self._save(actor, draw)
        return draw

    @collector.pausing
    def reveal(self, principal: Principal, draw_id: str) -> Draw:
        """Compute the seed from the recorded inputs and the nonce, then sample and staff."""
        workers.warm()
        draw = self.draw(draw_id)
        actor = self.s.authorise(principal, Command.RUN_DRAWS, [draw.committed.plan.department])
        draw.check_revealable()
        nonce = self.nonces.get(str(draw.id))
        seed = draw.seed_for(nonce)
        facts = draw.committed
        plan = self._plan_at(facts)
        kept = self._frozen.get(str(draw.id))
        if kept is not None and kept[0].facts == facts:
            frozen, registry = kept
        else:
            registry = self._registry_view(self.s.store, facts)
            frozen = self._refreeze(draw, plan, registry)
        outcome = procedure.select(facts, frozen.strata, seed, registry, plan, workers.run)
        draw.reveal(nonce, seed, outcome)
        self._save(actor, draw)
        self._frozen.pop(str(draw.id), None)
        return draw

    def _refreeze(self, draw: Draw, plan: PlanView, registry: RegistryView) -> procedure.Frozen:
        frozen = procedure.refreeze(plan, draw.round, draw.committed, registry, workers.run)
        if frozen.facts.as_dict() != draw.facts:
            raise ConflictError(
                "读模型与封存时的总体不一致：请先运行 `ssj projections rebuild` 再揭示",
                "the read models disagree with the committed population: "
                "rebuild projections, then reveal",
            )
        return frozen

    def abandon(self, principal: Principal, draw_id: str, reason: str) -> Draw:
        draw = self.draw(draw_id)
        actor = self.s.authorise(principal, Command.ABANDON_DRAWS, [draw.committed.plan.department])
        draw.abandon(reason)
        self._save(actor, draw)
        return draw

    # Recusal (回避) -----------------------------------------------------------------------------

    def _replacement(self, draw: Draw, target: str, leaving: str) -> str:
        assert draw.seed is not None and draw.outcome is not None
        plan = self._plan_at(draw.committed)
        registry = self._registry_view(self.s.store, draw.committed)
        return replacement_for(
            draw.committed, draw.seed, draw.outcome, draw.recusals, registry, plan, target, leaving
        )

    def recuse(
        self, principal: Principal, draw_id: str, target: str, certificate_no: str, reason: str
    ) -> str:
        """An inspector's declared conflict: recused now; returns the replacement."""
        draw = self.draw(draw_id)
        actor = self.s.authorise(principal, Command.RECUSE, [draw.committed.plan.department])
        if actor.role == Role.INSPECTOR and principal.certificate_no != certificate_no:
            refused = Forbidden(
                "检查人员只能为自己申报回避（须先关联本人执法证号）",
                "an inspector may recuse only themselves (link the user to their certificate)",
            )
            self.s.record_refusal(principal, Command.RECUSE, [actor.department], refused)
            raise refused
        draw._check_member(target, certificate_no)
        replacement = self._replacement(draw, target, certificate_no)
        draw.recuse(target, certificate_no, reason, replacement)
        self._save(actor, draw)
        return replacement

    def request_recusal(
        self, principal: Principal, draw_id: str, target: str, certificate_no: str, reason: str
    ) -> tuple[str, Outcome]:
        """A target's written request, put on file for a leader: its id, "created"; or the
        same request undecided on file already, "unchanged" (nothing written)."""
        draw = self.draw(draw_id)
        actor = self.s.authorise(
            principal, Command.REQUEST_RECUSAL, [draw.committed.plan.department]
        )
        request_id, new = draw.request_recusal(target, certificate_no, reason)
        if not new:
            return request_id, "unchanged"
        self._save(actor, draw)
        return request_id, "created"

    def decide_recusal(
        self, principal: Principal, draw_id: str, request_id: str, approve: bool, reason: str
    ) -> str | None:
        draw = self.draw(draw_id)
        actor = self.s.authorise(
            principal, Command.DECIDE_RECUSAL, [draw.committed.plan.department]
        )
        request = draw.pending_request(request_id)
        replacement = None
        if approve:
            replacement = self._replacement(draw, request["target"], request["certificate_no"])
        draw.decide_recusal(request_id, approve, reason, replacement)
        self._save(actor, draw)
        return replacement

    # Verification ------------------------------------------------------------------------------

    def replay_store(self, until: int) -> ViewStore:
        """Fresh read models in memory, fed from the ledger alone up to seq `until`."""
        store = SQLiteViewStore(Path(":memory:"))
        projections: list[Projection] = [RegistryProjection(), PlanProjection(), DrawProjection()]
        Runner(self.s.ledger, store, projections).catch_up(until=until)
        return store

    @collector.pausing
    def verify(self, draw_id: str, *, replay: bool = False) -> Verification:
        """Re-run the draw from the ledger and compare every recorded value."""
        workers.warm()
        draw = self.draw(draw_id)
        v = Verification(str(draw.id), draw.status.value, facts=draw.facts, outcome=draw.outcome)
        try:
            facts = draw.committed
        except FactsError as e:  # stored facts of another shape: nothing can be re-run
            v.check("facts", False, str(e))
            return v
        if min(self.s.runner.seqs().values()) < facts.as_of_seq:
            self.s.refresh()
        for name, seq, recorded_at in self.event_seqs(draw):
            v.seqs.setdefault(name, seq)
            v.recorded_at.setdefault(name, recorded_at)
        v.entropy = {
            "dice": [{"witness": w, "digits": d} for w, d in draw.dice],
            "drand": draw.drand,
        }
        v.recusals = list(draw.recusals)
        v.abandoned_reason = draw.abandoned_reason
        commit_seq = v.seqs["Committed"]
        v.check(
            "as_of_before_commit",
            facts.as_of_seq < commit_seq,
            f"population as of seq {facts.as_of_seq}, committed at seq {commit_seq}",
        )
        store = self.replay_store(facts.as_of_seq) if replay else self.s.store
        try:
            plan = self._plan_at(facts)
            registry = self._registry_view(store, facts)
        finally:
            if replay:
                store.close()
        committed_at = v.recorded_at["Committed"]
        verify_draw(v, draw, plan, registry, commit_recorded_at=committed_at, run=workers.run)
        return v

    @collector.pausing
    def export(self, draw_id: str) -> dict[str, Any]:
        """Everything a third party needs to redo a revealed draw without ssj: the seed's
        inputs, each stratum's population and sample, each target's inspector rankings (the
        `ssj-draw-export/1` format read by ops/reproduce_draw.py)."""
        draw = self.draw(draw_id)
        if draw.status is not DrawStatus.REVEALED:
            raise ConflictError(
                f"本次抽取状态为“{STATUS_LABELS_ZH[draw.status]}”，揭示后才能导出",
                f"the draw is {draw.status.value}: only a revealed draw can be exported",
            )
        facts = draw.committed
        plan = self._plan_at(facts)
        registry = self._registry_view(self.s.store, facts)
        frozen = self._refreeze(draw, plan, registry)
        seqs = {name: seq for name, seq, _ in reversed(self.event_seqs(draw))}
        return draw_export(draw, plan, registry, frozen, seqs)

    def event_seqs(self, draw: Draw) -> list[tuple[str, int, str]]:
        """(event name, seq, recorded at) of the draw's events in seq order, from their
        envelopes alone (a reveal's event holds every team: not decoded again here)."""
        recorder = self.s.ledger.ledger_recorder
        found = []
        for _, seq in sorted(recorder.select_seqs(draw.id), key=lambda vs: vs[1]):
            envelope = Envelope.from_bytes(recorder.select_envelopes(seq, 1)[0][2])
            found.append((envelope.topic.rsplit(".", 1)[-1], seq, envelope.recorded_at))
        return found

    def events(self, draw: Draw) -> list[LoggedEvent]:
        """The draw's events in seq order, with who recorded them and when."""
        seqs = sorted(seq for _, seq in self.s.ledger.ledger_recorder.select_seqs(draw.id))
        return [self.s.ledger.read(seq, 1)[0] for seq in seqs]


def draw_export(
    draw: Draw,
    plan: PlanView,
    registry: RegistryView,
    frozen: procedure.Frozen,
    seqs: dict[str, int],
) -> dict[str, Any]:
    """The `ssj-draw-export/1` document of a revealed draw, from values alone (the offline
    bundle verifier writes it too): `seqs` are the seqs of the draw's events by name."""
    assert draw.seed is not None and draw.outcome is not None and draw.nonce is not None
    facts = draw.committed
    staff = procedure.staffing(facts, draw.seed, registry, plan)
    drawn = list(draw.outcome["teams"])
    rows = procedure.target_rows(registry, drawn)
    pools = [staff.candidates(rows[target]) for target in drawn]
    team_seeds = [seeds.team_seed(draw.seed, target) for target in drawn]
    expert_seeds = [seeds.expert_seed(draw.seed, target) for target in drawn]
    everyone = max((len(p) for pool in pools for p in pool), default=0)
    rankings = sampler.firsts(team_seeds, [p[0] for p in pools], everyone)
    expert_rankings = sampler.firsts(expert_seeds, [p[1] for p in pools], everyone)
    department_of = staff.department_of
    teams = []
    for n, target in enumerate(drawn):
        team = draw.outcome["teams"][target]
        teams.append(
            {
                "target": target,
                "seed": team_seeds[n],
                "rankings": {
                    d: [c for c in rankings[n] if department_of[c] == d] for d in facts.departments
                },
                "team": team["inspectors"],
                "expert_ranking": expert_rankings[n],
                "experts": team["experts"],
            }
        )
    strata = {s.name: s for s in facts.strata}
    return {
        "format": "ssj-draw-export/1",
        "draw": {
            "id": str(draw.id),
            "label": facts.label,
            "plan": f"{facts.plan.department}/{facts.plan.code}",
            "department": facts.plan.department,
            "drawn_on": facts.drawn_on,
            "as_of_seq": facts.as_of_seq,
            "commit_seq": seqs["Committed"],
            "reveal_seq": seqs["Revealed"],
        },
        "sampler": procedure.SAMPLER,
        "seed": draw.seed,
        "seed_inputs": {
            "draw_id": str(draw.id),
            "commit_digest": commit_digest(draw.facts),
            "nonce": draw.nonce,
            "nonce_commitment": facts.nonce_commitment,
            "dice": [{"witness": w, "digits": dict(draw.dice)[w]} for w in facts.entropy.witnesses],
            "drand": None
            if draw.drand is None
            else {
                "round": draw.drand["round"],
                "randomness": draw.drand["randomness"],
                "signature": draw.drand["signature"],
            },
        },
        "strata": [
            {
                "name": s["name"],
                "seed": s["seed"],
                "size": strata[s["name"]].size,
                "k": strata[s["name"]].k,
                "population_root": strata[s["name"]].root,
                "ids": frozen.strata[s["name"]],
                "sample": s["sample"],
            }
            for s in draw.outcome["strata"]
        ],
        "teams": teams,
    }


def replacement_for(
    facts: procedure.Facts,
    seed: str,
    outcome: dict[str, Any],
    recusals: list[dict[str, Any]],
    registry: RegistryView,
    plan: PlanView,
    target: str,
    leaving: str,
) -> str:
    """The replacement for `leaving` on `target`'s team after the given earlier recusals:
    workloads count this draw's current teams."""
    staff = procedure.staffing(facts, seed, registry, plan)
    teams = {t: [*v["inspectors"], *v["experts"]] for t, v in outcome["teams"].items()}
    for r in recusals:
        members = teams[r["target"]]
        members[members.index(r["certificate_no"])] = r["replacement"]
    staff.loads.update(Counter(c for members in teams.values() for c in members))
    earlier = [r["certificate_no"] for r in recusals if r["target"] == target]
    row = procedure.target_rows(registry, [target])[target]
    return staff.replacement(row, [*teams[target], *earlier], leaving)


def verify_draw(
    v: Verification,
    draw: Draw,
    plan: PlanView,
    registry: RegistryView,
    commit_recorded_at: str,
    run: sampler.Map = map,
) -> None:
    """The checks themselves, on values only (the offline bundle verifier calls this too);
    `run` maps the hashing (`workers.run`: over other processes too)."""
    recorded = draw.facts  # as stored: what the checks compare against
    try:
        facts = DrawFacts.of(recorded)
    except FactsError as e:
        v.check("facts", False, str(e))
        return
    v.check(
        "plan",
        plan.rules == recorded["rules"] and plan.items == recorded["items"],
        f"plan {facts.plan.department}/{facts.plan.code} v{facts.plan.version}",
    )
    try:
        frozen = procedure.refreeze(plan, draw.round, facts, registry, run)
    except ValidationError as e:
        v.check("population", False, f"re-running the commit failed: {e.en}")
        return
    recomputed = frozen.facts.as_dict()
    for key in ("strata", "exclusions", "registry", "pools", "specialties", "window"):
        same = recomputed[key] == recorded[key]
        v.check(
            f"commit:{key}",
            same,
            "" if same else f"recorded {recorded[key]!r}, recomputed {recomputed[key]!r}",
        )
    drand_named = facts.entropy.drand
    if drand_named is not None:
        committed = datetime.fromisoformat(commit_recorded_at).timestamp()
        v.check(
            "drand_round_in_future",
            drand.round_time(drand_named.round) > committed,
            f"round {drand_named.round} at {drand_named.round_time}, commit at {commit_recorded_at}",
        )
        if draw.drand is not None:
            checked = drand.check(drand.Beacon.parse(draw.drand), drand_named.round)
            v.check(
                "drand_beacon",
                checked.ok,
                checked.bls_detail if checked.ok else "; ".join(checked.problems()),
            )
    if draw.status is not DrawStatus.REVEALED:
        return
    assert draw.nonce is not None and draw.seed is not None and draw.outcome is not None
    try:
        nonce_ok = seeds.nonce_commitment(draw.nonce) == facts.nonce_commitment
    except ValueError:
        nonce_ok = False
    v.check("nonce", nonce_ok, "the revealed nonce hashes to the committed value")
    digits = sum(len(d) for _, d in draw.dice)
    v.check(
        "dice",
        digits >= 20 and {w for w, _ in draw.dice} == set(facts.entropy.witnesses),
        f"{digits} digits",
    )
    ordered = [(w, dict(draw.dice)[w]) for w in facts.entropy.witnesses if w in dict(draw.dice)]
    randomness = None if draw.drand is None else draw.drand["randomness"]
    seed = seeds.draw_seed(str(draw.id), commit_digest(recorded), draw.nonce, ordered, randomness)
    if not v.check("seed", seed == draw.seed, f"recorded {draw.seed}, recomputed {seed}"):
        return
    outcome = procedure.select(facts, frozen.strata, seed, registry, plan, run)
    for recorded, again in zip(draw.outcome["strata"], outcome["strata"], strict=False):
        v.check(f"sample:{recorded['name']}", recorded == again, f"{len(again['sample'])} drawn")
    v.check("strata_count", len(draw.outcome["strata"]) == len(outcome["strata"]))
    v.check("teams", draw.outcome["teams"] == outcome["teams"], f"{len(outcome['teams'])} teams")
    for i, r in enumerate(draw.recusals):
        expected = replacement_for(
            facts,
            seed,
            draw.outcome,
            draw.recusals[:i],
            registry,
            plan,
            r["target"],
            r["certificate_no"],
        )
        v.check(
            f"recusal:{i + 1}",
            expected == r["replacement"],
            f"{r['certificate_no']} -> {r['replacement']} (expected {expected})",
        )
