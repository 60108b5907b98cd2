"""Plans and draws for `ssj demo`: a year of 双随机 in the synthetic jurisdiction.

After `ssj.demo.jurisdiction.build`, `run` publishes the demo's plans through `PlanService`
(drafted and submitted by each section's operator, approved by its leader, then published) and
runs their draws through `DrawService`, on fixed dates of 2026:

- annual plans with ratios per credit-risk class (A 1 %, B 3 %, C 10 %, D 30 %) for special
  equipment (TZ), company disclosures (XY, with priority to targets not yet covered) and
  industrial-product licences (ZL); a monthly plan for school canteens in September (JY, one
  expert per team); a joint plan (联合抽查) of metrology with price supervision at petrol
  stations (JL leads, JG cooperates, teams of 3 with one member of each section at least);
- a second round for TZ and XY 63 days after the first, inside the plans' 90-day exclusion
  window: it must leave out every target drawn in the first round (today as an open task; once
  inspections close tasks, as recently inspected);
- a ZL draw abandoned after its commit (a witness did not come), redrawn the next day;
- on TZ's first round, an inspector's declared recusal and a target's request decided by the
  section's leader.

Witnesses, their dice and the recusals follow from the demo seed (`random.Random` seeded with
a string); the server nonce of each draw is secret and random, as in production, so seeds differ
between data directories, but every draw verifies. `run` is idempotent: plans and draws that
exist are resumed where they stopped, never created again. `verify_all` re-runs every draw in
the ledger (not only the demo's) with `DrawService.verify`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ssj.demo import DEFAULT_SEED
from ssj.demo.jurisdiction import ADMIN, BUREAU, GIVEN, SURNAMES
from ssj.domain.access import Principal
from ssj.domain.draws import Draw, DrawStatus, draw_id
from ssj.domain.plans import PlanStatus, plan_id
from ssj.draw.eligibility import REASON_LABELS
from ssj.errors import ConflictError, SsjError, ValidationError
from ssj.services.context import Services
from ssj.services.draws import DrawService, Verification
from ssj.services.plans import PlanService
from ssj.services.registry import RegistryService

Progress = Callable[[str, int, int], None]
"""progress(phase, done, total), as for `ssj.demo.jurisdiction.build`."""

YEAR = 2026
RATIOS = {"A": "1", "B": "3", "C": "10", "D": "30"}
DICE_PER_WITNESS = 10  # three witnesses: 30 digits, above the 20 a reveal needs
WITNESS_ROLES = ("公证员", "企业代表", "纪检监察组监督员")
HISTORY_REASONS = ("open_task", "recent_inspection", "cap_department", "cap_all")

DECLARED_REASON = "本人配偶在该单位任职，主动申请回避"
REQUEST_REASON = "该单位书面申请：该检查人员曾参与办理本单位的行政处罚案件"
DECISION_REASON = "经审查，申请理由成立，同意回避"


@dataclass(frozen=True)
class Round:
    """One draw of a plan: its date; an abandonment reason; whether recusals follow."""

    drawn_on: str
    abandon: str = ""
    recusals: bool = False


@dataclass(frozen=True)
class DemoPlan:
    section: str  # the lead section's short code (TZ, XY, …)
    fields: dict[str, Any]  # as PlanService.draft takes them, but for the department
    rounds: tuple[Round, ...]

    @property
    def department(self) -> str:
        return f"{BUREAU}-{self.section}"

    @property
    def code(self) -> str:
        return str(self.fields["code"])

    def label(self, round: int) -> str:
        """As the draws read model labels a draw."""
        return f"{self.department}/{self.code}/第{round}轮"

    def raw(self) -> dict[str, Any]:
        return {"department": self.department, "year": YEAR, **self.fields}


def schedule() -> tuple[DemoPlan, ...]:
    """The demo's plans and their draws, in the order they are run (by first draw date).

    Item codes do not depend on the seed (only their details do), and every item here requires
    at most its own section's specialty, which every inspector of that section holds."""
    return (
        DemoPlan(
            "TZ",
            {
                "code": f"{YEAR}-TZ-01",
                "title": f"{YEAR}年度电梯、锅炉使用单位双随机抽查计划",
                "kind": "annual",
                "items": ["TZ-001", "TZ-002", "TZ-003", "TZ-004", "TZ-005", "TZ-006"],
                "ratios": RATIOS,
            },
            (Round(f"{YEAR}-03-16", recusals=True), Round(f"{YEAR}-05-18")),
        ),
        DemoPlan(
            "XY",
            {
                "code": f"{YEAR}-XY-01",
                "title": f"{YEAR}年度企业年度报告公示信息双随机抽查计划",
                "kind": "annual",
                "items": ["XY-001", "XY-003", "XY-005", "XY-007", "XY-009"],
                "ratios": RATIOS,
                "priority_uncovered": True,
                "coverage_years": 3,
            },
            (Round(f"{YEAR}-04-13"), Round(f"{YEAR}-06-15")),
        ),
        DemoPlan(
            "ZL",
            {
                "code": f"{YEAR}-ZL-01",
                "title": f"{YEAR}年度工业产品生产许可和强制性认证获证企业双随机抽查计划",
                "kind": "annual",
                "items": ["ZL-001", "ZL-002", "ZL-008"],
                "ratios": RATIOS,
            },
            (
                Round(
                    f"{YEAR}-04-20",
                    abandon="见证人（企业代表）未能到场，抽取中止；经科室负责人批准作废，"
                    "次日重新抽取",
                ),
                Round(f"{YEAR}-04-21"),
            ),
        ),
        DemoPlan(
            "JL",
            {
                "code": f"{YEAR}-JL-LH-01",
                "title": f"{YEAR}年度加油站计量和明码标价联合抽查计划",
                "kind": "annual",
                "items": ["JL-001"],
                "cooperating": {f"{BUREAU}-JG": ["JG-003"]},
                "ratios": RATIOS,
                "team_size": 3,
            },
            (Round(f"{YEAR}-06-08"),),
        ),
        DemoPlan(
            "JY",
            {
                "code": f"{YEAR}-09-JY",
                "title": f"{YEAR}年9月学校（含托幼机构）食堂食品安全双随机抽查（开学季）",
                "kind": "monthly",
                "month": 9,
                "items": ["JY-016", "JY-017", "JY-018"],
                "ratios": RATIOS,
                "experts": 1,
            },
            (Round(f"{YEAR}-09-01"),),
        ),
    )


