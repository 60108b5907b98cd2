"""The API as a hostile but honest tester probes it: schemathesis against /openapi.json, over a
small demo ledger, as an anonymous caller, an operator and an administrator, on SQLite and
PostgreSQL. Any 5xx, an undocumented status, a wrong content type or a body that breaks its
documented schema fails the test. Bounded: a fixed number of generated cases per operation.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from ssj.api import create_app
from ssj.config import Settings
from ssj.demo import draws, followups, inspections
from ssj.demo.jurisdiction import build
from ssj.ledger.envelope import SYSTEM
from ssj.services.context import Services
from ssj.services.registry import RegistryService
from tests.conftest import (
    OWNER_ROLE,
    PG_ADMIN_URL,
    RUNTIME_ROLE,
    base_settings,
    create_database,
    require_postgres,
)

pytestmark = pytest.mark.slow  # a probe of every operation over a demo ledger

EXAMPLES = int(os.environ.get("SSJ_SCHEMATHESIS_EXAMPLES", "8"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
WHO = ("public", "operator", "admin")
# Operations answering with a whole file (the workbooks, CSV exports, the assessment chart):
# generated inputs vary only their filters while building the file dominates (the assessment
# workbook alone took 1.9 of the SQLite probe's 15 CPU-s at 8 cases x 3 callers). Still probed,
# with a quarter of the cases: their files are read back in test_assessment.py
# (test_workbook_and_chart) and test_registry_api.py (test_exports_import_back_unchanged), their
# documented answers checked in test_response_schemas_b.py.
FILE_EXAMPLES = max(1, EXAMPLES // 4)
FILES = (".xlsx", ".csv", ".png")


class Probe:
    """A demo ledger served by the app, with a token per kind of caller."""

    def __init__(self, settings: Settings) -> None:
        self.services = Services(settings)
        self.services.ledger.initialise(SYSTEM)
        directory = settings.data_dir / "demo"
        build(self.services, directory, targets=200, seed=7)
        draws.run(self.services, seed=7)
        inspections.run(self.services, seed=7)
        followups.run(self.services, seed=7)
        registry = RegistryService(self.services)
        self.services.ledger.issue_checkpoint()  # a deployment's routine: /readyz answers 200
        self.services.refresh()
        admins = sorted(
            u["username"]
            for u in self.services.queries.states("users")
            if "admin" in u["roles"] and u["active"]
        )
        root = self.services.principal(admins[0])
        self.headers: dict[str, dict[str, str]] = {"public": {}}
        for who, username in (("admin", admins[0]), ("operator", "tz.operator")):
            token = registry.issue_token(root, username, "schemathesis")
            self.headers[who] = {"Authorization": f"Bearer {token}"}
        self.app: FastAPI = create_app(self.services)

    def close(self) -> None:
        self.services.close()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def probe(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Probe]:
    tmp: Path = tmp_path_factory.mktemp("schemathesis")
    if request.param == "sqlite":
        found = Probe(base_settings(tmp, f"sqlite:///{tmp / 'data' / 'ssj.sqlite'}"))
        yield found
        found.close()
        return
    require_postgres()
    from ssj.config import DatabaseURL
    from ssj.ledger.migrate import migrate

    name = f"ssj_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        create_database(conn, name)
    try:
        database = replace(DatabaseURL.parse(PG_ADMIN_URL), dbname=name)
        admin = base_settings(tmp, database.redacted())
        migrate(admin, owner=OWNER_ROLE, runtime=RUNTIME_ROLE)
        runtime = replace(database, user=RUNTIME_ROLE, password="")
        found = Probe(replace(admin, database=runtime, create_tables=False))
        yield found
        found.close()
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_api_holds_up(probe: Probe) -> None:
    """Every operation, every kind of caller; all failures reported at once."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", probe.app)
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=FILE_EXAMPLES if operation.path.endswith(FILES) else EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def probe_operation(case: schemathesis.Case) -> None:
            for who in WHO:
                case.call_and_validate(headers=probe.headers[who], checks=CHECKS)

        try:
            probe_operation()
        except (Exception, BaseExceptionGroup) as e:  # every failing operation, not only the first
            failures.append(f"{operation.label}: {str(e)[:2000]}")
    assert not failures, f"{len(failures)} operation(s) failed:\n" + "\n\n".join(failures)
