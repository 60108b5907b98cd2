"""The inspection-item list (随机抽查事项清单): nothing outside it may be inspected.

Items are published, amended as new versions (only the changed fields are recorded) and retired,
never deleted. An item belongs to its lead department; a joint item (联合抽查) also admits its
cooperating departments.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from dataclasses import fields as fields_of
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ssj.domain import fields, trail
from ssj.domain import published as published_values
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
    "现场抽查": Method.ON_SITE,
    "实地检查": Method.ON_SITE,
    "实地核查": Method.ON_SITE,
    "书面审查": Method.DOCUMENTS,
    "书面核查": Method.DOCUMENTS,
    "文件查阅": Method.DOCUMENTS,
    "查阅资料": Method.DOCUMENTS,
    "资料审查": Method.DOCUMENTS,
    "网络核查": Method.ONLINE,
    "网上检查": Method.ONLINE,
    "委托第三方": Method.AGENCY,
    "抽样检测": Method.AGENCY,
    "抽样检验": Method.AGENCY,
    "书面": Method.DOCUMENTS,
    "书面检查": Method.DOCUMENTS,
    "网络": Method.ONLINE,
    "网络检查": Method.ONLINE,
    "网络监测": Method.ONLINE,
    "专业机构核查": Method.AGENCY,
    "委托专业机构": Method.AGENCY,
}

METHOD_WORDS = (
    ("现场", Method.ON_SITE),
    ("实地", Method.ON_SITE),
    ("书面", Method.DOCUMENTS),
    ("查阅", Method.DOCUMENTS),
    ("资料", Method.DOCUMENTS),
    ("网络", Method.ONLINE),
    ("网上", Method.ONLINE),
    ("在线", Method.ONLINE),
    ("专业机构", Method.AGENCY),
    ("第三方", Method.AGENCY),
    ("检验", Method.AGENCY),
    ("检测", Method.AGENCY),
)
"""Words that name a method inside a longer phrase (现场检查或书面检查 is split first)."""
CHOICE = re.compile(r"或|与|及|和|/|／")

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
    "number": "序号（原清单）",
    "parent": "上级抽查事项",
    "ratio_max": "抽查比例上限（%）",
    "frequency_max": "抽查频次上限（次/年）",
}
# The trail also names the dictionaries imports keep (not columns of the spreadsheet exports,
# which must import back unchanged).
TRAIL_LABELS = {
    **FIELD_LABELS,
    "extra": "其他信息（原文件中的其他列）",
    "published": "原文（与导入值不同的原清单内容）",
}


def item_id(department: str, code: str) -> UUID:
    return uuid5(ITEM_NAMESPACE, f"{department}\x1f{code}")


# Fields added with issue #11: absent from older events, recorded only when they hold a value.
OPTIONAL_STATE = ("number", "parent", "ratio_max", "frequency_max", "extra", "published")
CODE_PREFIX = "N-"


def derived_code(category: str | None, parent: str | None, name: str) -> str:
    """The code of an item whose list gives none: "N-" and the first 10 hex digits (upper case)
    of SHA-256 over category, parent item and name (each NFKC-folded, spaces removed, joined by
    U+001F). Re-importing the same list gives the same codes; a new edition keeps the codes of
    the items it keeps (and amends them), a renamed item is a new one."""
    parts = ["".join(unicodedata.normalize("NFKC", p or "").split()) for p in (category, parent)]
    parts.append("".join(unicodedata.normalize("NFKC", name).split()))
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return CODE_PREFIX + digest[:10].upper()


def _plain_percent(raw: str) -> Decimal | None:
    """ "5", "5%", "0.5" in a percent column: a number of percent."""
    try:
        return Decimal(published_values.fold(raw).rstrip("%"))
    except InvalidOperation:
        return None


def _ratio(value: object, published: dict[str, str]) -> tuple[str | None, str | None]:
    """(minimum, maximum) percent from a ratio cell; a blank stays blank; text that states no
    ratio without doubt (根据实际情况确定) is kept in `published` and gives none."""
    raw = fields.text("default_ratio", value, required=False)
    if not raw:
        return None, None
    number = _plain_percent(raw)
    low: Decimal | None
    high: Decimal | None
    if number is not None:
        low = high = number
    else:
        found = published_values.ratio(raw)
        if found is None:
            published["default_ratio"] = raw
            return None, None
        low, high = found.minimum, found.maximum
        published["default_ratio"] = raw
    for bound in (low, high):
        if bound is not None and not Decimal(0) < bound <= Decimal(100):
            raise fields.FieldError(
                "default_ratio",
                f"比例“{raw}”应在 0 到 100（%）之间",
                f"ratio {raw!r} must be above 0 and at most 100 (%)",
            )
    shown = [None if b is None else format(b.normalize(), "f") for b in (low, high)]
    return shown[0], shown[1] if high != low else None


def _frequency(value: object, published: dict[str, str]) -> tuple[int | None, int | None]:
    raw = fields.text("yearly_frequency", value, required=False)
    if not raw:
        return None, None
    found = published_values.frequency(raw)
    if found is None:
        published["yearly_frequency"] = raw
        return None, None
    for bound in (found.minimum, found.maximum):
        if bound is not None and not 1 <= bound <= 52:
            raise fields.FieldError(
                "yearly_frequency",
                f"频次“{raw}”应为每年 1–52 次",
                f"frequency {raw!r} must be 1-52 a year",
            )
    if not raw.isdigit():
        published["yearly_frequency"] = raw
    high = found.maximum if found.maximum != found.minimum else None
    return found.minimum, high


def _methods(value: object, published: dict[str, str]) -> tuple[Method, ...]:
    """Methods named in the cell, split on 、，,；/或与及和; parts that are no method are kept in
    `published` (with the whole cell)."""
    raw = value if isinstance(value, list) else fields.text("methods", value, required=False)
    parts: list[str] = []
    for cell in raw if isinstance(raw, list) else [raw]:
        parts.extend(published_values.split(cell))
    found: list[Method] = []
    unknown = False
    for part in parts:
        method = METHOD_LABELS.get(part) or _method_of(part)
        if method is None:
            unknown = True
        elif method not in found:
            found.append(method)
    text = "、".join(raw) if isinstance(raw, list) else raw
    if unknown or (text and CHOICE.search(text)):  # 现场检查或书面检查: keep how it was put
        published["methods"] = text
    return tuple(found)


def _method_of(part: str) -> Method | None:
    if part in {m.value for m in Method}:
        return Method(part)
    for word, method in METHOD_WORDS:
        if word in part:
            return method
    return None


def _target_type(value: object, published: dict[str, str]) -> TargetType | None:
    raw = fields.text("target_type", value, required=False)
    if not raw:
        return None
    if raw in TARGET_TYPE_LABELS:
        return TARGET_TYPE_LABELS[raw]
    if raw in {t.value for t in TargetType}:
        return TargetType(raw)
    published["target_type"] = raw
    found = published_values.target_types_of_description(raw)
    return TargetType(found[0]) if found else None


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
    target_type: TargetType | None  # None: the published 检查对象 names no type without doubt
    item_class: ItemClass
    methods: tuple[Method, ...]
    subject: str
    legal_bases: tuple[str, ...]
    content: str
    required_specialties: tuple[str, ...]
    default_ratio: str | None  # percent, the minimum of a range; None: not published
    yearly_frequency: int | None  # rounds a year, the minimum of a range; None: not published
    cooperating_departments: tuple[str, ...] = ()
    # Working days to publish a result after the inspection; None: the plan's setting applies.
    publish_within_days: int | None = None
    number: str | None = None  # the list's own 序号/编号 (often of a category), as published
    parent: str | None = None  # the 抽查事项 a 抽查子项 belongs to
    ratio_max: str | None = None
    frequency_max: int | None = None
    extra: dict[str, str] = dataclass_field(default_factory=dict)  # unmapped columns
    published: dict[str, str] = dataclass_field(default_factory=dict)  # text beside derived

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> ItemRecord:
        """An item as published: only its name (or sub-item) is required; every other field
        may be missing. Free text is read where it is unambiguous and kept in `published`
        beside what was derived; nothing is defaulted (a blank ratio stays blank). Every bad
        field is reported (`fields.FieldErrors`)."""
        published: dict[str, str] = {}
        c = fields.Collect()
        sub_item = c(fields.text, "sub_item", raw.get("sub_item"), required=False)
        parent_name = c(fields.text, "name", raw.get("name"), required=not sub_item)
        name = sub_item or parent_name or ""
        parent = parent_name if sub_item and parent_name != sub_item else None
        if parent is None and not sub_item:  # ssj's own export names the parent item
            parent = c(fields.text, "parent", raw.get("parent"), required=False) or None
        department = c(fields.text, "department", raw.get("department"), max_length=64) or ""
        category = c(fields.text, "category", raw.get("category"), required=False) or ""
        code = c(fields.text, "code", raw.get("code"), required=False, max_length=64)
        methods = c(_methods, raw.get("methods"), published) or ()
        ratio = c(_ratio, raw.get("default_ratio"), published) or (None, None)
        frequency = c(_frequency, raw.get("yearly_frequency"), published) or (None, None)
        legal_bases = tuple(
            c(fields.text_list, "legal_bases", _lines(raw.get("legal_bases"))) or ()
        )
        cooperating = tuple(
            d
            for d in c(
                fields.text_list, "cooperating_departments", raw.get("cooperating_departments")
            )
            or ()
            if d != department
        )
        values = dict(
            target_type=c(_target_type, raw.get("target_type"), published),
            item_class=c(
                fields.choice,
                "item_class",
                raw.get("item_class") or "general",
                ItemClass,
                ITEM_CLASS_LABELS,
            ),
            subject=c(fields.text, "subject", raw.get("subject"), required=False),
            content=c(
                fields.prose,
                "content",
                _joined(raw.get("content")),
                required=False,
                max_length=5000,
            ),
            required_specialties=tuple(
                c(fields.text_list, "required_specialties", raw.get("required_specialties")) or ()
            ),
            publish_within_days=c(_publish_within, raw.get("publish_within_days")),
            number=c(fields.text, "number", raw.get("number"), required=False, max_length=64)
            or None,
            extra=c(_extra, raw.get("extra")) or {},
        )
        if raw.get("ratio_max") and ratio[1] is None:  # ssj's own export: the upper bound
            high_ratio = c(_ratio, raw.get("ratio_max"), {}) or (None, None)
            ratio = (ratio[0], high_ratio[0])
        if raw.get("frequency_max") and frequency[1] is None:
            high = c(_frequency, raw.get("frequency_max"), {}) or (None, None)
            frequency = (frequency[0], high[0])
        c.check()
        return cls(
            code=code or derived_code(category, parent, name),
            department=department,
            category=category,
            name=name,
            methods=methods,
            legal_bases=legal_bases,
            default_ratio=ratio[0],
            ratio_max=ratio[1],
            yearly_frequency=frequency[0],
            frequency_max=frequency[1],
            cooperating_departments=cooperating,
            parent=parent,
            published=published,
            **values,  # type: ignore[arg-type]
        )

    def as_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields_of(self)}
        for key in ("methods", "legal_bases", "required_specialties", "cooperating_departments"):
            state[key] = [str(v) for v in state[key]]
        for name in OPTIONAL_STATE:
            if state[name] in (None, {}, ""):
                del state[name]
        return {k: (v.value if isinstance(v, StrEnum) else v) for k, v in state.items()}


def _lines(value: object) -> object:
    """A list cell holding several entries on separate lines (a 检查依据 cell listing one
    document per line) gives one entry per line."""
    if isinstance(value, list):
        return [line for v in value if isinstance(v, str) for line in v.splitlines()]
    return value


def _joined(value: object) -> object:
    if isinstance(value, list):
        return "\n".join(v for v in value if v)
    return value


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


class Item(Aggregate):
    """One inspection item; its version counts amendments."""

    @staticmethod
    def create_id(department: str, code: str, **_: Any) -> UUID:
        return item_id(department, code)

    class Published(Aggregate.Created):
        department: str
        code: str
        state: dict[str, Any]

    @event(Published)
    def __init__(self, department: str, code: str, state: dict[str, Any]) -> None:
        self.department = department
        self.code = code
        self.state = dict(state)
        self.retired_reason: str | None = None

    @classmethod
    def publish(cls, record: ItemRecord) -> Item:
        """As `Target.register`: the Published event made by `_create`, the id given."""
        department, code = record.department, record.code
        return cls._create(
            cls.Published,
            id=item_id(department, code),
            department=department,
            code=code,
            state=record.as_state(),
        )

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
        new = record.as_state()
        for name in OPTIONAL_STATE:
            if name not in new and self.state.get(name) not in (None, {}, ""):
                changes[name] = None
        if not changes:
            return False
        self._amended(changes=changes)
        return True

    class Amended(Aggregate.Event):
        changes: dict[str, Any]

    @event(Amended)
    def _amended(self, changes: dict[str, Any]) -> None:
        self.state.update(changes)

    def retire(self, reason: str) -> None:
        if self.retired_reason is not None:
            raise ConflictError(f"事项 {self.code} 已废止", f"item {self.code} is already retired")
        self._retired(reason=fields.prose("reason", reason))

    class Retired(Aggregate.Event):
        reason: str

    @event(Retired)
    def _retired(self, reason: str) -> None:
        self.retired_reason = reason


# The audit trail (全程留痕): what the item list's events say ---------------------------------


@trail.describes(Item.Published)
def _trail_published(event: Any, recall: trail.Recall) -> trail.Described:
    state = trail.attr(event, "state") or {}
    department = str(trail.attr(event, "department", ""))
    subject = (trail.ITEM, f"{department}/{trail.attr(event, 'code', '')}")
    departments = trail.departments_of(department, state.get("cooperating_departments") or [])
    return trail.Described(
        "Item.Published",
        "发布抽查事项",
        f"发布抽查事项“{state.get('name', '')}”（{subject[1]}），抽查比例 "
        f"{state.get('default_ratio', '')}%",
        (subject,),
        remember={trail.originator(event): {"subjects": [subject], "department": department}},
        departments={subject: departments},
    )


@trail.describes(Item.Amended)
def _trail_amended(event: Any, recall: trail.Recall) -> trail.Described:
    memo = recall(trail.originator(event))
    subjects = trail.memo_subjects(memo)
    changes = trail.attr(event, "changes") or {}
    amended: dict[trail.Subject, tuple[str, ...]] = {}
    if "cooperating_departments" in changes:
        lead = (memo or {}).get("department", "")
        every = trail.departments_of(lead, changes["cooperating_departments"] or [])
        amended = {s: every for s in subjects}
    return trail.Described(
        "Item.Amended",
        "修订抽查事项",
        f"修订抽查事项：{trail.changes_text(changes, TRAIL_LABELS)}",
        tuple(subjects),
        departments=amended,
    )


@trail.describes(Item.Retired)
def _trail_retired(event: Any, recall: trail.Recall) -> trail.Described:
    return trail.Described(
        "Item.Retired",
        "废止抽查事项",
        f"废止抽查事项，理由：{trail.attr(event, 'reason', '')}",
        tuple(trail.memo_subjects(recall(trail.originator(event)))),
    )
