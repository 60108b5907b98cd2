"""The year's inspections for `ssj demo`: every drawn task through its lifecycle.

After `ssj.demo.draws.run`, `run` takes each task of the demo's revealed draws through
`TaskService`, on dates that follow from the demo seed (`random.Random` seeded with a string)
and the working-day calendar (`CalendarService.deadline`):

    notified → results drafted and countersigned per item → completed → target informed
    → confirmed, or objected and decided by the section's leader (one objection upheld: the
    results are redrafted) → published (most within 20 working days of completion, some late,
    a few redacted), or withheld for good, or withheld until final then published → closed.

Results follow a realistic mix of the ten standard categories (mostly 未发现问题, some
发现问题已责令改正, a few 无法联系, 不配合检查, 违法违规 …). No step is dated after today
(Asia/Shanghai): a task whose next step falls later stays where it is, as in a year that is not
over; a later run takes it further. A task of a plan with a later round is closed no earlier
than that round's draw date, so that the later round did see it as an open task.

Who acts: the section's operator notifies, informs, records the target's say, publishes,
withholds and closes; its leader decides objections; results are drafted, countersigned and
completed by two members of the task's current team (after recusals), through the section's two
inspector users. The demo has two inspector users per section but many inspectors, so before a
member acts the admin links one of those users to the member's certificate
(`RegistryService.link_certificate`): each relink is an event in the ledger, which is honest
about what happened (the same login acted for different certificates over the year).

`run` is idempotent: each task is resumed from its aggregate's state; a second run on the same
day writes nothing.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID

from ssj.demo import DEFAULT_SEED
from ssj.demo.draws import YEAR, schedule
from ssj.demo.jurisdiction import ADMIN, BUREAU
from ssj.domain.access import Principal
from ssj.domain.calendar import CalendarYearUnknown, WorkingCalendar
from ssj.domain.draws import Draw, DrawStatus, draw_id
from ssj.domain.plans import plan_id
from ssj.domain.tasks import CATEGORY_LABELS_ZH, ResultCategory, Task, TaskStatus, task_id
from ssj.services.calendar import CalendarService
from ssj.services.context import Services
from ssj.services.draws import DrawService
from ssj.services.draws import today as shanghai_today
from ssj.services.registry import RegistryService
from ssj.services.tasks import TaskService

Progress = Callable[[str, int, int], None]

PUBLICATION_DAYS = 20  # working days from completion (一公开)
INSPECTOR_USERS = ("inspector1", "inspector2")

# Task-level outcome weights (per mille): the most serious category of the task.
OUTCOMES: tuple[tuple[ResultCategory, int], ...] = (
    (ResultCategory.NO_PROBLEM, 700),
    (ResultCategory.RECTIFIED, 120),
    (ResultCategory.FOLLOW_UP, 25),
    (ResultCategory.UNREACHABLE, 40),
    (ResultCategory.OBSTRUCTED, 12),
    (ResultCategory.CASE_FILED, 25),
    (ResultCategory.NOT_PUBLICISED, 25),
    (ResultCategory.FALSE_PUBLICITY, 8),
    (ResultCategory.NO_ACTIVITY, 30),
    (ResultCategory.DEREGISTERED, 15),
)
# Categories that describe the target as a whole: every item of the task gets it.
WHOLE_TASK = frozenset(
    {
        ResultCategory.UNREACHABLE,
        ResultCategory.OBSTRUCTED,
        ResultCategory.NO_ACTIVITY,
        ResultCategory.DEREGISTERED,
    }
)
FINDINGS = {
    ResultCategory.NO_PROBLEM: "现场检查未发现违法违规问题",
    ResultCategory.RECTIFIED: "发现安全管理制度落实不到位、台账记录不全，已当场责令改正，复查已整改",
    ResultCategory.FOLLOW_UP: "发现问题，已下达责令改正通知书，整改期限届满后复查",
    ResultCategory.UNREACHABLE: "按登记的住所（经营场所）两次实地核查均无法联系，拟列入经营异常名录",
    ResultCategory.OBSTRUCTED: "检查对象拒绝提供相关资料、阻碍检查，情节严重",
    ResultCategory.CASE_FILED: "发现涉嫌违法行为，已报请立案调查",
    ResultCategory.NOT_PUBLICISED: "未按规定通过国家企业信用信息公示系统公示应当公示的信息",
    ResultCategory.FALSE_PUBLICITY: "年度报告公示的从业人数、资产状况与实际不符",
    ResultCategory.NO_ACTIVITY: "检查时未发现开展本次抽查涉及的经营活动",
    ResultCategory.DEREGISTERED: "检查对象已办理注销（迁出）登记",
}
OBJECTION_REASON = "检查对象书面提出异议：认为检查结果认定的事实与实际不符，并提交了补充材料"
REJECTED_REASON = "经复核，检查记录和证据充分，异议不成立，维持原检查结果"
UPHELD_REASON = "经复核，检查对象补充材料属实，异议成立，由检查组重新核查并出具检查结果"
WITHHELD_REASON = "检查结果涉及检查对象的商业秘密，经审查依法不予公示"
UNTIL_FINAL_REASON = "抽样产品的检验报告尚未出具，待检验结论确定后公示"
NOTIFY_HOW = ("电话通知", "现场告知", "书面通知", "短信通知")
# Results forced on a few early tasks, with the follow-up variant each shows (ssj.demo.followups).
FOLLOW_UP_CASES = (
    f"{ResultCategory.FOLLOW_UP.value}:failed_once",
    f"{ResultCategory.FOLLOW_UP.value}:never_rechecked",
    f"{ResultCategory.FOLLOW_UP.value}:passed",
    f"{ResultCategory.CASE_FILED.value}:published_late",
    f"{ResultCategory.OBSTRUCTED.value}:referred",
)
LOWERED_CASE = f"{ResultCategory.CASE_FILED.value}:lowered"


@dataclass
class Result:
    """What one `run` did."""

    tasks: int = 0
    tasks_advanced: int = 0
    relinks: int = 0
    events_written: int = 0


@dataclass
class _Plan:
    """A task's dated steps, from the seed (dates as `date`; None: the step never happens)."""

    notified_on: date
    how: str
    categories: list[dict[str, str]]  # per round of results: item key -> category
    inspected: list[dict[str, date]]  # per round: item key -> inspection date
    completed: list[date]
    informed: list[date]
    objection: str = ""  # "", "rejected" or "upheld"
    objected_on: date | None = None
    decided_on: date | None = None
    publication: str = "on_time"  # on_time, late, withheld, until_final
    withheld_on: date | None = None
    published_on: date | None = None
    closed_on: date | None = None
    redacted: list[str] = field(default_factory=list)


