"""Commands on the organisation and the registries (一单两库).

Each: validate the input into a record (domain), authorise for the departments it touches,
load the aggregate, decide, save with the actor. Bad input and refusals write nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from ssj.domain import fields
from ssj.domain.access import Command, Forbidden, Principal
from ssj.domain.conflicts import ConflictRules, Declaration
from ssj.domain.inspectors import Inspector, InspectorRecord, inspector_id
from ssj.domain.items import Item, ItemRecord, item_id
from ssj.domain.organisation import (
    ApiToken,
    Department,
    Role,
    User,
    department_id,
    name_key,
    token_hash,
    user_id,
)
from ssj.domain.targets import Target, TargetRecord, target_id
from ssj.errors import ConflictError, NotFoundError, ValidationError
from ssj.ledger.envelope import SYSTEM, Actor
from ssj.services.base import Outcome, Service


class RegistryService(Service):
    # Organisation ------------------------------------------------------------------------------

    def bootstrap(
        self,
        username: str,
        name: str,
        department: str,
        department_name: str,
        region_code: str,
        level: str = "city",
    ) -> Outcome:
        """The first department and administrator; only while there are no users at all (the
        same bootstrap again is "unchanged")."""
        dept = Department.register(department, department_name, level, "bureau", None, region_code)
        admin = User.register(username, name, dept.code, ["admin"])
        self.s.refresh()
        if self.s.queries.list("users", limit=1).total:
            done_dept = self._find(Department, dept.id)
            done_admin = self._find(User, admin.id)
            if done_dept and done_admin and done_dept.same_as(dept) and done_admin.same_as(admin):
                return "unchanged"
            raise ConflictError(
                "已有用户，不能再次初始化管理员", "users exist already: bootstrap is done"
            )
        self.s.ledger.save(dept, admin, actor=SYSTEM)
        self.s.refresh()
        return "created"

    def add_department(
        self,
        principal: Principal,
        code: str,
        name: str,
        level: str,
        kind: str,
        parent: str | None,
        region_code: str,
    ) -> Outcome:
        """Register a department; the same registration again is "unchanged" (nothing
        written), a different one under an existing code a conflict."""
        dept = Department.register(code, name, level, kind, parent, region_code)
        actor = self.s.authorise(principal, Command.MANAGE_ORGANISATION)
        if self._registered(
            dept,
            f"部门 {dept.code} 已存在（登记内容不同）",
            f"department {dept.code} exists already (registered otherwise)",
        ):
            return "unchanged"
        if dept.parent:
            self.s.refresh()
            self.s.require_department(dept.parent)
        self._save(actor, dept)
        return "created"

    def add_department_alias(self, principal: Principal, code: str, alias: str) -> bool:
        """Another name imports resolve to this department; False when it is one already.
        An alias another open department already answers to is refused: a name must resolve
        to one department."""
        actor = self.s.authorise(principal, Command.MANAGE_ORGANISATION)
        dept = self._get(Department, department_id(code), f"部门 {code} / department {code}")
        if dept.closed:
            raise ConflictError(f"部门 {code} 已撤销", f"department {code} is closed")
        self.s.refresh()
        for other in self.s.queries.states("departments"):
            names = (other["code"], other["name"], *other.get("aliases", ()))
            clash = name_key(alias) in {name_key(str(n)) for n in names}
            if clash and other["code"] != dept.code and not other["closed"]:
                raise ConflictError(
                    f"名称“{alias.strip()}”已是部门 {other['code']} 的编码、名称或别名",
                    f"'{alias.strip()}' is already the code, name or alias of department "
                    f"{other['code']}",
                )
        if not dept.add_alias(alias):
            return False
        self._save(actor, dept)
        return True

    def add_user(
        self,
        principal: Principal,
        username: str,
        name: str,
        department: str,
        roles: list[str] | str,
    ) -> Outcome:
        """Register a user; the same registration again (still active) is "unchanged"."""
        user = User.register(username, name, department, roles)
        actor = self.s.authorise(principal, Command.MANAGE_ORGANISATION)
        if self._registered(
            user,
            f"用户 {user.username} 已存在（登记内容不同或已停用）",
            f"user {user.username} exists already (registered otherwise, or inactive)",
        ):
            return "unchanged"
        self.s.refresh()
        self.s.require_department(user.department)
        self._save(actor, user)
        return "created"

    def _registered(self, new: Department | User, zh: str, en: str) -> bool:
        """True if `new` is registered identically already; ConflictError (zh, en) if its key
        is registered otherwise; False if it is not registered."""
        existing = self._find(type(new), new.id)
        if existing is None:
            return False
        if existing.same_as(new):  # type: ignore[arg-type]
            return True
        raise ConflictError(zh, en)

    def set_roles(self, principal: Principal, username: str, roles: list[str] | str) -> None:
        actor = self.s.authorise(principal, Command.MANAGE_ORGANISATION)
        user = self._get(User, user_id(username), f"用户 {username} / user {username}")
        user.set_roles(roles if isinstance(roles, list) else [roles])
        self._save(actor, user)

    def deactivate_user(self, principal: Principal, username: str, reason: str) -> None:
        actor = self.s.authorise(principal, Command.MANAGE_ORGANISATION)
        user = self._get(User, user_id(username), f"用户 {username} / user {username}")
        user.deactivate(reason)
        self._save(actor, user)

    def link_certificate(self, principal: Principal, username: str, certificate_no: str) -> bool:
        """Link a user to the inspector they are: same department, one user per certificate."""
        actor = self.s.authorise(principal, Command.MANAGE_ORGANISATION)
        user = self._get(User, user_id(username), f"用户 {username} / user {username}")
        self.s.refresh()
        inspector = self.s.queries.get("inspectors", [certificate_no.strip()])
        if inspector is None:
            raise NotFoundError(
                f"执法证号 {certificate_no} 不在人员名录库中",
                f"certificate {certificate_no} is not in the inspector registry",
            )
        if inspector["department"] != user.department:
            raise ValidationError(
                f"执法证号 {certificate_no} 属于 {inspector['department']}，用户属于 {user.department}",
                f"certificate {certificate_no} belongs to {inspector['department']}, "
                f"the user to {user.department}",
            )
        for other in self.s.queries.states("users"):
            if other.get("certificate_no") == inspector["certificate_no"] and (
                other["username"] != user.username
            ):
                raise ConflictError(
                    f"执法证号 {certificate_no} 已关联用户 {other['username']}",
                    f"certificate {certificate_no} is linked to user {other['username']} already",
                )
        changed = user.link_certificate(inspector["certificate_no"])
        if changed:
            self._save(actor, user)
        return changed

    def issue_token(self, principal: Principal, username: str, label: str) -> str:
        """Returns the secret once; the ledger keeps only its SHA-256."""
        actor = self.s.authorise(principal, Command.MANAGE_ORGANISATION)
        user = self._get(User, user_id(username), f"用户 {username} / user {username}")
        if not user.active:
            raise ConflictError(f"用户 {username} 已停用", f"user {username} is inactive")
        label = fields.text("label", label, required=False, max_length=200)
        secret = "ssj_" + secrets.token_urlsafe(32)
        self._save(actor, ApiToken(token_sha256=token_hash(secret), username=username, label=label))
        return secret

    def revoke_token(self, principal: Principal, token_or_hash: str, reason: str) -> None:
        actor = self.s.authorise(principal, Command.MANAGE_ORGANISATION)
        digest = token_or_hash if len(token_or_hash) == 64 else token_hash(token_or_hash)
        token = self._get(ApiToken, ApiToken.create_id(digest), "令牌 / token")
        token.revoke(reason)
        self._save(actor, token)

    # Items -------------------------------------------------------------------------------------

    def save_item(self, principal: Principal, raw: Mapping[str, Any]) -> Outcome:
        """Publish a new item or amend an existing one (only changed fields are recorded)."""
        record = ItemRecord.parse(dict(raw))
        departments = [record.department, *record.cooperating_departments]
        actor = self.s.authorise(principal, Command.EDIT_ITEMS, departments)
        self.s.refresh()
        for code in departments:
            self.s.require_department(code)
        item = self._find(Item, item_id(record.department, record.code))
        if item is None:
            self._save(actor, Item.publish(record))
            return "created"
        # Adding oneself as a cooperating department must not open another's item: the
        # departments it belongs to now must allow the change too.
        self.s.authorise(principal, Command.EDIT_ITEMS, item.departments)
        if not item.amend(record):
            return "unchanged"
        self._save(actor, item)
        return "updated"

    def retire_item(self, principal: Principal, department: str, code: str, reason: str) -> None:
        item = self._get(Item, item_id(department, code), f"事项 {code} / item {code}")
        actor = self.s.authorise(principal, Command.EDIT_ITEMS, item.departments)
        item.retire(reason)
        self._save(actor, item)

    # Targets and inspectors --------------------------------------------------------------------

    def save_target(self, principal: Principal, raw: Mapping[str, Any]) -> Outcome:
        record = TargetRecord.parse(dict(raw))
        actor = self.s.authorise(principal, Command.EDIT_TARGETS, [record.department])
        self.s.refresh()
        self.s.require_department(record.department)
        target = self._find(Target, target_id(record.identifier))  # one read of its events
        if target is None:
            self._save(actor, Target.register(record))
            return "created"
        # Moving a target between departments needs the right to act for both.
        self.s.authorise(principal, Command.EDIT_TARGETS, [target.state["department"]])
        if not target.update(record):
            return "unchanged"
        self._save(actor, target)
        return "updated"

    def save_inspector(self, principal: Principal, raw: Mapping[str, Any]) -> Outcome:
        record = InspectorRecord.parse(dict(raw))
        actor = self.s.authorise(principal, Command.EDIT_INSPECTORS, [record.department])
        self.s.refresh()
        self.s.require_department(record.department)
        inspector = self._find(Inspector, inspector_id(record.certificate_no))
        if inspector is None:
            self._save(actor, Inspector.register(record))
            return "created"
        self.s.authorise(principal, Command.EDIT_INSPECTORS, [inspector.state["department"]])
        if not inspector.update(record):
            return "unchanged"
        self._save(actor, inspector)
        return "updated"

    # Conflicts of interest ---------------------------------------------------------------------

    def declare_conflict(
        self, principal: Principal, raw: Mapping[str, Any]
    ) -> tuple[UUID, Outcome]:
        """The declaration's id, and whether it is new: the same declaration again (active,
        every field equal) is the existing one, "unchanged", and nothing is written."""
        declaration = Declaration.declare(
            certificate_no=str(raw.get("certificate_no") or ""),
            target_identifier=str(raw.get("target_identifier") or ""),
            relation=str(raw.get("relation") or ""),
            valid_from=str(raw.get("valid_from") or ""),
            valid_to=raw.get("valid_to") or None,
            reason=str(raw.get("reason") or ""),
        )
        self.s.refresh()
        inspector = self.s.queries.get("inspectors", [declaration.certificate_no])
        if inspector is None:
            raise NotFoundError(
                f"执法证号 {declaration.certificate_no} 不在人员名录库中",
                f"certificate {declaration.certificate_no} is not in the inspector registry",
            )
        if self.s.queries.get("targets", [declaration.target_identifier]) is None:
            raise NotFoundError(
                f"检查对象 {declaration.target_identifier} 不在名录库中",
                f"target {declaration.target_identifier} is not in the target registry",
            )
        actor = self._authorise_for_inspector(
            principal, declaration.certificate_no, inspector["department"]
        )
        for found_id, state in self.s.queries.current(
            "declarations",
            {
                "certificate_no": declaration.certificate_no,
                "target_identifier": declaration.target_identifier,
            },
        ):
            if declaration.same_as(state):
                return UUID(found_id), "unchanged"
        self._save(actor, declaration)
        return declaration.id, "created"

    def withdraw_conflict(self, principal: Principal, declaration_id: UUID, reason: str) -> None:
        declaration = self._get(Declaration, declaration_id, "利害关系声明 / declaration")
        inspector = self.s.queries.get("inspectors", [declaration.certificate_no])
        department = inspector["department"] if inspector else None
        actor = self._authorise_for_inspector(principal, declaration.certificate_no, department)
        declaration.withdraw(reason)
        self._save(actor, declaration)

    def _authorise_for_inspector(
        self, principal: Principal, certificate_no: str, department: str | None
    ) -> Actor:
        """Conflicts are declared for an inspector of the department; a user acting as an
        inspector only for the certificate linked to them (else an inspector could keep a
        colleague off every team for a target), as recusal already requires."""
        actor = self.s.authorise(
            principal, Command.DECLARE_CONFLICT, [department] if department else []
        )
        if actor.role == Role.INSPECTOR.value and principal.certificate_no != certificate_no:
            refused = Forbidden(
                f"检查人员只能为本人（执法证号 {principal.certificate_no or '未关联'}）申报利害"
                f"关系，不能为 {certificate_no} 申报",
                f"an inspector declares conflicts only for their own certificate "
                f"({principal.certificate_no or 'none linked'}), not for {certificate_no}",
            )
            self.s.record_refusal(
                principal, Command.DECLARE_CONFLICT, [department] if department else [], refused
            )
            raise refused
        return actor

    def set_conflict_rules(
        self, principal: Principal, department: str, rules: Mapping[str, Any]
    ) -> None:
        actor = self.s.authorise(principal, Command.SET_CONFLICT_RULES, [department])
        self.s.refresh()
        self.s.require_department(department)
        aggregate_id = ConflictRules.create_id(department)
        found = self._exists(aggregate_id)
        rule_set = (
            self._get(ConflictRules, aggregate_id, department)
            if found
            else ConflictRules(department=department)
        )
        if not isinstance(rules, Mapping):
            raise ValidationError("规则应为键值对", "rules must be a mapping")
        rule_set.set_rules(rules)
        self._save(actor, rule_set)
