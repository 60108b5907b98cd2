"""Commands on inspection tasks (抽查任务): notification, results, the target's say, publication
(一公开) and closure; and reading them.

Each command: authorise for the task's departments (a joint task admits its lead and cooperating
departments), load, decide (ssj.domain.tasks), save with the actor. Results are drafted, signed
and completed only by inspectors of the task's current team (after recusals), acting as the
certificate their user is linked to; anyone else is refused, and the refusal recorded. Bad input
writes nothing. A task is named by its id or by `DRAW_LABEL/IDENTIFIER`
(`CZ-SJJ-TZ/2026-01/第1轮/91320402…`): the id follows from the draw and the target.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from projections.draws import task_page
from projections.registry import Page
from ssj.domain import fields
from ssj.domain.access import Command, Forbidden, Principal
from ssj.domain.draws import Draw, DrawStatus
from ssj.domain.followup import registry_changes
from ssj.domain.items import METHOD_LABELS, Method
from ssj.domain.targets import Target, target_id
from ssj.domain.tasks import (
    METHOD_NAMES_ZH,
    STATUS_LABELS_ZH,
    Task,
    TaskStatus,
    parse_category,
    parse_status,
    task_id,
)
from ssj.errors import ConflictError, NotFoundError, ValidationError
from ssj.ledger.application import LoggedEvent
from ssj.ledger.envelope import Actor
from ssj.services import draw_records
from ssj.services.base import Outcome, Service
from ssj.services.context import Services
from ssj.services.draws import today


def consequences(service: Service, categories: list[str], identifier: str) -> list[Target]:
    """The target, changed by what a task's results say of it (none if nothing changes)."""
    try:
        target: object = service.s.ledger.repository.get(target_id(identifier))
    except AggregateNotFoundError:
        return []
    assert isinstance(target, Target)
    record = registry_changes(target.state, categories)
    if record is None or not target.update(record):
        return []
    return [target]