@dataclass(frozen=True)
class Skipped:
    """A round the draw service refused to commit (in a tiny jurisdiction, a population or
    pool may be empty): nothing was written, and the refusal says why."""

    label: str
    drawn_on: str
    error: SsjError


@dataclass
class Result:
    """What one `run` did: plans published, draws on record, what it created, what it skipped."""

    plans: int = 0
    plans_created: int = 0
    draws: int = 0
    draws_created: int = 0
    events_written: int = 0
    skipped: list[Skipped] = field(default_factory=list)


@dataclass
class Checked:
    """One draw as the demo reports it: its read-model row and its verification."""

    row: dict[str, Any]
    verification: Verification
    kind: str  # 年度 / 月度, and 联合 for a joint plan
    replayed: bool = False
    exclusions: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.verification.ok

    @property
    def drawn(self) -> int:
        outcome = self.verification.outcome
        return 0 if outcome is None else len(outcome["teams"])

    @property
    def team(self) -> str:
        """Members of each team: inspectors, and experts after a plus."""
        rules = self.verification.facts["rules"]
        experts = int(rules.get("experts") or 0)
        return f"{rules['team_size']}" + (f"+{experts}" if experts else "")

    @property
    def history(self) -> dict[str, int]:
        """Exclusions that come from earlier draws (open tasks, recent inspections, caps)."""
        return {k: v for k, v in self.exclusions.items() if k in HISTORY_REASONS}

    @property
    def failed(self) -> list[str]:
        return [f"{c.name}: {c.detail}" for c in self.verification.checks if not c.ok]


def history_label(reason: str) -> str:
    return REASON_LABELS.get(reason, reason)


def _rng(seed: int, part: str) -> random.Random:
    return random.Random(f"ssj-demo:{seed}:draws:{part}")


