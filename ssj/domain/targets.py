"""The target registry (检查对象名录库): what may be drawn, as it stood at every ledger seq.

A target's id is derived from its identifier (the USCC for organisations), so one identifier is
one aggregate forever and a re-import cannot create a duplicate. Updates record only the fields
that changed, so the history says exactly what moved.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from dataclasses import fields as fields_of
from enum import StrEnum
from hashlib import sha1
from typing import Any, TypeVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ssj.domain import fields, trail
from ssj.domain import published as published_values
from ssj.errors import ValidationError

E = TypeVar("E", bound=StrEnum)

TARGET_NAMESPACE = uuid5(NAMESPACE_URL, "urn:ssj:target")


class TargetType(StrEnum):
    ENTERPRISE = "enterprise"
    INDIVIDUAL = "individual"
    PROJECT = "project"
    PRODUCT = "product"
    BEHAVIOUR = "behaviour"


TARGET_TYPE_LABELS = {
    "企业": TargetType.ENTERPRISE,
    "个体工商户": TargetType.INDIVIDUAL,
    "项目": TargetType.PROJECT,
    "产品": TargetType.PRODUCT,
    "行为": TargetType.BEHAVIOUR,
}


class CreditClass(StrEnum):
    """Credit-risk class: A low … D high (国市监信发〔2022〕6号)."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"


CREDIT_CLASS_LABELS = {f"{c}类": CreditClass(c) for c in "ABCD"}


class TargetStatus(StrEnum):
    ACTIVE = "active"
    DEREGISTERED = "deregistered"
    ABNORMAL = "abnormal"  # 经营异常名录
    SERIOUS_VIOLATION = "serious_violation"  # 严重违法失信名单


TARGET_STATUS_LABELS = {
    "存续": TargetStatus.ACTIVE,
    "在营": TargetStatus.ACTIVE,
    "在业": TargetStatus.ACTIVE,
    "开业": TargetStatus.ACTIVE,
    "在营（开业）": TargetStatus.ACTIVE,
    "存续（在营、开业、在册）": TargetStatus.ACTIVE,
    "正常": TargetStatus.ACTIVE,
    "注销": TargetStatus.DEREGISTERED,
    "已注销": TargetStatus.DEREGISTERED,
    "经营异常": TargetStatus.ABNORMAL,
    "经营异常名录": TargetStatus.ABNORMAL,
    "严重违法失信": TargetStatus.SERIOUS_VIOLATION,
    "严重违法失信名单": TargetStatus.SERIOUS_VIOLATION,
}

# Chinese labels for exports and pages that officials read.
FIELD_LABELS = {
    "identifier": "统一社会信用代码/标识",
    "id_kind": "标识类型",
    "name": "名称",
    "address": "地址",
    "region_code": "行政区划代码",
    "target_type": "对象类型",
    "department": "责任部门",
    "credit_class": "信用风险分类",
    "status": "状态",
    "applicable_items": "适用抽查事项",
    "tags": "标签",
    "established_on": "成立日期",
    "registration_authority": "登记机关",
    "jurisdiction": "管辖单位",
    "enterprise_type": "企业类型",
    "legal_representative": "法定代表人（负责人、经营者）",
    "phone": "联系电话",
}
# The trail also names the dictionaries imports keep (not columns of the spreadsheet exports,
# which must import back unchanged).
TRAIL_LABELS = {
    **FIELD_LABELS,
    "extra": "其他信息（原文件中的其他列）",
    "published": "原文（与导入值不同的原文件内容）",
}

# Personal data from registry exports: for officials only, never on public pages or exports.
PERSONAL_FIELDS = ("legal_representative", "phone")
# Fields added with issue #11: absent from older events, recorded only when they hold a value.
OPTIONAL_STATE = (
    "established_on",
    "registration_authority",
    "jurisdiction",
    "enterprise_type",
    "legal_representative",
    "phone",
    "extra",
    "published",
)


# uuid5's version and variant bits, applied to the name's SHA-1 as an integer.
_UUID5_KEEP = ~(0xC000 << 48) & ~(0xF000 << 64)
_UUID5_SET = (0x8000 << 48) | (5 << 76)
_TARGET_NAMESPACE_BYTES = TARGET_NAMESPACE.bytes


def target_id(identifier: str) -> UUID:
    """`uuid5(TARGET_NAMESPACE, identifier)`, the same UUID in half its time (an import of a
    million targets derives a million): no import inside the call, no UUID(bytes=...) checks."""
    digest = sha1(_TARGET_NAMESPACE_BYTES + identifier.encode()).digest()
    return UUID(int=(int.from_bytes(digest[:16], "big") & _UUID5_KEEP) | _UUID5_SET)


