"""The inspector registry (执法检查人员名录库) and the expert pool (专家名录库).

Eligibility on a date is a pure function of the record: a certificate valid on that date and an
active status (not suspended, not on leave that day, not transferred or retired). Draws will ask
exactly this question, as of the ledger seq of their commit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from dataclasses import fields as fields_of
from datetime import date
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ssj.domain import fields, trail
from ssj.domain import published as published_values

INSPECTOR_NAMESPACE = uuid5(NAMESPACE_URL, "urn:ssj:inspector")


class Pool(StrEnum):
    INSPECTOR = "inspector"
    EXPERT = "expert"


POOL_LABELS = {"执法检查人员": Pool.INSPECTOR, "检查人员": Pool.INSPECTOR, "专家": Pool.EXPERT}


class InspectorStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    ON_LEAVE = "on_leave"
    TRANSFERRED = "transferred"
    RETIRED = "retired"


STATUS_LABELS = {
    "在岗": InspectorStatus.ACTIVE,
    "有效": InspectorStatus.ACTIVE,
    "失效": InspectorStatus.SUSPENDED,
    # 黑白名单 of a Hainan system's roster: "黑名单中的执法人员无法参与抽选".
    "白名单": InspectorStatus.ACTIVE,
    "黑名单": InspectorStatus.SUSPENDED,
    "正常": InspectorStatus.ACTIVE,
    "暂停执法": InspectorStatus.SUSPENDED,
    "停职": InspectorStatus.SUSPENDED,
    "休假": InspectorStatus.ON_LEAVE,
    "调离": InspectorStatus.TRANSFERRED,
    "退休": InspectorStatus.RETIRED,
}

FIELD_LABELS = {
    "certificate_no": "执法证号",
    "name": "姓名",
    "department": "所属部门",
    "pool": "名录库",
    "specialties": "专业领域",
    "certificate_valid_from": "证件有效期起",
    "certificate_valid_to": "证件有效期止",
    "status": "状态",
    "leave_from": "休假开始",
    "leave_to": "休假结束",
    "home_region_code": "居住地行政区划代码",
    "id_number": "身份证号",
    "phone": "手机号",
    "certificate_kind": "证件类型",
    "issuer": "发证机关",
}
# The trail also names the dictionaries imports keep (not columns of the spreadsheet exports,
# which must import back unchanged).
TRAIL_LABELS = {
    **FIELD_LABELS,
    "extra": "其他信息（原文件中的其他列）",
    "published": "原文（与导入值不同的原文件内容）",
}


def inspector_id(certificate_no: str) -> UUID:
    return uuid5(INSPECTOR_NAMESPACE, certificate_no)


# Fields added with issue #11: absent from older events, recorded only when they hold a value.
OPTIONAL_STATE = ("id_number", "phone", "certificate_kind", "issuer", "extra", "published")
# Personal data from rosters: for officials only, never on public pages or exports.
PERSONAL_FIELDS = ("id_number", "phone")
FOREVER = "9999-12-31"


def _validity(raw: dict[str, Any], published: dict[str, str]) -> tuple[str | None, str | None]:
    """(from, to) of the certificate: two date cells, or one 有效期 cell ("2020-01-01至
    2025-12-31", one end date, 长期, 9999-09-09). None where the roster gives none: unknown
    validity, never eligible until set."""
    start = raw.get("certificate_valid_from")
    end = raw.get("certificate_valid_to")
    validity = raw.get("validity")
    if validity and not (start or end):
        found = published_values.validity(str(validity))
        if found is None:
            raise fields.FieldError(
                "validity",
                f"有效期“{validity}”无法识别（应为 2020-01-01至2025-12-31、一个日期或“长期”）",
                f"validity {validity!r} is not readable (2020-01-01至2025-12-31, a date, 长期)",
            )
        published["validity"] = str(validity)
        return found
    dates: list[str | None] = []
    for name, value in (("certificate_valid_from", start), ("certificate_valid_to", end)):
        if not value:
            dates.append(None)
            continue
        text = str(value)
        if published_values.fold(text) in {
            published_values.fold(f) for f in published_values.FOREVER
        }:
            dates.append(FOREVER)
            published[name] = text
            continue
        day = published_values.iso_date(text)
        if day is None:
            raise fields.FieldError(name, f"日期“{text}”无法识别", f"date {text!r} is not readable")
        if day != text:
            published[name] = text
        dates.append(day)
    return dates[0], dates[1]


@dataclass(frozen=True)
class InspectorRecord:
    certificate_no: str
    name: str
    department: str
    pool: Pool
    specialties: tuple[str, ...]
    certificate_valid_from: str | None  # None: not given (valid from any date up to the end)
    certificate_valid_to: str | None  # None: unknown validity, never eligible until set
    status: InspectorStatus
    leave_from: str | None = None
    leave_to: str | None = None
    home_region_code: str | None = None  # for structural conflict rules ("not in own district")
    id_number: str | None = None  # personal data: officials only
    phone: str | None = None  # personal data: officials only
    certificate_kind: str | None = None  # 证件类型, as published
    issuer: str | None = None  # 发证机关, as published
    extra: dict[str, str] = dataclass_field(default_factory=dict)
    published: dict[str, str] = dataclass_field(default_factory=dict)

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> InspectorRecord:
        """A roster row; every bad field is reported (`fields.FieldErrors`)."""
        published: dict[str, str] = {}
        c = fields.Collect()
        valid_from, valid_to = c(_validity, raw, published) or (None, None)
        if valid_from and valid_to and valid_to < valid_from:
            c.errors.append(
                fields.FieldError(
                    "certificate_valid_to",
                    "有效期止早于有效期起",
                    "certificate ends before it starts",
                )
            )
        status = c(
            fields.choice, "status", raw.get("status") or "active", InspectorStatus, STATUS_LABELS
        )
        leave_from = c(fields.iso_date, "leave_from", raw.get("leave_from"), required=False)
        leave_to = c(fields.iso_date, "leave_to", raw.get("leave_to"), required=False)
        if status is InspectorStatus.ON_LEAVE and not (leave_from and leave_to):
            c.errors.append(
                fields.FieldError(
                    "leave_from", "休假须注明起止日期", "leave needs a from and a to date"
                )
            )
        if leave_from and leave_to and leave_to < leave_from:
            c.errors.append(
                fields.FieldError("leave_to", "休假结束早于开始", "leave ends before it starts")
            )
        values = dict(
            certificate_no=c(
                fields.text, "certificate_no", raw.get("certificate_no"), max_length=64
            ),
            name=c(fields.text, "name", raw.get("name"), max_length=64),
            department=c(fields.text, "department", raw.get("department"), max_length=64),
            pool=c(fields.choice, "pool", raw.get("pool") or "inspector", Pool, POOL_LABELS),
            specialties=tuple(
                c(fields.text_list, "specialties", _split(raw.get("specialties"))) or ()
            ),
            home_region_code=(
                c(fields.region_code, "home_region_code", raw["home_region_code"])
                if raw.get("home_region_code")
                else None
            ),
            id_number=c(_optional, "id_number", raw),
            phone=c(_optional, "phone", raw),
            certificate_kind=c(_optional, "certificate_kind", raw),
            issuer=c(_optional, "issuer", raw),
            extra=c(_extra, raw.get("extra")) or {},
        )
        c.check()
        return cls(
            certificate_valid_from=valid_from,
            certificate_valid_to=valid_to,
            status=status,  # type: ignore[arg-type]
            leave_from=leave_from,
            leave_to=leave_to,
            published=published,
            **values,  # type: ignore[arg-type]
        )

    def as_state(self) -> dict[str, Any]:
        """JSON-ready values, as recorded in events (a shallow copy: asdict deep-copies)."""
        state = {f.name: getattr(self, f.name) for f in fields_of(self)}
        state["specialties"] = list(self.specialties)
        for name in OPTIONAL_STATE:
            if state[name] in (None, {}, ""):
                del state[name]
        return {k: (v.value if isinstance(v, StrEnum) else v) for k, v in state.items()}


def _split(value: object) -> object:
    """Multi-value cells mix separators (A01.直销违法行为检查，B01…,B02…): split on both."""
    if isinstance(value, str):
        return [part for part in re.split(r"[，,、；;\n]", value) if part.strip()]
    return value


def _optional(name: str, raw: dict[str, Any]) -> str | None:
    return fields.text(name, raw.get(name), required=False, max_length=200) or None


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


def eligible_on(state: Mapping[str, Any], day: date) -> bool:
    """Whether an inspector (by recorded state) may be drawn for work on `day`."""
    iso = day.isoformat()
    valid_to = state.get("certificate_valid_to")
    if valid_to is None:  # unknown validity (imported without one): never eligible until set
        return False
    if not (state.get("certificate_valid_from") or "") <= iso <= valid_to:
        return False
    status = state["status"]
    if status == InspectorStatus.ACTIVE:
        return True
    if status == InspectorStatus.ON_LEAVE:
        return not (state.get("leave_from") or "") <= iso <= (state.get("leave_to") or "")
    return False


class Inspector(Aggregate):
    """One certified inspector or expert."""

    @staticmethod
    def create_id(certificate_no: str, **_: Any) -> UUID:
        return inspector_id(certificate_no)

    class Registered(Aggregate.Created):
        certificate_no: str
        state: dict[str, Any]

    @event(Registered)
    def __init__(self, certificate_no: str, state: dict[str, Any]) -> None:
        self.certificate_no = certificate_no
        self.state = dict(state)

    @classmethod
    def register(cls, record: InspectorRecord) -> Inspector:
        """As `Target.register`: the Registered event made by `_create`, the id given."""
        certificate_no = record.certificate_no
        return cls._create(
            cls.Registered,
            id=inspector_id(certificate_no),
            certificate_no=certificate_no,
            state=record.as_state(),
        )

    def update(self, record: InspectorRecord) -> bool:
        """Record only the fields that differ; nothing if none do."""
        if record.certificate_no != self.certificate_no:
            raise fields.FieldError(
                "certificate_no", "执法证号不可修改", "the certificate number cannot change"
            )
        new = record.as_state()
        changes = {k: v for k, v in new.items() if self.state.get(k) != v}
        for name in OPTIONAL_STATE:
            if name not in new and self.state.get(name) not in (None, {}, ""):
                changes[name] = None
        if not changes:
            return False
        self._updated(changes=changes)
        return True

    class Updated(Aggregate.Event):
        changes: dict[str, Any]

    @event(Updated)
    def _updated(self, changes: dict[str, Any]) -> None:
        self.state.update(changes)

    def eligible_on(self, day: date) -> bool:
        return eligible_on(self.state, day)


# The audit trail (全程留痕): what the registry's inspector events say ------------------------


@trail.describes(Inspector.Registered)
def _trail_registered(event: Any, recall: trail.Recall) -> trail.Described:
    state = trail.attr(event, "state") or {}
    subject = (trail.INSPECTOR, str(trail.attr(event, "certificate_no", "")))
    pool = "专家" if state.get("pool") == "expert" else "执法检查人员"
    return trail.Described(
        "Inspector.Registered",
        "登记执法检查人员",
        f"登记{pool}“{state.get('name', '')}”（执法证号 {subject[1]}），所属部门 "
        f"{state.get('department', '')}，证件有效期 {state.get('certificate_valid_from') or ''}"
        f" 至 {state.get('certificate_valid_to') or '（未知，不参与抽取）'}"
        f"{trail.extra_columns(state)}",
        (subject,),
        remember={trail.originator(event): {"subjects": [subject]}},
        departments={subject: trail.departments_of(state.get("department"))},
    )


@trail.describes(Inspector.Updated)
def _trail_updated(event: Any, recall: trail.Recall) -> trail.Described:
    return trail.record_changed(event, recall, "变更执法检查人员", TRAIL_LABELS)
