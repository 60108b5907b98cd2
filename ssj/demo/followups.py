"""The year's follow-up for `ssj demo` (后续处置): what the inspections found, followed up.

After `ssj.demo.inspections.run`, every task whose results are final (confirmed, objection
rejected, published, withheld or closed) gets the follow-up its most serious category calls
for, through `FollowUpService`, on dates that follow from the demo seed and the working days:

- 发现问题待后续处理: a rectification order (整改) due in 15 working days and a re-check by a
  team member; one in five fails, is reminded (催告) and ordered again; a few are never
  re-checked (they show as overdue in `ssj overdue`).
- 发现问题已责令改正, 公示信息弄虚作假, 未按规定公示: some get a rectification order and a
  passed re-check; undisclosed information a reminder first.
- 违法违规（立案）: a penalty case decided 10–30 working days after completion, half of them
  lowering the credit class; its information published within 7 working days, a few late, a few
  not yet; some cases referred to public security (涉嫌犯罪).
- 不配合检查情节严重: a reminder, and half referred to public security.

A few early tasks are forced into each variant (`ssj.demo.inspections.forced_cases`), so a
small jurisdiction shows them all. No step is dated after today; a later run goes further, and a second run on the same day writes
nothing: each task's steps are a fixed list, and the follow-up's own state says how many of them
are done.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from eventsourcing.application import AggregateNotFoundError

from ssj.demo import DEFAULT_SEED
from ssj.demo.inspections import Progress, Runner, forced_cases, work
from ssj.domain.access import Principal
from ssj.domain.followup import FollowUp, followup_id
from ssj.domain.identifiers import make_uscc, organization_code_check_character
from ssj.domain.tasks import ResultCategory, TaskStatus, task_id
from ssj.services.context import Services
from ssj.services.draws import today as shanghai_today
from ssj.services.followups import FollowUpService

FINAL = frozenset(
    {
        TaskStatus.CONFIRMED,
        TaskStatus.OBJECTION_REJECTED,
        TaskStatus.PUBLISHED,
        TaskStatus.WITHHELD,
        TaskStatus.CLOSED,
    }
)
RECTIFY_WITHIN = 15  # working days from the order to the rectification deadline
REQUIREMENTS = {
    ResultCategory.FOLLOW_UP: "对检查发现的问题限期整改，整改完成后提交书面整改报告及相关证明材料",
    ResultCategory.RECTIFIED: "巩固当场整改成果，完善相关管理制度和台账记录",
    ResultCategory.FALSE_PUBLICITY: "更正年度报告中与实际不符的信息，并提交书面说明",
    ResultCategory.NOT_PUBLICISED: "通过国家企业信用信息公示系统补报应当公示的信息",
}
REMINDERS = {
    "rectify": "整改期限届满，复查未通过，现催告你单位于新的期限内完成整改",
    ResultCategory.NOT_PUBLICISED: "催告你单位于10日内依法公示应当公示的信息",
    ResultCategory.OBSTRUCTED: "你单位拒绝、阻碍检查，现书面催告你单位配合检查并提供相关资料",
}
DECISION = "经查，当事人存在违法行为，依据相关法律法规作出警告并处罚款的行政处罚决定"
# The 双公示 fields of the demo's penalty cases: a warning and a fine, its amount from the case.
VIOLATION = "未按规定履行安全管理义务"
FACTS = "经现场检查，当事人未按规定履行安全管理义务，存在安全隐患"
BASIS = "《中华人民共和国特种设备安全法》第八十三条"
REPRESENTATIVES = ("王建国", "李红梅", "张志强", "刘晓燕", "陈伟", "杨丽", "赵军", "周敏")


def authority_code(department: str) -> str:
    """A government authority's 统一社会信用代码 (registration 1, category 1 机关, Changzhou),
    derived from its department code so the demo stays deterministic."""
    digest = hashlib.sha256(department.encode()).hexdigest().upper()
    body = "".join(c for c in digest if c.isdigit() or c in "ABCDEF")[:8]
    return make_uscc("11320400" + body + organization_code_check_character(body))


CRIMINAL = "案件涉嫌犯罪，依据《行政执法机关移送涉嫌犯罪案件的规定》移送公安机关"
OBSTRUCTION = "当事人以暴力、威胁方法阻碍执法人员依法执行职务，移送公安机关处理"


@dataclass
class Result:
    """What one `run` did."""

    tasks: int = 0  # tasks with a follow-up planned
    steps: int = 0  # steps taken by this run
    events_written: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


# A step: its kind, its date, and the service call that takes it.
Step = tuple[str, date, Callable[[], Any]]


class _FollowUps(Runner):
    def __init__(
        self, services: Services, seed: int, today: date, progress: Progress | None
    ) -> None:
        super().__init__(services, seed, today, progress)
        self.followups = FollowUpService(services, clock=lambda: today)
        self.steps_done = Result()
        tasks = work(services)
        self.variants = {
            str(task_id(tasks[i][0].id, tasks[i][2])): case.partition(":")[2]
            for i, case in forced_cases(tasks, seed).items()
            if ":" in case
        }

    def steps(self, row: dict[str, Any]) -> list[Step]:
        """The task's follow-up, in order (the same list on every run)."""
        rng = random.Random(f"ssj-demo:{self.seed}:followups:{row['task_id']}")
        category = ResultCategory(row["category"])
        ref, department = row["task_id"], row["department"]
        variant = self.variants.get(ref, "")

        def chance(p: float, *variants: str) -> bool:
            """True with probability p; a forced variant decides instead (True if named)."""
            roll = rng.random()
            return variant in variants if variant else roll < p

        operator = self.who(department, "operator")
        completed = date.fromisoformat(row["completed_on"])
        f = self.followups
        steps: list[Step] = []

        def order(on: date, requirement: str) -> date:
            due = self.wd(on, RECTIFY_WITHIN)
            steps.append(
                (
                    "rectification",
                    on,
                    lambda: f.order_rectification(
                        operator,
                        ref,
                        deadline=due.isoformat(),
                        requirement=requirement,
                        on=on.isoformat(),
                    ),
                )
            )
            return due

        def recheck(number: int, on: date, passed: bool) -> None:
            team = row["inspectors"]
            notes = "整改到位" if passed else "整改未到位"

            def take() -> Any:
                member = self.member(team[0], set(team[:2]))
                return f.recheck(member, ref, number, passed, notes=notes, on=on.isoformat())

            steps.append(("recheck", on, take))

        def remind(on: date, text: str) -> None:
            steps.append(("reminder", on, lambda: f.remind(operator, ref, text, on.isoformat())))

        def refer(on: date, reason: str) -> None:
            steps.append(
                (
                    "referral",
                    on,
                    lambda: f.refer(
                        operator, ref, to_kind="public_security", reason=reason, on=on.isoformat()
                    ),
                )
            )

        start = self.wd(completed, rng.randint(1, 3))
        if category is ResultCategory.FOLLOW_UP:
            due = order(start, REQUIREMENTS[category])
            if chance(0.1, "never_rechecked"):
                return steps  # never re-checked: overdue
            if chance(0.2, "failed_once"):
                recheck(1, due, False)
                again = self.wd(due, 1)
                remind(again, REMINDERS["rectify"])
                order(again, REQUIREMENTS[category])
                recheck(2, self.wd(again, RECTIFY_WITHIN - rng.randint(0, 3)), True)
            else:
                recheck(1, self.wd(start, RECTIFY_WITHIN - rng.randint(0, 5)), True)
        elif category in (
            ResultCategory.RECTIFIED,
            ResultCategory.FALSE_PUBLICITY,
            ResultCategory.NOT_PUBLICISED,
        ):
            if category is ResultCategory.NOT_PUBLICISED:
                remind(start, REMINDERS[category])
            if rng.random() < 0.4:
                due = order(start, REQUIREMENTS[category])
                recheck(1, self.wd(start, rng.randint(5, RECTIFY_WITHIN)), True)
        elif category is ResultCategory.CASE_FILED:
            decided = self.wd(completed, rng.randint(10, 30))
            digest = hashlib.sha256(ref.encode()).hexdigest()
            case_no = f"常市监处罚〔{decided.year}〕{int(digest[:8], 16) % 90000 + 10000}号"
            lower = chance(0.5, "lowered")
            steps.append(
                ("case", decided, lambda: self.file_case(operator, row, case_no, decided, lower))
            )
            if chance(0.85, "lowered", "published_late"):
                late = chance(0.12, "published_late")
                published = self.wd(decided, rng.randint(8, 15) if late else rng.randint(1, 7))
                steps.append(
                    (
                        "case_published",
                        published,
                        lambda: f.publish_case(operator, ref, case_no, published.isoformat()),
                    )
                )
            if chance(0.15, "published_late"):
                refer(self.wd(decided, rng.randint(1, 5)), CRIMINAL)
        elif category is ResultCategory.OBSTRUCTED:
            remind(start, REMINDERS[category])
            if chance(0.5, "referred"):
                refer(self.wd(start, rng.randint(2, 6)), OBSTRUCTION)
        return steps

    def file_case(
        self, operator: Principal, row: dict[str, Any], case_no: str, decided: date, lower: bool
    ) -> Any:
        """A penalty case; `lower` moves the target one class riskier, if it can go further."""
        target = self.s.queries.get("targets", [row["identifier"]]) or {}
        current = str(target.get("credit_class") or "D")
        riskier = chr(ord(current) + 1) if lower and current < "D" else None
        digest = int(hashlib.sha256(case_no.encode()).hexdigest()[:8], 16)
        department = operator.department
        return self.followups.file_case(
            operator,
            row["task_id"],
            case_no=case_no,
            decision=DECISION,
            decided_on=decided.isoformat(),
            credit_class=riskier,
            violation_type=VIOLATION,
            facts=FACTS,
            basis=BASIS,
            penalty_types=["警告", "罚款"],
            fine=f"{digest % 50 / 10 + 0.5:.1f}",  # 0.5-5.4 万元
            authority=department if department in row["departments"] else None,
            authority_code=authority_code(department),
            legal_representative=REPRESENTATIVES[digest % len(REPRESENTATIVES)],
        )

    def done(self, ref: str) -> int:
        """How many of the task's steps its follow-up already holds (each step adds one)."""
        try:
            found: object = self.s.ledger.repository.get(followup_id(ref))
        except AggregateNotFoundError:
            return 0
        assert isinstance(found, FollowUp)
        return (
            len(found.rectifications)
            + sum(len(r["rechecks"]) for r in found.rectifications)
            + len(found.reminders)
            + len(found.cases)
            + sum(1 for c in found.cases if c["published_on"])
            + len(found.referrals)
        )

    def follow(self, row: dict[str, Any]) -> None:
        """Take the task's steps whose dates have come, from where its follow-up stands."""
        steps = self.steps(row)
        if not steps:
            return
        self.steps_done.tasks += 1
        for kind, on, take in steps[self.done(row["task_id"]) :]:
            if on > self.today:
                return
            take()
            self.steps_done.steps += 1
            self.steps_done.by_kind[kind] = self.steps_done.by_kind.get(kind, 0) + 1


def run(
    services: Services,
    *,
    seed: int = DEFAULT_SEED,
    today: date | None = None,
    progress: Progress | None = None,
) -> Result:
    """Follow up the demo's inspected tasks as far as `today` (default: today in Asia/Shanghai)
    allows. Idempotent: returns what this run changed."""
    size = services.ledger.size()
    runner = _FollowUps(services, seed, today or shanghai_today(), progress)
    services.refresh()
    rows = [
        r
        for r in services.draw_queries.states("tasks")
        if TaskStatus(r["status"]) in FINAL and r.get("category") and r.get("completed_on")
    ]
    rows.sort(key=lambda r: (r["completed_on"], r["task_id"]))
    phase = "后续处置 / follow-up"
    for done, row in enumerate(rows, start=1):
        runner.follow(row)
        if progress is not None:
            progress(phase, done, len(rows))
    services.refresh()
    result = runner.steps_done
    result.events_written = services.ledger.size() - size
    return result