@dataclass(frozen=True)
class TargetRecord:
    """A target's registrable fields, validated; the unit of import and of change."""

    identifier: str
    id_kind: str
    name: str
    address: str
    region_code: str
    target_type: TargetType
    department: str
    credit_class: CreditClass
    status: TargetStatus
    applicable_items: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    established_on: str | None = None
    registration_authority: str | None = None  # 登记机关, as published
    jurisdiction: str | None = None  # 管辖单位, as published
    enterprise_type: str | None = None  # 企业类型, as published
    legal_representative: str | None = None  # personal data: officials only
    phone: str | None = None  # personal data: officials only
    extra: dict[str, str] = dataclass_field(default_factory=dict)  # unmapped columns
    published: dict[str, str] = dataclass_field(default_factory=dict)  # text beside derived

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> TargetRecord:
        """Validate user input; raises FieldError naming the bad field(s).

        From a registry export: the identifier may come as a registration number
        (`registration_no`) when there is no USCC; its kind, when not given, is read from its
        shape (`classify_identifier`); the region code from the identifier, else from
        `region_fallback` (the department's); the target type from 企业类型, else the
        identifier. What was derived keeps the published text in `published`. Every bad
        field is reported (`fields.FieldErrors`), not only the first.
        """
        try:
            return cls._parse_valid(raw)
        except Exception:  # checked again below, which raises what it finds
            return cls._parse_collecting(raw)

    @classmethod
    def _parse_valid(cls, raw: dict[str, Any]) -> TargetRecord:
        """`parse` for a row without problems (nearly every row of an import): the same
        validators called directly, without gathering errors. Anything raised here sends the
        row to `_parse_collecting`, which reports every problem as it always did."""
        from ssj.domain.identifiers import region_of

        identifier, id_kind, target_type, enterprise_type = _identity(raw)
        region = raw.get("region_code") or region_of(id_kind, identifier)
        region = region or raw.get("region_fallback")
        published: dict[str, str] = {}
        established = raw.get("established_on")
        established_on = None
        if established:
            established_on = published_values.iso_date(str(established))
            if established_on is None:
                raise fields.FieldError("established_on", "", "")  # reported by the other path
            if established_on != established:
                published["established_on"] = str(established)
        # The dataclass's __init__ sets each of the 19 fields through object.__setattr__ (it
        # is frozen): about 5 of this method's 22 us (timeit). The same instance, its fields
        # set at once (no __post_init__ to run).
        record = object.__new__(cls)
        record.__dict__.update(
            identifier=identifier,
            id_kind=id_kind.value,
            name=fields.text("name", raw.get("name")),
            address=fields.text("address", raw.get("address"), required=False),
            region_code=fields.region_code("region_code", region),
            target_type=target_type,
            department=fields.text("department", raw.get("department"), max_length=64),
            credit_class=_choose(
                "credit_class", raw.get("credit_class") or "B", CreditClass, CREDIT_CLASS_LABELS
            ),
            status=_choose(
                "status", raw.get("status") or "active", TargetStatus, TARGET_STATUS_LABELS
            ),
            applicable_items=tuple(
                fields.text_list("applicable_items", raw.get("applicable_items"))
            ),
            tags=tuple(fields.text_list("tags", raw.get("tags"))),
            established_on=established_on,
            registration_authority=_optional("registration_authority", raw),
            jurisdiction=_optional("jurisdiction", raw),
            enterprise_type=enterprise_type or None,
            legal_representative=_optional("legal_representative", raw),
            phone=_optional("phone", raw),
            extra=_extra(raw.get("extra")),
            published=published,
        )
        return record

    @classmethod
    def _parse_collecting(cls, raw: dict[str, Any]) -> TargetRecord:
        """`parse` field by field, every error gathered (`fields.Collect`)."""
        from ssj.domain.identifiers import region_of

        published: dict[str, str] = {}
        c = fields.Collect()
        found = c(_identity, raw)
        identifier, id_kind, target_type, enterprise_type = found or (None, None, None, None)
        region = raw.get("region_code")
        if not region and identifier is not None and id_kind is not None:
            region = region_of(id_kind, identifier)
        region = region or raw.get("region_fallback")
        established = raw.get("established_on")
        established_on = None
        if established:
            established_on = published_values.iso_date(str(established))
            if established_on is None:
                c.errors.append(
                    fields.FieldError(
                        "established_on",
                        f"成立日期“{established}”无法识别（应为 2017-03-07、2017/3/7、2017年3月7日等）",
                        f"establishment date {established!r} is not a date (2017-03-07, 2017/3/7 …)",
                    )
                )
            elif established_on != established:
                published["established_on"] = str(established)
        extra = c(_extra, raw.get("extra")) or {}
        record = dict(
            name=c(fields.text, "name", raw.get("name")),
            address=c(fields.text, "address", raw.get("address"), required=False),
            region_code=c(fields.region_code, "region_code", region),
            department=c(fields.text, "department", raw.get("department"), max_length=64),
            credit_class=c(
                fields.choice,
                "credit_class",
                raw.get("credit_class") or "B",
                CreditClass,
                CREDIT_CLASS_LABELS,
            ),
            status=c(
                fields.choice,
                "status",
                raw.get("status") or "active",
                TargetStatus,
                TARGET_STATUS_LABELS,
            ),
            applicable_items=tuple(
                c(fields.text_list, "applicable_items", raw.get("applicable_items")) or ()
            ),
            tags=tuple(c(fields.text_list, "tags", raw.get("tags")) or ()),
            registration_authority=c(_optional, "registration_authority", raw),
            jurisdiction=c(_optional, "jurisdiction", raw),
            legal_representative=c(_optional, "legal_representative", raw),
            phone=c(_optional, "phone", raw),
        )
        c.check()
        assert identifier is not None and id_kind is not None and target_type is not None
        return cls(
            identifier=identifier,
            id_kind=id_kind.value,
            target_type=target_type,
            established_on=established_on,
            enterprise_type=enterprise_type or None,
            extra=extra,
            published=published,
            **record,  # type: ignore[arg-type]
        )

    def as_state(self) -> dict[str, Any]:
        """JSON-ready values, as recorded in events (a shallow copy: asdict deep-copies). The
        optional fields of registry exports appear only when they hold a value, so an entry
        registered before they existed does not change when re-imported from the same file."""
        values = self.__dict__  # a frozen dataclass's fields, without getattr per field
        state = {name: values[name] for name in _RECORD_FIELDS}
        state["applicable_items"] = list(self.applicable_items)
        state["tags"] = list(self.tags)
        for name in OPTIONAL_STATE:
            value = state[name]
            if not value and value in _BLANK:
                del state[name]
        for name, value in state.items():
            if type(value) not in _PLAIN and isinstance(value, StrEnum):
                state[name] = value.value
        return state