class TaskService(Service):
    def __init__(self, services: Services, clock: Callable[[], date] = today) -> None:
        super().__init__(services)
        self.today = clock  # today in Asia/Shanghai (tests may fix it)

    # Naming and loading ------------------------------------------------------------------------

    @staticmethod
    def resolve(ref: str) -> str:
        """A task id from its UUID or from `DRAW/IDENTIFIER` (the draw by id or label)."""
        ref = ref.strip()
        try:
            return str(UUID(ref))
        except ValueError:
            pass
        draw_ref, _, identifier = ref.rpartition("/")
        draw = draw_records.resolve(draw_ref) if draw_ref else ""
        try:
            UUID(draw)
        except ValueError:
            raise ValidationError(
                f"抽查任务应写成任务编号，或 抽取/检查对象标识（如 CZ-SJJ-TZ/2026-01/第1轮/统一社会"
                f"信用代码），实际为“{ref}”",
                f"a task is its id, or DRAW/IDENTIFIER (e.g. CZ-SJJ-TZ/2026-01/第1轮/USCC), "
                f"got {ref!r}",
            ) from None
        return str(task_id(draw, identifier.strip()))

    def row(self, ref: str, at_seq: int | None = None) -> dict[str, Any]:
        """The task's read-model row (brought up to date), or NotFoundError."""
        key = self.resolve(ref)
        if at_seq is None:
            self.s.refresh()
        row = self.s.draw_queries.get("tasks", [key], at_seq=at_seq)
        if row is None:
            raise NotFoundError(f"抽查任务 {ref} 不存在", f"task {ref} not found")
        return row

    def _found(self, key: UUID) -> Task | None:
        """The task's aggregate, None before the target is notified."""
        try:
            found: object = self.s.ledger.repository.get(key)
        except AggregateNotFoundError:
            return None
        if not isinstance(found, Task):  # another aggregate's id
            raise NotFoundError(f"抽查任务 {key} 不存在", f"task {key} not found")
        return found

    def task(self, ref: str) -> Task:
        """The task's aggregate (it exists once the target is notified)."""
        key = UUID(self.resolve(ref))
        found = self._found(key)
        if found is None:
            row = self.row(str(key))
            raise ConflictError(
                f"抽查任务状态为“{STATUS_LABELS_ZH[TaskStatus(row['status'])]}”：尚未通知检查对象",
                f"the task is {row['status']}: the target has not been notified yet",
            )
        return found

    def _draw(self, draw_id: str) -> Draw:
        return self._get(Draw, UUID(draw_id), f"抽取 {draw_id}")

    def _load(
        self, principal: Principal, ref: str, command: Command, doing_zh: str, doing_en: str
    ) -> tuple[Task, Actor]:
        """The task and the actor, authorised for the task's departments. A drawn target not
        yet notified is a conflict (after authorisation, so a stranger learns nothing)."""
        key = UUID(self.resolve(ref))
        found = self._found(key)
        if found is None:
            row = self.row(str(key))
            self.s.authorise(principal, command, row["departments"])
            status = TaskStatus(row["status"])
            raise ConflictError(
                f"抽查任务状态为“{STATUS_LABELS_ZH[status]}”（尚未通知检查对象），不能{doing_zh}",
                f"the task is {status.value} (the target is not notified yet): cannot {doing_en}",
            )
        return found, self.s.authorise(principal, command, found.departments)

    def team(self, task: Task) -> list[str]:
        """The inspectors of the task's current team (after recusals), from the tasks read
        model: the same answer as the draw's `current_team`, without rebuilding the draw."""
        return list(self.row(str(task.id))["inspectors"])

    def require_member(
        self, principal: Principal, task: Task, command: Command, doing_zh: str, doing_en: str
    ) -> tuple[str, list[str]]:
        """The principal's certificate, if it is on the task's current team, and the team's
        inspectors; else Forbidden, recorded."""
        team = self.team(task)
        certificate_no = principal.certificate_no
        if certificate_no is None or certificate_no not in team:
            refused = Forbidden(
                f"只有本任务检查组的执法检查人员（{'、'.join(team)}）才能{doing_zh}；用户 "
                f"{principal.username} 关联的执法证号为 {certificate_no or '（未关联）'}",
                f"only an inspector on the task's team ({', '.join(team)}) may {doing_en}; user "
                f"{principal.username} is linked to {certificate_no or 'no certificate'}",
            )
            self.s.record_refusal(principal, command, task.departments, refused)
            raise refused
        return certificate_no, team

    # Notification ------------------------------------------------------------------------------

    def notify(self, principal: Principal, ref: str, on: str | None = None, how: str = "") -> Task:
        """The target is notified: the task begins, with what its draw fixed."""
        key = self.resolve(ref)
        row = self.row(key)
        draw = self._draw(row["draw_id"])
        facts = draw.committed
        actor = self.s.authorise(principal, Command.MANAGE_TASKS, list(facts.departments))
        if (
            draw.status is not DrawStatus.REVEALED
            or str(task_id(draw.id, row["identifier"])) != key
        ):
            raise ConflictError(
                "读模型与账本中的抽取不一致：请先运行 `ssj projections rebuild`",
                "the read model disagrees with the draw in the ledger: rebuild projections",
            )
        draw.current_team(row["identifier"])  # drawn in this draw (else ValidationError)
        existing = self._found(UUID(key))
        if existing is not None:
            status = existing.status
            raise ConflictError(
                f"抽查任务状态为“{STATUS_LABELS_ZH[status]}”，检查对象已通知",
                f"the task is {status.value}: the target is already notified",
            )
        task = Task.notify(
            draw_id=str(draw.id),
            plan_id=draw.plan_id,
            identifier=row["identifier"],
            departments=list(facts.departments),
            items=draw.facts["items"],  # as stored: the task records the draw's own mapping
            drawn_on=facts.drawn_on,
            on=on or self.today().isoformat(),
            how=how,
            today=self.today(),
        )
        self._save(actor, task)
        return task

    # Results -----------------------------------------------------------------------------------

    def _check_method(self, key: str, method: object) -> None:
        """The method must be one the item list gives for the item (一单); the read models are
        current: `require_member` has just read the task's row."""
        chosen = fields.choice("method", method, Method, METHOD_LABELS)
        department, _, code = key.partition("/")
        item = self.s.queries.get("items", [department, code])
        allowed = list(item.get("methods") or ()) if item else []
        if allowed and chosen.value not in allowed:
            names = "、".join(METHOD_NAMES_ZH.get(Method(m), m) for m in allowed)
            raise fields.FieldError(
                "method",
                f"事项 {key} 的检查方式为 {names}，不含“{METHOD_NAMES_ZH[chosen]}”",
                f"item {key} is inspected by {', '.join(allowed)}, not {chosen.value}",
            )

    def draft_result(
        self,
        principal: Principal,
        ref: str,
        item: str,
        *,
        method: str,
        inspected_on: str | None,
        findings: str,
        evidence: Iterable[str] | str | None,
        category: str,
    ) -> tuple[Task, Outcome]:
        """A team member's result for one item: the first of its two sign-offs ("unchanged":
        the same draft by the same member is on record already, nothing written)."""
        doing = ("录入检查结果", "record a result")
        task, actor = self._load(principal, ref, Command.RECORD_RESULTS, *doing)
        certificate_no, _ = self.require_member(principal, task, Command.RECORD_RESULTS, *doing)
        key = task.check_draftable(item)
        self._check_method(key, method)
        new = task.draft_result(
            item=key,
            method=method,
            inspected_on=inspected_on or self.today().isoformat(),
            findings=findings,
            evidence=evidence,
            category=category,
            drafted_by=certificate_no,
            today=self.today(),
        )
        if not new:
            return task, "unchanged"
        self._save(actor, task)
        return task, "created"

    def sign_result(self, principal: Principal, ref: str, item: str) -> Task:
        """The second sign-off, by another member of the team."""
        doing = ("签署检查结果", "sign a result")
        task, actor = self._load(principal, ref, Command.RECORD_RESULTS, *doing)
        certificate_no, team = self.require_member(principal, task, Command.RECORD_RESULTS, *doing)
        key, draft = task.draft_of(item)
        if draft["drafted_by"] not in team:
            raise ConflictError(
                f"起草人 {draft['drafted_by']} 已不在检查组中：事项 {key} 的结果须由现检查组成员重新起草",
                f"the drafter {draft['drafted_by']} is no longer on the team: a current member "
                f"must redraft the result for {key}",
            )
        task.sign_result(key, certificate_no)
        self._save(actor, task)
        return task

    def complete(self, principal: Principal, ref: str, completed_on: str | None = None) -> Task:
        """The inspection is complete (统一离场): every item's result signed by two."""
        doing = ("办结检查", "complete the inspection")
        task, actor = self._load(principal, ref, Command.RECORD_RESULTS, *doing)
        self.require_member(principal, task, Command.RECORD_RESULTS, *doing)
        task.complete(completed_on or self.today().isoformat(), self.today())
        # What the results say of the target (unreachable: abnormal-operations list;
        # deregistered) changes the registry in the same save, through the target's own events.
        categories = [r["category"] for r in task.results.values()]
        self._save(actor, task, *consequences(self, categories, task.identifier))
        return task

    # The target's say --------------------------------------------------------------------------

    def inform(self, principal: Principal, ref: str, on: str | None = None) -> Task:
        task, actor = self._load(
            principal, ref, Command.MANAGE_TASKS, "告知检查对象", "inform the target"
        )
        task.inform(on or self.today().isoformat(), self.today())
        self._save(actor, task)
        return task

    def confirm(self, principal: Principal, ref: str) -> Task:
        task, actor = self._load(
            principal, ref, Command.MANAGE_TASKS, "登记无异议", "record a confirmation"
        )
        task.confirm()
        self._save(actor, task)
        return task

    def record_objection(self, principal: Principal, ref: str, reason: str) -> Task:
        task, actor = self._load(
            principal, ref, Command.MANAGE_TASKS, "登记异议", "record an objection"
        )
        task.object_to(reason)
        self._save(actor, task)
        return task

    def decide_objection(self, principal: Principal, ref: str, upheld: bool, reason: str) -> Task:
        task, actor = self._load(
            principal, ref, Command.DECIDE_OBJECTIONS, "决定异议", "decide an objection"
        )
        task.decide_objection(upheld, reason)
        self._save(actor, task)
        return task

    # Publication (一公开) and closure ------------------------------------------------------------

    def publish(
        self,
        principal: Principal,
        ref: str,
        *,
        public_summary: str,
        redacted_fields: Iterable[str] | str | None = None,
        on: str | None = None,
    ) -> Task:
        task, actor = self._load(principal, ref, Command.MANAGE_TASKS, "公示", "publish")
        task.publish(on or self.today().isoformat(), redacted_fields, public_summary, self.today())
        self._save(actor, task)
        return task

    def withhold(self, principal: Principal, ref: str, reason: str, until_final: bool) -> Task:
        task, actor = self._load(principal, ref, Command.MANAGE_TASKS, "决定暂不公示", "withhold")
        task.withhold(reason, until_final)
        self._save(actor, task)
        return task

    def close(self, principal: Principal, ref: str, on: str | None = None) -> Task:
        task, actor = self._load(principal, ref, Command.MANAGE_TASKS, "办结", "close")
        task.close(on or self.today().isoformat(), self.today())
        self._save(actor, task)
        return task

    # Reading -----------------------------------------------------------------------------------

    def page(
        self,
        *,
        draw: str | None = None,
        status: str | None = None,
        category: str | None = None,
        identifier: str | None = None,
        involving: str | None = None,
        at_seq: int | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> Page:
        """Tasks by draw (id or label), status and result category (codes or Chinese labels),
        target, and a department taking part; the read model as of `at_seq` (else now)."""
        draw_id = None
        if draw:
            draw_id = draw_records.resolve(draw)
            try:
                UUID(draw_id)
            except ValueError:
                raise ValidationError(
                    f"抽取编号无效：{draw}", f"invalid draw id {draw!r}"
                ) from None
        filters = {
            "draw_id": draw_id,
            "status": parse_status(status).value if status else None,
            "category": parse_category(category).value if category else None,
            "identifier": identifier.strip() if identifier else None,
        }
        if at_seq is None:
            self.s.refresh()
        return task_page(
            self.s.store, filters, involving=involving, at_seq=at_seq, offset=offset, limit=limit
        )

    def events(self, ref: str) -> list[LoggedEvent]:
        """The task's events in seq order, with who recorded them and when (none before the
        target is notified)."""
        key = UUID(self.resolve(ref))
        seqs = sorted(seq for _, seq in self.s.ledger.ledger_recorder.select_seqs(key))
        return [self.s.ledger.read(seq, 1)[0] for seq in seqs]
