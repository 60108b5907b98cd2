"""One authorisation rule for every path: role x department x scenario, through the service's
single-entry command, the HTTP API, a file import (service and upload) and the command line.

Each scenario is tried on fresh entries by every path; every path must write exactly when the
policy allows the change for the departments in the request *and* for the departments the entry
belongs to now (a bulk import once let an operator move another department's targets into its
own). Conflicts: an inspector declares only for the certificate linked to them.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ssj.api import create_app
from ssj.config import Settings
from ssj.domain.access import Command, Forbidden, Principal, authorise
from ssj.domain.inspectors import FIELD_LABELS as INSPECTOR_LABELS
from ssj.domain.items import FIELD_LABELS as ITEM_LABELS
from ssj.domain.organisation import Role
from ssj.domain.targets import FIELD_LABELS as TARGET_LABELS
from ssj.services.imports import import_file
from tests.api.jobs import InProcessLauncher, in_process_jobs
from tests.api.test_registry_api import Api
from tests.cli.inprocess import invoke
from tests.conftest import settings_env
from tests.services.conftest import (
    OTHER,
    OWN,
    Jurisdiction,
    inspector_row,
    item_row,
    jurisdiction,
    target_row,
    uscc,
)

__all__ = ["jurisdiction"]

ROLES = [r for r in Role if r is not Role.PUBLIC]
# The command line starts a whole ssj per call: one role of each kind the policy tells apart
# for registry edits (anywhere; own department; reads only; no registry right).
CLI_ROLES = {Role.ADMIN, Role.OPERATOR, Role.SUPERVISOR, Role.INSPECTOR}
numbers = itertools.count(10_000)


@dataclass(frozen=True)
class Kind:
    name: str  # also the import kind and the CLI group
    command: Command
    labels: dict[str, str]
    row: Callable[..., dict[str, Any]]
    key: str
    save: str  # RegistryService method
    put: str  # API path


KINDS = [
    Kind(
        "targets",
        Command.EDIT_TARGETS,
        TARGET_LABELS,
        lambda n, d, **kw: target_row(n, d, **kw),
        "identifier",
        "save_target",
        "/targets",
    ),
    Kind(
        "inspectors",
        Command.EDIT_INSPECTORS,
        INSPECTOR_LABELS,
        lambda n, d, **kw: inspector_row(n, d, **kw),
        "certificate_no",
        "save_inspector",
        "/inspectors",
    ),
    Kind(
        "items",
        Command.EDIT_ITEMS,
        ITEM_LABELS,
        lambda n, d, **kw: item_row(f"AP-{n}", d, **kw),
        "code",
        "save_item",
        "/items",
    ),
]

# name: (department of an existing entry or None for a new one, the row's changes)
SCENARIOS: dict[str, tuple[str | None, Callable[[Kind, int], dict[str, Any]]]] = {
    "new in own": (None, lambda k, n: k.row(n, OWN)),
    "new in other": (None, lambda k, n: k.row(n, OTHER)),
    "change own": (OWN, lambda k, n: k.row(n, OWN, name="改名")),
    "change other": (OTHER, lambda k, n: k.row(n, OTHER, name="改名")),
    # Take another department's entry: move it (targets, inspectors) or, for an item, whose
    # department is part of its key, name oneself a cooperating department.
    "take other": (
        OTHER,
        lambda k, n: (
            k.row(n, OTHER, cooperating_departments=OWN)
            if k.name == "items"
            else k.row(n, OWN, name="改名")
        ),
    ),
    "give own away": (
        OWN,
        lambda k, n: (
            k.row(n, OWN, cooperating_departments=OTHER, name="改名")
            if k.name == "items"
            else k.row(n, OTHER)
        ),
    ),
}


def allowed(principal: Principal, command: Command, *department_sets: list[str]) -> bool:
    try:
        for departments in department_sets:
            authorise(principal, command, departments)
    except Forbidden:
        return False
    return True


def departments_of(row: dict[str, Any]) -> list[str]:
    return [str(row["department"]), *str(row.get("cooperating_departments") or "").split(",")][
        : 2 if row.get("cooperating_departments") else 1
    ]


def csv_of(kind: Kind, row: dict[str, Any]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([kind.labels[k] for k in row])
    writer.writerow([";".join(v) if isinstance(v, list) else v for v in row.values()])
    return out.getvalue().encode("utf-8")


class Paths:
    """Every way a change reaches the registry; each returns True if it wrote."""

    def __init__(
        self, j: Jurisdiction, api: Api, settings: Settings, tmp: Path, jobs: InProcessLauncher
    ) -> None:
        self.j, self.api, self.settings, self.tmp, self.jobs = j, api, settings, tmp, jobs

    def written(self, before: int) -> bool:
        """More than the refusal records a refused command may add (its own, or the count of
        identical earlier ones whose window closed: Refusal.Repeated)."""
        ledger = self.j.services.ledger
        return any(
            not type(e.event).__qualname__.startswith("Refusal.")
            for e in ledger.read(before, ledger.size() - before)
        )

    def service(self, kind: Kind, role: Role, row: dict[str, Any]) -> bool:
        try:
            getattr(self.j.registry, kind.save)(self.j.as_role(role), row)
        except Forbidden:
            return False
        return True

    def http(self, kind: Kind, role: Role, row: dict[str, Any]) -> bool:
        response = self.api.put(kind.put, row, who=role.value)
        assert response.status_code in (200, 201, 403), response.text
        return response.status_code != 403

    def import_service(self, kind: Kind, role: Role, row: dict[str, Any]) -> bool:
        path = self.tmp / f"{kind.name}-{next(numbers)}.csv"
        path.write_bytes(csv_of(kind, row))
        report = import_file(self.j.services, self.j.as_role(role), kind.name, path)
        assert report.written or report.problems
        return report.written

    def upload(self, kind: Kind, role: Role, row: dict[str, Any]) -> bool:
        response = self.api.upload(kind.name, f"{kind.name}.csv", csv_of(kind, row), who=role.value)
        assert response.status_code in (200, 403, 422), response.text
        return response.status_code == 200

    def command_line(self, kind: Kind, role: Role, row: dict[str, Any]) -> bool:
        path = self.tmp / f"{kind.name}-{next(numbers)}.csv"
        path.write_bytes(csv_of(kind, row))
        env = {**settings_env(self.settings), "SSJ_USER": f"{role.value}-own"}
        result = invoke([kind.name, "import", str(path)], env)
        assert result.exit_code in (0, 2), result.output
        return result.exit_code == 0


# An upload's import job runs in a process of its own, as in production, for the operator (the
# role the takeover was found with) in two scenarios, one it may do and one it may not; in the
# other cases in this process: the same `run` without a Python start-up per job (tests/api/jobs.py).
PROCESS_USERS = {f"{Role.OPERATOR.value}-own"}
PROCESS_SCENARIOS = {"new in own", "take other"}


@pytest.fixture
def paths(jurisdiction: Jurisdiction, settings: Settings, tmp_path: Path) -> Iterator[Paths]:
    with TestClient(create_app(jurisdiction.services)) as client:
        jobs = in_process_jobs(client, settings, PROCESS_USERS)  # the takeover's test
        yield Paths(jurisdiction, Api(jurisdiction, client), settings, tmp_path, jobs)


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
def test_every_path_follows_one_rule(paths: Paths, kind: Kind) -> None:
    j = paths.j
    ledger = j.services.ledger
    wrong = []
    ways = {
        "service": paths.service,
        "api": paths.http,
        "import": paths.import_service,
        "upload": paths.upload,
        "cli": paths.command_line,
    }
    for role, (scenario, (existing, make)), (way, call) in itertools.product(
        ROLES, SCENARIOS.items(), ways.items()
    ):
        if way == "cli" and role not in CLI_ROLES:
            continue
        n = next(numbers)
        row = make(kind, n)
        if existing is not None:
            getattr(j.registry, kind.save)(j.root, kind.row(n, existing))
        current = [existing] if existing else []
        expected = allowed(j.as_role(role), kind.command, departments_of(row), current)
        paths.jobs.processes_for = PROCESS_USERS if scenario in PROCESS_SCENARIOS else set()
        before = ledger.size()
        outcome = call(kind, role, row)
        if outcome != paths.written(before):
            wrong.append(f"{role}/{scenario}/{way}: says {outcome} but wrote the opposite")
        if outcome != expected:
            wrong.append(f"{role}/{scenario}/{way}: allowed={outcome}, expected {expected}")
    assert not wrong, "\n".join(wrong)
    assert paths.jobs.processes == len(PROCESS_SCENARIOS)  # as in production, in a process


def test_the_takeover_by_import_is_refused_and_recorded(paths: Paths) -> None:
    """The probe's case: tz.operator imports a CSV naming an XY target with its own department."""
    j = paths.j
    j.registry.save_target(j.root, target_row(1, OTHER))
    before = j.services.ledger.size()
    row = target_row(1, OWN, name="改了名的公司", credit_class="D")
    response = paths.api.upload("targets", "t.csv", csv_of(KINDS[0], row), who="operator")
    assert response.status_code == 422, response.text
    assert paths.jobs.processes == 1
    problem = response.json()["problems"][0]
    assert problem["row"] == 2 and OTHER in problem["zh"] and OTHER in problem["en"]
    logged = j.services.ledger.read(before, 10)
    assert [type(e.event).__qualname__ for e in logged] == ["Refusal.Recorded"]
    assert logged[0].event.departments == [OTHER]
    j.services.refresh()
    state = j.services.queries.get("targets", [uscc(1)])
    assert state is not None and state["department"] == OTHER and state["credit_class"] == "B"


