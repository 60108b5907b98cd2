"""The inspection-item list (随机抽查事项清单): nothing outside it may be inspected.

Items are published, amended as new versions (only the changed fields are recorded) and retired,
never deleted. An item belongs to its lead department; a joint item (联合抽查) also admits its
cooperating departments.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import fields as fields_of
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ssj.domain import fields
from ssj.domain.targets import TARGET_TYPE_LABELS, TargetType
from ssj.errors import ConflictError

ITEM_NAMESPACE = uuid5(NAMESPACE_URL, "urn:ssj:item")


class ItemClass(StrEnum):
    GENERAL = "general"  # 一般检查事项
    KEY = "key"  # 重点检查事项: no upper ratio limit


ITEM_CLASS_LABELS = {
    "一般": ItemClass.GENERAL,
    "一般检查事项": ItemClass.GENERAL,
    "重点": ItemClass.KEY,
    "重点检查事项": ItemClass.KEY,
}


class Method(StrEnum):
    ON_SITE = "on_site"  # 现场检查
    DOCUMENTS = "documents"  # 书面检查
    ONLINE = "online"  # 网络检查
    AGENCY = "agency"  # 专业机构核查


METHOD_LABELS = {
    "现场": Method.ON_SITE,
    "现场检查": Method.ON_SITE,
    "书面": Method.DOCUMENTS,
    "书面检查": Method.DOCUMENTS,
    "网络": Method.ONLINE,
    "网络检查": Method.ONLINE,
    "网络监测": Method.ONLINE,
    "专业机构核查": Method.AGENCY,
    "委托专业机构": Method.AGENCY,
}

FIELD_LABELS = {
    "code": "事项编码",
    "department": "牵头部门",
    "category": "抽查类别",
    "name": "抽查事项",
    "target_type": "检查对象类型",
    "item_class": "事项类别",
    "methods": "检查方式",
    "subject": "检查主体",
    "legal_bases": "抽查依据",
    "content": "检查内容及标准",
    "required_specialties": "所需专业资质",
    "default_ratio": "抽查比例（%）",
    "yearly_frequency": "抽查频次（次/年）",
    "cooperating_departments": "配合部门",
    "publish_within_days": "结果公示期限（工作日）",
}


def item_id(department: str, code: str) -> UUID:
    return uuid5(ITEM_NAMESPACE, f"{department}\x1f{code}")


def _ratio(value: object) -> str:
    raw = fields.text("default_ratio", value).rstrip("%％").strip()
    try:
        ratio = Decimal(raw)
    except InvalidOperation:
        raise fields.FieldError(
            "default_ratio", f"比例无效“{raw}”", f"invalid ratio {raw!r}"
        ) from None
    if not Decimal(0) < ratio <= Decimal(100):
        raise fields.FieldError(
            "default_ratio", "比例应在 0 到 100 之间", "ratio must be above 0 and at most 100"
        )
    return format(ratio.normalize(), "f")  # "30", not "3E+1"


def _frequency(value: object) -> int:
    raw = fields.text("yearly_frequency", value or "1").removesuffix("次").removesuffix("次/年")
    if not raw.isdigit() or not 1 <= int(raw) <= 52:
        raise fields.FieldError(
            "yearly_frequency",
            f"频次应为 1–52 的整数，实际为“{raw}”",
            f"frequency must be a whole number 1-52, got {raw!r}",
        )
    return int(raw)


def _publish_within(value: object) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return fields.whole("publish_within_days", value, 1, 60)


@dataclass(frozen=True)
class ItemRecord:
    code: str
    department: str
    category: str
    name: str
    target_type: TargetType
    item_class: ItemClass
    methods: tuple[Method, ...]
    subject: str
    legal_bases: tuple[str, ...]
    content: str
    required_specialties: tuple[str, ...]
    default_ratio: str
    yearly_frequency: int
    cooperating_departments: tuple[str, ...] = ()
    # Working days to publish a result after the inspection; None: the plan's setting applies.
    publish_within_days: int | None = None

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> ItemRecord:
        department = fields.text("department", raw.get("department"), max_length=64)
        methods = tuple(
            fields.choice("methods", m, Method, METHOD_LABELS)
            for m in fields.text_list("methods", raw.get("methods"))
        )
        if not methods:
            raise fields.FieldError("methods", "至少一种检查方式", "at least one method")
        legal_bases = tuple(fields.text_list("legal_bases", raw.get("legal_bases")))
        if not legal_bases:
            raise fields.FieldError("legal_bases", "必须列明抽查依据", "a legal basis is required")
        cooperating = tuple(
            d
            for d in fields.text_list("cooperating_departments", raw.get("cooperating_departments"))
            if d != department
        )
        return cls(
            code=fields.text("code", raw.get("code"), max_length=64),
            department=department,
            category=fields.text("category", raw.get("category"), required=False),
            name=fields.text("name", raw.get("name")),
            target_type=fields.choice(
                "target_type", raw.get("target_type"), TargetType, TARGET_TYPE_LABELS
            ),
            item_class=fields.choice(
                "item_class", raw.get("item_class") or "general", ItemClass, ITEM_CLASS_LABELS
            ),
            methods=methods,
            subject=fields.text("subject", raw.get("subject"), required=False),
            legal_bases=legal_bases,
            content=fields.prose("content", raw.get("content"), required=False, max_length=5000),
            required_specialties=tuple(
                fields.text_list("required_specialties", raw.get("required_specialties"))
            ),
            default_ratio=_ratio(raw.get("default_ratio") or "5"),
            yearly_frequency=_frequency(raw.get("yearly_frequency")),
            cooperating_departments=cooperating,
            publish_within_days=_publish_within(raw.get("publish_within_days")),
        )

    def as_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields_of(self)}
        for key in ("methods", "legal_bases", "required_specialties", "cooperating_departments"):
            state[key] = [str(v) for v in state[key]]
        return {k: (v.value if isinstance(v, StrEnum) else v) for k, v in state.items()}


class Item(Aggregate):
    """One inspection item; its version counts amendments."""

    @staticmethod
    def create_id(department: str, code: str, **_: Any) -> UUID:
        return item_id(department, code)

    @event("Published")
    def __init__(self, department: str, code: str, state: dict[str, Any]) -> None:
        self.department = department
        self.code = code
        self.state = dict(state)
        self.retired_reason: str | None = None

    @classmethod
    def publish(cls, record: ItemRecord) -> Item:
        return cls(department=record.department, code=record.code, state=record.as_state())

    @property
    def departments(self) -> tuple[str, ...]:
        """Departments that may act on this item: the lead, then cooperating ones."""
        return (self.department, *self.state.get("cooperating_departments", ()))

    def amend(self, record: ItemRecord) -> bool:
        if self.retired_reason is not None:
            raise ConflictError(
                f"事项 {self.code} 已废止，不能修改",
                f"item {self.code} is retired and cannot be amended",
            )
        if (record.department, record.code) != (self.department, self.code):
            raise fields.FieldError(
                "code",
                "事项编码与牵头部门不可修改",
                "the item code and lead department cannot change",
            )
        changes = {k: v for k, v in record.as_state().items() if self.state.get(k) != v}
        if not changes:
            return False
        self._amended(changes=changes)
        return True

    @event("Amended")
    def _amended(self, changes: dict[str, Any]) -> None:
        self.state.update(changes)

    def retire(self, reason: str) -> None:
        if self.retired_reason is not None:
            raise ConflictError(f"事项 {self.code} 已废止", f"item {self.code} is already retired")
        self._retired(reason=fields.prose("reason", reason))

    @event("Retired")
    def _retired(self, reason: str) -> None:
        self.retired_reason = reason
