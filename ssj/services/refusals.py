"""Refusals on the record without flooding it.

Every refused command is an attempt discipline inspection wants to see, but a client retrying a
forbidden request in a loop must not fill the permanent, signed ledger. So refusals are counted
in windows: per principal and refusal (user, department, roles, command, departments, reason),
the first refusal is recorded at once as `Refusal.Recorded`; identical ones within the next
`refusal_window_seconds` are only counted, and when the window closes the count, with the times
of the first and the last of them, is recorded as one `Refusal.Repeated` on the same aggregate.

Pending counts live in this process's memory. They are flushed when their window has closed (at
the next refusal, or by `flush`, which the API calls every few seconds), and all of them when
the services close. A process killed without closing (kill -9) loses the counts of its open
windows: at most one window's repeats per refusal; the first attempt of every window is always
in the ledger already. Several processes count separately (each records its own first refusal
and its own repeats).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ssj.domain.access import Command, Forbidden, Principal, Refusal
from ssj.ledger.application import Ledger
from ssj.ledger.envelope import Actor

logger = logging.getLogger(__name__)

Key = tuple[str, str, tuple[str, ...], str, tuple[str, ...], str]
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def utc_text(moment: datetime) -> str:
    """As envelopes write `recorded_at`: `2026-03-02T01:00:00.000000Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Window:
    """One recorded refusal and the identical attempts counted since."""

    refusal: Refusal
    actor: Actor
    opened: datetime
    count: int = 0
    first: datetime | None = None
    last: datetime | None = None


class RefusalLog:
    """Records refusals in `ledger`, aggregating identical ones within `window_seconds`
    (0: every refusal is its own event). Safe to call from several threads."""

    def __init__(self, ledger: Ledger, window_seconds: float, clock: Clock = utc_now) -> None:
        self.ledger = ledger
        self.window = timedelta(seconds=window_seconds)
        self.clock = clock
        self._open: dict[Key, Window] = {}
        self._lock = threading.Lock()

    def record(
        self,
        principal: Principal,
        command: Command,
        departments: Collection[str],
        refused: Forbidden,
    ) -> None:
        roles = sorted(r.value for r in principal.roles)
        wanted = sorted(departments)
        key: Key = (
            principal.username,
            principal.department,
            tuple(roles),
            command.value,
            tuple(wanted),
            refused.en,
        )
        with self._lock:
            now = self.clock()
            self._flush(now, everything=False)
            window = self._open.get(key)
            if window is not None:
                window.count += 1
                window.first = window.first or now
                window.last = now
                return
            refusal = Refusal(
                username=principal.username,
                department=principal.department,
                roles=roles,
                command=command.value,
                departments=wanted,
                reason=refused.en,
            )
            actor = Actor(principal.username, principal.department, roles[0] if roles else "public")
            self.ledger.save(refusal, actor=actor)
            if self.window > timedelta(0):
                self._open[key] = Window(refusal, actor, now)

    def pending(self) -> int:
        """Attempts counted and not yet in the ledger."""
        with self._lock:
            return sum(w.count for w in self._open.values())

    def due(self) -> bool:
        """Whether some window has closed (so `flush` would write or forget something)."""
        now = self.clock()
        with self._lock:
            return any(now >= w.opened + self.window for w in self._open.values())

    def flush(self, *, everything: bool = False) -> int:
        """Record the repeats of every closed window (of every window: `everything`, as on
        shutdown); the number of `Repeated` events written."""
        with self._lock:
            return self._flush(self.clock(), everything=everything)

    def _flush(self, now: datetime, *, everything: bool) -> int:
        written = 0
        for key, window in list(self._open.items()):
            if not everything and now < window.opened + self.window:
                continue
            if window.count and window.first and window.last:
                if not self._save_repeats(window):
                    continue  # kept for the next flush
                written += 1
            del self._open[key]
        return written

    def _save_repeats(self, window: Window) -> bool:
        refusal = window.refusal
        saved_version = refusal.version
        assert window.first is not None and window.last is not None
        refusal.repeated(window.count, utc_text(window.first), utc_text(window.last))
        try:
            self.ledger.save(refusal, actor=window.actor)
            return True
        except Exception:
            # The refusal must not fail the request that flushes it. The aggregate now holds
            # an event that may or may not be stored: read it back to know which.
            logger.warning("repeated refusals not recorded yet", exc_info=True)
            try:
                stored: object = self.ledger.repository.get(refusal.id)
            except Exception:
                logger.warning("refusal %s not readable", refusal.id, exc_info=True)
                refusal.collect_events()
                refusal.version = saved_version
                return False
            assert isinstance(stored, Refusal)
            window.refusal = stored
            return stored.version > saved_version
