"""The audit trail (全程留痕): which business subjects a domain event concerns, in officials' words.

A pure mapping, no I/O. `describe(event, recall)` says, for one domain event, the subjects it
concerns — `(kind, id)` with the business id officials use (a target's USCC or other identifier,
an inspector's certificate number, an item or plan as `DEPT/CODE`, a draw's or task's id, a
username) — and a short Chinese summary. Most events after an aggregate's first carry no business
id, only the aggregate's UUID, so the mapping remembers per aggregate what it learnt (`memos`,
returned in `Described.remember`) and is given them back through `recall`: the read model keeps
them in a table, a replay in a dict (`Replay`). Folding the ledger from seq 0 through
`describe` is therefore the definition of the trail; the projection is a cache of it.

An event of an unknown class maps to no subject and does not fail: the ledger outlives code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from ssj.domain import followup as followup_domain
from ssj.domain import inspectors as inspectors_domain
from ssj.domain import items as items_domain
from ssj.domain import plans as plans_domain
from ssj.domain import subscribers as subscribers_domain
from ssj.domain import targets as targets_domain
from ssj.domain import tasks as tasks_domain
from ssj.domain.draws import draw_label
from ssj.domain.tasks import task_id as make_task_id

TARGET, INSPECTOR, ITEM, PLAN, DRAW, TASK, USER, SUBSCRIBER = (
    "target",
    "inspector",
    "item",
    "plan",
    "draw",
    "task",
    "user",
    "subscriber",
)
KINDS = (TARGET, INSPECTOR, ITEM, PLAN, DRAW, TASK, USER, SUBSCRIBER)
KIND_LABELS_ZH = {
    TARGET: "检查对象",
    INSPECTOR: "执法检查人员",
    ITEM: "抽查事项",
    PLAN: "抽查计划",
    DRAW: "抽取",
    TASK: "抽查任务",
    USER: "用户",
    SUBSCRIBER: "接收平台",
}

Subject = tuple[str, str]  # (kind, business id)
Memo = dict[str, Any]  # what is remembered of one aggregate (JSON-ready)
Recall = Callable[[str], Memo | None]

MAX_VALUE = 60  # characters of a changed value shown in a summary
BEIJING = timezone(timedelta(hours=8))


@dataclass(frozen=True)
class Described:
    """One event as the trail shows it."""

    kind: str  # the event class, `Aggregate.Event` (English)
    kind_zh: str  # its short Chinese name
    summary: str  # the Chinese summary shown for every subject without its own note
    subjects: tuple[Subject, ...] = ()
    notes: Mapping[Subject, str] = field(default_factory=dict)  # per-subject summaries
    remember: Mapping[str, Memo] = field(default_factory=dict)  # originator id -> new memo
    departments: Mapping[Subject, tuple[str, ...]] = field(default_factory=dict)

    def summary_for(self, subject: Subject) -> str:
        return self.notes.get(subject, self.summary)


def kind_of(event: Any) -> str:
    """`Target.Registered`: the event's class as the aggregate names it."""
    return type(event).__qualname__


def _unique(subjects: Iterable[Subject]) -> tuple[Subject, ...]:
    return tuple(dict.fromkeys(s for s in subjects if s[1]))


def _text(value: Any) -> str:
    if value is None or value == "" or value == [] or value == {}:
        return "（空）"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, (list, tuple)):
        shown = "、".join(str(v) for v in value)
    elif isinstance(value, dict):
        shown = "；".join(f"{k}: {_text(v)}" for k, v in value.items())
    else:
        shown = str(value)
    return shown if len(shown) <= MAX_VALUE else shown[: MAX_VALUE - 1] + "…"


# Chinese names of coded values that summaries show (the code follows in brackets).
VALUE_LABELS_ZH: dict[str, dict[str, str]] = {
    "status": {
        "active": "存续/在岗",
        "deregistered": "注销",
        "abnormal": "经营异常名录",
        "serious_violation": "严重违法失信名单",
        "suspended": "暂停执法",
        "on_leave": "休假",
        "transferred": "调离",
        "retired": "退休",
    },
    "target_type": {v.value: k for k, v in targets_domain.TARGET_TYPE_LABELS.items()},
    "credit_class": {c: f"{c} 类" for c in "ABCD"},
    "pool": {"inspector": "执法检查人员", "expert": "专家"},
    "kind": {"annual": "年度", "monthly": "月度"},
}


def _value(name: str, value: Any) -> str:
    label = VALUE_LABELS_ZH.get(name, {}).get(str(value)) if isinstance(value, str) else None
    return f"{label}（{value}）" if label else _text(value)


