"""The records that leave ssj for the credit platforms (归集), built from plain read-model rows.
Pure: no I/O; the service reads the rows as of the record's ledger seq, so a record is the same
whenever it is built again.

Two kinds (`RecordKind`), each a sequence of records of its own, never overwritten:
- results (检查结果): `publish` when a task's result is published — built from what the public
  page shows (`ssj.services.public_results.public_result`, the one rule for results: findings,
  evidence, methods, drafts, signatures, objections and withholding reasons never leave; a
  redacted field reads 已依法隐去) plus the target's identity and the items inspected; and
  `withdraw` when a result is withheld (暂缓公示 until final, or 不予公示), telling a platform
  to hold nothing for that task (the reason itself stays inside).
- penalties (行政处罚): `publish` when a penalty case's information is published, in the fields
  of the national 双公示 administrative-penalty data standard (`PENALTY_FIELDS`: codes, Chinese
  names, types and the code lists 行政相对人类别 and 处罚类别); `correct` when a published case is
  corrected (the whole record again, with the reason); `withdraw` when its decision is revoked.

Identity numbers: a target known by a resident identity number (an individual business's
operator) is sent masked (`320402********1234`), like everywhere in public. The 双公示 standard
asks for the 证件号码 of such a party; a platform an administrator has registered with a legal
basis for full numbers (`Subscriber.full_ids`) gets it whole in that one field
(`with_full_identity`); results never carry it. The legal representative's identity document is
never recorded, so never sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ssj.domain.followup import CASE_FIELD_LABELS, PENALTY_TYPE_LABELS_ZH, PenaltyType
from ssj.domain.identifiers import IdKind, masked
from ssj.domain.subscribers import RecordKind
from ssj.domain.targets import TargetType


class Action(StrEnum):
    PUBLISH = "publish"
    CORRECT = "correct"
    WITHDRAW = "withdraw"


ACTION_LABELS_ZH = {Action.PUBLISH: "公示", Action.CORRECT: "更正", Action.WITHDRAW: "撤回"}

# CloudEvents `type` of each record (reverse-DNS, versioned).
EVENT_TYPES = {
    (RecordKind.RESULTS, Action.PUBLISH): "cn.ssj.result.published.v1",
    (RecordKind.RESULTS, Action.WITHDRAW): "cn.ssj.result.withdrawn.v1",
    (RecordKind.PENALTIES, Action.PUBLISH): "cn.ssj.penalty.published.v1",
    (RecordKind.PENALTIES, Action.CORRECT): "cn.ssj.penalty.corrected.v1",
    (RecordKind.PENALTIES, Action.WITHDRAW): "cn.ssj.penalty.withdrawn.v1",
}

INSPECTION_TYPES_ZH = {False: "双随机抽查", True: "联合抽查"}
ID_KIND_LABELS_ZH = {
    IdKind.USCC.value: "统一社会信用代码",
    IdKind.RESIDENT_ID.value: "居民身份证号码",
    IdKind.PRODUCT.value: "产品批次号",
    IdKind.PROJECT.value: "项目编号",
    IdKind.BEHAVIOUR.value: "行为编号",
    IdKind.OTHER.value: "其他标识",
}
TARGET_TYPE_ZH = {
    TargetType.ENTERPRISE.value: "企业",
    TargetType.INDIVIDUAL.value: "个体工商户",
    TargetType.PROJECT.value: "项目",
    TargetType.PRODUCT.value: "产品",
    TargetType.BEHAVIOUR.value: "行为",
}
WITHHELD_ZH = {True: "暂缓公示（待结果最终确定）", False: "不予公示"}

# A result record's fields (JSON keys) and the Chinese headers of exports.
RESULT_FIELDS = {
    "task_id": "抽查任务编号",
    "target_name": "检查对象名称",
    "target_id": "检查对象标识",
    "target_id_kind": "标识类型",
    "target_type": "检查对象类型",
    "inspection_type": "检查类型",
    "departments": "检查部门",
    "items": "抽查事项",
    "completed_on": "检查日期（检查完成日期）",
    "category": "检查结果",
    "public_summary": "公示摘要",
    "published_on": "公示日期",
    "plan": "抽查计划",
    "draw": "抽取批次",
    "drawn_on": "抽取日期",
    "withheld": "不公示情形",
    "link": "公示页面",
}


class FieldType(StrEnum):
    TEXT = "text"  # 字符型
    DECIMAL = "decimal"  # 数值型 decimal(18, 6), as text in JSON
    DATE = "date"  # 日期型, ISO 8601 in JSON


@dataclass(frozen=True)
class PenaltyField:
    code: str  # the standard's column name (前置库)
    zh: str  # its Chinese name (export headers)
    type: FieldType
    required: bool


_T, _N, _D = FieldType.TEXT, FieldType.DECIMAL, FieldType.DATE
# The 双公示 administrative-penalty data standard, in its order.
PENALTY_FIELDS: tuple[PenaltyField, ...] = (
    PenaltyField("CF_XDR_MC", "行政相对人名称", _T, True),
    PenaltyField("CF_XDR_LB", "行政相对人类别", _T, True),
    PenaltyField("CF_XDR_SHXYM", "行政相对人代码_1（统一社会信用代码）", _T, False),
    PenaltyField("CF_XDR_GSZC", "行政相对人代码_2（工商注册号）", _T, False),
    PenaltyField("CF_XDR_ZZJG", "行政相对人代码_3（组织机构代码）", _T, False),
    PenaltyField("CF_XDR_SWDJ", "行政相对人代码_4（税务登记号）", _T, False),
    PenaltyField("CF_XDR_SYDW", "行政相对人代码_5（事业单位证书号）", _T, False),
    PenaltyField("CF_XDR_SHZZ", "行政相对人代码_6（社会组织登记证号）", _T, False),
    PenaltyField("CF_FRDB", "法定代表人", _T, False),
    PenaltyField("CF_FR_ZJLX", "法定代表人证件类型", _T, False),
    PenaltyField("CF_FR_ZJHM", "法定代表人证件号码", _T, False),
    PenaltyField("CF_XDR_ZJLX", "证件类型", _T, False),
    PenaltyField("CF_XDR_ZJHM", "证件号码", _T, False),
    PenaltyField("CF_WSH", "行政处罚决定书文号", _T, True),
    PenaltyField("CF_WFXW", "违法行为类型", _T, True),
    PenaltyField("CF_SY", "违法事实", _T, True),
    PenaltyField("CF_YJ", "处罚依据", _T, True),
    PenaltyField("CF_CFLB", "处罚类别", _T, True),
    PenaltyField("CF_NR", "处罚内容", _T, True),
    PenaltyField("CF_NR_FK", "罚款金额（万元）", _N, False),
    PenaltyField("CF_NR_WFFF", "没收违法所得、没收非法财物的金额（万元）", _N, False),
    PenaltyField("CF_NR_ZKDX", "暂扣或吊销证照名称及编号", _T, False),
    PenaltyField("CF_JDRQ", "处罚决定日期", _D, True),
    PenaltyField("CF_YXQ", "处罚有效期", _D, False),
    PenaltyField("CF_GSJZQ", "公示截止期", _D, False),
    PenaltyField("CF_CFJG", "处罚机关", _T, True),
    PenaltyField("CF_CFJGDM", "处罚机关统一社会信用代码", _T, True),
    PenaltyField("CF_SJLY", "数据来源单位", _T, True),
    PenaltyField("CF_SJLYDM", "数据来源单位统一社会信用代码", _T, True),
    PenaltyField("BZ", "备注", _T, False),
)
PENALTY_HEADERS = {f.code: f.zh for f in PENALTY_FIELDS}


class PartyCategory(StrEnum):
    """行政相对人类别, the standard's code list."""

    LEGAL_ENTITY = "法人及非法人组织"
    NATURAL_PERSON = "自然人"
    INDIVIDUAL_BUSINESS = "个体工商户"