def _rng(seed: int, part: str) -> random.Random:
    return random.Random(f"ssj-demo:{seed}:inspections:{part}")


class Runner:
    def __init__(
        self, services: Services, seed: int, today: date, progress: Progress | None
    ) -> None:
        self.s = services
        self.seed = seed
        self.today = today
        self.progress = progress
        self.tasks = TaskService(services, clock=lambda: today)
        # The working days as the ledger holds them (CalendarService), read once for the run.
        self.calendar = CalendarService(services).calendar()
        self.registry = RegistryService(services)
        self.result = Result()
        self._methods: dict[str, list[str]] = {}
        self._holders: dict[str, str] | None = None  # certificate -> username (demo users)
        self._principals: dict[str, Principal] = {}

    def wd(self, start: date, n: int) -> date:
        """The `n`-th working day after `start`; `date.max` (never reached) past the years whose
        holiday arrangement is known (next year's is published in the autumn)."""
        if start == date.max:
            return start
        try:
            return self.calendar.add_working_days(start, n)
        except CalendarYearUnknown:
            return date.max

    # Who acts ----------------------------------------------------------------------------------

    def who(self, department: str, role: str) -> Principal:
        return self.who_is(f"{department.rsplit('-', 1)[1].lower()}.{role}")

    def who_is(self, username: str) -> Principal:
        if username not in self._principals:
            self._principals[username] = self.s.principal(username)
        return self._principals[username]

    def holders(self) -> dict[str, str]:
        if self._holders is None:
            self._holders = {
                u["certificate_no"]: u["username"]
                for u in self.s.queries.states("users")
                if u.get("certificate_no")
            }
        return self._holders

    def member(self, certificate_no: str, keep: set[str]) -> Principal:
        """A principal linked to the certificate: one of its section's inspector users,
        relinked if needed (not one holding a certificate in `keep`)."""
        holders = self.holders()
        username = holders.get(certificate_no)
        if username is None:
            inspector = self.s.queries.get("inspectors", [certificate_no])
            assert inspector is not None
            short = inspector["department"].rsplit("-", 1)[1].lower()
            users = [f"{short}.{u}" for u in INSPECTOR_USERS]
            held = {u: c for c, u in holders.items()}
            username = next((u for u in users if held.get(u) not in keep), users[0])
            self.registry.link_certificate(self.who_is(ADMIN), username, certificate_no)
            self.result.relinks += 1
            holders.pop(held.get(username, ""), None)
            holders[certificate_no] = username
            self._principals.pop(username, None)  # its certificate changed
        return self.who_is(username)

    def method(self, key: str, rng: random.Random) -> str:
        if key not in self._methods:
            department, _, code = key.partition("/")
            item = self.s.queries.get("items", [department, code]) or {}
            self._methods[key] = list(item.get("methods") or ()) or ["on_site"]
        return rng.choice(self._methods[key])

    # The plan of one task ----------------------------------------------------------------------

    def plan(
        self,
        draw: Draw,
        identifier: str,
        keys: list[str],
        close_after: date | None,
        force: str = "",
    ) -> _Plan:
        """The task's steps and their dates. `force` makes sure the demo shows each case at
        least once, whatever the size of the jurisdiction: an objection rejected or upheld,
        a late publication, a result withheld for good or until final, or a result category
        ("category:variant", the variant for `ssj.demo.followups`)."""
        rng = _rng(self.seed, f"{draw.id}:{identifier}")
        drawn = date.fromisoformat(draw.committed.drawn_on)
        notified = self.wd(drawn, rng.randint(1, 8))
        outcome = rng.choices([c for c, _ in OUTCOMES], weights=[w for _, w in OUTCOMES])[0]
        category, _, _ = force.partition(":")
        if category in ResultCategory.__members__.values():
            outcome, force = ResultCategory(category), "no_objection"
        if outcome in (ResultCategory.NOT_PUBLICISED, ResultCategory.FALSE_PUBLICITY) and not any(
            k.split("/")[1].startswith("XY") for k in keys
        ):
            outcome = ResultCategory.RECTIFIED  # disclosure findings belong to XY's items
        plan = _Plan(
            notified_on=notified,
            how=rng.choice(NOTIFY_HOW),
            categories=[],
            inspected=[],
            completed=[],
            informed=[],
        )
        start = self.wd(notified, rng.choice((1, 3, 8, 15, 25, 40, 55)))
        self._round(plan, rng, keys, outcome, start)
        roll, upheld = rng.random(), rng.random() < 0.2
        if force in ("rejected", "upheld"):
            roll, upheld = 0.0, force == "upheld"
        elif force == "no_objection":
            roll = 1.0
        if roll < 0.03:
            plan.objection = "upheld" if upheld else "rejected"
            plan.objected_on = self.wd(plan.informed[0], rng.randint(1, 4))
            plan.decided_on = self.wd(plan.objected_on, rng.randint(3, 8))
            if plan.objection == "upheld":
                again = self.wd(plan.decided_on, rng.randint(2, 6))
                self._round(plan, rng, keys, ResultCategory.NO_PROBLEM, again)
        completed = plan.completed[-1]
        ready = max(plan.informed[-1], plan.decided_on or plan.informed[-1])
        roll = rng.random()
        if force in ("withheld", "late", "until_final"):
            roll = {"withheld": 0.0, "late": 0.05, "until_final": 0.5}[force]
        if roll < 0.015:
            plan.publication = "withheld"
            plan.withheld_on = self.wd(ready, rng.randint(1, 5))
            plan.closed_on = self.wd(plan.withheld_on, rng.randint(1, 5))
        else:
            if roll < 0.10:
                plan.publication = "late"
                day = self.wd(completed, rng.randint(PUBLICATION_DAYS + 1, PUBLICATION_DAYS + 25))
            else:
                day = self.wd(completed, rng.randint(3, PUBLICATION_DAYS))
            plan.published_on = max(day, ready)
            if plan.published_on > self.wd(completed, PUBLICATION_DAYS):
                plan.publication = "late"
            plan.closed_on = self.wd(plan.published_on, rng.randint(0, 3))
            if rng.random() < 0.05:
                plan.redacted = ["public_summary"]  # personal information of the owner
        if force == "until_final":
            plan.publication = "until_final"
            plan.withheld_on = self.wd(ready, 2)
            plan.published_on = self.wd(plan.withheld_on, 25)
            plan.closed_on = self.wd(plan.published_on, 1)
        if close_after is not None and plan.closed_on is not None:
            plan.closed_on = max(plan.closed_on, close_after)
        return plan

    def _round(
        self,
        plan: _Plan,
        rng: random.Random,
        keys: list[str],
        outcome: ResultCategory,
        start: date,
    ) -> None:
        categories: dict[str, str] = {}
        serious = rng.choice(keys)
        inspected: dict[str, date] = {}
        day = start
        for key in keys:
            if outcome in WHOLE_TASK or key == serious:
                categories[key] = outcome.value
            else:
                categories[key] = ResultCategory.NO_PROBLEM.value
            inspected[key] = day
            if rng.random() < 0.3:
                day = self.wd(day, 1)  # a long inspection: the next item the day after
        plan.categories.append(categories)
        plan.inspected.append(inspected)
        completed = self.wd(day, rng.choice((0, 0, 1, 2)))
        plan.completed.append(completed)
        plan.informed.append(self.wd(completed, rng.randint(1, 5)))

    # Taking a task through its plan ------------------------------------------------------------

    def advance(self, draw: Draw, department: str, identifier: str, plan: _Plan) -> bool:
        """Take the task as far as today allows; True if anything was written."""
        ref = str(task_id(draw.id, identifier))
        operator = self.who(department, "operator")
        wrote = False
        task = self.tasks._found(UUID(ref))
        if task is None:
            if plan.notified_on > self.today:
                return False
            task = self.tasks.notify(operator, ref, plan.notified_on.isoformat(), plan.how)
            wrote = True
        while True:
            step = self.step(task, draw, department, identifier, plan, ref, operator)
            if step is None:
                return wrote
            task = step
            wrote = True

    def step(
        self,
        task: Task,
        draw: Draw,
        department: str,
        identifier: str,
        plan: _Plan,
        ref: str,
        operator: Principal,
    ) -> Task | None:
        """One step of the task's plan, if its date has come; None if there is none."""
        today = self.today
        n = len(task.reopened)  # rounds of results an upheld objection set aside
        status = task.status
        if status in (TaskStatus.NOTIFIED, TaskStatus.INSPECTING):
            team = draw.current_team(identifier)["inspectors"]
            drafter, signer = team[0], team[1]
            keep = {drafter, signer}
            for key in task.item_keys:
                result = task.results.get(key)
                day = plan.inspected[n][key]
                if day > today:
                    return None
                if result is None:
                    rng = _rng(self.seed, f"{draw.id}:{identifier}:{key}:{n}")
                    category = ResultCategory(plan.categories[n][key])
                    evidence = hashlib.sha256(
                        f"{draw.id}/{identifier}/{key}/{n}/检查记录.pdf".encode()
                    ).hexdigest()
                    drafted, _ = self.tasks.draft_result(
                        self.member(drafter, keep),
                        ref,
                        key,
                        method=self.method(key, rng),
                        inspected_on=day.isoformat(),
                        findings=FINDINGS[category],
                        evidence=[evidence],
                        category=category.value,
                    )
                    return drafted
                if not result["signed_by"]:
                    return self.tasks.sign_result(self.member(signer, keep), ref, key)
            if plan.completed[n] > today:
                return None
            return self.tasks.complete(
                self.member(drafter, keep), ref, plan.completed[n].isoformat()
            )
        if status is TaskStatus.INSPECTED:
            if plan.informed[n] > today:
                return None
            return self.tasks.inform(operator, ref, plan.informed[n].isoformat())
        if status is TaskStatus.INFORMED:
            if plan.objection and not task.objections:
                assert plan.objected_on is not None
                if plan.objected_on > today:
                    return None
                return self.tasks.record_objection(operator, ref, OBJECTION_REASON)
            return self.tasks.confirm(operator, ref)
        if status is TaskStatus.OBJECTED:
            assert plan.decided_on is not None
            if plan.decided_on > today:
                return None
            upheld = plan.objection == "upheld"
            leader = self.who(department, "leader")
            reason = UPHELD_REASON if upheld else REJECTED_REASON
            return self.tasks.decide_objection(leader, ref, upheld, reason)
        if status in (TaskStatus.CONFIRMED, TaskStatus.OBJECTION_REJECTED):
            if plan.publication in ("withheld", "until_final"):
                assert plan.withheld_on is not None
                if plan.withheld_on > today:
                    return None
                final = plan.publication == "until_final"
                reason = UNTIL_FINAL_REASON if final else WITHHELD_REASON
                return self.tasks.withhold(operator, ref, reason, final)
            return self.publish(task, plan, ref, operator)
        if status is TaskStatus.WITHHELD and not task.withheld_for_good:
            return self.publish(task, plan, ref, operator)
        if status in (TaskStatus.PUBLISHED, TaskStatus.WITHHELD):
            assert plan.closed_on is not None
            if plan.closed_on > today:
                return None
            return self.tasks.close(operator, ref, plan.closed_on.isoformat())
        return None

    def publish(self, task: Task, plan: _Plan, ref: str, operator: Principal) -> Task | None:
        assert plan.published_on is not None
        if plan.published_on > self.today:
            return None
        category = task.category or ResultCategory.NO_PROBLEM.value
        summary = f"检查结果：{CATEGORY_LABELS_ZH[ResultCategory(category)]}"
        return self.tasks.publish(
            operator,
            ref,
            public_summary=summary,
            redacted_fields=plan.redacted,
            on=plan.published_on.isoformat(),
        )


