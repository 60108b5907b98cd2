"""`ssj serve --workers N` stops at once on SIGTERM or SIGINT, even with a worker still starting;
and the uvicorn internals its supervisor (`ssj.api.serving.Supervisor`) builds on, pinned.

uvicorn 0.55.0's supervisor waited up to the 60 s health timeout for a ping that a worker killed
in its start-up never answers. The real test holds one worker in its start-up for ever
(tests/api/startup_stall/sitecustomize.py, on the server's PYTHONPATH) and signals once the
supervisor's ping to it is waiting: no race with the worker's start. It needs 60 s on uvicorn's
supervisor; `STOP_BOUND_SECONDS` is a generous bound below that, not a measure of speed.

SQLite has no such path: `--workers N` above 1 is refused there
(tests/api/test_production.py), and one process serves with no supervisor or health check.

If a new uvicorn release changes a pinned method, re-read it: `Supervisor.keep_subprocess_alive`
redoes `Multiprocess.keep_subprocess_alive` with its own ping (`Process._healthcheck`'s: send
b"ping", read one answer from the worker's `pong` thread, which `Process.target` starts before
the server), peeks at `Multiprocess.signal_queue` (filled by the handlers `__init__` installs,
drained by `handle_signals` in `run`'s loop, before `keep_subprocess_alive`), and
`ssj.api.serving.supervise` redoes `uvicorn.run`'s branch for `workers > 1`. Then update the pin.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from importlib.metadata import version
from multiprocessing import Pipe
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
import uvicorn
from uvicorn.supervisors.multiprocess import SIGNALS, Multiprocess, Process

from ssj.api.serving import WORKER_HEALTHCHECK_SECONDS, Supervisor, uvicorn_options
from ssj.config import Settings
from ssj.services.context import Services
from tests.api.test_faults import free_port
from tests.conftest import settings_env
from tests.ledger.test_eventsourcing_hooks import source_digest

SSJ = str(Path(sys.executable).parent / "ssj")
STALL = Path(__file__).parent / "startup_stall"
STOP_BOUND_SECONDS = 20  # uvicorn's own supervisor needed the 60 s health timeout

PINNED_VERSION = "0.55.0"
# what: SHA-256 prefix of its source in the pinned version
PINNED_SOURCES: dict[str, tuple[Callable[..., Any], str]] = {
    "Multiprocess.__init__": (Multiprocess.__init__, "5e0f105cb4a381b5"),
    "Multiprocess.run": (Multiprocess.run, "306814569fbd547b"),
    "Multiprocess.handle_signals": (Multiprocess.handle_signals, "69be08d4fd9bc0b4"),
    "Multiprocess.keep_subprocess_alive": (Multiprocess.keep_subprocess_alive, "3ba4980aa33bcecd"),
    "Process.__init__": (Process.__init__, "a8c85f799aae5b2c"),
    "Process._healthcheck": (Process._healthcheck, "989efe6df65860a1"),
    "Process.pong": (Process.pong, "531eb588bfa58879"),
    "Process.target": (Process.target, "ad60ca4616de4c34"),
    "Process.kill": (Process.kill, "23db0314aac48aa2"),
    "uvicorn.run": (uvicorn.run, "68c3e6c9039f072f"),
}


def test_the_pinned_uvicorn_is_installed() -> None:
    assert version("uvicorn") == PINNED_VERSION, (
        "uvicorn is not the version ssj's supervisor was checked against: re-read the methods "
        "pinned below (this module's docstring), then update PINNED_VERSION"
    )


@pytest.mark.parametrize("what", list(PINNED_SOURCES))
def test_the_uvicorn_methods_the_supervisor_relies_on_are_unchanged(what: str) -> None:
    method, digest = PINNED_SOURCES[what]
    assert source_digest(method) == digest, (
        f"uvicorn changed {what}: ssj.api.serving.Supervisor relies on it (this module's "
        "docstring says how)"
    )


def test_the_supervisor_overrides_only_the_health_check() -> None:
    overridden = {name for name in vars(Supervisor) if hasattr(Multiprocess, name)}
    assert overridden - {"__doc__", "__module__"} == {"keep_subprocess_alive"}


@pytest.fixture
def supervisor() -> Iterator[Supervisor]:
    """A supervisor with no workers of its own, its signal handlers undone afterwards."""
    handlers = {sig: signal.getsignal(sig) for sig in SIGNALS}
    config = uvicorn.Config(
        "ssj.api.app:create_app", workers=2, log_config=None, **uvicorn_options()
    )
    try:
        yield Supervisor(config, sockets=[])
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


class StandIn:
    """A worker as the supervisor sees it: its end of the pipe (`parent_conn`), the worker's
    (`child_conn`), and a sentinel that `exit()` makes ready; `kill()` is only recorded."""

    def __init__(self) -> None:
        self.parent_conn, self.child_conn = Pipe()
        self._sentinel, self._alive = os.pipe()
        self.process = SimpleNamespace(sentinel=self._sentinel)
        self.killed = False

    def exit(self) -> None:
        os.close(self._alive)
        self._alive = -1

    def kill(self) -> None:
        self.killed = True

    def close(self) -> None:
        self.parent_conn.close()
        self.child_conn.close()
        os.close(self._sentinel)
        if self._alive >= 0:
            os.close(self._alive)


@pytest.fixture
def worker() -> Iterator[StandIn]:
    stand_in = StandIn()
    try:
        yield stand_in
    finally:
        stand_in.close()


def test_a_worker_that_answers_is_alive(supervisor: Supervisor, worker: StandIn) -> None:
    worker.child_conn.send(False)  # the answer of a worker whose server is still starting
    assert supervisor._answers(cast(Process, worker))
    assert worker.child_conn.recv() == b"ping"


def test_a_hung_worker_is_still_dead_at_the_deadline(
    supervisor: Supervisor, worker: StandIn
) -> None:
    supervisor.config.timeout_worker_healthcheck = 1
    assert not supervisor._answers(cast(Process, worker))


@pytest.mark.parametrize("event", ["exit", "SIGTERM", "SIGINT"])
def test_an_exit_or_a_stop_signal_ends_the_wait(
    supervisor: Supervisor, worker: StandIn, event: str
) -> None:
    assert supervisor.config.timeout_worker_healthcheck == WORKER_HEALTHCHECK_SECONDS
    if event == "exit":
        worker.exit()
    else:  # queued as the supervisor's handler does, while it waits
        threading.Timer(0.2, supervisor.signal_queue.append, [signal.Signals[event]]).start()
    started = time.monotonic()
    assert not supervisor._answers(cast(Process, worker))
    assert time.monotonic() - started < STOP_BOUND_SECONDS


def test_a_stopping_supervisor_leaves_its_workers_to_run(
    supervisor: Supervisor, worker: StandIn
) -> None:
    """A stop signal during the wait: no worker is killed or replaced here; `run()` terminates
    and joins them all next."""
    supervisor.processes = [cast(Process, worker)]
    threading.Timer(0.2, supervisor.signal_queue.append, [signal.SIGTERM]).start()
    supervisor.keep_subprocess_alive()
    assert supervisor.processes == [worker] and not worker.killed


def live_members(pgid: int) -> list[int]:
    """The processes of a group that have not exited (a zombie has: its parent reaps it)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # gone meanwhile
            state, _ppid, group = stat.rsplit(")", 1)[1].split()[:3]
            if int(group) == pgid and state != "Z":
                pids.append(int(entry.name))
    return pids


