"""The benchmarks' count of the local PostgreSQL server's CPU (`ops.bench.common.server_cpu`):
it grows with work the server does for the benchmark, and there is none on SQLite."""

from __future__ import annotations

from ops.bench.common import server_cpu
from ssj.config import Settings
from ssj.services.context import Services


def test_the_server_cpu_grows_with_the_servers_work(settings: Settings) -> None:
    services = Services(settings)
    try:
        used = server_cpu(services)
        if not settings.database.is_postgres:
            assert used is None
            return
        assert used is not None
        before = used()
        # About a CPU-second of the server's work, none of this process's.
        services.store.query("SELECT count(*) FROM generate_series(1, 20000000)")
        assert used() - before > 0.2
    finally:
        services.close()