RESIDENT_ID_DOCUMENT = "身份证"  # 证件类型 of a resident identity number
MULTI_SEPARATOR = ";"  # several 处罚类别 in one field
# Which case field fills which standard field (the rest come from the target's identity).
CASE_TO_STANDARD = {
    "case_no": "CF_WSH",
    "violation_type": "CF_WFXW",
    "facts": "CF_SY",
    "basis": "CF_YJ",
    "decision": "CF_NR",
    "fine": "CF_NR_FK",
    "confiscated": "CF_NR_WFFF",
    "licence": "CF_NR_ZKDX",
    "decided_on": "CF_JDRQ",
    "valid_until": "CF_YXQ",
    "publicity_until": "CF_GSJZQ",
    "authority_code": "CF_CFJGDM",
    "source_code": "CF_SJLYDM",
    "legal_representative": "CF_FRDB",
    "notes": "BZ",
}
assert set(CASE_TO_STANDARD) | {"penalty_types", "authority", "source"} == set(CASE_FIELD_LABELS)


def public_id(target: Mapping[str, Any]) -> str:
    return masked(str(target["identifier"]), target.get("id_kind"))


def party_category(target: Mapping[str, Any]) -> PartyCategory:
    """行政相对人类别 of a registry target: an individual business as such; a natural person
    only when known by nothing but a resident identity number outside a business; else an
    organisation."""
    if target.get("target_type") == TargetType.INDIVIDUAL.value:
        return PartyCategory.INDIVIDUAL_BUSINESS
    if target.get("id_kind") == IdKind.RESIDENT_ID.value:
        return PartyCategory.NATURAL_PERSON
    return PartyCategory.LEGAL_ENTITY