def wait_for(condition: Callable[[], bool], what: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while not condition():
        assert process.poll() is None, f"the server exited while waiting: {what}"
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def serves(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.parametrize("settings", ["postgres"], indirect=True)
@pytest.mark.parametrize(
    ("sig", "to_group"),
    [
        (signal.SIGTERM, True),  # kill -TERM -- -PGID, as CI and the tests stop servers
        (signal.SIGTERM, False),  # the supervisor alone: systemd's KillMode=mixed (ssj-api.service)
        (signal.SIGINT, True),  # Ctrl-C in a terminal
    ],
    ids=["SIGTERM-group", "SIGTERM-supervisor", "SIGINT-group"],
)
def test_serve_stops_at_once_with_a_worker_still_starting(
    settings: Settings, tmp_path: Path, sig: signal.Signals, to_group: bool
) -> None:
    services = Services(settings)
    try:
        services.ledger.initialise()  # as `ssj init`
    finally:
        services.close()
    stall, log = tmp_path / "stall", tmp_path / "serve.log"
    stall.mkdir()
    env = {
        **settings_env(settings),
        "SSJ_TEST_STALL_DIR": str(stall),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(STALL), os.environ.get("PYTHONPATH")])),
    }
    port = free_port()
    server = subprocess.Popen(
        [SSJ, "serve", "--port", str(port), "--workers", "2", "--projections", "daemon"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
        start_new_session=True,  # its own process group, as `setsid ssj serve`
    )
    try:
        # One worker serves; the other is held in its start-up with the supervisor's ping unread.
        wait_for(lambda: (stall / "pinged").exists(), "no worker stalled and pinged", server)
        wait_for(lambda: serves(port), "the other worker does not serve", server)
        stalled = int((stall / "stalled").read_text())
        assert stalled in live_members(server.pid)
        if to_group:
            os.killpg(server.pid, sig)
        else:
            server.send_signal(sig)
        try:
            code = server.wait(timeout=STOP_BOUND_SECONDS)
        except subprocess.TimeoutExpired:
            pytest.fail(f"`ssj serve` still running {STOP_BOUND_SECONDS} s after {sig.name}")
        assert code == 0, log.read_text()
        deadline = time.monotonic() + STOP_BOUND_SECONDS
        while live_members(server.pid):  # the resource tracker ends once the supervisor has
            assert time.monotonic() < deadline, f"left running: {live_members(server.pid)}"
            time.sleep(0.05)
        assert f"Received {sig.name}, exiting." in log.read_text()
    finally:
        if server.poll() is None or live_members(server.pid):
            with contextlib.suppress(ProcessLookupError):  # ended meanwhile
                os.killpg(server.pid, signal.SIGKILL)
            server.wait()
