"""Serving benchmark: open-loop load against `ssj serve --workers 2` on PostgreSQL (issue #17).

    python -m ops.bench.load              (30 s per read rate, 60 s of writes, a 10-minute soak)
    python -m ops.bench.load --quick      (5 s per read rate, 15 s of writes, a 60-second soak)
    python -m ops.bench.load --keep ssj_bench_load   (build the demo once, reuse it afterwards)
    python -m ops.bench.load --keep ssj_bench_load --in-process 200
        (no server: the write mix through the app in this process, with the projection daemon
        beside it; SQL statements, pool checkouts and CPU milliseconds per command)

Set-up (not timed): a scratch PostgreSQL database (dropped afterwards unless `--keep`), `ssj
init` and `ssj demo` (the demo jurisdiction, its plans, draws, inspections and follow-ups), an
API token for the administrator and for each department's operator (`RegistryService`: signed
ledger events like any other), then `ssj projections run` and `ssj serve --workers 2
--projections daemon` as processes of their own, on 127.0.0.1 only. The per-token rate limits
are off for the run (`SSJ_RATE_LIMIT=0`): one generator stands for many clients.

The generator is open-loop: request i is due at `start + i / rate`, sent then whether or not
earlier ones have answered, and its latency runs from when it was due (so a server that falls
behind shows as latency, not as a slower offer). Each step is bounded in time and count, every
request has a 10-second timeout, and the step waits at most that long for stragglers. It runs
in this process (asyncio and httpx), whose own capacity is measured first, against `/healthz`.

Beside latency, each line gives the CPU milliseconds per answered request of the API processes,
the projection daemon and the database's PostgreSQL backends (from /proc; what a busy machine
stretches least), and what two idle cores would serve at that CPU cost (an estimate).

Steps, each a line of the table:
1. generator: `/healthz` at 1,500 requests/s (what this process can offer at most);
2. reads at 50, 100, 200 and 400 requests/s: the public page and its search (`/gongshi`,
   `/gongshi/search`), `/public/results`, `/targets` paged with a token, `/log/checkpoint`, and a
   target's audit trail (`/trail/target/{id}`) with a token;
3. writes: each department's operator (several clients, each with its own token) updates its
   targets' addresses (`PUT /targets`) and declares conflicts of interest for its inspectors
   (`POST /conflicts/declarations`), first closed-loop (each client sends its next command when
   the last is answered: what the server sustains), then open-loop at 300 commands/s; then
   `ssj verify` must pass. The server's request deadline is 15 s in the bench
   (`SSJ_REQUEST_TIMEOUT`), and the soak starts 20 s after the writes, so that requests the
   client gave up on have ended;
4. soak: reads at 100 requests/s, with the resident memory (VmRSS) of the API processes (the
   uvicorn supervisor and its workers) and of the projection daemon at start and end.

Targets: reads p99 <= 100 ms at 200 requests/s with no error; writes >= 300 commands/s with no
error and `ssj verify` intact; soak growth of the workers' RSS <= 10 %. `run()` returns the
numbers (`Report.as_dict()`); `main()` prints them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import orjson
import psycopg
from rich.console import Console

from ops.bench.common import ADMIN_URL, bench_services, print_table, stand_in_for_autovacuum
from ssj.processes import process_cpu
from ssj.services.context import Services
from ssj.services.registry import RegistryService

SSJ = str(Path(sys.executable).parent / "ssj")
HOST = "127.0.0.1"  # loopback only
TIMEOUT = 10.0  # seconds, every request
DRAIN_SECONDS = 15  # the server's request deadline in the bench, and the pause before the soak
IDLE_SECONDS = 3.0  # a kept-alive connection idle longer is not reused (uvicorn closes at 5)
CORES = os.cpu_count() or 2
READ_RATES = (50, 100, 200, 400)
WRITE_RATE = 300
SOAK_RATE = 100
GENERATOR_RATE = 1500
DAEMON = ("--projections", "daemon")
READ_P99_MS = 100.0
SOAK_GROWTH = 0.10
ADMIN = "admin"  # the demo's administrator

console = Console(width=200)


@dataclass(frozen=True)
class Shot:
    """One request of a mix."""

    kind: str
    method: str
    path: str
    params: dict[str, Any] | None = None
    body: dict[str, Any] | None = None
    token: str | None = None


@dataclass
class Step:
    """One line of the table."""

    name: str
    offered: float
    seconds: float
    sent: int = 0
    ok: int = 0
    errors: int = 0
    achieved: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    late_ms: float = 0.0  # the generator's own lag: p99 of (sent - due)
    generator_cpu: float = 0.0  # this process's CPU seconds per wall second
    api_cpu_ms: float = 0.0  # CPU of the API processes per answered request
    daemon_cpu_ms: float = 0.0  # of the projection daemon
    postgres_cpu_ms: float = 0.0  # of the database's PostgreSQL backends
    capacity: float = 0.0  # 2 cores' worth of requests at that CPU per request (an estimate)
    load_average: float = 0.0
    target: str = ""
    met: bool | None = None
    statuses: dict[str, int] = field(default_factory=dict)
    notes: str = ""


@dataclass
class Report:
    steps: list[Step]
    rss_kib: dict[str, dict[str, int]]  # soak: process -> {"start": KiB, "end": KiB}
    rss_growth: float | None
    verify_ok: bool | None
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]

    def as_dict(self) -> dict[str, Any]:
        return {
            "steps": [asdict(s) for s in self.steps],
            "rss_kib": self.rss_kib,
            "rss_growth": self.rss_growth,
            "verify_ok": self.verify_ok,
            "load_before": list(self.load_before),
            "load_after": list(self.load_after),
            "met": all(s.met is not False for s in self.steps),
        }


# The generator -----------------------------------------------------------------------------


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def send_open_loop(
    client: Client, shots: Callable[[int], Shot], rate: float, seconds: float, name: str
) -> Step:
    """Send `shots(i)` at `rate` per second for `seconds`, not waiting for answers."""
    count = max(1, int(rate * seconds))
    step = Step(name, rate, seconds)
    latencies: list[float] = []
    lateness: list[float] = []
    statuses: dict[str, int] = {}
    loop = asyncio.get_running_loop()
    cpu0 = time.process_time()
    start = loop.time() + 0.05
    last_end = start

    async def one(i: int, due: float) -> None:
        nonlocal last_end
        shot = shots(i)
        lateness.append(loop.time() - due)
        try:
            code = await asyncio.wait_for(client.send(shot), TIMEOUT)
            status, good = str(code), code < 400
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as e:
            status, good = type(e).__name__, False
        end = loop.time()
        last_end = max(last_end, end)
        statuses[status] = statuses.get(status, 0) + 1
        latencies.append(end - due)
        if good:
            step.ok += 1
        else:
            step.errors += 1

    tasks = []
    for i in range(count):
        due = start + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, due)))
    step.sent = len(tasks)
    _done, pending = await asyncio.wait(tasks, timeout=TIMEOUT + 5)
    for task in pending:  # cannot happen with the client's timeout; counted if it does
        task.cancel()
        step.errors += 1
        statuses["unfinished"] = statuses.get("unfinished", 0) + 1
    wall = max(seconds, last_end - start)
    step.achieved = step.ok / wall
    step.generator_cpu = (time.process_time() - cpu0) / wall
    step.p50_ms, step.p95_ms, step.p99_ms = (
        _percentile(latencies, q) * 1000 for q in (0.50, 0.95, 0.99)
    )
    step.max_ms = max(latencies, default=0.0) * 1000
    step.late_ms = _percentile(lateness, 0.99) * 1000
    step.statuses = dict(sorted(statuses.items()))
    step.load_average = os.getloadavg()[0]
    return step


async def closed_loop(
    client: Client, shots: Callable[[int], Shot], clients: int, seconds: float
) -> Step:
    """`clients` senders, each waiting for its answer before its next request."""
    step = Step(f"writes ({clients} clients, closed loop)", 0, seconds)
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    loop = asyncio.get_running_loop()
    cpu0, start = time.process_time(), loop.time()
    end = start + seconds

    async def sender(k: int) -> None:
        i = k
        while loop.time() < end:
            sent = loop.time()
            try:
                code = await asyncio.wait_for(client.send(shots(i)), TIMEOUT)
                status, good = str(code), code < 400
            except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as e:
                status, good = type(e).__name__, False
            latencies.append(loop.time() - sent)
            statuses[status] = statuses.get(status, 0) + 1
            step.ok += good
            step.errors += not good
            i += clients

    await asyncio.gather(*(sender(k) for k in range(clients)))
    wall = loop.time() - start
    step.sent = step.ok + step.errors
    step.achieved = step.ok / wall
    step.generator_cpu = (time.process_time() - cpu0) / wall
    step.p50_ms, step.p95_ms, step.p99_ms = (
        _percentile(latencies, q) * 1000 for q in (0.50, 0.95, 0.99)
    )
    step.max_ms = max(latencies, default=0.0) * 1000
    step.statuses = dict(sorted(statuses.items()))
    step.load_average = os.getloadavg()[0]
    return step


class Client:
    """A minimal HTTP/1.1 client on asyncio streams: keep-alive connections to one loopback
    address, at most `max_connections`, each request bounded by `TIMEOUT`. (httpx's pool spent
    the generator's CPU on its own bookkeeping at a few hundred requests in flight.)"""

    def __init__(self, host: str, port: int, max_connections: int = 256) -> None:
        self.host, self.port = host, port
        self.idle: list[tuple[tuple[asyncio.StreamReader, asyncio.StreamWriter], float]] = []
        self.slots = asyncio.Semaphore(max_connections)

    async def send(self, shot: Shot) -> int:
        async with self.slots:
            conn = None
            while self.idle and conn is None:
                conn, since = self.idle.pop()
                if time.monotonic() - since > IDLE_SECONDS:  # the server may be closing it
                    conn[1].close()
                    conn = None
            try:
                if conn is None:
                    conn = await asyncio.wait_for(
                        asyncio.open_connection(self.host, self.port), TIMEOUT
                    )
                status, keep = await asyncio.wait_for(self._exchange(conn, shot), TIMEOUT)
            except BaseException:
                if conn is not None:
                    conn[1].close()
                raise
            if keep:
                self.idle.append((conn, time.monotonic()))
            else:
                conn[1].close()
            return status

    async def _exchange(
        self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], shot: Shot
    ) -> tuple[int, bool]:
        reader, writer = conn
        target = quote(shot.path) + (f"?{urlencode(shot.params)}" if shot.params else "")
        body = orjson.dumps(shot.body) if shot.body is not None else b""
        head = [f"{shot.method} {target} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        if shot.token:
            head.append(f"Authorization: Bearer {shot.token}")
        if shot.body is not None:
            head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        status_line, *lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            if ":" in line:
                key, value = line.split(":", 1)
                headers[key.strip().lower()] = value.strip().lower()
        if "content-length" in headers:
            await reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding") == "chunked":
            while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
                await reader.readexactly(size + 2)
            await reader.readuntil(b"\r\n")
        return int(status_line.split()[1]), headers.get("connection") != "close"

    async def close(self) -> None:
        for (_, writer), _since in self.idle:
            writer.close()
        self.idle.clear()


# The mixes ---------------------------------------------------------------------------------


@dataclass
class Fixture:
    """What the mixes draw from: the demo's targets, inspectors and tokens."""

    admin_token: str
    identifiers: list[str]
    names: list[str]
    total_targets: int
    writers: list[Writer]


@dataclass
class Writer:
    """A department's operator: its token, its targets (as stored) and its inspectors."""

    username: str
    token: str
    targets: list[dict[str, Any]]
    inspectors: list[str]


TARGET_FIELDS = (
    "identifier",
    "id_kind",
    "name",
    "address",
    "region_code",
    "target_type",
    "department",
    "credit_class",
)
RELATIONS = ("kinship", "employment", "shareholding", "dispute", "other")


def build_fixture(services: Services, writers: int = 8) -> Fixture:
    """Tokens (signed ledger events, by the administrator) and samples of the demo's data."""
    services.refresh()
    registry = RegistryService(services)
    admin = services.principal(ADMIN)
    targets = services.queries.states("targets")
    active = [t for t in targets if t.get("status", "active") == "active"]
    inspectors = services.queries.states("inspectors")
    operators = sorted(
        u["username"]
        for u in services.queries.states("users")
        if u["active"] and "operator" in u["roles"]
    )
    chosen: list[Writer] = []
    for username in operators:
        department = services.principal(username).department
        own = [t for t in active if t["department"] == department]
        certificates = [i["certificate_no"] for i in inspectors if i["department"] == department]
        if own and certificates:
            token = registry.issue_token(admin, username, "load bench")
            chosen.append(Writer(username, token, own, certificates))
        if len(chosen) == writers:
            break
    sample = random.Random(17).sample(active, min(len(active), 2000))
    return Fixture(
        admin_token=registry.issue_token(admin, ADMIN, "load bench"),
        identifiers=[t["identifier"] for t in sample],
        names=[t["name"] for t in sample],
        total_targets=len(targets),
        writers=chosen,
    )


def read_mix(fx: Fixture) -> Callable[[int], Shot]:
    """The public page and its search, /public/results, paged targets, the checkpoint, a trail."""
    rng = random.Random(1)
    pages = max(1, fx.total_targets // 50)

    def shot(i: int) -> Shot:
        k = i % 6
        n = rng.randrange(len(fx.identifiers))
        if k == 0:
            return Shot("page", "GET", "/gongshi")
        if k == 1:
            return Shot("page search", "GET", "/gongshi/search", {"q": fx.names[n][:4]})
        if k == 2:
            q = fx.names[n] if i % 2 else fx.identifiers[n]
            return Shot("results", "GET", "/public/results", {"q": q})
        if k == 3:
            params = {"offset": rng.randrange(pages) * 50, "limit": 50}
            return Shot("targets", "GET", "/targets", params, token=fx.admin_token)
        if k == 4:
            return Shot("checkpoint", "GET", "/log/checkpoint")
        return Shot("trail", "GET", f"/trail/target/{fx.identifiers[n]}", token=fx.admin_token)

    return shot


def write_mix(fx: Fixture, run_id: str) -> Callable[[int], Shot]:
    """Each operator in turn: two address updates of its targets, then a declaration."""

    def shot(i: int) -> Shot:
        writer = fx.writers[i % len(fx.writers)]
        n = i // len(fx.writers)
        if i % 3 == 2:
            body = {
                "certificate_no": writer.inspectors[n % len(writer.inspectors)],
                "target_identifier": fx.identifiers[n % len(fx.identifiers)],
                "relation": RELATIONS[n % len(RELATIONS)],
                "valid_from": "2026-01-01",
                "reason": f"负载测试 {run_id} 第 {i} 条 / load bench {run_id} #{i}",
            }
            return Shot("declare", "POST", "/conflicts/declarations", body=body, token=writer.token)
        target = writer.targets[n % len(writer.targets)]
        body = {f: target[f] for f in TARGET_FIELDS if target.get(f) not in (None, "")}
        body["address"] = f"常州市负载测试路{run_id}-{i}号"
        return Shot("update", "PUT", "/targets", body=body, token=writer.token)

    return shot


def healthz(_: int) -> Shot:
    return Shot("healthz", "GET", "/healthz")


# The server --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def run_ssj(
    env: dict[str, str], *args: str, timeout: float = 3600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SSJ, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@contextmanager
def serving(env: dict[str, str], logs: Path, workers: int = 2) -> Iterator[tuple[str, Servers]]:
    """The projection daemon and `ssj serve --workers N --projections daemon`, each its own
    process group; stopped (SIGTERM, then SIGKILL) on the way out."""
    port = free_port()
    daemon = subprocess.Popen(
        [SSJ, "projections", "run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(logs / "daemon.log").open("ab"),
        start_new_session=True,
    )
    api = subprocess.Popen(
        [SSJ, "serve", "--host", HOST, "--port", str(port), "--workers", str(workers), *DAEMON],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(logs / "api.log").open("ab"),
        start_new_session=True,
    )
    base = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if api.poll() is not None or daemon.poll() is not None:
                raise RuntimeError(f"the server did not start; see {logs}")
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server was not ready in 120 s; see {logs}")
            time.sleep(0.2)
        yield base, Servers(api.pid, daemon.pid)
    finally:
        for process in (api, daemon):
            _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, 15)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.wait()


@dataclass(frozen=True)
class Servers:
    api: int
    daemon: int

    def processes(self) -> dict[str, int]:
        """The API supervisor, its worker processes (children), and the daemon."""
        found = {"api supervisor": self.api}
        for n, pid in enumerate(sorted(_descendants(self.api)), 1):
            if "resource_tracker" not in _cmdline(pid):  # multiprocessing's helper
                found[f"api worker {n}"] = pid
        found["projection daemon"] = self.daemon
        return found


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return found
    for child in map(int, children):
        found.append(child)
        found.extend(_descendants(child))
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_snapshot(servers: Servers, dbname: str) -> dict[str, dict[int, float]]:
    """CPU seconds so far of each process, by group: the API, the daemon, PostgreSQL."""
    processes = servers.processes()
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        backends = [
            r[0]
            for r in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (dbname,),
            )
        ]
    groups = {
        "api": [pid for name, pid in processes.items() if name.startswith("api")],
        "daemon": [servers.daemon],
        "postgres": backends,
    }
    return {g: {pid: process_cpu(pid) for pid in pids} for g, pids in groups.items()}


def charge(
    step: Step, before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]
) -> None:
    """CPU milliseconds per answered request, by group (processes that ended are missed)."""
    spent = {g: sum(cpu - before[g].get(pid, 0.0) for pid, cpu in after[g].items()) for g in after}
    answered = max(1, step.ok)
    step.api_cpu_ms = spent["api"] * 1000 / answered
    step.daemon_cpu_ms = spent["daemon"] * 1000 / answered
    step.postgres_cpu_ms = spent["postgres"] * 1000 / answered
    total = step.api_cpu_ms + step.daemon_cpu_ms + step.postgres_cpu_ms
    step.capacity = CORES * 1000 / total if total else 0.0