# A drawn task: (draw, department, identifier, the next round's draw date or None, stratum).
Drawn = tuple[Draw, str, str, date | None, str]


def work(services: Services) -> list[Drawn]:
    """Every task of the demo's revealed draws, in the schedule's order."""
    draws = DrawService(services)
    found: list[Drawn] = []
    for plan in schedule():
        pid = plan_id(plan.department, plan.code)
        rounds = [date.fromisoformat(r.drawn_on) for r in plan.rounds]
        for number, _ in enumerate(plan.rounds, start=1):
            uuid = draw_id(pid, number)
            if services.draw_queries.get("draws", [str(uuid)]) is None:
                continue
            draw = draws.draw(uuid)
            if draw.status is not DrawStatus.REVEALED or draw.outcome is None:
                continue
            close_after = rounds[number] if number < len(rounds) else None
            for stratum in draw.outcome["strata"]:
                for identifier in stratum["sample"]:
                    found.append((draw, plan.department, identifier, close_after, stratum["name"]))
    return found


def forced_cases(tasks: list[Drawn], seed: int) -> dict[int, str]:
    """Each case at least once, on tasks drawn before July (their publication and follow-up are
    due before the year ends), by position in `tasks`: a result withheld until its laboratory
    test is final, then published (on a product-quality task, ZL, if there is one), one withheld
    for good, a late publication, an objection rejected and one upheld; and the result categories
    whose follow-up `ssj.demo.followups` shows in each variant."""
    rng = _rng(seed, "cases")
    early = [i for i, t in enumerate(tasks) if t[0].committed.drawn_on < f"{YEAR}-07-01"]
    forced: dict[int, str] = {}
    zl = [i for i in early if tasks[i][1] == f"{BUREAU}-ZL"]
    if zl:
        forced[zl[0]] = "until_final"
    rest = [i for i in early if i not in forced]
    cases = ("withheld", "late", "rejected", "upheld") + (() if zl else ("until_final",))
    cases += FOLLOW_UP_CASES
    for i, case in zip(rng.sample(rest, k=min(len(rest), len(cases))), cases, strict=False):
        forced[i] = case
    # A penalty case that lowers the credit class needs a target not already in class D.
    lowers = [i for i in rest if i not in forced and tasks[i][4] in ("A", "B", "C")]
    if lowers:
        forced[rng.choice(lowers)] = LOWERED_CASE
    return forced


