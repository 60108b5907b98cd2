"""Safe retries: the `Idempotency-Key` header on every write (POST, PUT, PATCH, DELETE).

A client that lost a reply sends the same request again with the same key. Keys are scoped to
the principal (the user the bearer token belongs to). The first request with a key claims it and
runs; its answer (status, headers, body) is kept for `idempotency_retention_seconds`. Then:

- the same key and the same request (method, path, query and the body's bytes as received,
  multipart uploads included) gets the original answer again, with `Idempotent-Replayed: true`,
  and writes nothing;
- the same key with a different request is 409 `idempotency_key_reused`;
- the same key while the first request still runs (in this process or another) is 409
  `idempotency_in_progress` with `Retry-After: 1`: nothing waits, nothing runs twice.

Answers are a cache, not history: they live in the read-model database (`idempotency_keys`, in
the SQLite views file or the `<schema>_views` PostgreSQL schema), shared by every API process and
kept across restarts, never in the ledger. Server errors (5xx) are not kept: the claim is
released so the client may retry. A claim whose process died (kill -9) is taken over after
`idempotency_lease_seconds`; the retry then runs again, and commands that create things
recognise an identical existing record, so it does not create a second one.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from projections.store import Cursor, ViewStore
from ssj.api.ratelimit import send_answer
from ssj.config import Settings
from ssj.errors import SsjError

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_KEY_LENGTH = 255
PURGE_EVERY_SECONDS = 60.0
_KEPT_HEADERS_SKIPPED = frozenset({b"date", b"server", REPLAYED.lower().encode()})

Headers = list[tuple[bytes, bytes]]


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Headers
    body: bytes


@dataclass(frozen=True)
class Claimed:
    claim: str  # this claim's id: only its holder completes or releases it


@dataclass(frozen=True)
class Stored:
    fingerprint: str
    answer: Answer


@dataclass(frozen=True)
class Running:
    pass


Outcome = Claimed | Stored | Running


class IdempotencyStore:
    """Keys and their answers in the read-model database (`store`: the services' own, or any
    view store of the same database)."""

    def __init__(
        self, settings: Settings, store: ViewStore, clock: Callable[[], float] = time.time
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self._ready = False
        self._lock = threading.Lock()
        self._purged = 0.0

    def _open(self) -> ViewStore:
        if not self._ready:
            postgres = self.store.is_postgres
            blob, real = ("BYTEA", "DOUBLE PRECISION") if postgres else ("BLOB", "REAL")
            with self.store.transaction() as c:
                c.execute(
                    "CREATE TABLE IF NOT EXISTS idempotency_keys (principal TEXT NOT NULL, "
                    f"key TEXT NOT NULL, claim TEXT NOT NULL, started {real} NOT NULL, "
                    f"expires {real} NOT NULL, fingerprint TEXT, status INTEGER, headers TEXT, "
                    f"body {blob}, PRIMARY KEY (principal, key))"
                )
                c.execute(
                    "CREATE INDEX IF NOT EXISTS idempotency_expires ON idempotency_keys (expires)"
                )
            self._ready = True
        return self.store

    def claim(self, principal: str, key: str) -> Outcome:
        """Claim `key` for a new request, or say what holds it."""
        now = self.clock()
        retention = self.settings.idempotency_retention_seconds
        claim = uuid.uuid4().hex
        with self._lock, self._open().transaction() as c:
            self._purge(c, now)
            c.execute(
                "INSERT INTO idempotency_keys (principal, key, claim, started, expires) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (principal, key) DO NOTHING RETURNING 1",
                (principal, key, claim, now, now + retention),
            )
            if c.fetchone() is not None:
                return Claimed(claim)
            lock = " FOR UPDATE" if self._open().is_postgres else ""
            c.execute(
                "SELECT started, expires, fingerprint, status, headers, body FROM "
                f"idempotency_keys WHERE principal = ? AND key = ?{lock}",
                (principal, key),
            )
            started, expires, fingerprint, status, headers, body = c.fetchone()
            if expires > now and fingerprint is not None:
                kept = [
                    (k.encode("latin-1"), v.encode("latin-1")) for k, v in orjson.loads(headers)
                ]
                return Stored(fingerprint, Answer(int(status), kept, bytes(body)))
            if expires > now and now < started + self.settings.idempotency_lease_seconds:
                return Running()
            # Expired, or a claim whose process never finished it: start afresh.
            c.execute(
                "UPDATE idempotency_keys SET claim = ?, started = ?, expires = ?, "
                "fingerprint = NULL, status = NULL, headers = NULL, body = NULL "
                "WHERE principal = ? AND key = ?",
                (claim, now, now + retention, principal, key),
            )
            return Claimed(claim)

    def complete(
        self, principal: str, key: str, claim: Claimed, fingerprint: str, answer: Answer
    ) -> None:
        now = self.clock()
        headers = orjson.dumps(
            [(k.decode("latin-1"), v.decode("latin-1")) for k, v in answer.headers]
        ).decode()
        with self._lock, self._open().transaction() as c:
            c.execute(
                "UPDATE idempotency_keys SET expires = ?, fingerprint = ?, status = ?, "
                "headers = ?, body = ? WHERE principal = ? AND key = ? AND claim = ?",
                (
                    now + self.settings.idempotency_retention_seconds,
                    fingerprint,
                    answer.status,
                    headers,
                    answer.body,
                    principal,
                    key,
                    claim.claim,
                ),
            )

    def release(self, principal: str, key: str, claim: Claimed) -> None:
        with self._lock, self._open().transaction() as c:
            c.execute(
                "DELETE FROM idempotency_keys WHERE principal = ? AND key = ? AND claim = ?",
                (principal, key, claim.claim),
            )

    def _purge(self, c: Cursor, now: float) -> None:
        if now - self._purged >= PURGE_EVERY_SECONDS:
            c.execute("DELETE FROM idempotency_keys WHERE expires <= ?", (now,))
            self._purged = now


# The middleware ---------------------------------------------------------------------------------


def _error(status: int, code: str, zh: str, en: str, retry_after: int | None = None) -> Answer:
    body = orjson.dumps({"code": code, "message_zh": zh, "message_en": en})
    headers: Headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    return Answer(status, headers, body)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            text: str = value.decode("latin-1")
            return text
    return None


def parse_key(raw: str) -> str | None:
    """The key (an sf-string's quotes removed), or None if it is not 1-255 visible ASCII."""
    key = raw.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not 0 < len(key) <= MAX_KEY_LENGTH or not all(" " <= ch <= "~" for ch in key):
        return None
    return key


def fingerprint(scope: Scope, body_sha256: str) -> str:
    parts = [
        scope["method"],
        scope.get("path", ""),
        scope.get("query_string", b"").decode("latin-1"),
    ]
    text = "\n".join([*parts, body_sha256])
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


class Idempotency:
    """ASGI middleware for `Idempotency-Key` on write requests (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITES:
            await self.app(scope, receive, send)
            return
        raw = _header(scope, HEADER.lower().encode())
        if raw is None:
            await self.app(scope, receive, send)
            return
        key = parse_key(raw)
        if key is None:
            await send_answer(
                send,
                *_astuple(
                    _error(
                        422,
                        "idempotency_key_invalid",
                        f"{HEADER} 应为 1–{MAX_KEY_LENGTH} 个可见 ASCII 字符",
                        f"{HEADER} must be 1-{MAX_KEY_LENGTH} visible ASCII characters",
                    )
                ),
            )
            return
        app: FastAPI = scope["app"]
        principal = await _principal(app, scope)
        if principal is None:  # no valid token: the endpoint answers 401 and writes nothing
            await self.app(scope, receive, send)
            return
        store: IdempotencyStore = app.state.idempotency
        outcome = await run_in_threadpool(store.claim, principal, key)
        if isinstance(outcome, Running):
            answer = _error(
                409,
                "idempotency_in_progress",
                f"使用该 {HEADER} 的请求仍在处理中，请稍后重试",
                f"a request with this {HEADER} is still being processed: retry later",
                retry_after=1,
            )
        elif isinstance(outcome, Stored):
            body_hash = await _hash_body(receive, hashlib.sha256())
            if fingerprint(scope, body_hash) == outcome.fingerprint:
                replayed = outcome.answer
                answer = Answer(
                    replayed.status,
                    [*replayed.headers, (REPLAYED.lower().encode(), b"true")],
                    replayed.body,
                )
            else:
                answer = _error(
                    409,
                    "idempotency_key_reused",
                    f"该 {HEADER} 已用于另一个请求（方法、路径或请求体不同）：请换用新的键",
                    f"this {HEADER} was used for a different request (method, path or body): "
                    "use a new key",
                )
        else:
            answer = await self._run(scope, receive, store, principal, key, outcome)
        await send_answer(send, *_astuple(answer))

    async def _run(
        self,
        scope: Scope,
        receive: Receive,
        store: IdempotencyStore,
        principal: str,
        key: str,
        claim: Claimed,
    ) -> Answer:
        """Run the request, hashing its body as the app reads it, and keep its answer."""
        digest = hashlib.sha256()
        finished = False

        async def hashing_receive() -> Message:
            nonlocal finished
            message = await receive()
            if message["type"] == "http.request":
                digest.update(message.get("body", b""))
                finished = not message.get("more_body", False)
            return message

        start: Message = {}
        chunks: list[bytes] = []

        async def keep(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        try:
            await self.app(scope, hashing_receive, keep)
        except BaseException:
            await run_in_threadpool(store.release, principal, key, claim)
            raise
        if not finished:  # the endpoint did not read the whole body: hash the rest
            await _hash_body(receive, digest)
        headers = [(k, v) for k, v in start.get("headers", []) if k not in _KEPT_HEADERS_SKIPPED]
        answer = Answer(int(start["status"]), headers, b"".join(chunks))
        if answer.status >= 500:
            await run_in_threadpool(store.release, principal, key, claim)
        else:
            request = fingerprint(scope, digest.hexdigest())
            await run_in_threadpool(store.complete, principal, key, claim, request, answer)
        return answer


def _astuple(answer: Answer) -> tuple[int, Headers, bytes]:
    return answer.status, answer.headers, answer.body


async def _hash_body(receive: Receive, digest: Any) -> str:
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        digest.update(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return str(digest.hexdigest())


async def _principal(app: FastAPI, scope: Scope) -> str | None:
    """The username the bearer token belongs to (None: no valid token), read as the endpoint
    will read it: through the services, taking turns at their gate."""
    header = _header(scope, b"authorization") or ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    services = app.state.services
    async with app.state.gate:
        try:
            found = await run_in_threadpool(services.principal_for_token, token.strip())
        except SsjError:  # unknown or revoked token, inactive user
            return None
    return str(found.username)


# Registration and documentation ----------------------------------------------------------------

HEADER_DOC = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_KEY_LENGTH,
        "pattern": "^[!-~]([ -~]*[!-~])?$",  # visible ASCII, inner spaces allowed
    },
    "description": (
        "可选。重试写请求时使用同一个键（按用户区分）：相同的键和相同的请求返回原来的应答、不再写入；"
        "相同的键用于不同请求返回 409；前一个请求仍在处理时返回 409 并带 Retry-After。"
        "/ Optional. Send the same key when retrying a write (keys are per user): the same key "
        "and the same request (method, path, query, body bytes) get the original answer again "
        f"(with `{REPLAYED}: true`) and write nothing; the same key with a different request "
        "is 409 `idempotency_key_reused`; while the first is still running, 409 "
        "`idempotency_in_progress` with `Retry-After`. Answers are kept for "
        "SSJ_IDEMPOTENCY_RETENTION_SECONDS (default 24 h)."
    ),
}
CONFLICT_DOC = (
    "冲突：当前状态不允许，或 Idempotency-Key 已用于另一请求或仍在处理中 / conflict: the current "
    "state forbids it, or the Idempotency-Key was used for another request or is still running"
)


def document(schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document with the header on every write operation, whose 409 answer says
    that it also means a reused or still running key."""
    for operations in schema.get("paths", {}).values():
        for method, operation in operations.items():
            if method.upper() not in WRITES or not isinstance(operation, dict):
                continue
            parameters = operation.setdefault("parameters", [])
            if not any(p.get("name") == HEADER for p in parameters):
                parameters.append(dict(HEADER_DOC))
            conflict = operation.setdefault("responses", {}).setdefault("409", {})
            if HEADER not in conflict.get("description", ""):
                conflict["description"] = CONFLICT_DOC
    return schema


def install(app: FastAPI) -> None:
    """The middleware, and its store in the services' read-model database."""
    services = app.state.services
    app.state.idempotency = IdempotencyStore(services.settings, services.store)
    app.add_middleware(Idempotency)


def documented(app: FastAPI) -> None:
    """Document the header over whatever builds the app's OpenAPI document (call it last)."""
    build = app.openapi
    app.openapi_schema = None

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None or not getattr(app.state, "idempotency_documented", False):
            app.openapi_schema = document(build())
            app.state.idempotency_documented = True
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
