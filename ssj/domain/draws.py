"""A draw (随机抽取) as a seed ceremony: commit, then entropy, then reveal; or abandonment.

The Committed event fixes everything the outcome depends on (population roots, sizes, k, pools,
rules, the entropy sources to come and a hash of the server's nonce) before anyone can know the
seed. Witnesses' dice and an optional drand beacon arrive as events; the reveal records the nonce,
the seed and what it selected. The aggregate refuses any step out of order, so a draw cannot be
revealed twice, revealed after abandonment, or abandoned without a reason. Recusals (回避) after
the reveal are recorded here too, because replacements follow from the draw's own ranking.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import orjson
from eventsourcing.domain import Aggregate, event

from ssj.domain import fields, trail
from ssj.domain.tasks import task_id
from ssj.draw import seed as seeds
from ssj.draw.facts import DrawFacts, label_of
from ssj.errors import ConflictError, ValidationError

DRAW_NAMESPACE = uuid5(NAMESPACE_URL, "urn:ssj:draw")
MIN_DICE_DIGITS = 20
DICE = re.compile(r"[0-9]+")


class DrawStatus(StrEnum):
    COMMITTED = "committed"
    REVEALED = "revealed"
    ABANDONED = "abandoned"


STATUS_LABELS_ZH = {
    DrawStatus.COMMITTED: "已封存待揭示",
    DrawStatus.REVEALED: "已抽取",
    DrawStatus.ABANDONED: "已作废",
}


class RecusalKind(StrEnum):
    DECLARED = "declared"  # the inspector declares a conflict
    REQUESTED = "requested"  # the target asked, a leader approved


def draw_id(plan_id: UUID | str, round: int) -> UUID:
    """One id per (plan, round): two concurrent commits of one round cannot both succeed."""
    return uuid5(DRAW_NAMESPACE, f"{plan_id}/{round}")


def draw_label(facts: Mapping[str, Any]) -> str:
    """The label of facts as stored, read leniently (the trail and read models describe any
    stored event; `DrawFacts.label` for typed facts)."""
    plan = facts["plan"]
    return label_of(plan["department"], plan["code"], facts["round"])


def canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def commit_digest(facts: dict[str, Any]) -> str:
    """What the seed is bound to: the SHA-256 of the committed facts, canonically encoded."""
    return hashlib.sha256(canonical(facts)).hexdigest()


def parse_dice(digits: object) -> str:
    raw = fields.text("digits", digits, max_length=200).replace(" ", "")
    if not DICE.fullmatch(raw):
        raise fields.FieldError(
            "digits",
            f"骰子点数只能是十进制数字，实际为“{raw}”",
            f"dice must be decimal digits only, got {raw!r}",
        )
    return raw


class Draw(Aggregate):
    """One draw under a plan; its id follows from the plan and the round."""

    @staticmethod
    def create_id(plan_id: str, round: int, **_: Any) -> UUID:
        return draw_id(plan_id, round)

    class Committed(Aggregate.Created):
        plan_id: str
        round: int
        facts: dict[str, Any]

    @event(Committed)
    def __init__(self, plan_id: str, round: int, facts: dict[str, Any]) -> None:
        self.plan_id = plan_id
        self.round = round
        self.facts = facts
        self.status = DrawStatus.COMMITTED
        self.dice: list[tuple[str, str]] = []
        self.drand: dict[str, Any] | None = None
        self.nonce: str | None = None
        self.seed: str | None = None
        self.outcome: dict[str, Any] | None = None
        self.abandoned_reason: str | None = None
        self.recusals: list[dict[str, Any]] = []
        self.requests: dict[str, dict[str, Any]] = {}

    @property
    def committed(self) -> DrawFacts:
        """The committed facts, typed (`facts` is their stored form, hashed into the seed)."""
        return DrawFacts.of(self.facts)

    # The ceremony ------------------------------------------------------------------------------

    @property
    def witnesses(self) -> list[str]:
        return list(self.committed.entropy.witnesses)

    @property
    def drand_round(self) -> int | None:
        drand = self.committed.entropy.drand
        return None if drand is None else drand.round

    def repeats_commit(
        self, plan_version: int, witnesses: list[str], drand_round: int | None, drawn_on: str
    ) -> bool:
        """A commit with these inputs would repeat this one (a retried command): it is still
        committed — not revealed, not abandoned — under the same plan version, on the same day,
        with the same witnesses in the same order and the same drand round."""
        facts = self.committed
        return (
            self.status is DrawStatus.COMMITTED
            and facts.plan.version == plan_version
            and facts.drawn_on == drawn_on
            and self.witnesses == witnesses
            and self.drand_round == drand_round
        )

    def _require(self, status: DrawStatus, doing_zh: str, doing_en: str) -> None:
        if self.status is not status:
            raise ConflictError(
                f"本次抽取状态为“{STATUS_LABELS_ZH[self.status]}”，不能{doing_zh}",
                f"the draw is {self.status.value}: cannot {doing_en}",
            )

    def record_dice(self, witness: str, digits: str) -> None:
        self._require(DrawStatus.COMMITTED, "录入骰子点数", "record dice")
        witness = fields.text("witness", witness, max_length=100)
        if witness not in self.witnesses:
            raise ValidationError(
                f"见证人“{witness}”不在封存时登记的名单中：{'、'.join(self.witnesses)}",
                f"witness {witness!r} was not named at commit: {', '.join(self.witnesses)}",
            )
        if any(w == witness for w, _ in self.dice):
            raise ConflictError(
                f"见证人“{witness}”已录入点数", f"witness {witness!r} has already given dice"
            )
        self._dice_recorded(witness=witness, digits=parse_dice(digits))

    class DiceRecorded(Aggregate.Event):
        witness: str
        digits: str

    @event(DiceRecorded)
    def _dice_recorded(self, witness: str, digits: str) -> None:
        self.dice.append((witness, digits))

    def record_drand(self, beacon: dict[str, Any], bls_verified: bool) -> None:
        self._require(DrawStatus.COMMITTED, "录入 drand 随机数", "record a drand beacon")
        if self.drand_round is None:
            raise ValidationError(
                "封存时未登记 drand 轮次，不能录入", "no drand round was named at commit"
            )
        if self.drand is not None:
            raise ConflictError("drand 随机数已录入", "the drand beacon is already recorded")
        if int(beacon["round"]) != self.drand_round:
            raise ValidationError(
                f"drand 轮次应为 {self.drand_round}，实际为 {beacon['round']}",
                f"the drand round must be {self.drand_round}, got {beacon['round']}",
            )
        self._drand_recorded(beacon=beacon, bls_verified=bls_verified)

    class DrandRecorded(Aggregate.Event):
        beacon: dict[str, Any]
        bls_verified: bool

    @event(DrandRecorded)
    def _drand_recorded(self, beacon: dict[str, Any], bls_verified: bool) -> None:
        self.drand = {**beacon, "bls_verified": bls_verified}

    def entropy_missing(self) -> list[str]:
        """What the reveal still waits for, in words officials read."""
        missing = [f"见证人“{w}”的骰子点数" for w in self.witnesses if w not in dict(self.dice)]
        digits = sum(len(d) for _, d in self.dice)
        if not missing and digits < MIN_DICE_DIGITS:
            missing.append(f"骰子点数合计至少 {MIN_DICE_DIGITS} 位（现有 {digits} 位）")
        if self.drand_round is not None and self.drand is None:
            missing.append(f"drand 第 {self.drand_round} 轮随机数")
        return missing

    def seed_for(self, nonce: str) -> str:
        """The seed the recorded inputs give with `nonce` (checked against the commitment)."""
        missing = self.entropy_missing()
        if missing:
            raise ConflictError(
                "熵源尚未齐备，不能揭示：" + "；".join(missing),
                f"entropy incomplete, cannot reveal: {len(missing)} input(s) missing",
            )
        try:
            committed = seeds.nonce_commitment(nonce) == self.committed.nonce_commitment
        except ValueError:
            committed = False
        if not committed:
            raise ValidationError(
                "服务器随机数与封存时的承诺不符", "the server nonce does not match its commitment"
            )
        ordered = [(w, dict(self.dice)[w]) for w in self.witnesses]
        randomness = None if self.drand is None else str(self.drand["randomness"])
        return seeds.draw_seed(str(self.id), commit_digest(self.facts), nonce, ordered, randomness)

    def check_revealable(self) -> None:
        """Before any work: only a committed draw can be revealed (once)."""
        self._require(DrawStatus.COMMITTED, "揭示", "reveal")

    def reveal(self, nonce: str, seed: str, outcome: dict[str, Any]) -> None:
        """Record the seed and what it selected; the service computed `outcome` from it."""
        self.check_revealable()
        if seed != self.seed_for(nonce):
            raise ValidationError(
                "种子与记录的输入不符", "the seed does not follow from the inputs"
            )
        self._revealed(nonce=nonce, seed=seed, outcome=outcome)

    class Revealed(Aggregate.Event):
        nonce: str
        seed: str
        outcome: dict[str, Any]

    @event(Revealed)
    def _revealed(self, nonce: str, seed: str, outcome: dict[str, Any]) -> None:
        self.nonce = nonce
        self.seed = seed
        self.outcome = outcome
        self.status = DrawStatus.REVEALED

    def abandon(self, reason: str) -> None:
        self._require(DrawStatus.COMMITTED, "作废", "abandon")
        self._abandoned(reason=fields.prose("reason", reason))

    class Abandoned(Aggregate.Event):
        reason: str

    @event(Abandoned)
    def _abandoned(self, reason: str) -> None:
        self.abandoned_reason = reason
        self.status = DrawStatus.ABANDONED

    # Recusal (回避) -----------------------------------------------------------------------------

    def current_team(self, target: str) -> dict[str, list[str]]:
        """A drawn target's team after every recusal, inspectors and experts apart."""
        if self.outcome is None or target not in self.outcome["teams"]:
            raise ValidationError(
                f"{target} 不是本次抽取的检查对象", f"{target} was not drawn in this draw"
            )
        drawn = self.outcome["teams"][target]
        team = {role: list(drawn[role]) for role in ("inspectors", "experts")}
        for r in self.recusals:
            if r["target"] != target:
                continue
            for members in team.values():
                if r["certificate_no"] in members:
                    members[members.index(r["certificate_no"])] = r["replacement"]
        return team

    def team_of(self, target: str) -> list[str]:
        """Everyone on a drawn target's current team."""
        team = self.current_team(target)
        return [*team["inspectors"], *team["experts"]]

    def recused_from(self, target: str) -> list[str]:
        return [r["certificate_no"] for r in self.recusals if r["target"] == target]

    def _check_member(self, target: str, certificate_no: str) -> None:
        self._require(DrawStatus.REVEALED, "回避", "recuse")
        if certificate_no not in self.team_of(target):
            raise ValidationError(
                f"{certificate_no} 不在 {target} 的检查组中",
                f"{certificate_no} is not on the team for {target}",
            )

    def recuse(self, target: str, certificate_no: str, reason: str, replacement: str) -> None:
        """An inspector's own declaration: recused at once, replaced by the next ranked."""
        self._check_member(target, certificate_no)
        self._recused(
            target=target,
            certificate_no=certificate_no,
            kind=RecusalKind.DECLARED.value,
            reason=fields.prose("reason", reason),
            request_id=None,
            replacement=replacement,
        )

    def request_recusal(self, target: str, certificate_no: str, reason: str) -> tuple[str, bool]:
        """A target's request, on file until a leader decides it: its id, and False if the same
        request (target, inspector, reason) is on file undecided already (nothing recorded)."""
        why = fields.prose("reason", reason)
        for request_id, request in self.requests.items():
            same = (request["target"], request["certificate_no"], request["reason"])
            if request["decision"] is None and same == (target, certificate_no, why):
                return request_id, False
        self._check_member(target, certificate_no)
        request_id = f"{len(self.requests) + 1}"
        self._recusal_requested(
            request_id=request_id, target=target, certificate_no=certificate_no, reason=why
        )
        return request_id, True

    class RecusalRequested(Aggregate.Event):
        request_id: str
        target: str
        certificate_no: str
        reason: str

    @event(RecusalRequested)
    def _recusal_requested(
        self, request_id: str, target: str, certificate_no: str, reason: str
    ) -> None:
        self.requests[request_id] = {
            "target": target,
            "certificate_no": certificate_no,
            "reason": reason,
            "decision": None,
        }

    def pending_request(self, request_id: str) -> dict[str, Any]:
        request = self.requests.get(request_id)
        if request is None:
            raise ValidationError(
                f"回避申请 {request_id} 不存在", f"no recusal request {request_id}"
            )
        if request["decision"] is not None:
            raise ConflictError(
                f"回避申请 {request_id} 已决定", f"recusal request {request_id} is decided"
            )
        return request

    def decide_recusal(
        self, request_id: str, approved: bool, reason: str, replacement: str | None
    ) -> None:
        request = self.pending_request(request_id)
        reason = fields.prose("reason", reason)
        self._recusal_decided(request_id=request_id, approved=approved, reason=reason)
        if approved:
            assert replacement is not None
            self._recused(
                target=request["target"],
                certificate_no=request["certificate_no"],
                kind=RecusalKind.REQUESTED.value,
                reason=request["reason"],
                request_id=request_id,
                replacement=replacement,
            )

    class RecusalDecided(Aggregate.Event):
        request_id: str
        approved: bool
        reason: str

    @event(RecusalDecided)
    def _recusal_decided(self, request_id: str, approved: bool, reason: str) -> None:
        self.requests[request_id]["decision"] = {"approved": approved, "reason": reason}

    class Recused(Aggregate.Event):
        target: str
        certificate_no: str
        kind: str
        reason: str
        request_id: str | None
        replacement: str

    @event(Recused)
    def _recused(
        self,
        target: str,
        certificate_no: str,
        kind: str,
        reason: str,
        request_id: str | None,
        replacement: str,
    ) -> None:
        self.recusals.append(
            {
                "target": target,
                "certificate_no": certificate_no,
                "kind": kind,
                "reason": reason,
                "request_id": request_id,
                "replacement": replacement,
            }
        )