def run(
    services: Services,
    *,
    seed: int = DEFAULT_SEED,
    today: date | None = None,
    progress: Progress | None = None,
) -> Result:
    """Take the tasks of the demo's revealed draws as far as `today` (default: today in
    Asia/Shanghai) allows. Idempotent: returns what this run changed."""
    size = services.ledger.size()
    runner = Runner(services, seed, today or shanghai_today(), progress)
    services.refresh()
    tasks = work(services)
    forced = forced_cases(tasks, seed)
    phase = "检查与公示 / inspections"
    for done, (draw, department, identifier, close_after, _) in enumerate(tasks, start=1):
        keys = [f"{d}/{c}" for d, codes in draw.committed.items.items() for c in codes]
        plan = runner.plan(draw, identifier, keys, close_after, forced.get(done - 1, ""))
        runner.result.tasks += 1
        if runner.advance(draw, department, identifier, plan):
            runner.result.tasks_advanced += 1
        if progress is not None:
            progress(phase, done, len(tasks))
    services.refresh()
    runner.result.events_written = services.ledger.size() - size
    return runner.result


@dataclass
class Summary:
    """The tasks as the read models hold them."""

    statuses: dict[str, int]
    categories: dict[str, int]
    on_time: int = 0
    late: int = 0
    withheld: int = 0  # for good
    pending_final: int = 0  # withheld until final, not yet published
    final_published: int = 0  # withheld until final, then published
    redacted: int = 0
    objections: dict[str, int] = field(default_factory=dict)