# TargetRecord's field names in declaration order (the order of a state's keys): looked up
# once, not per record (dataclasses.fields costs as much as the rest of as_state).
_RECORD_FIELDS = tuple(f.name for f in fields_of(TargetRecord))
_BLANK: tuple[object, ...] = (None, {}, "")  # an optional field's values left out of a state
_PLAIN = frozenset((str, tuple, list, dict, type(None)))  # a state's types that are no StrEnum


def _identity(raw: dict[str, Any]) -> tuple[str, Any, TargetType, str]:
    """Identifier, its kind, the target type and 企业类型: they depend on each other."""
    from ssj.domain.identifiers import (
        ID_KIND_LABELS,
        IdKind,
        classify_identifier,
        validate_identifier,
    )

    given = fields.text("identifier", raw.get("identifier"), required=False)
    if not given:
        given = fields.text("identifier", raw.get("registration_no"), required=False)
    given = fields.text("identifier", given)
    enterprise_type = fields.text("enterprise_type", raw.get("enterprise_type"), required=False)
    stated_type = raw.get("target_type")
    stated = None
    if stated_type:
        stated = _choose("target_type", stated_type, TargetType, TARGET_TYPE_LABELS)
    if raw.get("id_kind"):
        id_kind = _choose("id_kind", raw.get("id_kind"), IdKind, ID_KIND_LABELS)
    elif stated in (TargetType.PROJECT, TargetType.PRODUCT, TargetType.BEHAVIOUR):
        id_kind = IdKind.OTHER
    else:
        id_kind = classify_identifier(given)
    try:
        identifier = validate_identifier(id_kind, given)
    except ValidationError as e:
        label = ID_KIND_NAMES_ZH.get(id_kind.value, id_kind.value)
        raise fields.FieldError(
            "identifier", f"“{given}”不是有效的{label}：{e.zh}", f"“{given}”: {e.en}"
        ) from None
    if stated is None:
        derived = published_values.target_type_of_enterprise_type(enterprise_type)
        derived = derived or published_values.target_type_of_identifier(id_kind.value, identifier)
        if derived is None:
            raise fields.FieldError(
                "target_type",
                "无法确定对象类型：请在文件中加“对象类型”列（企业、个体工商户…），"
                "或用 --columns 设定常量",
                "cannot tell the target type: add a target type column (企业, 个体工商户 …) "
                "or set a constant with --columns",
            )
        stated = TargetType(derived)
    return identifier, id_kind, stated, enterprise_type