# The audit trail (全程留痕): what a draw's events say -----------------------------------------


@trail.describes(Draw.Committed)
def _trail_committed(event: Any, recall: trail.Recall) -> trail.Described:
    oid = trail.originator(event)
    facts = trail.attr(event, "facts") or {}
    plan = facts.get("plan") or {}
    department, code = str(plan.get("department", "")), str(plan.get("code", ""))
    label = draw_label(facts) if plan and "round" in facts else oid
    draw, plan_subject = (trail.DRAW, oid), (trail.PLAN, f"{department}/{code}")
    items = [
        (trail.ITEM, f"{d}/{c}") for d, codes in (facts.get("items") or {}).items() for c in codes
    ]
    strata = facts.get("strata") or []
    size = sum(int(s.get("size", 0)) for s in strata)
    k = sum(int(s.get("k", 0)) for s in strata)
    witnesses = "、".join((facts.get("entropy") or {}).get("witnesses") or [])
    summary = (
        f"封存抽取 {label}（{facts.get('drawn_on', '')}）：总体 {size} 个，应抽 {k} 个，"
        f"见证人 {witnesses or '无'}，名录截至账本序号 {facts.get('as_of_seq', '')}"
    )
    departments = trail.departments_of(facts.get("departments") or [department])
    return trail.Described(
        "Draw.Committed",
        "封存抽取",
        summary,
        trail.unique([draw, plan_subject, *items]),
        notes={i: f"抽取 {label} 使用本事项：{summary}" for i in items},
        remember={
            oid: {
                "subjects": [draw, plan_subject],
                "label": label,
                "departments": list(departments),
                "requests": {},
            }
        },
        departments={draw: departments},
    )


