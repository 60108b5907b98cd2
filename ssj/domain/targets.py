"""The target registry (检查对象名录库): what may be drawn, as it stood at every ledger seq.

A target's id is derived from its identifier (the USCC for organisations), so one identifier is
one aggregate forever and a re-import cannot create a duplicate. Updates record only the fields
that changed, so the history says exactly what moved.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import fields as fields_of
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ssj.domain import fields
from ssj.errors import ValidationError

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
}


def target_id(identifier: str) -> UUID:
    return uuid5(TARGET_NAMESPACE, identifier)


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

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> TargetRecord:
        """Validate user input; raises FieldError naming the first bad field."""
        from ssj.domain.identifiers import IdKind, validate_identifier

        target_type = fields.choice(
            "target_type", raw.get("target_type"), TargetType, TARGET_TYPE_LABELS
        )
        default_kind = IdKind.USCC if target_type == TargetType.ENTERPRISE else IdKind.OTHER
        id_kind = fields.choice("id_kind", raw.get("id_kind") or default_kind, IdKind)
        try:
            identifier = validate_identifier(
                id_kind, fields.text("identifier", raw.get("identifier"))
            )
        except fields.FieldError:
            raise
        except ValidationError as e:
            raise fields.FieldError("identifier", e.zh, e.en) from None
        return cls(
            identifier=identifier,
            id_kind=id_kind.value,
            name=fields.text("name", raw.get("name")),
            address=fields.text("address", raw.get("address"), required=False),
            region_code=fields.region_code("region_code", raw.get("region_code")),
            target_type=target_type,
            department=fields.text("department", raw.get("department"), max_length=64),
            credit_class=fields.choice(
                "credit_class", raw.get("credit_class") or "B", CreditClass, CREDIT_CLASS_LABELS
            ),
            status=fields.choice(
                "status", raw.get("status") or "active", TargetStatus, TARGET_STATUS_LABELS
            ),
            applicable_items=tuple(
                fields.text_list("applicable_items", raw.get("applicable_items"))
            ),
            tags=tuple(fields.text_list("tags", raw.get("tags"))),
        )

    def as_state(self) -> dict[str, Any]:
        """JSON-ready values, as recorded in events (a shallow copy: asdict deep-copies)."""
        state = {f.name: getattr(self, f.name) for f in fields_of(self)}
        state["applicable_items"] = list(self.applicable_items)
        state["tags"] = list(self.tags)
        return {k: (v.value if isinstance(v, StrEnum) else v) for k, v in state.items()}


class Target(Aggregate):
    """One entry of the target registry."""

    @staticmethod
    def create_id(identifier: str, **_: Any) -> UUID:
        return target_id(identifier)

    @event("Registered")
    def __init__(self, identifier: str, state: dict[str, Any]) -> None:
        self.identifier = identifier
        self.state = dict(state)

    @classmethod
    def register(cls, record: TargetRecord) -> Target:
        return cls(identifier=record.identifier, state=record.as_state())

    def changes_to(self, record: TargetRecord) -> dict[str, Any]:
        new = record.as_state()
        return {k: v for k, v in new.items() if self.state.get(k) != v}

    def update(self, record: TargetRecord) -> bool:
        """Record only the fields that differ; returns False (and records nothing) if none do."""
        if record.identifier != self.identifier:
            raise fields.FieldError("identifier", "标识不可修改", "the identifier cannot change")
        changes = self.changes_to(record)
        if not changes:
            return False
        self._updated(changes=changes)
        return True

    @event("Updated")
    def _updated(self, changes: dict[str, Any]) -> None:
        self.state.update(changes)
