"""kill -9 of the projection daemon while it is inside a batch (its transaction open, rows held
in memory or half-written by COPY), on PostgreSQL with a real `ssj projections run` process:
nothing of that batch is visible afterwards, the restarted daemon applies it once, and the read
models equal a rebuild."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from ssj.config import Settings
from ssj.domain.targets import Target
from ssj.services.context import Services
from tests.api.test_faults import SSJ, admin_sql, wait_until
from tests.api.test_production import assert_read_models_equal_a_rebuild, start_daemon, stop
from tests.conftest import settings_env
from tests.projections.test_registry import OPERATOR, record
from tests.services.conftest import Jurisdiction, jurisdiction

__all__ = ["jurisdiction"]
pytestmark = [pytest.mark.postgres, pytest.mark.slow]
COUNT = 10_000  # events enough for several batches
TABLES = ["targets", "users", "trail", "trail_memos", "trail_subjects", "departments"]


@pytest.mark.parametrize("settings", ["postgres"], indirect=True)
def test_kill_9_inside_a_batch(
    jurisdiction: Jurisdiction, settings: Settings, tmp_path: Path
) -> None:
    services = jurisdiction.services
    targets = [Target.register(record(n)) for n in range(COUNT)]
    for start in range(0, COUNT, 1000):
        services.ledger.save(*targets[start : start + 1000], actor=OPERATOR)
    for n in range(0, COUNT, 7):  # changes of rows written in earlier batches
        targets[n].update(record(n, credit_class="C"))
    services.ledger.save(*targets[::7], actor=OPERATOR)
    head = services.ledger.head_seq()
    views = f'"{settings.database.schema}_views"'
    admin_sql(settings.database, f"DELETE FROM {views}.projection_versions")
    admin_sql(settings.database, f"DELETE FROM {views}.projection_positions")

    def in_batch() -> bool:
        """The runner's writer lock is held: a batch's transaction is open."""
        rows = admin_sql(
            settings.database,
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        return int(rows[0][0]) > 0

    def position() -> int:
        rows = admin_sql(settings.database, f"SELECT min(seq) FROM {views}.projection_positions")
        return -1 if not rows or rows[0][0] is None else int(rows[0][0])

    log = tmp_path / "daemon.log"
    daemon = subprocess.Popen(
        [SSJ, "projections", "run"],
        env=settings_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )
    # Past the first batch (so some rows are committed), then inside a later one.
    wait_until(lambda: position() >= 0 or daemon.poll() is not None, "no batch projected")
    wait_until(lambda: in_batch() or daemon.poll() is not None, "no batch seen open")
    daemon.send_signal(signal.SIGKILL)
    daemon.wait()
    killed_at = position()
    assert 0 <= killed_at < head, log.read_text()
    # Nothing of the killed batch is visible: no row holds a seq beyond the positions.
    for table, column in (("targets", "from_seq"), ("targets", "to_seq"), ("trail", "seq")):
        beyond = admin_sql(
            settings.database,
            f"SELECT count(*) FROM {views}.{table} WHERE {column} > %s",
            (killed_at,),
        )
        assert beyond[0][0] == 0, (table, column, killed_at)

    daemon = start_daemon(settings, log)
    try:
        wait_until(lambda: position() >= head, "the daemon did not catch up")
    finally:
        stop(daemon)
    fresh = Services(settings)
    try:
        assert fresh.queries.list("targets", {}, limit=1).total == len(targets)
        assert fresh.queries.list("targets", {"credit_class": "C"}, limit=1).total == len(
            targets[::7]
        )
        assert_read_models_equal_a_rebuild(fresh, TABLES)
    finally:
        fresh.close()
