"""The inspector registry (执法检查人员名录库) and the expert pool (专家名录库).

Eligibility on a date is a pure function of the record: a certificate valid on that date and an
active status (not suspended, not on leave that day, not transferred or retired). Draws will ask
exactly this question, as of the ledger seq of their commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import fields as fields_of
from datetime import date
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ssj.domain import fields

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
}


def inspector_id(certificate_no: str) -> UUID:
    return uuid5(INSPECTOR_NAMESPACE, certificate_no)


@dataclass(frozen=True)
class InspectorRecord:
    certificate_no: str
    name: str
    department: str
    pool: Pool
    specialties: tuple[str, ...]
    certificate_valid_from: str
    certificate_valid_to: str
    status: InspectorStatus
    leave_from: str | None = None
    leave_to: str | None = None
    home_region_code: str | None = None  # for structural conflict rules ("not in own district")

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> InspectorRecord:
        valid_from = fields.iso_date("certificate_valid_from", raw.get("certificate_valid_from"))
        valid_to = fields.iso_date("certificate_valid_to", raw.get("certificate_valid_to"))
        assert valid_from is not None and valid_to is not None
        if valid_to < valid_from:
            raise fields.FieldError(
                "certificate_valid_to", "有效期止早于有效期起", "certificate ends before it starts"
            )
        status = fields.choice(
            "status", raw.get("status") or "active", InspectorStatus, STATUS_LABELS
        )
        leave_from = fields.iso_date("leave_from", raw.get("leave_from"), required=False)
        leave_to = fields.iso_date("leave_to", raw.get("leave_to"), required=False)
        if status is InspectorStatus.ON_LEAVE and not (leave_from and leave_to):
            raise fields.FieldError(
                "leave_from", "休假须注明起止日期", "leave needs a from and a to date"
            )
        if leave_from and leave_to and leave_to < leave_from:
            raise fields.FieldError("leave_to", "休假结束早于开始", "leave ends before it starts")
        return cls(
            certificate_no=fields.text("certificate_no", raw.get("certificate_no"), max_length=64),
            name=fields.text("name", raw.get("name"), max_length=64),
            department=fields.text("department", raw.get("department"), max_length=64),
            pool=fields.choice("pool", raw.get("pool") or "inspector", Pool, POOL_LABELS),
            specialties=tuple(fields.text_list("specialties", raw.get("specialties"))),
            certificate_valid_from=valid_from,
            certificate_valid_to=valid_to,
            status=status,
            leave_from=leave_from,
            leave_to=leave_to,
            home_region_code=(
                fields.region_code("home_region_code", raw["home_region_code"])
                if raw.get("home_region_code")
                else None
            ),
        )

    def as_state(self) -> dict[str, Any]:
        """JSON-ready values, as recorded in events (a shallow copy: asdict deep-copies)."""
        state = {f.name: getattr(self, f.name) for f in fields_of(self)}
        state["specialties"] = list(self.specialties)
        return {k: (v.value if isinstance(v, StrEnum) else v) for k, v in state.items()}


def eligible_on(state: dict[str, Any], day: date) -> bool:
    """Whether an inspector (by recorded state) may be drawn for work on `day`."""
    iso = day.isoformat()
    if not state["certificate_valid_from"] <= iso <= state["certificate_valid_to"]:
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

    @event("Registered")
    def __init__(self, certificate_no: str, state: dict[str, Any]) -> None:
        self.certificate_no = certificate_no
        self.state = dict(state)

    @classmethod
    def register(cls, record: InspectorRecord) -> Inspector:
        return cls(certificate_no=record.certificate_no, state=record.as_state())

    def update(self, record: InspectorRecord) -> bool:
        """Record only the fields that differ; nothing if none do."""
        if record.certificate_no != self.certificate_no:
            raise fields.FieldError(
                "certificate_no", "执法证号不可修改", "the certificate number cannot change"
            )
        changes = {k: v for k, v in record.as_state().items() if self.state.get(k) != v}
        if not changes:
            return False
        self._updated(changes=changes)
        return True

    @event("Updated")
    def _updated(self, changes: dict[str, Any]) -> None:
        self.state.update(changes)

    def eligible_on(self, day: date) -> bool:
        return eligible_on(self.state, day)
