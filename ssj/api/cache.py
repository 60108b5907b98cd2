"""A worker's cache of public answers: the same bytes for the same question at the same seq.

A token-less GET of the public pages (`/`, `/gongshi…`) or of `/public/…` reads nothing but the
read models pinned to one seq (no caller, no clock), so its answer is a pure function of (path,
query, Host, scheme, seq). `PublicCache`, ASGI middleware inside the rate limit, keeps the
encoded 200 answers of the newest seq this worker has served and replays them while the read
models stay there: no routing, dependencies, SQL or rendering (most of a public read's CPU). `X-Request-ID`,
`X-SSJ-Seq`, the log line and the latency histogram are added outside it as for any request.

The seq must be known without I/O, exactly as a read would pin it (`Services.refresh`,
`read_seq`): the watch is listening to the projection daemon (PostgreSQL) and has reached this
process's own writes. Otherwise (SQLite, a replica's polling watch, a lost LISTEN connection)
every request takes the ordinary path. `min_seq` above that seq takes the ordinary path too (it
waits); at or below it, the answer at that seq is the one the ordinary path gives. An answer is
kept only if its request noted that same seq throughout (`X-SSJ-Seq`), so a body never outlives
the seq it was read at: when the seq moves, everything kept is dropped. Bounded by
`MAX_BYTES` in all and `MAX_BODY` per answer, least recently used first out.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter
from starlette.datastructures import QueryParams
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ssj.api import observe

MAX_BYTES = 32 * 1024 * 1024  # per worker
MAX_BODY = 512 * 1024
PUBLIC_PREFIXES = ("/gongshi", "/public/")

CACHE = Counter(
    "ssj_http_cache", "Public answers served from a worker's cache, or not", ["outcome"]
)
_HIT, _MISS = CACHE.labels("hit"), CACHE.labels("miss")

Key = tuple[str, tuple[tuple[str, str], ...], str, str, str]


@dataclass(frozen=True)
class Answer:
    route: str
    headers: list[tuple[bytes, bytes]]
    body: bytes


def is_public(path: str) -> bool:
    return path == "/" or path.startswith(PUBLIC_PREFIXES)


def seen_seq(app: Any) -> int | None:
    """The seq a read in this worker would be pinned to now, if known without I/O; else None."""
    reader = getattr(app.state, "reader", None)
    if reader is None or reader.watch is None:
        return None
    watch = reader.watch
    if watch.seen_seq < 0 or not watch.listening():
        return None
    if watch.seen_seq < reader.read_floor():
        return None  # a read waits for this process's own write first
    seq: int = watch.seen_seq
    return seq


def request_key(scope: Scope, seq: int) -> Key | None:
    """(path, query without `min_seq`, Host, scheme, root path: a page's links are absolute
    URLs), or None when the request must take the ordinary path: a token, or a `min_seq` that
    is not a whole number at most `seq`."""
    host = ""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            return None
        if name == b"host":
            host = value.decode("latin-1")
    pairs = []
    for name, value in QueryParams(scope.get("query_string", b"")).multi_items():
        if name == "min_seq":
            if not value.isdigit() or int(value) > seq:
                return None
        else:
            pairs.append((name, value))
    pairs.sort(key=lambda pair: pair[0])  # stable: repeated names keep their order
    return (
        scope["path"],
        tuple(pairs),
        host,
        str(scope.get("scheme", "http")),
        str(scope.get("root_path", "")),
    )


class PublicCache:
    """Replay a public GET's 200 answer while the read models stay at the seq it was read at."""

    def __init__(self, app: ASGIApp, *, max_bytes: int = MAX_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.seq = -1
        self.size = 0
        self.answers: OrderedDict[Key, Answer] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or not is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        seq = seen_seq(scope["app"])
        key = None if seq is None else request_key(scope, seq)
        if seq is None or key is None:
            await self.app(scope, receive, send)
            return
        if seq != self.seq:
            self._drop(seq)
        answer = self.answers.get(key) if seq == self.seq else None
        if answer is not None:
            _HIT.inc()
            self.answers.move_to_end(key)
            observe.note_seq(seq)
            info = observe.current.get()
            if info is not None:
                info.route = answer.route
            await send({"type": "http.response.start", "status": 200, "headers": answer.headers})
            await send({"type": "http.response.body", "body": answer.body})
            return
        _MISS.inc()
        await self._fill(scope, receive, send, key, seq)

    async def _fill(self, scope: Scope, receive: Receive, send: Send, key: Key, seq: int) -> None:
        start: Message | None = None
        chunks: list[bytes] = []
        size = 0

        async def keep(message: Message) -> None:
            nonlocal start, size
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body" and size <= MAX_BODY:
                chunk = message.get("body", b"")
                chunks.append(chunk)
                size += len(chunk)
            await send(message)

        await self.app(scope, receive, keep)
        info = observe.current.get()
        if (
            start is None
            or start["status"] != 200
            or size > MAX_BODY
            or info is None
            or info.seq != seq  # read at another seq, or at none
        ):
            return
        self._keep(
            key,
            seq,
            Answer(observe.route_template(scope), list(start.get("headers", [])), b"".join(chunks)),
        )

    def _drop(self, seq: int) -> None:
        """Forget every answer when the read models move on (they were all of an older seq)."""
        if seq > self.seq:
            self.answers.clear()
            self.size = 0
            self.seq = seq

    def _keep(self, key: Key, seq: int, answer: Answer) -> None:
        if seq != self.seq or key in self.answers:
            return
        self.answers[key] = answer
        self.size += len(answer.body)
        while self.size > self.max_bytes and self.answers:
            _, dropped = self.answers.popitem(last=False)
            self.size -= len(dropped.body)