def _changes(changes: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    shown = (f"{labels.get(k, k)}改为“{_value(k, v)}”" for k, v in changes.items())
    return "；".join(shown) or "无"


def _get(event: Any, name: str, default: Any = None) -> Any:
    return getattr(event, name, default)


def _oid(event: Any) -> str:
    return str(_get(event, "originator_id", ""))


def _memo_subjects(memo: Memo | None) -> list[Subject]:
    return [(str(k), str(i)) for k, i in (memo or {}).get("subjects", [])]


def _departments(*values: Any) -> tuple[str, ...]:
    found: list[str] = []
    for value in values:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, Iterable):
            found.extend(str(v) for v in value)
    return tuple(dict.fromkeys(d for d in found if d))


# Registries -------------------------------------------------------------------------------------


def _target(event: Any, recall: Recall, name: str) -> Described:
    oid = _oid(event)
    if name == "Registered":
        state = _get(event, "state") or {}
        subject = (TARGET, str(_get(event, "identifier", "")))
        status = state.get("status")
        return Described(
            "Target.Registered",
            "登记检查对象",
            f"登记检查对象“{state.get('name', '')}”（{subject[1]}），责任部门 "
            f"{state.get('department', '')}，信用风险分类 {state.get('credit_class', '')} 类，"
            f"状态 {_value('status', status)}{_extra(state)}",
            (subject,),
            remember={oid: {"subjects": [subject]}},
            departments={subject: _departments(state.get("department"))},
        )
    return _record_changed(event, recall, f"Target.{name}", "变更检查对象", targets_domain)


def _extra(state: Mapping[str, Any]) -> str:
    """Columns of the imported file that no field holds, kept with the record (issue #11)."""
    extra = state.get("extra") or {}
    if not extra:
        return ""
    return "；原文件其他列：" + "；".join(f"{k}：{v}" for k, v in extra.items())


def _inspector(event: Any, recall: Recall, name: str) -> Described:
    oid = _oid(event)
    if name == "Registered":
        state = _get(event, "state") or {}
        subject = (INSPECTOR, str(_get(event, "certificate_no", "")))
        pool = "专家" if state.get("pool") == "expert" else "执法检查人员"
        return Described(
            "Inspector.Registered",
            "登记执法检查人员",
            f"登记{pool}“{state.get('name', '')}”（执法证号 {subject[1]}），所属部门 "
            f"{state.get('department', '')}，证件有效期 {state.get('certificate_valid_from') or ''}"
            f" 至 {state.get('certificate_valid_to') or '（未知，不参与抽取）'}{_extra(state)}",
            (subject,),
            remember={oid: {"subjects": [subject]}},
            departments={subject: _departments(state.get("department"))},
        )
    return _record_changed(
        event, recall, f"Inspector.{name}", "变更执法检查人员", inspectors_domain
    )


def _record_changed(event: Any, recall: Recall, kind: str, kind_zh: str, domain: Any) -> Described:
    """A registry record's changed fields (targets and inspectors record them alike); a new
    department changes who may read the subject's trail."""
    subjects = _memo_subjects(recall(_oid(event)))
    changes = _get(event, "changes") or {}
    departments = {}
    if "department" in changes:
        departments = {s: _departments(changes["department"]) for s in subjects}
    return Described(
        kind,
        kind_zh,
        f"{kind_zh}：{_changes(changes, domain.TRAIL_LABELS)}",
        tuple(subjects),
        departments=departments,
    )


def _item(event: Any, recall: Recall, name: str) -> Described:
    oid = _oid(event)
    if name == "Published":
        state = _get(event, "state") or {}
        department = str(_get(event, "department", ""))
        subject = (ITEM, f"{department}/{_get(event, 'code', '')}")
        departments = _departments(department, state.get("cooperating_departments") or [])
        return Described(
            "Item.Published",
            "发布抽查事项",
            f"发布抽查事项“{state.get('name', '')}”（{subject[1]}），抽查比例 "
            f"{state.get('default_ratio', '')}%",
            (subject,),
            remember={oid: {"subjects": [subject], "department": department}},
            departments={subject: departments},
        )
    memo = recall(oid)
    subjects = _memo_subjects(memo)
    if name == "Amended":
        changes = _get(event, "changes") or {}
        amended: dict[Subject, tuple[str, ...]] = {}
        if "cooperating_departments" in changes:
            lead = (memo or {}).get("department", "")
            every = _departments(lead, changes["cooperating_departments"] or [])
            amended = {s: every for s in subjects}
        return Described(
            "Item.Amended",
            "修订抽查事项",
            f"修订抽查事项：{_changes(changes, items_domain.TRAIL_LABELS)}",
            tuple(subjects),
            departments=amended,
        )
    if name == "Retired":
        return Described(
            "Item.Retired",
            "废止抽查事项",
            f"废止抽查事项，理由：{_get(event, 'reason', '')}",
            tuple(subjects),
        )
    return _unknown(event)