# The run -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    read_seconds: float
    write_seconds: float
    soak_seconds: float
    targets: int

    @classmethod
    def of(cls, quick: bool) -> Plan:
        return cls(5, 15, 60, 2000) if quick else cls(30, 60, 600, 20_000)


def run(
    quick: bool = False,
    *,
    keep: str | None = None,
    targets: int | None = None,
    steps: tuple[str, ...] = ("generator", "read", "write", "soak"),
    out: Console | None = None,
) -> Report:
    """Set up, serve, measure; the numbers (nothing printed but progress on `out`)."""
    plan = Plan.of(quick)
    say = (out or Console(stderr=True)).log
    load_before = os.getloadavg()
    with bench_services("ssj_bench_load", keep) as (services, data_dir, existed):
        env = {
            **os.environ,
            **services.settings.to_env(),
            "SSJ_RATE_LIMIT": "0",
            "SSJ_RATE_LIMIT_ANONYMOUS": "0",
            "SSJ_LOG_FORMAT": "json",
            "SSJ_REQUEST_TIMEOUT": str(DRAIN_SECONDS),  # abandoned requests end by then
        }
        if not existed:
            say(f"ssj init and ssj demo --targets {targets or plan.targets} …")
            for args in (["init"], ["demo", "--targets", str(targets or plan.targets)]):
                done = run_ssj(env, *args)
                if done.returncode != 0:
                    raise RuntimeError(f"ssj {args[0]} failed: {done.stdout}{done.stderr}")
        stand_in_for_autovacuum(services.settings.database.dbname, say)
        fixture = build_fixture(services)
        say(f"{len(fixture.writers)} writers, {fixture.total_targets} targets; serving …")
        logs = data_dir / "logs"
        logs.mkdir(exist_ok=True)
        report = Report([], {}, None, None, load_before, load_before)
        with serving(env, logs) as (base, servers):
            report.steps, report.rss_kib, report.rss_growth = asyncio.run(
                _measure(
                    base, servers, fixture, plan, steps, say, services.settings.database.dbname
                )
            )
        if "write" in steps:
            say("ssj verify …")
            done = run_ssj(env, "verify")
            report.verify_ok = done.returncode == 0
            for step in report.steps:
                if step.name.startswith("writes"):  # both write steps
                    step.met = bool(step.met and report.verify_ok)
                    step.notes = f"ssj verify {'intact' if report.verify_ok else 'FAILED'}"
        say(f"server logs: {logs}" if keep else "server logs dropped with the scratch directory")
    report.load_after = os.getloadavg()
    return report


