"""The API's read models: who feeds them, and how a request waits for them.

`SSJ_PROJECTIONS` says who feeds them:
- `thread` (default): a projection thread in this API process (single-process serving, SQLite,
  tests). With several workers each runs one; their runs are exclusive under the projections'
  lock, so this is correct but wasteful: production runs the daemon instead.
- `daemon`: `ssj projections run` does (a systemd unit); the API only waits.

Either way no request applies events. A read answers from what the read models hold (at least
this process's own writes), and `min_seq` asks for more: the request waits until the read
models reach that seq (503 after `SSJ_PROJECTION_WAIT` seconds, default 10). A command answers
only once the read models have reached the ledger's head after it, so the next read by the same
client sees its write without asking.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Annotated

from fastapi import Query, Request
from fastapi.concurrency import run_in_threadpool

from projections.feed import DEFAULT_WAIT_SECONDS, ProjectionThread, ProjectionWatch
from projections.registry import MAX_OFFSET
from ssj.api.observe import note_seq
from ssj.errors import ConfigurationError, ValidationError
from ssj.services.context import Services

MODES = ("thread", "daemon")
MAX_SEQ = MAX_OFFSET  # a ledger seq as a request may name it (as deps.MAX_SEQ)


def mode(environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    found = env.get("SSJ_PROJECTIONS", "").strip().lower() or "thread"
    if found not in MODES:
        raise ConfigurationError(
            f"SSJ_PROJECTIONS 应为 thread 或 daemon，实际为 {found!r}",
            f"SSJ_PROJECTIONS must be thread or daemon, got {found!r}",
        )
    return found


def wait_seconds() -> float:
    raw = os.environ.get("SSJ_PROJECTION_WAIT", "").strip()
    try:
        return float(raw) if raw else DEFAULT_WAIT_SECONDS
    except ValueError:
        raise ConfigurationError(
            f"SSJ_PROJECTION_WAIT 应为秒数，实际为 {raw!r}",
            f"SSJ_PROJECTION_WAIT must be a number of seconds, got {raw!r}",
        ) from None


def watch(services: Services, *, listen: bool = True) -> ProjectionWatch:
    db = services.settings.database
    return ProjectionWatch(
        services.store,
        [p.name for p in services.runner.projections],
        listen=db if listen and db.is_postgres else None,
        timeout=wait_seconds(),
    )


def start(services: Services, reader: Services) -> Callable[[], None]:
    """Put `services` (and a replica's `reader`) in API mode: wait, never apply. Returns what
    undoes it (and closes the reader)."""
    feed_mode = mode()
    services.watch = watch(services)
    if reader is not services:
        reader.watch = watch(reader, listen=False)  # a standby cannot LISTEN: it polls
    thread = (
        ProjectionThread(services.runner, services.watch).start() if feed_mode == "thread" else None
    )

    def stop() -> None:
        if thread is not None:
            thread.stop()
        for s in {id(services): services, id(reader): reader}.values():
            if s.watch is not None:
                s.watch.close()
            s.watch = None
        services.runner.on_batch = None
        if reader is not services:
            reader.close()

    return stop


def settled(services: Services, reader: Services | None = None) -> bool:
    """Whether `settle` has nothing to wait for, known without I/O: the request's head is
    known and every watch has seen it (a command's answer usually waited for it already), so
    the command ends without a thread-pool hop."""
    head = services.known_head_seq()
    if head is None:
        return False
    watches = [s.watch for s in (services, reader) if s is not None and s.watch is not None]
    if any(w.seen_seq < head for w in watches):
        return False
    for w in watches:
        note_seq(w.seen_seq)  # as `settle` notes what it waited for
    return True


def settle(services: Services, reader: Services | None = None) -> None:
    """After a command: wait until the read models (and a replica's) hold the ledger's head,
    so that the client's next read shows its write."""
    head = services.head_seq()
    if services.watch is not None:
        note_seq(services.watch.wait_for(head))
    if reader is not None and reader is not services and reader.watch is not None:
        note_seq(reader.watch.wait_for(head))


async def consistency(
    request: Request,
    min_seq: Annotated[
        int | None,
        Query(
            ge=0,
            le=MAX_SEQ,
            description="至少反映到该账本序号（读取自己的写入；等待读模型追上，超时 503）/ "
            "reflect at least this ledger seq (read your own writes: waits for the read models, "
            "503 after a timeout)",
        ),
    ] = None,
) -> None:
    """`min_seq` on every request: wait here, before the endpoint reads. Async, so that the
    requests without it (nearly all) cost no thread-pool hop; the wait runs in a thread."""
    if min_seq is not None:
        await run_in_threadpool(_reach, request, min_seq)


def _reach(request: Request, min_seq: int) -> None:
    services: Services = request.app.state.services
    waiting: Services = request.app.state.reader if request.method in ("GET", "HEAD") else services
    head = services.ledger.head_seq()
    if min_seq > head:
        raise ValidationError(
            f"min_seq {min_seq} 超出账本末尾（当前为 {head}）",
            f"min_seq {min_seq} is beyond the ledger head ({head})",
        )
    if waiting.watch is not None:
        note_seq(waiting.watch.wait_for(min_seq))