# Results ---------------------------------------------------------------------------------------


def _target_fields(target: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "target_name": target.get("name"),
        "target_id": public_id(target),
        "target_id_kind": ID_KIND_LABELS_ZH.get(str(target.get("id_kind")), target.get("id_kind")),
        "target_type": TARGET_TYPE_ZH.get(
            str(target.get("target_type")), target.get("target_type")
        ),
    }


def _items(task: Mapping[str, Any], item_names: Mapping[str, str]) -> list[str]:
    return [f"{key} {item_names[key]}" if key in item_names else key for key in task["items"]]


def _plan(shown: Mapping[str, Any]) -> str:
    code = f"{shown.get('plan_department')}/{shown.get('plan_code')}"
    return f"{code} {shown['plan_title']}" if shown.get("plan_title") else code


def result_published(
    task: Mapping[str, Any],
    target: Mapping[str, Any],
    shown: Mapping[str, Any],
    item_names: Mapping[str, str],
    link: str,
) -> dict[str, Any]:
    """A published result: `shown` is the result as the public page shows it (redactions
    applied), and nothing of the task beyond it and its items leaves."""
    fields = {
        "task_id": task["task_id"],
        **_target_fields(target),
        "inspection_type": INSPECTION_TYPES_ZH[len(task["departments"]) > 1],
        "departments": shown["departments"],
        "items": _items(task, item_names),
        "completed_on": shown["completed_on"],
        "category": shown["category"],
        "public_summary": shown["public_summary"],
        "published_on": shown["published_on"],
        "plan": _plan(shown),
        "draw": shown.get("draw_label"),
        "drawn_on": shown.get("drawn_on"),
        "withheld": None,
        "link": link,
    }
    return {"action": Action.PUBLISH.value, "corrects": None, "reason": None, "fields": fields}


def result_withdrawn(
    task: Mapping[str, Any],
    target: Mapping[str, Any],
    draw: Mapping[str, Any],
    until_final: bool,
    withdrawn_on: str,
) -> dict[str, Any]:
    """A result withheld: whether until final or for good, never why (the reason stays)."""
    fields = {
        "task_id": task["task_id"],
        **_target_fields(target),
        "inspection_type": INSPECTION_TYPES_ZH[len(task["departments"]) > 1],
        "departments": None,
        "items": None,
        "completed_on": None,
        "category": None,
        "public_summary": None,
        "published_on": None,
        "plan": f"{draw.get('department')}/{draw.get('plan_code')}",
        "draw": draw.get("label"),
        "drawn_on": draw.get("drawn_on"),
        "withheld": WITHHELD_ZH[bool(until_final)],
        "link": None,
    }
    return {
        "action": Action.WITHDRAW.value,
        "corrects": None,
        "reason": WITHHELD_ZH[bool(until_final)],
        "withdrawn_on": withdrawn_on,
        "fields": fields,
    }


# Penalties -------------------------------------------------------------------------------------