async def _measure(
    base: str,
    servers: Servers,
    fixture: Fixture,
    plan: Plan,
    steps: tuple[str, ...],
    say: Callable[..., None],
    dbname: str,
) -> tuple[list[Step], dict[str, dict[str, int]], float | None]:
    done: list[Step] = []
    rss: dict[str, dict[str, int]] = {}
    growth: float | None = None
    client = Client(HOST, int(base.rsplit(":", 1)[1]))

    async def open_loop(
        client: Client, shots: Callable[[int], Shot], rate: float, seconds: float, name: str
    ) -> Step:
        before = cpu_snapshot(servers, dbname)
        step = await send_open_loop(client, shots, rate, seconds, name)
        charge(step, before, cpu_snapshot(servers, dbname))
        return step

    try:
        if "generator" in steps:
            say("generator capacity (/healthz) …")
            step = await open_loop(client, healthz, GENERATOR_RATE, 3, "generator: /healthz")
            step.target = f"≥ {2 * max(READ_RATES)}/s (2× the highest read rate)"
            step.met = step.achieved >= 2 * max(READ_RATES)
            done.append(step)
        if "read" in steps:
            await open_loop(client, read_mix(fixture), 20, 2, "warm-up")
            for rate in READ_RATES:
                say(f"reads at {rate}/s …")
                step = await open_loop(client, read_mix(fixture), rate, plan.read_seconds, "reads")
                if rate == 200:
                    step.target = f"p99 ≤ {READ_P99_MS:.0f} ms, 0 errors"
                    step.met = step.p99_ms <= READ_P99_MS and step.errors == 0
                done.append(step)
        if "write" in steps:
            run_id = f"{int(time.time()) % 100000}"
            # First what the server sustains when the offer never outruns it (each writer sends
            # its next command once the last is answered), then the fixed offer: requests it
            # abandons run on in the server, and would slow a step after them.
            say(f"writes, {len(fixture.writers)} closed-loop clients …")
            before = cpu_snapshot(servers, dbname)
            step = await closed_loop(
                client, write_mix(fixture, run_id + "c"), len(fixture.writers), plan.write_seconds
            )
            charge(step, before, cpu_snapshot(servers, dbname))
            step.target = f"≥ {WRITE_RATE}/s, 0 errors, verify intact"
            step.met = step.achieved >= WRITE_RATE and step.errors == 0
            done.append(step)
            say(f"writes at {WRITE_RATE}/s …")
            step = await open_loop(
                client, write_mix(fixture, run_id), WRITE_RATE, plan.write_seconds, "writes"
            )
            step.target = f"≥ {WRITE_RATE}/s, 0 errors, verify intact"
            step.met = step.achieved >= WRITE_RATE * 0.99 and step.errors == 0
            done.append(step)
        if "soak" in steps:
            if "write" in steps:
                await asyncio.sleep(DRAIN_SECONDS + 5)  # what the write offer left running ends
            say(f"soak at {SOAK_RATE}/s for {plan.soak_seconds:.0f} s …")
            processes = servers.processes()
            start = {name: rss_kib(pid) for name, pid in processes.items()}
            step = await open_loop(
                client, read_mix(fixture), SOAK_RATE, plan.soak_seconds, "soak (reads)"
            )
            end = {name: rss_kib(pid) for name, pid in processes.items()}
            rss = {name: {"start": start[name], "end": end[name]} for name in processes}
            workers = [n for n in processes if n.startswith("api worker")]
            rss_before = sum(start[n] for n in workers)
            growth = (
                (sum(end[n] for n in workers) - rss_before) / rss_before if rss_before else None
            )
            step.target = f"worker RSS growth ≤ {SOAK_GROWTH:.0%}"
            step.met = growth is not None and growth <= SOAK_GROWTH
            step.notes = "RSS " + ", ".join(
                f"{n} {start[n] / 1024:.0f}→{end[n] / 1024:.0f} MiB" for n in processes
            )
            done.append(step)
    finally:
        await client.close()
    return done, rss, growth


