"""A small jurisdiction for service tests: a city bureau, two sections, one user per role."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ssj.config import Settings
from ssj.domain.access import Principal
from ssj.domain.identifiers import make_uscc, organization_code_check_character
from ssj.domain.organisation import Role
from ssj.services.context import Services
from ssj.services.registry import RegistryService

OWN, OTHER = "CZ-SJJ-TZ", "CZ-SJJ-SP"


def uscc(n: int) -> str:
    body = f"MA{n:06d}"
    return make_uscc("91320402" + body + organization_code_check_character(body))


def target_row(n: int, department: str = OWN, **overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "identifier": uscc(n),
        "name": f"常州第{n}机械有限公司",
        "region_code": "320402",
        "target_type": "企业",
        "department": department,
        "credit_class": "B",
    }
    row.update(overrides)
    return row


def inspector_row(n: int, department: str = OWN, **overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "certificate_no": f"3204{n:07d}",
        "name": f"检查员{n}",
        "department": department,
        "specialties": "特种设备",
        "certificate_valid_from": "2024-01-01",
        "certificate_valid_to": "2028-12-31",
    }
    row.update(overrides)
    return row


def item_row(code: str, department: str = OWN, **overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "code": code,
        "department": department,
        "name": "特种设备使用单位监督检查",
        "target_type": "企业",
        "methods": "现场检查",
        "legal_bases": ["《中华人民共和国特种设备安全法》第五十七条"],
        "default_ratio": "5",
    }
    row.update(overrides)
    return row


def accounted(services: Services) -> int:
    """Events in the ledger plus refusals counted and not yet recorded: identical refusals
    within a window are one event with a count (ssj.services.refusals)."""
    return services.ledger.size() + services.refusals.pending()


class Jurisdiction:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.registry = RegistryService(services)
        self.registry.bootstrap("root", "系统管理员", "CZ-SJJ", "常州市市场监督管理局", "320400")
        self.root = services.principal("root")
        for code, name in ((OWN, "特种设备安全监察科"), (OTHER, "食品生产监管科")):
            self.registry.add_department(
                self.root, code, name, "city", "section", "CZ-SJJ", "320400"
            )
        for role in Role:
            if role is not Role.PUBLIC:
                self.registry.add_user(
                    self.root, f"{role.value}-own", role.value, OWN, [role.value]
                )

    def as_role(self, role: Role) -> Principal:
        if role is Role.PUBLIC:
            return Principal("anonymous", "", frozenset({Role.PUBLIC}))
        return self.services.principal(f"{role.value}-own")


@pytest.fixture
def jurisdiction(settings: Settings) -> Iterator[Jurisdiction]:
    services = Services(settings)
    try:
        services.ledger.initialise()
        yield Jurisdiction(services)
    finally:
        services.close()
