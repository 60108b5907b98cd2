"""Signing a large batch's envelopes in other processes, while the writer works with the database.

One signature per envelope stays: Ed25519 in libsodium costs about 20 µs of CPU, as much as half
of what a plain eventsourcing batch spends per event. A thread cannot take that off the writer:
its Python loop needs the GIL between two C calls, and the writer holds it while it encodes and
inserts, so the thread waits out the switch interval for every signature. A process has no GIL
to share. So a writer with a batch of `FROM` envelopes or more sends them to signer processes
(part by part, as they are drafted: `ssj.ledger.chain.Drafting`), signs the batch's last
share itself after inserting the events, and then collects the workers' signatures. That share
follows the machine (`rebalance`): where a worker signs slower than the writer works, the writer
waited for it with a core idle. A writer that drafts faster than a worker signs does not wait on
the full pipe: once the worker has `BACKLOG` parts waiting, the writer signs the next part
itself, beside it.

Each worker is a fresh interpreter (`python -m ssj.ledger.signing`, fork and exec: never a fork
that keeps running beside the API server's or psycopg's threads). It receives the signer key
string with each batch (the same user's private key, over a pipe only its parent holds) and keeps
the parsed key. A worker that is still starting, busy with another writer's batch, or gone is
simply not used: the writer signs that part itself, so a worker never makes an append slower
than signing alone, nor wrong (the signatures are the same bytes wherever they are made).

`SSJ_SIGN_WORKERS` sets the number of workers (default: one less than the usable cores, at
least one; 0 signs everything in the writing process).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pickle
import select
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ssj.processes import READY, announce_ready, read_exact, receive, send, spawn, worker_count

FROM = 16  # envelopes in a batch from which workers sign (below, the pipe costs more)
# The share of a batch the writer signs itself, its last envelopes, after inserting the events,
# to start with (a worker given all of it was still signing the last part when the writer had
# inserted the events): best on a fast machine's 100-event batches on SQLite, against 0.1 and
# 0.15. Each batch then moves it (`rebalance`), within [0, MAX_SHARE].
OWN_SHARE = 0.05
MAX_SHARE = 0.75
STEP = 0.01  # one message of a 100-event batch
# Parts a worker may have waiting before the writer signs the next part itself. A writer that
# drafts faster than one core signs (an import, whose new entries' events come already
# encoded: `ssj.ledger.mapper.PreparedEvent`) otherwise blocks on the full pipe while the
# worker catches up; signing beside it uses the writer's core. A 100-event batch, whose
# mapping takes about as long as its signing, never leaves a worker this far behind.
BACKLOG = 4


def rebalance(share: float, waited: float, per_signature: float) -> float:
    """The writer's share of the next batch, after a batch for which it `waited` seconds on
    the workers once its own were signed, at `per_signature` seconds each.

    A wait longer than one signature means a worker had too many: the share grows by `STEP`;
    otherwise a worker may have been idle at the end, and it shrinks by as much. The same step
    whatever the wait: a single wait is noisy (a worker descheduled for a millisecond would
    otherwise move a fifth of a 100-event batch), and such steps settle where the writer waits
    half of the time. Measured 2026-12-06 on a slow machine (a signature ~27 us), a 100-event
    batch on SQLite waited ~0.8 ms for its worker with a fixed 5 %."""
    step = STEP if waited > per_signature else -STEP
    return min(MAX_SHARE, max(0.0, share + step))


class Balance:
    """A writer share and the time one signature took the writer (`rebalance`), for batches of
    one signer key and one size class (`balance`)."""

    def __init__(self) -> None:
        self.share = OWN_SHARE
        self.per_signature = 0.0

    def after(self, signed: int, signing: float, waited: float) -> None:
        """After a batch whose writer signed `signed` messages in `signing` seconds, then
        `waited` seconds on the workers."""
        if signed:  # smoothed: a few signatures' time is noisy
            took = signing / signed
            known = self.per_signature
            self.per_signature = took if not known else 0.9 * known + 0.1 * took
        self.share = rebalance(self.share, waited, self.per_signature)


_balances: dict[tuple[str, int], Balance] = {}


def balance(signer_key: str, size: int) -> Balance:
    """The balance for batches of `size` messages signed with `signer_key`: one per key (an
    SM2 signature takes over ten times an Ed25519 one) and per power of two of the size (an
    import's 1,000-event batches outrun the worker, where 100-event ones wait for it), so that
    one kind of batch does not leave another a share it must first undo."""
    key = (signer_key, size.bit_length())
    return _balances.get(key) or _balances.setdefault(key, Balance())


def count() -> int:
    """Signer processes to run: SSJ_SIGN_WORKERS, else one less than the usable cores (at least
    one: on one core the writer still waits on the database while a worker signs)."""
    return worker_count("SSJ_SIGN_WORKERS", 1)


class _Worker:
    def __init__(self) -> None:
        self.process = spawn("ssj.ledger.signing")
        self.busy = threading.Lock()  # one batch at a time
        self.ready = False
        self.gone = False

    def usable(self) -> bool:
        """Ready (its start-up byte arrived, checked without waiting) and not gone."""
        if self.gone:
            return False
        if not self.ready:
            out = self.process.stdout
            assert out is not None
            try:
                if not select.select([out], [], [], 0)[0]:
                    return False
                self.ready = read_exact(out, 1) == READY
            except (OSError, EOFError, ValueError):
                self.ready = False
            self.gone = not self.ready
        return self.ready

    def fail(self) -> None:
        self.gone = True
        with contextlib.suppress(OSError):
            self.process.kill()

    def close(self) -> None:
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()  # the worker ends at the end of its input


_lock = threading.Lock()
_workers: list[_Worker] = []
_owner = os.getpid()  # a forked child must not write to its parent's signer pipes


def _reserve(wanted: int) -> list[_Worker]:
    """Up to `wanted` ready, idle workers, reserved for the caller; start missing ones (they are
    used from a later batch on, once ready)."""
    global _owner
    with _lock:
        if _owner != os.getpid():
            _owner = os.getpid()
            _workers.clear()  # the parent's: left to it
        _workers[:] = [w for w in _workers if not w.gone]
        while len(_workers) < count():
            _workers.append(_Worker())
        candidates = list(_workers)
    found: list[_Worker] = []
    for w in candidates:
        if len(found) == wanted:
            break
        if w.busy.acquire(False):
            if w.usable():
                found.append(w)
            else:
                w.busy.release()
    return found


def pids() -> list[int]:
    """The worker processes' ids (for accounting, e.g. a benchmark's CPU time)."""
    with _lock:
        return [w.process.pid for w in _workers if not w.gone]


@atexit.register
def _close() -> None:
    with _lock:
        for w in _workers if _owner == os.getpid() else ():
            w.close()


class Signing:
    """Signatures of one batch, being made: by workers (contiguous parts of the batch's first
    messages, all but the caller's share) and by the caller for the rest and for whatever no
    worker took.

    The batch may arrive in parts (`add`): a writer that drafts while it maps its events sends
    each part to a worker as soon as it is drafted, so the worker signs while the writer maps
    the rest. `result()` signs the caller's own parts, then waits for the workers' (once; later
    calls return the same list) and frees the workers; so does `discard()` for a batch not
    written."""

    def __init__(
        self,
        signer_key: str,
        sign: Callable[[bytes], bytes],
        messages: Sequence[bytes] = (),
        size: int | None = None,
    ):
        """`size`: the messages the batch will have in all (default: those of `messages`)."""
        self._key = signer_key
        self._sign = sign
        self._messages: list[bytes] = []
        self._parts: list[tuple[_Worker | None, int, int]] = []
        self._result: list[bytes] | None = None
        total = len(messages) if size is None else size
        self._workers = _reserve(count()) if total >= FROM and count() else []
        # The workers' messages are [0, given), in equal contiguous parts; the caller's, the rest.
        self._balance = balance(signer_key, total) if self._workers else None
        self._given = total - int(total * self._balance.share) if self._balance else 0
        self._step = -(-self._given // max(len(self._workers), 1))
        self._signed: list[bytes] = []  # without workers: each message signed as it is added
        # Answers read early (`_drain`), per worker, in the order of its parts.
        self._answers: dict[_Worker, deque[Any]] = {w: deque() for w in self._workers}
        self._waiting: dict[_Worker, int] = dict.fromkeys(self._workers, 0)  # parts unanswered
        self._own: dict[int, list[bytes]] = {}  # parts the caller signed as they came, by start
        self._waited = 0.0  # seconds blocked on the workers' answers (`_answer`)
        if messages:
            self.add(messages)

    def add(self, messages: Sequence[bytes]) -> None:
        """The batch's next messages: sent to their worker now, or signed now without one."""
        lo = len(self._messages)
        self._messages.extend(messages)
        if not self._workers:
            self._signed.extend(map(self._sign, messages))
            return
        hi = min(len(self._messages), self._given)
        while lo < hi:
            w: _Worker | None = self._workers[lo // self._step]
            end = min(hi, (lo // self._step + 1) * self._step)
            assert w is not None and w.process.stdin is not None
            if not w.gone:
                self._drain(w)
                if self._waiting[w] >= BACKLOG:
                    self._own[lo] = [self._sign(m) for m in self._messages[lo:end]]
                    self._parts.append((None, lo, end))
                    lo = end
                    continue
                try:
                    send(w.process.stdin, (self._key, self._messages[lo:end]))
                    self._waiting[w] += 1
                except OSError:
                    w.fail()
            self._parts.append((None if w.gone else w, lo, end))
            lo = end

    def result(self) -> list[bytes]:
        """Every signature of the batch, in order (`each` read to the end, which keeps them)."""
        if self._result is None:
            for _ in self.each():
                pass
        assert self._result is not None
        return self._result

    def each(self) -> Iterator[bytes]:
        """The batch's signatures in order, each worker's part collected only when reached.

        The caller's own parts are signed first (the workers sign theirs meanwhile); then a
        writer consuming this as it inserts rows writes those of the parts already answered
        while the workers still sign the later ones, instead of waiting for all of them first
        (measured 2026-12-06: a 100-event batch on SQLite spent ~3 us a row on its envelope
        rows after waiting ~0.2-0.8 ms for its worker). A consumer that stops early leaves the
        rest to `discard`; one that reads to the end leaves the list for `result` and any later
        `each` (the parts are collected once)."""
        if self._result is not None:
            yield from self._result
            return
        if not self._workers:
            self._result = self._signed
            yield from self._signed
            return
        sent = self._parts[-1][2] if self._parts else 0
        own = [(lo, hi) for w, lo, hi in self._parts if w is None]
        own.append((sent, len(self._messages)))
        collected: list[bytes] = []
        try:
            t0 = time.perf_counter()
            done = {lo: self._own.get(lo) or self._collect(None, lo, hi) for lo, hi in own}
            signing = time.perf_counter() - t0  # from here: waiting, with nothing left to sign
            while self._parts:
                w, lo, hi = self._parts[0]
                part = done.pop(lo) if w is None else self._collect(w, lo, hi)
                del self._parts[0]  # collected: not to be drained by `discard`
                collected += part
                yield from part
        except BaseException:
            self.discard()
            raise
        self._release()
        assert self._balance is not None
        signed_here = sum(hi - lo for lo, hi in own if lo not in self._own)
        self._balance.after(signed_here, signing, self._waited)
        collected += done[sent]
        self._result = collected
        yield from done[sent]

    def _drain(self, w: _Worker) -> None:
        """Read the answers the worker has written so far, before sending it another part.
        Otherwise a batch of many parts deadlocks: the worker blocks writing answers nobody
        reads (its output pipe full) and so stops reading, and the writer then blocks sending
        the next part (its input pipe full). Between two drains the worker answers at most the
        parts its input pipe holds: a fraction of what its output pipe holds."""
        out = w.process.stdout
        assert out is not None
        try:
            while self._waiting[w] and select.select([out], [], [], 0)[0]:
                self._answers[w].append(receive(out))
                self._waiting[w] -= 1
        except (OSError, EOFError, ValueError, pickle.UnpicklingError):
            w.fail()

    def _answer(self, w: _Worker) -> Any:
        """The worker's answer to its next part not yet collected."""
        queued = self._answers[w]
        if queued:
            return queued.popleft()
        out = w.process.stdout
        assert out is not None
        self._waiting[w] -= 1
        if select.select([out], [], [], 0)[0]:
            return receive(out)
        t = time.perf_counter()  # none on the pipe: waiting, unless it is in the read buffer
        value = receive(out)
        self._waited += time.perf_counter() - t
        return value

    def discard(self) -> None:
        for w, _, _ in self._parts:
            if w is not None and not w.gone:
                try:
                    self._answer(w)
                except Exception:
                    w.fail()
        self._parts = []
        self._release()

    def _release(self) -> None:
        for w in self._workers:
            w.busy.release()
        self._workers = []

    def _collect(self, w: _Worker | None, lo: int, hi: int) -> list[bytes]:
        part = self._messages[lo:hi]
        if w is None or w.gone:
            return [self._sign(m) for m in part]
        try:
            ok, value = self._answer(w)
        except (OSError, EOFError, pickle.UnpicklingError):
            w.fail()
            ok, value = False, None
        if not ok or len(value) != len(part):
            return [self._sign(m) for m in part]  # the worker is gone, or refused the key
        return value  # type: ignore[no-any-return]


def sign_all(signer_key: str, messages: Sequence[bytes], keys: dict[str, Any]) -> list[bytes]:
    """A worker's answer to one batch: every message signed by the signer key's private key."""
    from ssj.ledger import note

    private = keys.get(signer_key)
    if private is None:
        signer = note.parse_signer_key(signer_key)
        private = keys[signer_key] = signer.suite.private_key(signer.seed)
    sign = private.sign
    return [sign(m) for m in messages]


def serve() -> None:
    """A worker's life: import, say ready, sign batches until the input ends."""
    from ssj.ledger import note  # noqa: F401  (imported before saying ready)

    inp, out = announce_ready()
    keys: dict[str, Any] = {}
    while True:
        try:
            signer_key, messages = receive(inp)
        except EOFError:
            return
        try:
            answer: tuple[bool, Any] = (True, sign_all(signer_key, messages, keys))
        except Exception as e:
            answer = (False, f"{type(e).__name__}: {e}")
        send(out, answer)


if __name__ == "__main__":
    serve()
