"""Delivery benchmark: records to the reference receiver, as a separate process, over HTTP.

    python -m ops.bench.delivery                        (100,000 records, PostgreSQL)
    python -m ops.bench.delivery --batch 100 1          (batched mode, then structured)
    python -m ops.bench.delivery --records 5000 --sqlite    (quick run)
    python -m ops.bench.delivery --keep ssj_bench_deliver   (build once, reuse afterwards)

Set-up (timed, not a target): a city bureau and a section (`RegistryService`), 1,000 targets,
then `--records` penalty cases, each a follow-up opened, filed in the 双公示 fields and
published (three events, built with the domain aggregates and saved through `Ledger.save` in
batches), and the projections caught up: one penalty record each.

Measured, one run per line, each to a fresh receiver (`python -m ops.receiver`, its own process
and SQLite store) registered as a platform for every record from seq 0: the delivery worker
(`DeliveryWorker.run(once=True)`, this process, serving that platform only: records built from
the read models, signed, each with its tlog-proof; posted in order; every acknowledgement and
failure saved in the ledger) until nothing is left undelivered, then the platform is removed (a
ledger event; it also cancels what a cut run left), so a kept ledger's later runs deliver
every record again to their own — for each `--batch` size (1: structured mode, one record per
request; N: batched mode, N records per request):

1. the receiver answering every request;
2. the same with the receiver failing 20 % of requests at random (half before storing, half
   after: a lost acknowledgement), retried at once (backoff 0) up to 20 tries.

Reported: deliveries/s (records / wall time), the CPU milliseconds per record of the worker and
of the receiver (what a shared machine's load does not change much), requests, failed tries,
and from the receiver's store the distinct records (must equal --records), the duplicates in it
(must be 0; the redeliveries it answered without storing are counted apart) and whether it
stored them in seq order; the load average before and after. Target: >= 1,000 deliveries/s.
`run(...)` returns the same numbers as a dict (for a caller that runs every benchmark).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Console

from ops.bench.common import bench_services, print_table, stand_in_for_autovacuum
from ssj.domain.followup import FollowUp
from ssj.domain.identifiers import make_uscc, organization_code_check_character
from ssj.domain.targets import Target, TargetRecord
from ssj.ledger.envelope import Actor
from ssj.services.context import Services
from ssj.services.delivery import DeliveryWorker, SubscriberService
from ssj.services.registry import RegistryService

DEPARTMENT = "CZ-SJJ-TZ"
TARGETS = 1000
BATCH = 500  # follow-ups per ledger save (1,500 events)
TARGET = 1000  # deliveries/s
CHUNK = 500  # records per platform turn (the worker's default)
ROOT = Path(__file__).resolve().parents[2]
console = Console(width=200)


def uscc(prefix: str, n: int) -> str:
    body = f"MA{n:06d}"
    return make_uscc(prefix + body + organization_code_check_character(body))


AUTHORITY = uscc("11320400", 999999)


def build(services: Services, records: int) -> None:
    registry = RegistryService(services)
    registry.bootstrap("root", "系统管理员", "CZ-SJJ", "常州市市场监督管理局", "320400")
    root = services.principal("root")
    registry.add_department(
        root, DEPARTMENT, "特种设备安全监察科", "city", "section", "CZ-SJJ", "320400"
    )
    actor = Actor("root", "CZ-SJJ", "admin")
    identifiers = [uscc("91320402", n) for n in range(TARGETS)]
    targets = [
        Target.register(
            TargetRecord.parse(
                {
                    "identifier": identifier,
                    "name": f"常州第{n}机械有限公司",
                    "region_code": "320402",
                    "target_type": "企业",
                    "department": DEPARTMENT,
                }
            )
        )
        for n, identifier in enumerate(identifiers)
    ]
    services.ledger.save(*targets, actor=actor)
    operator = Actor("root", DEPARTMENT, "admin")
    today = date(2026, 6, 30)
    started = time.perf_counter()
    for start in range(0, records, BATCH):
        followups = []
        for n in range(start, min(records, start + BATCH)):
            follow = FollowUp.open(
                task_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench-task-{n}")),
                identifier=identifiers[n % TARGETS],
                departments=[DEPARTMENT],
                completed_on="2026-03-02",
                team=[],
            )
            case_no = f"常市监罚〔2026〕{n + 1}号"
            follow.file_case(
                case_no=case_no,
                decided_on="2026-03-09",
                decision="罚款人民币2万元",
                credit_class=None,
                current_class="B",
                today=today,
                target_type="enterprise",
                violation_type="未按规定定期检验特种设备",
                facts="在用压力容器超过检验有效期仍继续使用",
                basis="《中华人民共和国特种设备安全法》第八十四条",
                penalty_types=["罚款"],
                fine="2",
                authority=DEPARTMENT,
                authority_code=AUTHORITY,
                legal_representative="王某",
            )
            follow.publish_case(case=case_no, on="2026-03-12", today=today)
            followups.append(follow)
        services.ledger.save(*followups, actor=operator)
        console.print(f"  {min(records, start + BATCH):,} / {records:,} records", end="\r")
    console.print(f"  {records:,} records in {time.perf_counter() - started:.1f} s        ")
    started = time.perf_counter()
    services.refresh()
    console.print(f"  projections caught up in {time.perf_counter() - started:.1f} s")


class Receiver:
    def __init__(self, directory: Path, keys: list[str], *flags: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "keys.txt").write_text("\n".join(keys) + "\n")
        self.db = directory / "received.sqlite"
        self.db.unlink(missing_ok=True)
        port_file = directory / "port"
        port_file.unlink(missing_ok=True)
        args = ["--db", str(self.db), "--keys", str(directory / "keys.txt"), "--port", "0"]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ops.receiver", *args, "--port-file", str(port_file), *flags],
            cwd=ROOT,
        )
        while not port_file.exists() or not port_file.read_text():
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{port_file.read_text()}/ssj"

    def counts(self) -> dict[str, Any]:
        with sqlite3.connect(self.db) as db:
            stored, distinct = db.execute(
                "SELECT count(*), count(DISTINCT id) FROM received"
            ).fetchone()
            counters = dict(db.execute("SELECT name, n FROM counters").fetchall())
            seqs = [r[0] for r in db.execute("SELECT seq FROM received ORDER BY n")]
        return {
            "stored": stored,
            "distinct": distinct,
            "duplicates_in_store": stored - distinct,
            "redeliveries_answered": counters.get("duplicates", 0),
            "in_order": seqs == sorted(seqs),
        }

    def stop(self) -> float:
        """Stop it; the CPU seconds it used (user + system)."""
        self.process.terminate()
        _, _, usage = os.wait4(self.process.pid, 0)
        self.process.returncode = 0
        return usage.ru_utime + usage.ru_stime


def measure(
    services: Services, data_dir: Path, name: str, records: int, batch: int, *flags: str
) -> dict[str, Any]:
    keys = [k["verifier_key"] for k in services.ledger.key_listing()]
    receiver = Receiver(data_dir / "receivers" / name, keys, *flags)
    root = services.principal("root")
    platforms = SubscriberService(services)
    added = False
    try:
        platforms.add(
            root, name, receiver.url, ["penalties"], from_seq=0, max_tries=20, batch=batch
        )
        added = True
        worker = DeliveryWorker(services, backoff_base=0.0, chunk=CHUNK, only=[name])
        done, shown = 0, 0.0

        def progress(summary: Any) -> None:
            nonlocal done, shown
            done += summary.delivered
            if time.monotonic() - shown >= 2:
                shown = time.monotonic()
                console.print(f"  {name}: {done:,} / {records:,} delivered")

        started, cpu = time.perf_counter(), time.process_time()
        total = worker.run(once=True, on_pass=progress)
        seconds = time.perf_counter() - started
        worker_cpu = time.process_time() - cpu
        left = worker.undelivered()
    finally:
        receiver_cpu = receiver.stop()
        # A kept ledger's later runs serve their own platform only; removing this one (a
        # ledger event like any) also cancels what a cut run left undelivered.
        if added:
            platforms.remove(root, name, "基准测试结束 / benchmark run ended")
    counts = receiver.counts()
    console.print(" " * 60, end="\r")
    return {
        "run": name,
        "batch": batch,
        "records": records,
        "seconds": round(seconds, 2),
        "per_second": round(total.delivered / seconds, 1),
        "worker_cpu_ms_per_record": round(1000 * worker_cpu / records, 3),
        "receiver_cpu_ms_per_record": round(1000 * receiver_cpu / records, 3),
        "requests": total.requests,
        "failed_tries": total.failed,
        "dead": total.dead,
        "undelivered": left,
        **counts,
    }


def run(
    *,
    records: int = 100_000,
    sqlite: bool = False,
    keep: str | None = None,
    batches: Sequence[int] = (1,),
    fail_rate: float = 0.2,
) -> dict[str, Any]:
    """The benchmark's numbers (for `main` and for whoever runs every benchmark): per batch
    size a plain run and one with the receiver failing `fail_rate` of requests, each to a
    fresh receiver process; the load average before and after; whether every run met the
    target (>= 1,000 deliveries/s, every record stored once, none twice, in order)."""
    load_before = os.getloadavg()
    with bench_services("ssj_bench_delivery", keep, sqlite=sqlite) as (
        services,
        data_dir,
        existed,
    ):
        if not existed:
            services.ledger.initialise()
            build(services, records)
        else:
            services.refresh()
        if not sqlite:
            stand_in_for_autovacuum(services.settings.database.dbname, console.print)
        suffix = uuid.uuid4().hex[:6]  # each run's platform and store are new
        runs = []
        for batch in batches:
            mode = "structured" if batch == 1 else f"batch{batch}"
            for kind, flags in (("plain", ()), ("failing", ("--fail-rate", str(fail_rate)))):
                name = f"{mode}-{kind}-{suffix}"
                found = measure(services, data_dir, name, records, batch, *flags)
                found["load_after"] = [round(x, 2) for x in os.getloadavg()]
                console.print(json.dumps(found))  # each run as it ends (a long run may be cut)
                runs.append(found)
    for r in runs:
        r["met"] = (
            r["per_second"] >= TARGET
            and r["distinct"] == records
            and r["duplicates_in_store"] == 0
            and r["undelivered"] == 0
            and r["in_order"]
        )
    return {
        "benchmark": "delivery",
        "backend": "SQLite" if sqlite else "PostgreSQL",
        "records": records,
        "target_per_second": TARGET,
        "cpus": os.cpu_count(),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "runs": runs,
        "met": all(r["met"] for r in runs),
    }


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    """Runs the benchmark, prints its table and returns its runs (`python -m ops.bench all`);
    `run` returns the same with the load average and the verdict."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    parser.add_argument("--keep", help="database (and /tmp directory) to build once and reuse")
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    parser.add_argument(
        "--batch",
        type=int,
        nargs="+",
        default=[1, 100],
        help="records per request, one pair of runs each (1: structured mode)",
    )
    args = parser.parse_args(argv)
    found = run(records=args.records, sqlite=args.sqlite, keep=args.keep, batches=args.batch)
    runs = found["runs"]
    columns = list(runs[0])
    print_table(
        console,
        f"Delivery to the reference receiver ({found['backend']}, {found['cpus']} CPUs, "
        f"load average {found['load_before']} before, {found['load_after']} after)",
        columns,
        [[str(r[c]) for c in columns] for r in runs],
    )
    verdict = "met" if found["met"] else "MISSED"
    console.print(f"target >= {TARGET:,} deliveries/s, all stored once in order: {verdict}")
    if args.json:
        args.json.write_text(json.dumps(found, ensure_ascii=False, indent=2))
    return list(runs)


if __name__ == "__main__":
    main()