def _user(event: Any, recall: Recall, name: str) -> Described:
    oid = _oid(event)
    if name == "Registered":
        subject = (USER, str(_get(event, "username", "")))
        roles = "、".join(_get(event, "roles") or [])
        return Described(
            "User.Registered",
            "登记用户",
            f"登记用户 {subject[1]}（{_get(event, 'name', '')}），部门 "
            f"{_get(event, 'department', '')}，角色 {roles}",
            (subject,),
            remember={oid: {"subjects": [subject]}},
            departments={subject: _departments(_get(event, "department"))},
        )
    subjects = _memo_subjects(recall(oid))
    if name == "RolesSet":
        roles = "、".join(_get(event, "roles") or [])
        return Described("User.RolesSet", "设置角色", f"角色改为 {roles}", tuple(subjects))
    if name == "CertificateLinked":
        certificate = str(_get(event, "certificate_no", ""))
        users = "、".join(i for _, i in subjects)
        inspector = (INSPECTOR, certificate)
        return Described(
            "User.CertificateLinked",
            "关联执法证",
            f"用户 {users} 关联执法证号 {certificate}",
            _unique([*subjects, inspector]),
            notes={inspector: f"执法证号 {certificate} 关联到用户 {users}"},
        )
    if name == "Deactivated":
        return Described(
            "User.Deactivated",
            "停用用户",
            f"停用用户，理由：{_get(event, 'reason', '')}",
            tuple(subjects),
        )
    return _unknown(event)


def _token(event: Any, recall: Recall, name: str) -> Described:
    oid = _oid(event)
    if name == "Issued":
        subject = (USER, str(_get(event, "username", "")))
        return Described(
            "ApiToken.Issued",
            "签发令牌",
            f"为用户 {subject[1]} 签发 API 令牌（{_get(event, 'label', '')}；账本只存其哈希）",
            (subject,),
            remember={oid: {"subjects": [subject]}},
        )
    return Described(
        f"ApiToken.{name}",
        "吊销令牌",
        f"吊销 API 令牌，理由：{_get(event, 'reason', '')}",
        tuple(_memo_subjects(recall(oid))),
    )


def _department(event: Any, recall: Recall, name: str) -> Described:
    labels = {
        "Registered": "登记部门",
        "Renamed": "部门更名",
        "Closed": "撤销部门",
        "AliasesSet": "部门别名",
    }
    detail = _get(event, "name") or _get(event, "reason") or ""
    if name == "AliasesSet":
        detail = "、".join(_get(event, "aliases") or ())
    return Described(f"Department.{name}", labels.get(name, name), f"{labels.get(name)} {detail}")


def _declaration(event: Any, recall: Recall, name: str) -> Described:
    oid = _oid(event)
    if name == "Declared":
        inspector = (INSPECTOR, str(_get(event, "certificate_no", "")))
        target = (TARGET, str(_get(event, "target_identifier", "")))
        until = _get(event, "valid_to") or "长期"
        return Described(
            "Declaration.Declared",
            "声明利害关系",
            f"声明利害关系：执法证号 {inspector[1]} 与检查对象 {target[1]}（"
            f"{_get(event, 'relation', '')}），{_get(event, 'valid_from', '')} 至 {until}，"
            f"理由：{_get(event, 'reason', '')}",
            (inspector, target),
            remember={oid: {"subjects": [inspector, target]}},
        )
    return Described(
        f"Declaration.{name}",
        "撤回利害关系声明",
        f"撤回利害关系声明，理由：{_get(event, 'reason', '')}",
        tuple(_memo_subjects(recall(oid))),
    )


def _conflict_rules(event: Any, recall: Recall, name: str) -> Described:
    rules = _get(event, "rules") or {}
    return Described(
        f"ConflictRules.{name}",
        "设置回避规则",
        f"部门 {_get(event, 'department', '')} 设置回避规则：{_text(rules)}",
    )


# Plans and draws --------------------------------------------------------------------------------


def _plan_items(
    department: str, items: Iterable[str], cooperating: Mapping[str, Any]
) -> list[Subject]:
    subjects = [(ITEM, f"{department}/{code}") for code in items]
    for other, codes in cooperating.items():
        subjects += [(ITEM, f"{other}/{code}") for code in codes or []]
    return subjects