def _recalled(event: Any, recall: trail.Recall) -> tuple[trail.Memo, list[trail.Subject], str]:
    """What the trail remembers of the draw: its memo, subjects and label."""
    oid = trail.originator(event)
    memo = recall(oid) or {}
    return memo, trail.memo_subjects(memo), memo.get("label", oid)


@trail.describes(Draw.DiceRecorded)
def _trail_dice(event: Any, recall: trail.Recall) -> trail.Described:
    _, subjects, label = _recalled(event, recall)
    return trail.Described(
        "Draw.DiceRecorded",
        "录入骰子点数",
        f"抽取 {label}：见证人“{trail.attr(event, 'witness', '')}”录入骰子点数 "
        f"{trail.attr(event, 'digits', '')}",
        tuple(subjects),
    )


@trail.describes(Draw.DrandRecorded)
def _trail_drand(event: Any, recall: trail.Recall) -> trail.Described:
    _, subjects, label = _recalled(event, recall)
    beacon = trail.attr(event, "beacon") or {}
    checked = "已验证 BLS 签名" if trail.attr(event, "bls_verified") else "BLS 签名未验证"
    return trail.Described(
        "Draw.DrandRecorded",
        "录入 drand 随机数",
        f"抽取 {label}：录入 drand 第 {beacon.get('round', '')} 轮随机数（{checked}）",
        tuple(subjects),
    )


