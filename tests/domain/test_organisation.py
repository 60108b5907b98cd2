"""Departments, users and tokens."""

from __future__ import annotations

import pytest

from ssj.domain.fields import FieldError
from ssj.domain.organisation import ApiToken, Department, User, token_hash, user_id
from ssj.errors import ConflictError


def test_department_levels_and_region_are_validated() -> None:
    d = Department.register(
        code="CZ-SJJ",
        name="常州市市场监督管理局",
        level="市级",
        kind="bureau",
        parent=None,
        region_code="320400",
    )
    assert d.level == "city"
    with pytest.raises(FieldError):
        Department.register(
            code="X", name="x", level="乡级", kind="bureau", parent=None, region_code="320400"
        )
    d.close("机构改革")
    with pytest.raises(ConflictError):
        d.close("again")


def test_user_roles_accept_chinese_labels_and_refuse_public() -> None:
    u = User.register(
        username="zhangsan", name="张三", department="CZ-SJJ-TZ", roles=["经办人", "领导"]
    )
    assert u.id == user_id("zhangsan")
    assert u.roles == ["leader", "operator"]
    u.collect_events()
    u.set_roles(["leader", "operator"])
    assert u.collect_events() == []
    with pytest.raises(FieldError):
        u.set_roles(["public"])
    with pytest.raises(FieldError):
        User.register(username="x", name="x", department="d", roles=[])


def test_tokens_are_known_only_by_hash() -> None:
    secret = "ssj_0123456789abcdef"
    token = ApiToken(token_sha256=token_hash(secret), username="zhangsan", label="script")
    (issued,) = token.collect_events()
    assert secret not in repr(issued.__dict__)
    token.revoke("离职")
    with pytest.raises(ConflictError):
        token.revoke("again")