def penalty_fields(
    case: Mapping[str, Any], target: Mapping[str, Any], names: Mapping[str, str]
) -> dict[str, Any]:
    """A case in the standard's fields (resident identity numbers masked)."""
    found = dict.fromkeys(PENALTY_HEADERS, "")
    category = party_category(target)
    found["CF_XDR_MC"] = target.get("name") or ""
    found["CF_XDR_LB"] = category.value
    kind = target.get("id_kind")
    identifier = str(target.get("identifier") or "")
    if kind == IdKind.USCC.value:
        found["CF_XDR_SHXYM"] = identifier
    elif kind == IdKind.RESIDENT_ID.value:
        found["CF_XDR_ZJLX"] = RESIDENT_ID_DOCUMENT
        found["CF_XDR_ZJHM"] = masked(identifier, kind)
    elif kind == "registration_no":  # 注册号 (pre-2015), when the registry records one
        found["CF_XDR_GSZC"] = identifier
    for name, code in CASE_TO_STANDARD.items():
        value = case.get(name)
        found[code] = "" if value is None else str(value)
    found["CF_CFLB"] = MULTI_SEPARATOR.join(
        PENALTY_TYPE_LABELS_ZH[PenaltyType(t)] for t in case.get("penalty_types") or ()
    )
    found["CF_CFJG"] = names.get(case.get("authority") or "", case.get("authority") or "")
    source = case.get("source") or case.get("authority") or ""
    found["CF_SJLY"] = names.get(source, source)
    if kind not in (IdKind.USCC.value, IdKind.RESIDENT_ID.value, "registration_no"):
        note = f"检查对象标识：{identifier}（{ID_KIND_LABELS_ZH.get(str(kind), kind)}）"
        found["BZ"] = "；".join(x for x in (found["BZ"], note) if x)
    return found


def penalty_record(
    action: Action,
    case: Mapping[str, Any],
    target: Mapping[str, Any],
    names: Mapping[str, str],
    *,
    corrects: int | None = None,
    reason: str | None = None,
    on: str | None = None,
) -> dict[str, Any]:
    """A penalty record: published, corrected (whole again, with why) or withdrawn."""
    record: dict[str, Any] = {
        "action": action.value,
        "corrects": corrects,
        "reason": reason,
        "fields": penalty_fields(case, target, names),
    }
    if action is Action.WITHDRAW:
        record["withdrawn_on"] = on
    elif action is Action.CORRECT:
        record["corrected_on"] = on
    return record


def with_full_identity(record: Mapping[str, Any], identifier: str) -> dict[str, Any]:
    """The penalty record with the party's whole identity number in 证件号码 (only for a
    platform registered with a legal basis for it)."""
    fields = dict(record["fields"])
    if fields.get("CF_XDR_ZJLX") == RESIDENT_ID_DOCUMENT:
        fields["CF_XDR_ZJHM"] = identifier
    return {**record, "fields": fields}


# Exports ---------------------------------------------------------------------------------------

RECORD_COLUMNS = {"seq": "账本序号", "action_zh": "操作", "corrects": "更正/撤回的记录序号"}
REASON_COLUMN = {"reason": "更正或撤回说明"}


def export_header(kind: RecordKind) -> list[str]:
    """Chinese headers: the record's ledger seq and action, then the standard's fields."""
    fields = PENALTY_HEADERS if kind is RecordKind.PENALTIES else RESULT_FIELDS
    return [*RECORD_COLUMNS.values(), *fields.values(), *REASON_COLUMN.values()]


def export_row(kind: RecordKind, seq: int, record: Mapping[str, Any]) -> list[Any]:
    """One record as a row under `export_header` (lists joined with 、)."""
    fields = PENALTY_HEADERS if kind is RecordKind.PENALTIES else RESULT_FIELDS
    values = record["fields"]
    row: list[Any] = [seq, ACTION_LABELS_ZH[Action(record["action"])], record.get("corrects")]
    for name in fields:
        value = values.get(name)
        row.append("、".join(value) if isinstance(value, list) else value)
    row.append(record.get("reason"))
    return row


def decimal_columns(kind: RecordKind) -> Sequence[int]:
    """Positions (0-based) of the amount columns, written as numbers in XLSX."""
    if kind is not RecordKind.PENALTIES:
        return ()
    offset = len(RECORD_COLUMNS)
    return [offset + i for i, f in enumerate(PENALTY_FIELDS) if f.type is FieldType.DECIMAL]


def date_columns(kind: RecordKind) -> Sequence[int]:
    offset = len(RECORD_COLUMNS)
    if kind is RecordKind.PENALTIES:
        return [offset + i for i, f in enumerate(PENALTY_FIELDS) if f.type is FieldType.DATE]
    dates = ("completed_on", "published_on", "drawn_on")
    return [offset + i for i, name in enumerate(RESULT_FIELDS) if name in dates]