@trail.describes(Draw.Abandoned)
def _trail_abandoned(event: Any, recall: trail.Recall) -> trail.Described:
    _, subjects, label = _recalled(event, recall)
    return trail.Described(
        "Draw.Abandoned",
        "作废抽取",
        f"作废抽取 {label}，理由：{trail.attr(event, 'reason', '')}",
        tuple(subjects),
    )


@trail.describes(Draw.Revealed)
def _trail_revealed(event: Any, recall: trail.Recall) -> trail.Described:
    """The drawn targets, their tasks and teams join the trail; each task remembers its team."""
    memo, subjects, label = _recalled(event, recall)
    oid = trail.originator(event)
    outcome = trail.attr(event, "outcome") or {}
    teams: Mapping[str, Any] = outcome.get("teams") or {}
    drawn = [i for s in outcome.get("strata") or [] for i in s.get("sample") or []]
    seed = str(trail.attr(event, "seed", ""))
    summary = f"揭示抽取 {label}：种子 {seed[:16]}…，抽中 {len(drawn)} 个检查对象"
    departments = tuple(memo.get("departments") or ())
    found: list[trail.Subject] = list(subjects)
    notes: dict[trail.Subject, str] = {}
    remember: dict[str, trail.Memo] = {}
    task_departments: dict[trail.Subject, tuple[str, ...]] = {}
    for identifier in drawn:
        team_of = teams.get(identifier) or {}
        team = [*team_of.get("inspectors", []), *team_of.get("experts", [])]
        task_uuid = str(task_id(oid, identifier))
        target, task = (trail.TARGET, identifier), (trail.TASK, task_uuid)
        members = "、".join(team) or "无"
        notes[target] = f"在抽取 {label} 中被抽中（任务 {task_uuid}），检查组：{members}"
        notes[task] = f"抽取 {label} 抽中检查对象 {identifier}，检查组：{members}"
        for member in team:
            notes[(trail.INSPECTOR, member)] = (
                f"被抽入检查对象 {identifier} 的检查组（抽取 {label}）"
            )
        found += [target, task, *((trail.INSPECTOR, m) for m in team)]
        remember[task_uuid] = {
            "subjects": [task, target],
            "draw": oid,
            "identifier": identifier,
            "team": team,
        }
        task_departments[task] = departments
    return trail.Described(
        "Draw.Revealed",
        "揭示抽取",
        summary,
        trail.unique(found),
        notes=notes,
        remember=remember,
        departments=task_departments,
    )