def _plan(event: Any, recall: Recall, name: str) -> Described:
    oid = _oid(event)
    if name == "Drafted":
        state = _get(event, "state") or {}
        department = str(_get(event, "department", ""))
        subject = (PLAN, f"{department}/{_get(event, 'code', '')}")
        cooperating = state.get("cooperating") or {}
        kind = "月度" if state.get("kind") == "monthly" else "年度"
        planned = _plan_items(department, state.get("items") or [], cooperating)
        return Described(
            "Plan.Drafted",
            "起草抽查计划",
            f"起草{kind}抽查计划“{state.get('title', '')}”（{subject[1]}，{state.get('year', '')}"
            f" 年），抽查事项 {'、'.join(i for _, i in planned)}",
            _unique([subject, *planned]),
            notes={i: f"列入抽查计划 {subject[1]}“{state.get('title', '')}”" for i in planned},
            remember={oid: {"subjects": [subject], "department": department}},
            departments={subject: _departments(department, list(cooperating))},
        )
    memo = recall(oid) or {}
    subjects = _memo_subjects(memo)
    if name == "Amended":
        changes = _get(event, "changes") or {}
        reason = _get(event, "reason") or "（草稿修改）"
        department = str(memo.get("department", ""))
        items: list[Subject] = []
        departments: dict[Subject, tuple[str, ...]] = {}
        if "items" in changes or "cooperating" in changes:
            items = _plan_items(
                department, changes.get("items") or [], changes.get("cooperating") or {}
            )
        if "cooperating" in changes:
            every = _departments(department, list(changes["cooperating"] or {}))
            departments = {s: every for s in subjects}
        return Described(
            "Plan.Amended",
            "修改抽查计划",
            f"修改抽查计划（理由：{reason}），退回草稿：{_changes(changes, plans_domain.FIELD_LABELS)}",
            _unique([*subjects, *items]),
            departments=departments,
        )
    steps = {
        "Submitted": ("提交审批", ""),
        "Approved": ("批准", f"，意见：{_get(event, 'comment') or '无'}"),
        "Returned": ("退回", f"，理由：{_get(event, 'reason', '')}"),
        "Published": ("公布", ""),
        "Cancelled": ("撤销", f"，理由：{_get(event, 'reason', '')}"),
    }
    if name not in steps:
        return _unknown(event)
    zh, detail = steps[name]
    return Described(f"Plan.{name}", f"{zh}抽查计划", f"{zh}抽查计划{detail}", tuple(subjects))