def _person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def witnesses(seed: int, label: str) -> dict[str, str]:
    """Witness -> the digits of their dice (1-6, as thrown), from the seed."""
    rng = _rng(seed, f"witnesses:{label}")
    names = [f"{role}{_person(rng)}" for role in WITNESS_ROLES]
    return {
        name: "".join(str(rng.randint(1, 6)) for _ in range(DICE_PER_WITNESS)) for name in names
    }


class _Runner:
    def __init__(self, services: Services, seed: int, progress: Progress | None) -> None:
        self.s = services
        self.seed = seed
        self.progress = progress
        self.plans = PlanService(services)
        self.draws = DrawService(services)
        self.result = Result()

    def tick(self, phase: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(phase, done, total)

    def who(self, section: str, role: str) -> Principal:
        return self.s.principal(f"{section.lower()}.{role}")

    def publish(self, plan: DemoPlan) -> bool:
        """Take the plan to published from wherever it stands; False if it was cancelled."""
        operator, leader = self.who(plan.section, "operator"), self.who(plan.section, "leader")
        department, code = plan.department, plan.code
        self.s.refresh()
        found = self.s.plan_queries.get(department, code)
        if found is None:
            self.plans.draft(operator, plan.raw())
            self.result.plans_created += 1
            status = PlanStatus.DRAFT
        else:
            status = PlanStatus(found["status"])
        if status is PlanStatus.DRAFT:
            self.plans.submit(operator, department, code)
            status = PlanStatus.SUBMITTED
        if status is PlanStatus.SUBMITTED:
            self.plans.approve(leader, department, code, "同意，按计划组织实施")
            status = PlanStatus.APPROVED
        if status is PlanStatus.APPROVED:
            self.plans.publish(operator, department, code)
            status = PlanStatus.PUBLISHED
        self.result.plans += status is PlanStatus.PUBLISHED
        return status is PlanStatus.PUBLISHED

    def draw(self, plan: DemoPlan, number: int, spec: Round) -> bool:
        """Round `number` of the plan: commit, dice, then reveal or abandon; resumed if it
        exists (its id follows from the plan and the round). False if the commit was refused."""
        operator = self.who(plan.section, "operator")
        dice = witnesses(self.seed, f"{plan.department}/{plan.code}/{number}")
        uuid = draw_id(plan_id(plan.department, plan.code), number)
        self.s.refresh()
        if self.s.draw_queries.get("draws", [str(uuid)]) is None:
            pid = str(plan_id(plan.department, plan.code))
            earlier = self.s.draw_queries.list("draws", {"plan_id": pid}, limit=1).total
            if earlier != number - 1:  # someone drew under a demo plan by hand
                raise ConflictError(
                    f"示例计划 {plan.department}/{plan.code} 已有 {earlier} 次抽取，"
                    f"不能作为第 {number} 轮抽取",
                    f"demo plan {plan.department}/{plan.code} has {earlier} draws already: "
                    f"cannot draw its round {number}",
                )
            try:
                self.draws.commit(
                    operator, plan.department, plan.code, list(dice), drawn_on=spec.drawn_on
                )  # (the draw, its outcome): read back below by id
            except ValidationError as refused:
                self.result.skipped.append(Skipped(plan.label(number), spec.drawn_on, refused))
                return False
            self.result.draws_created += 1
        draw = self.draws.draw(uuid)
        self.result.draws += 1
        if draw.status is DrawStatus.COMMITTED:
            given = dict(draw.dice)
            # An abandoned ceremony stops after the first witness; the others never came.
            throwers = list(dice)[:1] if spec.abandon else list(dice)
            for witness in throwers:
                if witness in draw.witnesses and witness not in given:
                    self.draws.record_dice(operator, str(uuid), witness, dice[witness])
            if spec.abandon:
                self.draws.abandon(self.who(plan.section, "leader"), str(uuid), spec.abandon)
            else:
                self.draws.reveal(operator, str(uuid))
            draw = self.draws.draw(uuid)
        if spec.recusals and draw.status is DrawStatus.REVEALED:
            self.recusals(plan, draw)
        return True

    def recusals(self, plan: DemoPlan, draw: Draw) -> None:
        """An inspector declares a conflict on one drawn target; another target asks for one
        of its inspectors to step aside and the leader approves. Skipped once on record."""
        assert draw.outcome is not None
        order = [i for s in draw.outcome["strata"] for i in s["sample"]]
        rng = _rng(self.seed, f"recusals:{draw.id}")
        picked = rng.sample(order, k=min(2, len(order)))
        first, second = picked[0], picked[-1]
        uuid = str(draw.id)
        if not any(r["kind"] == "declared" for r in draw.recusals):
            leaving = draw.team_of(first)[0]
            # The section's inspector user is that inspector: only the holder may recuse.
            inspector = f"{plan.section.lower()}.inspector1"
            RegistryService(self.s).link_certificate(self.s.principal(ADMIN), inspector, leaving)
            self.draws.recuse(
                self.who(plan.section, "inspector1"), uuid, first, leaving, DECLARED_REASON
            )
            draw = self.draws.draw(uuid)
        if not draw.requests:
            leaving = draw.team_of(second)[1 if second == first else 0]
            self.draws.request_recusal(
                self.who(plan.section, "operator"), uuid, second, leaving, REQUEST_REASON
            )
            draw = self.draws.draw(uuid)
        leader = self.who(plan.section, "leader")
        for request_id, request in sorted(draw.requests.items()):
            if request["decision"] is None:
                self.draws.decide_recusal(leader, uuid, request_id, True, DECISION_REASON)


def run(
    services: Services, *, seed: int = DEFAULT_SEED, progress: Progress | None = None
) -> Result:
    """Publish the demo's plans and run their draws (idempotent; the jurisdiction must be
    built). Returns what this run changed: nothing, the second time."""
    size = services.ledger.size()
    runner = _Runner(services, seed, progress)
    plans = schedule()
    phase = "抽查计划 / plans"
    published: list[DemoPlan] = []
    for done, plan in enumerate(plans, start=1):
        if runner.publish(plan):
            published.append(plan)
        runner.tick(phase, done, len(plans))
    steps = sorted(
        (
            ((spec.drawn_on, plan.code, n), plan, spec)
            for plan in published
            for n, spec in enumerate(plan.rounds, start=1)
        ),
        key=lambda step: step[0],
    )
    phase = "抽取 / draws"
    stopped: set[str] = set()  # plans with a refused round: their later rounds wait for it
    for done, ((_, _, number), plan, spec) in enumerate(steps, start=1):
        if plan.code in stopped:
            earlier = ValidationError(
                "前一轮未能抽取", "an earlier round of the plan could not be drawn"
            )
            runner.result.skipped.append(Skipped(plan.label(number), spec.drawn_on, earlier))
        elif not runner.draw(plan, number, spec):
            stopped.add(plan.code)
        runner.tick(phase, done, len(steps))
    services.refresh()
    result = runner.result
    result.events_written = services.ledger.size() - size
    return result


def verify_all(
    services: Services, *, replay: int = 0, progress: Progress | None = None
) -> list[Checked]:
    """Re-run every draw in the ledger, in date order; the last `replay` revealed draws also
    from fresh read models replayed from the ledger alone (as an auditor would, years later)."""
    services.refresh()
    draws = DrawService(services)
    rows = sorted(
        services.draw_queries.states("draws"),
        key=lambda r: (r["drawn_on"], r["department"], r["plan_code"], r["round"]),
    )
    revealed = [r["draw_id"] for r in rows if r["status"] == DrawStatus.REVEALED.value]
    replayed = set(revealed[-replay:]) if replay > 0 else set()
    phase = "验证抽取 / verifying draws"
    checked: list[Checked] = []
    for done, row in enumerate(rows, start=1):
        again = row["draw_id"] in replayed
        verification = draws.verify(row["draw_id"], replay=again)
        plan = services.plan_queries.get(row["department"], row["plan_code"]) or {}
        kind = "月度" if plan.get("kind") == "monthly" else "年度"
        if plan.get("cooperating"):
            kind += "联合"
        checked.append(
            Checked(
                row=row,
                verification=verification,
                kind=kind,
                replayed=again,
                exclusions=dict(verification.facts.get("exclusions", {})),
            )
        )
        if progress is not None:
            progress(phase, done, len(rows))
    return checked