def test_conflicts_inspectors_declare_only_for_themselves(paths: Paths) -> None:
    j = paths.j
    j.registry.save_target(j.root, target_row(1, OWN))
    for n, department in ((1, OWN), (2, OWN), (3, OTHER)):
        j.registry.save_inspector(j.root, inspector_row(n, department))
    j.registry.link_certificate(j.root, "inspector-own", inspector_row(1)["certificate_no"])

    def declaration(n: int) -> dict[str, Any]:
        return {
            "certificate_no": inspector_row(n)["certificate_no"],
            "target_identifier": uscc(1),
            "relation": "近亲属",
            "valid_from": "2025-01-01",
            "reason": "配偶任该企业法定代表人",
        }

    def by_service(role: Role, n: int) -> bool:
        try:
            j.registry.declare_conflict(j.as_role(role), declaration(n))
        except Forbidden:
            return False
        return True

    def by_api(role: Role, n: int) -> bool:
        response = paths.api.post("/conflicts/declarations", declaration(n), who=role.value)
        assert response.status_code in (200, 201, 403), response.text  # 200: identical exists
        return response.status_code in (200, 201)

    def by_cli(role: Role, n: int) -> bool:
        d = declaration(n)
        env = {**settings_env(paths.settings), "SSJ_USER": f"{role.value}-own"}
        args = ["conflicts", "declare", "--inspector", d["certificate_no"], "--target"]
        args += [d["target_identifier"], "--relation", d["relation"], "--from", d["valid_from"]]
        result = invoke([*args, "--reason", d["reason"]], env)
        assert result.exit_code in (0, 2), result.output
        return result.exit_code == 0

    expected = {
        # (role, inspector n): 1 is the inspector user's own certificate, 2 a colleague's in the
        # same department, 3 another department's.
        **{(r, 1): r in (Role.ADMIN, Role.OPERATOR, Role.LEADER, Role.INSPECTOR) for r in ROLES},
        **{(r, 2): r in (Role.ADMIN, Role.OPERATOR, Role.LEADER) for r in ROLES},
        **{(r, 3): r is Role.ADMIN for r in ROLES},
    }
    wrong = []
    for (role, n), allowed_here in expected.items():
        for way, call in (("service", by_service), ("api", by_api), ("cli", by_cli)):
            if call(role, n) != allowed_here:
                wrong.append(f"{role}/inspector {n}/{way}: expected {allowed_here}")
    assert not wrong, "\n".join(wrong)