# In-process: what one command costs, statement by statement -------------------------------


@dataclass
class InProcess:
    commands: int
    cpu_ms: float  # this process's CPU per command (the app, and the test client's side)
    daemon_cpu_ms: float  # the projection daemon's, per command
    postgres_cpu_ms: float  # the database's backends', per command
    wall_ms: float
    statements: float  # SQL statements per command (both pools, pool checks excluded)
    checkouts: float  # pool checkouts per command
    by_statement: list[tuple[float, str]]  # per command, the most frequent first
    load_average: float
    clients: int = 1
    appends: float = 0.0  # ledger appends per command (group commit: below 1 when shared)
    failed: list[str] = field(default_factory=list)  # answers of 400 and above


def in_process(
    commands: int, keep: str | None = None, targets: int = 1000, clients: int = 1
) -> InProcess:
    """The write mix through `create_app` with FastAPI's TestClient, one command at a time
    (or from `clients` threads at once: group commit shares their appends), the projection
    daemon as its own process (as in production): psycopg's cursors and the pools are wrapped
    to count statements and checkouts. For finding waste, not a rate."""
    import psycopg_pool
    from fastapi.testclient import TestClient

    from ssj.api.app import create_app

    counted: dict[str, int] = {}
    checkouts = [0]
    counting_lock = threading.Lock()
    failed: list[str] = []  # answers of 400 and above, shown by main()

    def counting(method: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
            text = query if isinstance(query, str | bytes) else query.as_string()
            key = " ".join(str(text).split())[:120]
            if key:  # "" is the pool's connection check
                with counting_lock:
                    counted[key] = counted.get(key, 0) + 1
            return method(self, query, *args, **kwargs)

        return wrapper

    def checkout(method: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            with counting_lock:
                checkouts[0] += 1
            return method(self, *args, **kwargs)

        return wrapper

    saved = (
        psycopg.Cursor.execute,
        psycopg.Connection.execute,
        psycopg_pool.ConnectionPool.getconn,
    )
    psycopg.Cursor.execute = counting(psycopg.Cursor.execute)  # type: ignore[method-assign]
    psycopg.Connection.execute = counting(psycopg.Connection.execute)  # type: ignore[method-assign]
    psycopg_pool.ConnectionPool.getconn = checkout(psycopg_pool.ConnectionPool.getconn)  # type: ignore[method-assign]
    try:
        with bench_services("ssj_bench_load", keep) as (services, _, existed):
            env = {**services.settings.to_env(), "SSJ_RATE_LIMIT": "0", "SSJ_PROJECTIONS": "daemon"}
            if not existed:
                for args in (["init"], ["demo", "--targets", str(targets)]):
                    done = run_ssj({**os.environ, **env}, *args)
                    if done.returncode != 0:
                        raise RuntimeError(f"ssj {args[0]} failed: {done.stdout}{done.stderr}")
            os.environ.update(env)
            fixture = build_fixture(services)
            daemon = subprocess.Popen(
                [SSJ, "projections", "run"],
                env=dict(os.environ),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            try:
                with TestClient(create_app()) as client:
                    for name in ("httpx", "ssj.api.requests"):  # a log line per request
                        logging.getLogger(name).setLevel(logging.WARNING)
                    shots = write_mix(fixture, f"{int(time.time()) % 100000}i")

                    def send(i: int) -> None:
                        shot = shots(i)
                        headers = {"Authorization": f"Bearer {shot.token}"}
                        answer = client.request(
                            shot.method, shot.path, json=shot.body, headers=headers
                        )
                        if answer.status_code >= 400:
                            failed.append(f"{answer.status_code}: {answer.text[:300]}")

                    for i in range(20):  # warm-up: route tables, prepared statements, pools
                        send(i)
                    dbname = services.settings.database.dbname
                    servers = Servers(os.getpid(), daemon.pid)
                    counted.clear()
                    checkouts[0] = 0
                    ledger = client.app.state.services.ledger  # type: ignore[attr-defined]
                    group = getattr(ledger, "group_commit", None)  # (older code: none)

                    def appended() -> int:
                        return 0 if group is None else group.stats.groups + group.stats.alone

                    appends0 = appended()
                    before = cpu_snapshot(servers, dbname)
                    cpu, wall = time.process_time(), time.perf_counter()
                    if clients == 1:
                        for i in range(20, 20 + commands):
                            send(i)
                    else:
                        with ThreadPoolExecutor(clients) as pool:
                            list(pool.map(send, range(20, 20 + commands)))
                    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                    appends = appended() - appends0 if group is not None else commands
                    time.sleep(1.0)  # the daemon applies the last commands' events
                    step = Step("in process", 0, 0, ok=commands)
                    charge(step, before, cpu_snapshot(servers, dbname))
            finally:
                _stop(daemon)
    finally:
        psycopg.Cursor.execute, psycopg.Connection.execute = saved[0], saved[1]  # type: ignore[method-assign]
        psycopg_pool.ConnectionPool.getconn = saved[2]  # type: ignore[method-assign]
    ranked = sorted(((n / commands, q) for q, n in counted.items()), reverse=True)
    return InProcess(
        commands,
        cpu * 1000 / commands,
        step.daemon_cpu_ms,
        step.postgres_cpu_ms,
        wall * 1000 / commands,
        sum(counted.values()) / commands,
        checkouts[0] / commands,
        ranked,
        os.getloadavg()[0],
        clients,
        appends / commands,
        failed,
    )


def print_report(report: Report, out: Console = console) -> None:
    rows = []
    for s in report.steps:
        met = "" if s.met is None else ("met" if s.met else "**missed**")
        rows.append(
            [
                s.name,
                f"{s.offered:.0f}" if s.offered else "closed",
                f"{s.seconds:.0f}",
                f"{s.achieved:.1f}",
                f"{s.p50_ms:.1f}",
                f"{s.p95_ms:.1f}",
                f"{s.p99_ms:.1f}",
                str(s.errors),
                f"{s.late_ms:.1f}",
                f"{s.generator_cpu:.2f}",
                f"{s.api_cpu_ms:.1f}/{s.daemon_cpu_ms:.1f}/{s.postgres_cpu_ms:.1f}",
                f"{s.capacity:.0f}",
                f"{s.load_average:.2f}",
                f"{s.target} {met}".strip(),
            ]
        )
    columns = [
        "step",
        "offered/s",
        "s",
        "achieved/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "errors",
        "gen. late p99 ms",
        "gen. CPU",
        "CPU ms/req api/daemon/pg",
        "est. max/s",
        "load avg",
        "target",
    ]
    print_table(out, "ssj serve --workers 2 (PostgreSQL, demo data, loopback)", columns, rows)
    for s in report.steps:
        if s.notes or s.errors:
            out.print(f"{s.name} at {s.offered:.0f}/s: {s.notes} statuses {s.statuses}")
    before = ", ".join(f"{x:.2f}" for x in report.load_before)
    after = ", ".join(f"{x:.2f}" for x in report.load_after)
    out.print(f"load average before: {before}; after: {after} (2 cores, shared)")
    if report.rss_growth is not None:
        out.print(f"soak: API workers' RSS growth {report.rss_growth:+.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short steps and a small demo")
    parser.add_argument("--keep", help="database (and /tmp/<name>) to build once and reuse")
    parser.add_argument("--targets", type=int, help="demo targets (default 20,000; quick 2,000)")
    parser.add_argument(
        "--steps", default="generator,read,write,soak", help="comma-separated subset to run"
    )
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    parser.add_argument(
        "--clients", type=int, default=1, help="with --in-process: threads sending at once"
    )
    parser.add_argument(
        "--in-process",
        type=int,
        metavar="N",
        help="instead: N commands through the app in this process; statements per command",
    )
    args = parser.parse_args()
    if args.in_process:
        found = in_process(args.in_process, args.keep, args.targets or 1000, args.clients)
        console.print(
            f"{found.commands} commands in process from {found.clients} client(s), "
            f"{found.appends:.2f} ledger appends per command: "
            f"{found.statements:.1f} SQL statements and "
            f"{found.checkouts:.1f} pool checkouts per command; CPU ms per command: app "
            f"{found.cpu_ms:.2f}, daemon {found.daemon_cpu_ms:.2f}, PostgreSQL "
            f"{found.postgres_cpu_ms:.2f}; wall {found.wall_ms:.1f} ms per command (load average "
            f"{found.load_average:.2f})"
        )
        if found.failed:
            console.print(f"{len(found.failed)} answers of 400 or above, first: {found.failed[0]}")
        for per_command, text in found.by_statement[:25]:
            console.print(f"{per_command:6.2f}  {text}", markup=False, highlight=False)
        return
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the servers on the way out
    report = run(
        args.quick,
        keep=args.keep,
        targets=args.targets,
        steps=tuple(args.steps.split(",")),
        out=Console(stderr=True),
    )
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
