"""Departments, users and API tokens: who may act, for which department.

Departments form a tree (province, city, county; bureau 局 and its sections 科室/支队). Tokens are
recorded only as SHA-256 hashes: the ledger proves a token was issued and revoked, and never
holds a secret.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ssj.domain import fields, trail
from ssj.errors import ConflictError

DEPARTMENT_NAMESPACE = uuid5(NAMESPACE_URL, "urn:ssj:department")
USER_NAMESPACE = uuid5(NAMESPACE_URL, "urn:ssj:user")
TOKEN_NAMESPACE = uuid5(NAMESPACE_URL, "urn:ssj:token")


class Level(StrEnum):
    PROVINCE = "province"
    CITY = "city"
    COUNTY = "county"


LEVEL_LABELS = {
    "省级": Level.PROVINCE,
    "省": Level.PROVINCE,
    "市级": Level.CITY,
    "市": Level.CITY,
    "县级": Level.COUNTY,
    "县": Level.COUNTY,
    "区": Level.COUNTY,
}


class DepartmentKind(StrEnum):
    BUREAU = "bureau"  # 局
    SECTION = "section"  # 科室 / 支队


KIND_LABELS = {
    "局": DepartmentKind.BUREAU,
    "科室": DepartmentKind.SECTION,
    "支队": DepartmentKind.SECTION,
}


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    LEADER = "leader"  # approves
    INSPECTOR = "inspector"
    SUPERVISOR = "supervisor"  # discipline inspection: reads everything, witnesses draws
    REVIEWER = "reviewer"  # assessment, read-only
    PUBLIC = "public"


ROLE_LABELS = {
    "管理员": Role.ADMIN,
    "操作员": Role.OPERATOR,
    "经办人": Role.OPERATOR,
    "领导": Role.LEADER,
    "审批人": Role.LEADER,
    "执法人员": Role.INSPECTOR,
    "检查人员": Role.INSPECTOR,
    "纪检监察": Role.SUPERVISOR,
    "监督员": Role.SUPERVISOR,
    "考核": Role.REVIEWER,
    "考核人员": Role.REVIEWER,
}


def department_id(code: str) -> UUID:
    return uuid5(DEPARTMENT_NAMESPACE, code)


def name_key(name: str) -> str:
    """How department names are compared: NFKC (full-width brackets), no spaces, case-folded."""
    return "".join(unicodedata.normalize("NFKC", name).split()).casefold()


NAME_SEPARATORS = re.compile(r"[、，,；;/／\n]")


def resolve_departments(
    text: str, departments: Iterable[Mapping[str, Any]]
) -> tuple[list[str], list[str]]:
    """The codes a published cell names (several per cell, split on 、，,；/) by code, name or
    alias of the open departments, and the names it could not resolve. Pure."""
    index: dict[str, str] = {}
    for state in departments:
        if state.get("closed"):
            continue
        for name in (state["code"], state["name"], *state.get("aliases", ())):
            index.setdefault(name_key(str(name)), state["code"])
    codes: list[str] = []
    unresolved: list[str] = []
    whole = index.get(name_key(text))
    parts = [text] if whole is not None else [p.strip() for p in NAME_SEPARATORS.split(text)]
    for part in parts:
        if not part:
            continue
        code = index.get(name_key(part))
        if code is None:
            unresolved.append(part)
        elif code not in codes:
            codes.append(code)
    return codes, unresolved


def user_id(username: str) -> UUID:
    return uuid5(USER_NAMESPACE, username)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Department(Aggregate):
    @staticmethod
    def create_id(code: str, **_: Any) -> UUID:
        return department_id(code)

    class Registered(Aggregate.Created):
        code: str
        name: str
        level: str
        kind: str
        parent: str | None
        region_code: str

    @event(Registered)
    def __init__(
        self, code: str, name: str, level: str, kind: str, parent: str | None, region_code: str
    ) -> None:
        self.code = code
        self.name = name
        self.level = level
        self.kind = kind
        self.parent = parent
        self.region_code = region_code
        self.closed = False

    @classmethod
    def register(
        cls, code: str, name: str, level: str, kind: str, parent: str | None, region_code: str
    ) -> Department:
        """Validate first, so the event records canonical values."""
        return cls(
            code=fields.text("code", code, max_length=64),
            name=fields.text("name", name),
            level=fields.choice("level", level, Level, LEVEL_LABELS).value,
            kind=fields.choice("kind", kind, DepartmentKind, KIND_LABELS).value,
            parent=fields.text("parent", parent, required=False, max_length=64) or None,
            region_code=fields.region_code("region_code", region_code),
        )

    def same_as(self, other: Department) -> bool:
        """`other` registers exactly this open department again (a retried command): nothing
        to record."""
        return not self.closed and _registered(self) == _registered(other)

    def rename(self, name: str) -> None:
        self._renamed(name=fields.text("name", name))

    class Renamed(Aggregate.Event):
        name: str

    @event(Renamed)
    def _renamed(self, name: str) -> None:
        self.name = name

    def add_alias(self, alias: str) -> bool:
        """Another name files use for this department (省市场监管局, 某某市场监督管理所): imports
        resolve names by code, name or alias. Returns False when it is one already."""
        alias = fields.text("alias", alias, max_length=200)
        aliases = list(getattr(self, "aliases", []))
        if alias == self.name or alias in aliases:
            return False
        self._aliases_set(aliases=[*aliases, alias])
        return True

    class AliasesSet(Aggregate.Event):
        aliases: list[str]

    @event(AliasesSet)
    def _aliases_set(self, aliases: list[str]) -> None:
        self.aliases = aliases

    def close(self, reason: str) -> None:
        if self.closed:
            raise ConflictError(
                f"部门 {self.code} 已撤销", f"department {self.code} is already closed"
            )
        self._closed(reason=fields.prose("reason", reason))

    class Closed(Aggregate.Event):
        reason: str

    @event(Closed)
    def _closed(self, reason: str) -> None:
        self.closed = True


class User(Aggregate):
    @staticmethod
    def create_id(username: str, **_: Any) -> UUID:
        return user_id(username)

    class Registered(Aggregate.Created):
        username: str
        name: str
        department: str
        roles: list[str]

    @event(Registered)
    def __init__(self, username: str, name: str, department: str, roles: list[str]) -> None:
        self.username = username
        self.name = name
        self.department = department
        self.roles = roles
        self.active = True
        self.certificate_no: str | None = None

    @classmethod
    def register(cls, username: str, name: str, department: str, roles: list[str] | str) -> User:
        return cls(
            username=fields.text("username", username, max_length=64),
            name=fields.text("name", name, max_length=64),
            department=fields.text("department", department, max_length=64),
            roles=parse_roles(roles),
        )

    def same_as(self, other: User) -> bool:
        """`other` registers exactly this active user again: nothing to record."""
        return self.active and _registered(self) == _registered(other)

    def set_roles(self, roles: list[str]) -> None:
        parsed = parse_roles(roles)
        if parsed != self.roles:
            self._roles_set(roles=parsed)

    class RolesSet(Aggregate.Event):
        roles: list[str]

    @event(RolesSet)
    def _roles_set(self, roles: list[str]) -> None:
        self.roles = roles

    def link_certificate(self, certificate_no: str) -> bool:
        """Which inspector this user is: an inspector acts on a team (records results, recuses
        themselves) only as the certificate holder it is linked to."""
        certificate_no = fields.text("certificate_no", certificate_no, max_length=64)
        if certificate_no == self.certificate_no:
            return False
        self._certificate_linked(certificate_no=certificate_no)
        return True

    class CertificateLinked(Aggregate.Event):
        certificate_no: str

    @event(CertificateLinked)
    def _certificate_linked(self, certificate_no: str) -> None:
        self.certificate_no = certificate_no

    def deactivate(self, reason: str) -> None:
        if not self.active:
            raise ConflictError(
                f"用户 {self.username} 已停用", f"user {self.username} is already inactive"
            )
        self._deactivated(reason=fields.prose("reason", reason))

    class Deactivated(Aggregate.Event):
        reason: str

    @event(Deactivated)
    def _deactivated(self, reason: str) -> None:
        self.active = False


def _registered(aggregate: Department | User) -> tuple[Any, ...]:
    """What a registration records (departments: code to region; users: who, where, roles)."""
    if isinstance(aggregate, Department):
        return (
            aggregate.code,
            aggregate.name,
            aggregate.level,
            aggregate.kind,
            aggregate.parent,
            aggregate.region_code,
        )
    return (aggregate.username, aggregate.name, aggregate.department, sorted(aggregate.roles))


def parse_roles(roles: list[str] | str) -> list[str]:
    """Sorted, unique role values; the public role is for anonymous access, never assigned."""
    parsed = sorted(
        {
            fields.choice("roles", r, Role, ROLE_LABELS).value
            for r in fields.text_list("roles", roles)
        }
    )
    if not parsed:
        raise fields.FieldError("roles", "至少一个角色", "at least one role")
    if Role.PUBLIC in parsed:
        raise fields.FieldError(
            "roles", "公众角色不能分配给用户", "the public role cannot be assigned"
        )
    return parsed


class ApiToken(Aggregate):
    """An API token, known to the ledger only by its hash."""

    @staticmethod
    def create_id(token_sha256: str, **_: Any) -> UUID:
        return uuid5(TOKEN_NAMESPACE, token_sha256)

    class Issued(Aggregate.Created):
        token_sha256: str
        username: str
        label: str

    @event(Issued)
    def __init__(self, token_sha256: str, username: str, label: str) -> None:
        self.token_sha256 = token_sha256
        self.username = username
        self.label = label
        self.revoked = False

    def revoke(self, reason: str) -> None:
        if self.revoked:
            raise ConflictError("令牌已吊销", "token is already revoked")
        self._revoked(reason=fields.prose("reason", reason))

    class Revoked(Aggregate.Event):
        reason: str

    @event(Revoked)
    def _revoked(self, reason: str) -> None:
        self.revoked = True


# The audit trail (全程留痕): what the organisation's events say ------------------------------

DEPARTMENT_LABELS_ZH = {
    "Registered": "登记部门",
    "Renamed": "部门更名",
    "Closed": "撤销部门",
    "AliasesSet": "部门别名",
}


@trail.describes(
    Department.Registered, Department.Renamed, Department.AliasesSet, Department.Closed
)
def _trail_department(event: Any, recall: trail.Recall) -> trail.Described:
    name = type(event).__name__
    detail = trail.attr(event, "name") or trail.attr(event, "reason") or ""
    if isinstance(event, Department.AliasesSet):
        detail = "、".join(trail.attr(event, "aliases") or ())
    zh = DEPARTMENT_LABELS_ZH[name]
    return trail.Described(f"Department.{name}", zh, f"{zh} {detail}")


@trail.describes(User.Registered)
def _trail_user_registered(event: Any, recall: trail.Recall) -> trail.Described:
    subject = (trail.USER, str(trail.attr(event, "username", "")))
    roles = "、".join(trail.attr(event, "roles") or [])
    return trail.Described(
        "User.Registered",
        "登记用户",
        f"登记用户 {subject[1]}（{trail.attr(event, 'name', '')}），部门 "
        f"{trail.attr(event, 'department', '')}，角色 {roles}",
        (subject,),
        remember={trail.originator(event): {"subjects": [subject]}},
        departments={subject: trail.departments_of(trail.attr(event, "department"))},
    )


@trail.describes(User.RolesSet)
def _trail_roles_set(event: Any, recall: trail.Recall) -> trail.Described:
    subjects = trail.memo_subjects(recall(trail.originator(event)))
    roles = "、".join(trail.attr(event, "roles") or [])
    return trail.Described("User.RolesSet", "设置角色", f"角色改为 {roles}", tuple(subjects))


@trail.describes(User.CertificateLinked)
def _trail_certificate_linked(event: Any, recall: trail.Recall) -> trail.Described:
    subjects = trail.memo_subjects(recall(trail.originator(event)))
    certificate = str(trail.attr(event, "certificate_no", ""))
    users = "、".join(i for _, i in subjects)
    inspector = (trail.INSPECTOR, certificate)
    return trail.Described(
        "User.CertificateLinked",
        "关联执法证",
        f"用户 {users} 关联执法证号 {certificate}",
        trail.unique([*subjects, inspector]),
        notes={inspector: f"执法证号 {certificate} 关联到用户 {users}"},
    )


@trail.describes(User.Deactivated)
def _trail_deactivated(event: Any, recall: trail.Recall) -> trail.Described:
    return trail.Described(
        "User.Deactivated",
        "停用用户",
        f"停用用户，理由：{trail.attr(event, 'reason', '')}",
        tuple(trail.memo_subjects(recall(trail.originator(event)))),
    )


@trail.describes(ApiToken.Issued)
def _trail_token_issued(event: Any, recall: trail.Recall) -> trail.Described:
    subject = (trail.USER, str(trail.attr(event, "username", "")))
    return trail.Described(
        "ApiToken.Issued",
        "签发令牌",
        f"为用户 {subject[1]} 签发 API 令牌（{trail.attr(event, 'label', '')}；账本只存其哈希）",
        (subject,),
        remember={trail.originator(event): {"subjects": [subject]}},
    )


@trail.describes(ApiToken.Revoked)
def _trail_token_revoked(event: Any, recall: trail.Recall) -> trail.Described:
    return trail.Described(
        "ApiToken.Revoked",
        "吊销令牌",
        f"吊销 API 令牌，理由：{trail.attr(event, 'reason', '')}",
        tuple(trail.memo_subjects(recall(trail.originator(event)))),
    )