def _extra(values: object) -> dict[str, str]:
    if not isinstance(values, dict):
        return {}
    return {
        fields.text("extra", k, max_length=200): fields.prose(
            "extra", v, required=False, max_length=5000
        )
        for k, v in values.items()
        if v not in (None, "")
    }


def _optional(name: str, raw: dict[str, Any]) -> str | None:
    return fields.text(name, raw.get(name), required=False) or None


# Members already chosen, by field and cell: an import's class, status and type cells hold a
# few values on a million rows (`fields.choice` looks each up anew). Successes only.
_CHOSEN: dict[tuple[str, str], Any] = {}


def _choose(field: str, value: object, enum: type[E], labels: dict[str, E]) -> E:
    """`fields.choice` for this module's fields, each always with the same enum and labels."""
    if type(value) is not str:
        return fields.choice(field, value, enum, labels)
    found: E | None = _CHOSEN.get((field, value))
    if found is None:
        found = fields.choice(field, value, enum, labels)
        if len(_CHOSEN) < 1024:
            _CHOSEN[(field, value)] = found
    return found


ID_KIND_NAMES_ZH = {
    "uscc": "统一社会信用代码",
    "registration_no": "注册号",
    "resident_id": "身份证号",
    "product": "产品批次号",
    "project": "项目编号",
    "behaviour": "行为编号",
    "other": "标识",
}


def changed_fields(state: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """What a new record changes: its values that differ, and optional fields it no longer
    has (recorded as None, so the history shows them cleared)."""
    changes = {k: v for k, v in new.items() if state.get(k) != v}
    for name in OPTIONAL_STATE:
        if name not in new and state.get(name) not in (None, {}, ""):
            changes[name] = None
    return changes


class Target(Aggregate):
    """One entry of the target registry."""

    @staticmethod
    def create_id(identifier: str, **_: Any) -> UUID:
        return target_id(identifier)

    class Registered(Aggregate.Created):
        identifier: str
        state: dict[str, Any]

    @event(Registered)
    def __init__(self, identifier: str, state: dict[str, Any]) -> None:
        self.identifier = identifier
        self.state = dict(state)

    @classmethod
    def register(cls, record: TargetRecord) -> Target:
        """The same Registered event as `cls(identifier=…, state=…)`, made by `_create` with
        the id given: calling the class coerces and filters its arguments on every call, half
        the cost of registering one target (imports register a million)."""
        identifier = record.identifier
        return cls._create(
            cls.Registered, id=target_id(identifier), identifier=identifier, state=record.as_state()
        )

    def changes_to(self, record: TargetRecord) -> dict[str, Any]:
        return changed_fields(self.state, record.as_state())

    def update(self, record: TargetRecord) -> bool:
        """Record only the fields that differ; returns False (and records nothing) if none do."""
        if record.identifier != self.identifier:
            raise fields.FieldError("identifier", "标识不可修改", "the identifier cannot change")
        changes = self.changes_to(record)
        if not changes:
            return False
        self._updated(changes=changes)
        return True

    class Updated(Aggregate.Event):
        changes: dict[str, Any]

    @event(Updated)
    def _updated(self, changes: dict[str, Any]) -> None:
        self.state.update(changes)


# The audit trail (全程留痕): what the registry's target events say ---------------------------

trail.label_values("target_type", {v.value: k for k, v in TARGET_TYPE_LABELS.items()})


@trail.describes(Target.Registered)
def _trail_registered(event: Any, recall: trail.Recall) -> trail.Described:
    state = trail.attr(event, "state") or {}
    subject = (trail.TARGET, str(trail.attr(event, "identifier", "")))
    status = state.get("status")
    return trail.Described(
        "Target.Registered",
        "登记检查对象",
        f"登记检查对象“{state.get('name', '')}”（{subject[1]}），责任部门 "
        f"{state.get('department', '')}，信用风险分类 {state.get('credit_class', '')} 类，"
        f"状态 {trail.value_text('status', status)}{trail.extra_columns(state)}",
        (subject,),
        remember={trail.originator(event): {"subjects": [subject]}},
        departments={subject: trail.departments_of(state.get("department"))},
    )


@trail.describes(Target.Updated)
def _trail_updated(event: Any, recall: trail.Recall) -> trail.Described:
    return trail.record_changed(event, recall, "变更检查对象", TRAIL_LABELS)
