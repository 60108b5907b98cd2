"""A draw's hashing spread over worker processes gives exactly what one process computes.

`ssj.services.workers.run` hands calls (sorting halves, Merkle subtrees, sampling keys, team
rankings) to worker processes and works on calls itself; the golden registry of
tests/draw/test_golden.py must come out the same, with small chunks so that every path splits.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ssj.draw import population, procedure, sampler
from ssj.errors import ConfigurationError
from ssj.services import workers
from tests.draw.test_golden import (
    DAY,
    ENTROPY,
    NONCE_COMMITMENT,
    PLANS,
    SEED,
    plan_view,
    registry,
)


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of 64 ids here (the workers import the modules afresh and keep the real sizes:
    that changes only how the work is cut, never the result)."""
    monkeypatch.setattr(population, "CHUNK", 64)
    monkeypatch.setattr(sampler, "CHUNK", 64)


@pytest.mark.parametrize("name", sorted(PLANS))
def test_workers_draw_what_one_process_draws(name: str, small_chunks: None) -> None:
    assert workers.count() == 0 or workers.ready(120)
    view = registry()
    plan = plan_view(**PLANS[name])
    alone = procedure.freeze(plan, 1, DAY, view, ENTROPY, NONCE_COMMITMENT)
    shared = procedure.freeze(plan, 1, DAY, view, ENTROPY, NONCE_COMMITMENT, workers.run)
    assert shared.facts == alone.facts and shared.strata == alone.strata
    expected = procedure.select(alone.facts, alone.strata, SEED, view, plan)
    found = procedure.select(shared.facts, shared.strata, SEED, view, plan, workers.run)
    assert found == expected


def test_run_keeps_the_order_and_raises_what_a_call_raises() -> None:
    assert workers.count() == 0 or workers.ready(120)
    jobs = [(b"ab" * 32, b"\n".join(b"%d" % i for i in range(n))) for n in range(1, 40)]
    assert workers.run(sampler.chunk_keys, jobs) == [sampler.chunk_keys(j) for j in jobs]
    with pytest.raises(ValueError):
        workers.run(int, ["1", "2", "x", "4"])


def test_no_workers_means_the_calling_process_does_everything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SSJ_DRAW_WORKERS", "0")
    monkeypatch.setattr(workers, "_workers", [])
    assert workers.count() == 0 and not workers.ready(0.1)
    assert workers.run(pid, [0, 1, 2]) == [os.getpid()] * 3
    assert workers._workers == []


def pid(_: object) -> int:
    return os.getpid()


@pytest.mark.slow
def test_a_killed_worker_leaves_its_calls_to_the_caller() -> None:
    if workers.count() == 0:
        pytest.skip("SSJ_DRAW_WORKERS=0 or one core: no worker processes")
    assert workers.ready(120)
    for w in workers._workers:
        w.process.kill()
        w.process.wait()
    jobs = [(b"ab" * 32, b"\n".join(b"%d" % i for i in range(n))) for n in range(1, 20)]
    assert workers.run(sampler.chunk_keys, jobs) == [sampler.chunk_keys(j) for j in jobs]
    assert workers.ready(120)  # new workers replace them
    assert all(w.process.poll() is None for w in workers._workers)


@pytest.mark.parametrize("value", ["-1", "two", "1.5"])
def test_a_bad_worker_count_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("SSJ_DRAW_WORKERS", value)
    with pytest.raises(ConfigurationError, match="SSJ_DRAW_WORKERS") as caught:
        workers.count()
    assert "非负整数" in caught.value.zh


@pytest.mark.slow
def test_workers_take_chunks_in_other_processes() -> None:
    if workers.count() == 0:
        pytest.skip("SSJ_DRAW_WORKERS=0 or one core: no worker processes")
    assert workers.ready(120)
    pids = set(workers.run(slow_pid, range(8)))
    assert os.getpid() in pids  # the caller takes chunks from the end ...
    assert pids - {os.getpid()}  # ... while the workers take them from the front


def slow_pid(_: object) -> int:
    time.sleep(0.2)  # long enough that the worker starts some before the caller takes them all
    return os.getpid()


@pytest.mark.slow
def test_a_starting_worker_joins_a_call_already_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A draw's first call comes moments after `warm` started the workers: one still starting
    takes calls from the front once ready (the caller's call here waits for a worker's mark)."""
    if workers.count() == 0:
        pytest.skip("SSJ_DRAW_WORKERS=0 or one core: no worker processes")
    with workers._lock:
        running = [w for w in workers._workers if not w.gone]
    for w in running:  # kept busy: only the new, starting worker may help
        assert w.busy.acquire(timeout=120)
    try:
        monkeypatch.setenv("SSJ_DRAW_WORKERS", str(len(running) + 1))
        workers.warm()
        jobs = [(str(tmp_path / "mark"), os.getpid())] * 4
        pids = workers.run(mark_or_wait, jobs)
    finally:
        for w in running:
            w.busy.release()
    assert set(pids) - {os.getpid()}


def mark_or_wait(job: tuple[str, int]) -> int:
    """In a worker: leave the mark. In the caller: wait for it, two minutes in all."""
    mark, caller = job
    if os.getpid() != caller:
        Path(mark).touch()
        return os.getpid()
    gave_up = Path(f"{mark}.gave-up")
    deadline = time.monotonic() + 120
    while not Path(mark).exists() and not gave_up.exists():
        if time.monotonic() > deadline:
            gave_up.touch()
        time.sleep(0.01)
    return os.getpid()