@trail.describes(Draw.RecusalRequested, Draw.RecusalDecided, Draw.Recused)
def _trail_recusal(event: Any, recall: trail.Recall) -> trail.Described:
    """A recusal concerns the draw, the target, its task and the inspector; a replacement joins
    the task's team (kept by the task's memo: the caller merges, see `trail.merge_memo`)."""
    memo, subjects, label = _recalled(event, recall)
    oid = trail.originator(event)
    requests: dict[str, Any] = dict(memo.get("requests") or {})
    request_id = str(trail.attr(event, "request_id") or "")
    if isinstance(event, Draw.RecusalDecided):
        request = requests.get(request_id) or {}
        identifier, certificate = request.get("target", ""), request.get("certificate_no", "")
    else:
        identifier = str(trail.attr(event, "target", ""))
        certificate = str(trail.attr(event, "certificate_no", ""))
    task = (trail.TASK, str(task_id(oid, identifier))) if identifier else (trail.TASK, "")
    involved = [*subjects, (trail.TARGET, identifier), task, (trail.INSPECTOR, certificate)]
    remember: dict[str, trail.Memo] = {}
    notes: dict[trail.Subject, str] = {}
    if isinstance(event, Draw.RecusalRequested):
        requests[request_id] = {"target": identifier, "certificate_no": certificate}
        remember[oid] = {**memo, "requests": requests}
        return trail.Described(
            "Draw.RecusalRequested",
            "申请回避",
            f"抽取 {label}：检查对象 {identifier} 申请执法人员 {certificate} 回避（申请 "
            f"{request_id}），理由：{trail.attr(event, 'reason', '')}",
            trail.unique(involved),
            remember=remember,
        )
    if isinstance(event, Draw.RecusalDecided):
        verdict = "批准" if trail.attr(event, "approved") else "不批准"
        return trail.Described(
            "Draw.RecusalDecided",
            "决定回避申请",
            f"抽取 {label}：回避申请 {request_id}（检查对象 {identifier}，执法人员 {certificate}）"
            f"决定{verdict}，理由：{trail.attr(event, 'reason', '')}",
            trail.unique(involved),
        )
    replacement = str(trail.attr(event, "replacement", ""))
    how = "检查对象申请、领导批准" if trail.attr(event, "kind") == "requested" else "本人申明"
    summary = (
        f"抽取 {label}：执法人员 {certificate} 回避检查对象 {identifier}（{how}），由 "
        f"{replacement} 替补，理由：{trail.attr(event, 'reason', '')}"
    )
    notes[(trail.INSPECTOR, replacement)] = (
        f"替补 {certificate} 进入检查对象 {identifier} 的检查组（抽取 {label}）"
    )
    if task[1]:
        task_memo = {
            "subjects": [task, (trail.TARGET, identifier)],
            "draw": oid,
            "identifier": identifier,
        }
        # the team itself is kept by the task's memo: the caller merges (see `merge_memo`)
        remember[task[1]] = {**task_memo, "replace": [certificate, replacement]}
    return trail.Described(
        "Draw.Recused",
        "回避",
        summary,
        trail.unique([*involved, (trail.INSPECTOR, replacement)]),
        notes=notes,
        remember=remember,
    )