def _due(calendar: WorkingCalendar, completed_on: str) -> date:
    """The publication deadline; `date.max` while next year's holidays are unknown."""
    try:
        return calendar.add_working_days(date.fromisoformat(completed_on), PUBLICATION_DAYS)
    except CalendarYearUnknown:
        return date.max


def summarise(services: Services) -> Summary:
    """Tasks by status and category, publications on time / late / withheld, from the read
    models (the deadline: 20 working days after completion, on the calendar)."""
    services.refresh()
    calendar = CalendarService(services).calendar()
    rows: list[dict[str, Any]] = services.draw_queries.states("tasks")
    statuses: dict[str, int] = {}
    categories: dict[str, int] = {}
    summary = Summary(statuses, categories)
    for row in rows:
        statuses[row["status"]] = statuses.get(row["status"], 0) + 1
        if row.get("category"):
            categories[row["category"]] = categories.get(row["category"], 0) + 1
        withheld = row.get("withheld")
        objection = row.get("objection")
        if objection and objection.get("upheld") is not None:
            key = "upheld" if objection["upheld"] else "rejected"
            summary.objections[key] = summary.objections.get(key, 0) + 1
        elif objection:
            summary.objections["pending"] = summary.objections.get("pending", 0) + 1
        if row.get("published_on"):
            if row.get("redacted_fields"):
                summary.redacted += 1
            if withheld:
                summary.final_published += 1
            elif date.fromisoformat(row["published_on"]) <= _due(calendar, row["completed_on"]):
                summary.on_time += 1
            else:
                summary.late += 1
        elif withheld:
            if withheld["until_final"]:
                summary.pending_final += 1
            else:
                summary.withheld += 1
    return summary