def _draw(event: Any, recall: Recall, name: str) -> Described:
    oid = _oid(event)
    if name == "Committed":
        facts = _get(event, "facts") or {}
        plan = facts.get("plan") or {}
        department, code = str(plan.get("department", "")), str(plan.get("code", ""))
        label = draw_label(facts) if plan and "round" in facts else oid
        draw, plan_subject = (DRAW, oid), (PLAN, f"{department}/{code}")
        items = [
            (ITEM, f"{d}/{c}") for d, codes in (facts.get("items") or {}).items() for c in codes
        ]
        strata = facts.get("strata") or []
        size = sum(int(s.get("size", 0)) for s in strata)
        k = sum(int(s.get("k", 0)) for s in strata)
        witnesses = "、".join((facts.get("entropy") or {}).get("witnesses") or [])
        summary = (
            f"封存抽取 {label}（{facts.get('drawn_on', '')}）：总体 {size} 个，应抽 {k} 个，"
            f"见证人 {witnesses or '无'}，名录截至账本序号 {facts.get('as_of_seq', '')}"
        )
        departments = _departments(facts.get("departments") or [department])
        return Described(
            "Draw.Committed",
            "封存抽取",
            summary,
            _unique([draw, plan_subject, *items]),
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
    memo = recall(oid) or {}
    subjects = _memo_subjects(memo)
    label = memo.get("label", oid)
    if name == "DiceRecorded":
        return Described(
            "Draw.DiceRecorded",
            "录入骰子点数",
            f"抽取 {label}：见证人“{_get(event, 'witness', '')}”录入骰子点数 "
            f"{_get(event, 'digits', '')}",
            tuple(subjects),
        )
    if name == "DrandRecorded":
        beacon = _get(event, "beacon") or {}
        checked = "已验证 BLS 签名" if _get(event, "bls_verified") else "BLS 签名未验证"
        return Described(
            "Draw.DrandRecorded",
            "录入 drand 随机数",
            f"抽取 {label}：录入 drand 第 {beacon.get('round', '')} 轮随机数（{checked}）",
            tuple(subjects),
        )
    if name == "Abandoned":
        return Described(
            "Draw.Abandoned",
            "作废抽取",
            f"作废抽取 {label}，理由：{_get(event, 'reason', '')}",
            tuple(subjects),
        )
    if name == "Revealed":
        return _revealed(event, memo, subjects, label)
    if name in ("RecusalRequested", "RecusalDecided", "Recused"):
        return _recusal(event, name, memo, subjects, label)
    return _unknown(event)


def _revealed(event: Any, memo: Memo, subjects: list[Subject], label: str) -> Described:
    oid = _oid(event)
    outcome = _get(event, "outcome") or {}
    teams: Mapping[str, Any] = outcome.get("teams") or {}
    drawn = [i for s in outcome.get("strata") or [] for i in s.get("sample") or []]
    seed = str(_get(event, "seed", ""))
    summary = f"揭示抽取 {label}：种子 {seed[:16]}…，抽中 {len(drawn)} 个检查对象"
    departments = tuple(memo.get("departments") or ())
    found: list[Subject] = list(subjects)
    notes: dict[Subject, str] = {}
    remember: dict[str, Memo] = {}
    task_departments: dict[Subject, tuple[str, ...]] = {}
    for identifier in drawn:
        team_of = teams.get(identifier) or {}
        team = [*team_of.get("inspectors", []), *team_of.get("experts", [])]
        task_uuid = str(make_task_id(oid, identifier))
        target, task = (TARGET, identifier), (TASK, task_uuid)
        members = "、".join(team) or "无"
        notes[target] = f"在抽取 {label} 中被抽中（任务 {task_uuid}），检查组：{members}"
        notes[task] = f"抽取 {label} 抽中检查对象 {identifier}，检查组：{members}"
        for member in team:
            notes[(INSPECTOR, member)] = f"被抽入检查对象 {identifier} 的检查组（抽取 {label}）"
        found += [target, task, *((INSPECTOR, m) for m in team)]
        remember[task_uuid] = {
            "subjects": [task, target],
            "draw": oid,
            "identifier": identifier,
            "team": team,
        }
        task_departments[task] = departments
    return Described(
        "Draw.Revealed",
        "揭示抽取",
        summary,
        _unique(found),
        notes=notes,
        remember=remember,
        departments=task_departments,
    )


def _recusal(event: Any, name: str, memo: Memo, subjects: list[Subject], label: str) -> Described:
    oid = _oid(event)
    requests: dict[str, Any] = dict(memo.get("requests") or {})
    request_id = str(_get(event, "request_id") or "")
    if name == "RecusalDecided":
        request = requests.get(request_id) or {}
        identifier, certificate = request.get("target", ""), request.get("certificate_no", "")
    else:
        identifier = str(_get(event, "target", ""))
        certificate = str(_get(event, "certificate_no", ""))
    task = (TASK, str(make_task_id(oid, identifier))) if identifier else (TASK, "")
    involved = [*subjects, (TARGET, identifier), task, (INSPECTOR, certificate)]
    remember: dict[str, Memo] = {}
    notes: dict[Subject, str] = {}
    if name == "RecusalRequested":
        requests[request_id] = {"target": identifier, "certificate_no": certificate}
        remember[oid] = {**memo, "requests": requests}
        return Described(
            "Draw.RecusalRequested",
            "申请回避",
            f"抽取 {label}：检查对象 {identifier} 申请执法人员 {certificate} 回避（申请 "
            f"{request_id}），理由：{_get(event, 'reason', '')}",
            _unique(involved),
            remember=remember,
        )
    if name == "RecusalDecided":
        verdict = "批准" if _get(event, "approved") else "不批准"
        return Described(
            "Draw.RecusalDecided",
            "决定回避申请",
            f"抽取 {label}：回避申请 {request_id}（检查对象 {identifier}，执法人员 {certificate}）"
            f"决定{verdict}，理由：{_get(event, 'reason', '')}",
            _unique(involved),
        )
    replacement = str(_get(event, "replacement", ""))
    how = "检查对象申请、领导批准" if _get(event, "kind") == "requested" else "本人申明"
    summary = (
        f"抽取 {label}：执法人员 {certificate} 回避检查对象 {identifier}（{how}），由 "
        f"{replacement} 替补，理由：{_get(event, 'reason', '')}"
    )
    notes[(INSPECTOR, replacement)] = (
        f"替补 {certificate} 进入检查对象 {identifier} 的检查组（抽取 {label}）"
    )
    if task[1]:
        task_memo = {
            "subjects": [task, (TARGET, identifier)],
            "draw": oid,
            "identifier": identifier,
        }
        # the team itself is kept by the task's memo: the caller merges (see `merge_team`)
        remember[task[1]] = {**task_memo, "replace": [certificate, replacement]}
    return Described(
        "Draw.Recused",
        "回避",
        summary,
        _unique([*involved, (INSPECTOR, replacement)]),
        notes=notes,
        remember=remember,
    )


# Tasks and follow-up ----------------------------------------------------------------------------


def _task_subjects(memo: Memo | None) -> list[Subject]:
    team = [(INSPECTOR, m) for m in (memo or {}).get("team") or []]
    return [*_memo_subjects(memo), *team]


def _category(value: Any) -> str:
    try:
        return tasks_domain.CATEGORY_LABELS_ZH[tasks_domain.ResultCategory(value)]
    except ValueError:
        return str(value)


def _method(value: Any) -> str:
    try:
        return tasks_domain.METHOD_NAMES_ZH[items_domain.Method(value)]
    except ValueError:
        return str(value)


def _task(event: Any, recall: Recall, name: str) -> Described:
    oid = _oid(event)
    memo = recall(oid)
    if name == "Notified" and memo is None:  # a task whose reveal was not seen (never expected)
        identifier = str(_get(event, "identifier", ""))
        memo = {"subjects": [(TASK, oid), (TARGET, identifier)], "team": []}
    subjects = _task_subjects(memo)
    zh = tasks_domain.EVENT_LABELS_ZH.get(name, name)
    e = event
    details: dict[str, Callable[[], str]] = {
        "Notified": lambda: f"通知检查对象（{_get(e, 'on', '')}，{_get(e, 'how', '')}）",
        "ResultDrafted": lambda: (
            f"起草事项 {_get(e, 'item', '')} 的检查结果：{_category(_get(e, 'category'))}（"
            f"{_method(_get(e, 'method'))}，{_get(e, 'inspected_on', '')}），起草人 "
            f"{_get(e, 'drafted_by', '')}"
        ),
        "ResultSigned": lambda: (
            f"第二人签署事项 {_get(e, 'item', '')} 的检查结果：{_get(e, 'signed_by', '')}"
        ),
        "Inspected": lambda: f"检查完成（{_get(e, 'completed_on', '')}）",
        "TargetInformed": lambda: f"告知检查对象检查结果（{_get(e, 'on', '')}）",
        "Confirmed": lambda: "检查对象对结果无异议",
        "Objected": lambda: f"检查对象提出异议：{_get(e, 'reason', '')}",
        "ObjectionDecided": lambda: (
            f"异议{'成立，检查结果重新办理' if _get(e, 'upheld') else '不成立，结果维持'}，"
            f"理由：{_get(e, 'reason', '')}"
        ),
        "Published": lambda: (
            f"公示检查结果（{_get(e, 'on', '')}）"
            + (f"，隐去 {_text(_get(e, 'redacted_fields'))}" if _get(e, "redacted_fields") else "")
        ),
        "Withheld": lambda: (
            f"{'暂缓公示（待结果最终确定）' if _get(e, 'until_final') else '不予公示'}，理由："
            f"{_get(e, 'reason', '')}"
        ),
        "Closed": lambda: f"办结（{_get(e, 'on', '')}）",
    }
    if name not in details:
        return _unknown(event)
    return Described(f"Task.{name}", zh, details[name](), _unique(subjects))


def _followup(event: Any, recall: Recall, name: str) -> Described:
    oid = _oid(event)
    e = event
    zh = followup_domain.EVENT_LABELS_ZH.get(name, name)
    if name == "Opened":
        task, target = (TASK, str(_get(e, "task_id", ""))), (TARGET, str(_get(e, "identifier", "")))
        team = [(INSPECTOR, str(m)) for m in _get(e, "team") or []]
        opened = _unique([task, target, *team])
        return Described(
            "FollowUp.Opened",
            zh,
            f"开始后续处置（检查完成于 {_get(e, 'completed_on', '')}）",
            opened,
            remember={oid: {"subjects": [list(s) for s in opened]}},
        )
    subjects = _memo_subjects(recall(oid))
    to = followup_domain.REFERRAL_LABELS_ZH
    details: dict[str, Callable[[], str]] = {
        "RectificationOrdered": lambda: (
            f"责令整改（{_get(e, 'ordered_on', '')}，期限 {_get(e, 'deadline', '')}）："
            f"{_get(e, 'requirement', '')}"
        ),
        "Rechecked": lambda: (
            f"整改 {_get(e, 'rectification', '')} 复查"
            f"{'通过' if _get(e, 'passed') else '未通过'}（{_get(e, 'on', '')}，"
            f"{_get(e, 'by', '')}）"
        ),
        "Reminded": lambda: f"催告（{_get(e, 'on', '')}）：{_get(e, 'text', '')}",
        "CaseFiled": lambda: (
            f"立案处罚 {_get(e, 'case_no', '')}（决定 {_get(e, 'decided_on', '')}）"
            + (
                f"，信用风险分类由 {_get(e, 'previous_class')} 类调为 {_get(e, 'credit_class')} 类"
                if _get(e, "credit_class")
                else ""
            )
        ),
        "CasePublished": lambda: f"公示第 {_get(e, 'case', '')} 件处罚信息（{_get(e, 'on', '')}）",
        "CaseCorrected": lambda: (
            f"更正第 {_get(e, 'case', '')} 件处罚信息（{_get(e, 'on', '')}）："
            f"{_text(sorted(_get(e, 'changes') or {}))}，理由：{_get(e, 'reason', '')}"
        ),
        "CaseRevoked": lambda: (
            f"撤销第 {_get(e, 'case', '')} 件处罚决定（{_get(e, 'on', '')}），理由："
            f"{_get(e, 'reason', '')}"
        ),
        "Referred": lambda: (
            f"移送{_get(e, 'to', '') or to.get(_get(e, 'to_kind'), '')}"
            f"（{_get(e, 'on', '')}），理由：{_get(e, 'reason', '')}"
        ),
    }
    if name not in details:
        return _unknown(event)
    return Described(f"FollowUp.{name}", zh, details[name](), _unique(subjects))


# Everything else --------------------------------------------------------------------------------


def beijing_time(utc_text: str) -> str:
    """`2026-03-02T01:00:00.000000Z` as officials read it: `2026-03-02 09:00:00` (Beijing)."""
    moment = datetime.fromisoformat(utc_text.replace("Z", "+00:00"))
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def _moment(value: Any) -> str:
    """A recorded UTC time in Beijing time; a malformed one as it was recorded."""
    try:
        return beijing_time(str(value))
    except ValueError:
        return str(value)


def _refusal(event: Any, recall: Recall, name: str) -> Described:
    """The first refusal (one attempt, at the row's time), or the identical attempts counted
    after it (`Repeated`: how many, from when to when)."""
    subject = (USER, str(_get(event, "username", "")))
    departments = "、".join(_get(event, "departments") or []) or "不限"
    what = (
        f"用户 {subject[1]}（部门 {_get(event, 'department', '')}，角色 "
        f"{'、'.join(_get(event, 'roles') or [])}）执行“{_get(event, 'command', '')}”"
        f"（涉及部门 {departments}）：{_get(event, 'reason', '')}"
    )
    if name == "Repeated":
        count = _get(event, "count")
        first, last = _moment(_get(event, "first_at")), _moment(_get(event, "last_at"))
        return Described(
            "Refusal.Repeated",
            "重复拒绝操作",
            f"同一拒绝又发生 {count} 次（北京时间 {first} 至 {last}）：拒绝{what}",
            (subject,),
        )
    return Described("Refusal.Recorded", "拒绝操作", f"拒绝{what}", (subject,))


def _subscriber(event: Any, recall: Recall, name: str) -> Described:
    oid = _oid(event)
    e = event
    zh = subscribers_domain.EVENT_LABELS_ZH.get(name, name)
    if name == "Registered":
        subject = (SUBSCRIBER, str(_get(e, "name", "")))
        kinds = "、".join(
            subscribers_domain.RECORD_KIND_LABELS_ZH.get(k, k) for k in _get(e, "kinds") or []
        )
        auth = (_get(e, "auth") or {}).get("method", "")
        summary = (
            f"登记接收平台 {subject[1]}：{_get(e, 'endpoint', '')}，记录 {kinds}，部门 "
            f"{_text(_get(e, 'departments')) if _get(e, 'departments') else '全部'}，认证 "
            f"{subscribers_domain.AUTH_LABELS_ZH.get(auth, auth)}，最多尝试 "
            f"{_get(e, 'max_tries', '')} 次，自账本序号 {_get(e, 'from_seq', '')} 起"
            + (
                "，报送完整身份证号码（依据：" + str(_get(e, "legal_basis", "")) + "）"
                if _get(e, "full_ids")
                else ""
            )
        )
        return Described(
            "Subscriber.Registered",
            zh,
            summary,
            (subject,),
            remember={oid: {"subjects": [list(subject)]}},
        )
    subjects = _memo_subjects(recall(oid))
    labels = subscribers_domain.FIELD_LABELS
    details: dict[str, Callable[[], str]] = {
        "Updated": lambda: (
            f"修改接收平台：{_changes(_get(e, 'changes') or {}, labels)}，理由："
            f"{_get(e, 'reason', '')}"
        ),
        "Paused": lambda: f"暂停推送，理由：{_get(e, 'reason', '')}",
        "Resumed": lambda: "恢复推送" + (f"：{_get(e, 'reason')}" if _get(e, "reason") else ""),
        "Removed": lambda: f"移除接收平台（待推送记录取消），理由：{_get(e, 'reason', '')}",
        "Retried": lambda: (
            f"死信重新推送（账本序号 {_text(_get(e, 'seqs'))}），理由：{_get(e, 'reason', '')}"
        ),
    }
    if name not in details:
        return _unknown(event)
    return Described(f"Subscriber.{name}", zh, details[name](), _unique(subjects))


def _delivery_report(event: Any, recall: Recall, name: str) -> Described:
    if name != "Recorded":
        return _unknown(event)
    platform = str(_get(event, "subscriber", ""))
    outcomes = list(_get(event, "outcomes") or [])
    counted = {
        o: sum(1 for x in outcomes if x.get("outcome") == o) for o in subscribers_domain.Outcome
    }
    summary = f"推送至 {platform}：" + "，".join(
        f"{subscribers_domain.OUTCOME_LABELS_ZH[o]} {n} 条" for o, n in counted.items() if n
    )
    notes: dict[Subject, list[str]] = {}
    for o in outcomes:
        if o.get("outcome") == subscribers_domain.Outcome.FAILED:
            continue  # retries stay on the platform's trail; the task's shows the result
        kind = subscribers_domain.RECORD_KIND_LABELS_ZH.get(o.get("kind"), o.get("kind"))
        text = (
            f"{kind}记录（账本序号 {o.get('seq')}）归集至 {platform}："
            f"{subscribers_domain.OUTCOME_LABELS_ZH.get(o.get('outcome'), o.get('outcome'))}"
            f"（第 {o.get('try')} 次"
            + (f"，回执 {o['reference']}" if o.get("reference") else "")
            + (f"，{o['error']}" if o.get("error") else "")
            + "）"
        )
        for subject in ((TASK, str(o.get("task_id", ""))), (TARGET, str(o.get("identifier", "")))):
            notes.setdefault(subject, []).append(text)
    subjects = _unique([(SUBSCRIBER, platform), *notes])
    return Described(
        "DeliveryReport.Recorded",
        "归集推送",
        summary,
        subjects,
        notes={s: "；".join(texts) for s, texts in notes.items()},
    )


def _calendar(event: Any, recall: Recall, name: str) -> Described:
    zh = "登记节假日安排" if name == "Registered" else "修改节假日安排"
    return Described(
        f"CalendarYear.{name}", zh, f"{zh}：{_get(event, 'document', '')}"[: MAX_VALUE * 2]
    )


def _ledger(event: Any, recall: Recall, name: str) -> Described:
    aggregate = type(event).__qualname__.split(".")[0]
    zh = {
        "Created": "建立密钥环",
        "Rotated": "轮换签名密钥",
        "Revoked": "吊销签名密钥",
        "Started": "建立检查点日志",
        "CheckpointIssued": "签发检查点",
    }.get(name, name)
    return Described(f"{aggregate}.{name}", zh, zh)


def _unknown(event: Any) -> Described:
    return Described(kind_of(event), "", "")


HANDLERS: dict[str, Callable[[Any, Recall, str], Described]] = {
    "Target": _target,
    "Inspector": _inspector,
    "Item": _item,
    "Department": _department,
    "User": _user,
    "ApiToken": _token,
    "Declaration": _declaration,
    "ConflictRules": _conflict_rules,
    "Plan": _plan,
    "Draw": _draw,
    "Task": _task,
    "FollowUp": _followup,
    "Refusal": _refusal,
    "Subscriber": _subscriber,
    "DeliveryReport": _delivery_report,
    "CalendarYear": _calendar,
    "KeyRing": _ledger,
    "TransparencyLog": _ledger,
}


def describe(event: Any, recall: Recall) -> Described:
    """What the trail shows of `event`; `recall` gives the memo of an aggregate by id."""
    aggregate, _, name = kind_of(event).rpartition(".")
    handler = HANDLERS.get(aggregate)
    if handler is None or not name:
        return _unknown(event)
    try:
        return handler(event, recall, name)
    except (AttributeError, KeyError, TypeError, ValueError):
        # A malformed old event is still part of the history: shown, with no subject it names.
        return _unknown(event)


def merge_memo(old: Memo | None, new: Memo) -> Memo:
    """The memo to keep: `new`, except that a recusal's `replace` swaps one team member."""
    if "replace" not in new:
        return new
    left, joined = new["replace"]
    team = [joined if m == left else m for m in (old or {}).get("team") or []]
    return {**(old or {}), **{k: v for k, v in new.items() if k != "replace"}, "team": team}


# The fold, in memory: what a replay of the ledger from seq 0 gives ----------------------------


@dataclass
class Row:
    """One line of a subject's trail."""

    seq: int
    recorded_at: str
    actor: str
    role: str
    department: str
    kind: str
    kind_zh: str
    summary: str


@dataclass
class Replay:
    """The trail computed by folding events through `describe`, kept in memory."""

    memos: dict[str, Memo] = field(default_factory=dict)
    rows: dict[Subject, list[Row]] = field(default_factory=dict)
    departments: dict[Subject, tuple[str, ...]] = field(default_factory=dict)

    def feed(self, seq: int, recorded_at: str, actor: Any, event: Any) -> Described:
        described = describe(event, self.memos.get)
        for oid, memo in described.remember.items():
            self.memos[oid] = merge_memo(self.memos.get(oid), memo)
        for subject, departments in described.departments.items():
            self.departments[subject] = departments
        for subject in described.subjects:
            self.rows.setdefault(subject, []).append(
                Row(
                    seq,
                    recorded_at,
                    str(actor.user),
                    str(actor.role),
                    str(actor.department),
                    described.kind,
                    described.kind_zh,
                    described.summary_for(subject),
                )
            )
        return described
