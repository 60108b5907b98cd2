"""What every service needs: the ledger, the read models, and who is asking.

A command is authorised against the read model of users before anything is loaded; a refusal
writes nothing the command asked for, but the attempt itself is recorded in the ledger
(全程留痕: discipline inspection wants to see who tried what), identical repeats aggregated
(`ssj.services.refusals`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from contextvars import ContextVar
from dataclasses import replace
from typing import Any, TypeVar, cast

import orjson

from projections.calendar import CalendarProjection
from projections.delivery import DeliveryProjection
from projections.draws import TABLES as DRAW_TABLES
from projections.draws import DrawProjection
from projections.feed import ProjectionWatch
from projections.followups import FollowUpProjection
from projections.plans import PlanProjection, PlanQueries
from projections.registry import RegistryProjection, RegistryQueries
from projections.runner import Runner
from projections.store import PostgresViewStore, ViewStore, open_view_store
from projections.trail import TrailProjection
from ssj.config import Settings
from ssj.domain.access import Command, Forbidden, Principal, authorise
from ssj.domain.organisation import Role, token_hash
from ssj.errors import NotFoundError
from ssj.ledger.application import Ledger
from ssj.ledger.envelope import Actor
from ssj.services.refusals import RefusalLog

T = TypeVar("T")

MAX_KEPT = 4096  # tokens (and departments) a process remembers at once; all forgotten when full

# True while the API serves a read (GET): its read models need only be as new as this process's
# own writes (a client asks for more with min_seq). A command's must be as new as the ledger.
reading: ContextVar[bool] = ContextVar("ssj_reading", default=False)


class RequestHead:
    """The ledger's head seq as one API request first read it: a command waits for the read
    models to reach it before authorising, again after writing, and before answering; one query
    serves them all (what this process wrote since is its own, known without a query)."""

    def __init__(self) -> None:
        self.head_seq: int | None = None


# Set by the API for each request (`ssj.api.deps.get_services`); unset elsewhere, where every
# refresh reads the head.
request_head: ContextVar[RequestHead | None] = ContextVar("ssj_request_head", default=None)


class Services:
    """The ledger and its read models, opened once per process."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        ledger: Ledger | None = None,
        replica: bool = False,
    ) -> None:
        """`replica`: read-only services over a streaming replica (see `reader`)."""
        self.ledger = ledger or Ledger(settings)
        self.settings = self.ledger.settings
        self.store: ViewStore = (
            PostgresViewStore(self.settings.database, read_only=True)
            if replica
            else open_view_store(self.settings)
        )
        self.runner = Runner(
            self.ledger,
            self.store,
            [
                RegistryProjection(),
                PlanProjection(),
                DrawProjection(),
                CalendarProjection(),
                FollowUpProjection(),
                DeliveryProjection(),  # after the tasks and follow-ups it reads as of each seq
                TrailProjection(),
            ],
            prepare=not replica,
        )
        self.primary: Services = self  # whose own writes reads through these must show
        self.queries = RegistryQueries(self.store)
        self.plan_queries = PlanQueries(self.store)
        self.draw_queries = RegistryQueries(self.store, DRAW_TABLES)
        # Set while an API serves from these services: read models are then fed by a
        # projection daemon (or thread), and requests wait for them instead of applying events.
        self.watch: ProjectionWatch | None = None
        self.refusals = RefusalLog(self.ledger, self.settings.refusal_window_seconds)
        self._by_head: dict[str, tuple[int, object]] = {}
        # Token digest -> (the watch's access generation, principal): see principal_for_token.
        self._principals: dict[str, tuple[int, Principal]] = {}
        self._open_departments: dict[str, int] = {}  # code -> generation: department_exists
        self._by_head_lock = threading.Lock()

    def close(self) -> None:
        try:
            self.refusals.flush(everything=True)
        finally:
            self.store.close()
            self.ledger.close()

    def refresh(self) -> None:
        """Bring the read models up to date with the ledger: here, in a command-line process;
        in the API, by waiting for the projection feed (UnavailableError after its timeout)."""
        if self.watch is None:
            self.runner.catch_up()
        elif reading.get():
            self.watch.wait_for(self.read_floor())
        else:
            self.watch.wait_for(self.head_seq())

    def read_floor(self) -> int:
        """The oldest seq a read here may reflect: what this process has written (its clients
        read their own writes). `refresh` waits for it; the API's public-answer cache replays
        an answer only at a seq past it."""
        return self.primary.ledger.written_seq()

    def head_seq(self) -> int:
        """The ledger's newest seq for this command: read once per API request, then at least
        what this process has written since (no query); read every time outside a request."""
        known = request_head.get()
        if known is None:
            return self.ledger.head_seq()
        if known.head_seq is None:
            known.head_seq = self.ledger.head_seq()
        return max(known.head_seq, self.ledger.written_seq())

    def known_head_seq(self) -> int | None:
        """`head_seq()` when this request has read it already (no query), else None."""
        known = request_head.get()
        if known is None or known.head_seq is None:
            return None
        return max(known.head_seq, self.ledger.written_seq())

    def by_head(self, name: str, compute: Callable[[], T]) -> T:
        """`compute()`'s answer, kept while the ledger does not grow: for reads that only new
        events change (the checkpoint and its cosignatures), one size query instead of
        replaying aggregates on every request. Computed after the size is read, so a value is
        never older than the head it is kept for."""
        return self._kept(f"head:{name}", self.ledger.size(), compute)

    def by_seq(self, name: str, seq: int, compute: Callable[[], T]) -> T:
        """`compute()`'s answer for reads pinned to `seq`, kept until a read asks for another
        seq: what the read models hold as of a seq they have reached never changes, so the
        requests served at one seq share it (the published plans behind a list of draws)."""
        return self._kept(f"seq:{name}", seq, compute)

    def _kept(self, name: str, key: int, compute: Callable[[], T]) -> T:
        with self._by_head_lock:
            found = self._by_head.get(name)
        if found is not None and found[0] == key:
            return cast(T, found[1])
        value = compute()
        with self._by_head_lock:
            self._by_head[name] = (key, value)
        return value

    def reader(self) -> Services | None:
        """Read-only services over `SSJ_READ_DATABASE_URL` (a streaming replica), or None."""
        read_db = self.settings.read_database
        if read_db is None:
            return None
        reader = Services(
            replace(self.settings, database=read_db, read_database=None, create_tables=False),
            replica=True,
        )
        reader.primary = self
        return reader

    def read_seq(self) -> int:
        """The seq every read model has reached: what reads are pinned to."""
        if self.watch is not None:
            return self.watch.seq()
        return min(self.runner.seqs().values(), default=-1)

    # Who is asking -----------------------------------------------------------------------------

    def principal(self, username: str) -> Principal:
        self.refresh()
        return _as_principal(username, self.queries.get("users", [username]))

    def principal_for_token(self, token: str) -> Principal:
        """The token's user as the read models hold them now: one query for both. A read waits
        only for this process's own writes, so a token the read models do not hold yet (issued
        by another process a moment ago) is looked up once more after they reach the head.

        An API process keeps the principals it found while its watch says no batch since has
        changed users, tokens or departments (`ProjectionWatch.organisation_generation`, taken before the query):
        the answer is then the query's, without it. Refusals are not kept."""
        self.refresh()
        digest = token_hash(token)
        generation = None if self.watch is None else self.watch.organisation_generation()
        if generation is not None:
            kept = self._principals.get(digest)
            if kept is not None and kept[0] == generation:
                return kept[1]
        rows = self._token_rows(digest)
        if not rows and self.watch is not None and reading.get():
            self.watch.wait_for(self.head_seq())
            rows = self._token_rows(digest)
        found = orjson.loads(rows[0][0]) if rows else None
        if found is None or found["revoked"]:
            raise Forbidden("令牌无效或已吊销", "invalid or revoked token")
        user = orjson.loads(rows[0][1]) if rows[0][1] is not None else None
        principal = _as_principal(found["username"], user)
        if generation is not None:
            _keep(self._principals, digest, (generation, principal))
        return principal

    def _token_rows(self, digest: str) -> list[tuple[Any, ...]]:
        return self.store.query(
            "SELECT t.state, u.state FROM tokens t LEFT JOIN users u "
            "ON u.username = t.username AND u.to_seq IS NULL "
            "WHERE t.token_sha256 = ? AND t.to_seq IS NULL",
            [digest],
        )

    def authorise(
        self, principal: Principal, command: Command, departments: Collection[str] = ()
    ) -> Actor:
        """The actor to record, or Forbidden (and the refusal is recorded)."""
        try:
            role = authorise(principal, command, departments)
        except Forbidden as refused:
            self.record_refusal(principal, command, departments, refused)
            raise
        return Actor(principal.username, principal.department, role.value)

    def record_refusal(
        self,
        principal: Principal,
        command: Command,
        departments: Collection[str],
        refused: Forbidden,
    ) -> None:
        """On the record: at once, or counted with identical ones (see RefusalLog); in the
        primary's ledger when these services read a replica."""
        self.primary.refusals.record(principal, command, departments, refused)

    def department_exists(self, code: str) -> bool:
        """Registered and not closed. An API process keeps the departments it found open while
        its watch says no batch since changed users, tokens or departments (taken before the
        query, as `principal_for_token` does)."""
        generation = None if self.watch is None else self.watch.organisation_generation()
        if generation is not None and self._open_departments.get(code) == generation:
            return True
        found = self.queries.get("departments", [code])
        exists = found is not None and not found["closed"]
        if exists and generation is not None:
            _keep(self._open_departments, code, generation)
        return exists

    def require_department(self, code: str) -> None:
        if not self.department_exists(code):
            raise NotFoundError(f"部门 {code} 不存在", f"unknown department {code}")


def _keep(kept: dict[str, T], key: str, value: T) -> None:
    """Remember `value`; a store at `MAX_KEPT` entries is emptied first (bounded memory)."""
    if len(kept) >= MAX_KEPT:
        kept.clear()
    kept[key] = value


def _as_principal(username: str, user: dict[str, Any] | None) -> Principal:
    if user is None or not user["active"]:
        raise Forbidden(
            f"用户 {username} 不存在或已停用", f"user {username} does not exist or is inactive"
        )
    roles = frozenset(Role(r) for r in user["roles"])
    return Principal(username, user["department"], roles, user.get("certificate_no"))
