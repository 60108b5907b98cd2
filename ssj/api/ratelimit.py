"""Floods: a per-token rate limit (HTTP 429), and the periodic flush of counted refusals.

The limit is a token bucket per API token (by the SHA-256 of the bearer token, so one user's
tokens are limited separately), refilled at `rate_limit_per_minute` and holding at most
`rate_limit_burst` requests. Requests without a token, and requests whose token has not yet been
accepted by this process, are limited per client address at `rate_limit_anonymous_per_minute`
instead, so inventing tokens buys no extra requests. Behind a reverse proxy the client address
is the proxy's unless uvicorn runs with `--proxy-headers` and `--forwarded-allow-ips`.

Buckets live in this process's memory: with several worker processes each has its own, so a
client may get up to N times the rate across N workers (a connection stays with one worker,
so a single keep-alive client sees the configured rate). No shared store is used on purpose:
the limit protects each process, and the ledger is protected by refusal aggregation.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass

import orjson
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ssj.config import Settings

logger = logging.getLogger(__name__)

MAX_BUCKETS = 10_000  # idle full buckets are dropped beyond this many
MAX_ACCEPTED_TOKENS = 10_000


@dataclass
class Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """`take(key)`: 0 if a request may pass now, else the seconds until one may."""

    def __init__(
        self, per_minute: int, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(max(1, burst))
        self.clock = clock
        self._buckets: dict[str, Bucket] = {}

    def take(self, key: str) -> float:
        if self.rate <= 0:
            return 0.0
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_BUCKETS:
                self._prune(now)
            bucket = self._buckets[key] = Bucket(self.burst, now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate

    def _prune(self, now: float) -> None:
        full = self.burst / self.rate
        for key, bucket in list(self._buckets.items()):
            if now - bucket.updated >= full:
                del self._buckets[key]


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            header: str = value.decode("latin-1")
            scheme, _, token = header.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


def too_many(wait: float) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    seconds = max(1, math.ceil(wait))
    body = orjson.dumps(
        {
            "code": "rate_limited",
            "message_zh": f"请求过于频繁，请在 {seconds} 秒后重试",
            "message_en": f"too many requests: retry after {seconds} s",
        }
    )
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(seconds).encode()),
    ]
    return 429, headers, body


async def send_answer(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RateLimit:
    """ASGI middleware: 429 with `Retry-After` and a bilingual body beyond the rate."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.tokens = TokenBuckets(settings.rate_limit_per_minute, settings.rate_limit_burst)
        self.addresses = TokenBuckets(
            settings.rate_limit_anonymous_per_minute, settings.rate_limit_burst
        )
        self._accepted: OrderedDict[str, None] = OrderedDict()  # token hashes seen to work
        # Both limits off (a rate of 0): every request passes, with nothing to count.
        self.off = self.tokens.rate <= 0 and self.addresses.rate <= 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.off:
            await self.app(scope, receive, send)
            return
        token = _bearer(scope)
        digest = hashlib.sha256(token.encode()).hexdigest() if token else None
        if digest is not None and digest in self._accepted:
            self._accepted.move_to_end(digest)
            wait = self.tokens.take(digest)
        else:
            client = scope.get("client")
            wait = self.addresses.take(str(client[0]) if client else "unknown")
        if wait > 0:
            await send_answer(send, *too_many(wait))
            return
        if digest is None:
            await self.app(scope, receive, send)
            return

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._judge(digest, message["status"])
            await send(message)

        await self.app(scope, receive, watch)

    def _judge(self, digest: str, status: int) -> None:
        if status == 401:
            self._accepted.pop(digest, None)
            return
        if digest not in self._accepted:
            self.tokens.take(digest)  # from now on its own bucket, this request included
        self._accepted[digest] = None
        self._accepted.move_to_end(digest)
        while len(self._accepted) > MAX_ACCEPTED_TOKENS:
            self._accepted.popitem(last=False)


# Counted refusals (ssj.services.refusals), flushed while the API runs --------------------------


@asynccontextmanager
async def flushing_refusals(app: FastAPI, every: float = 5.0) -> AsyncIterator[None]:
    """While the app runs, record the repeats of closed refusal windows every `every` seconds
    (taking turns with requests through the services' gate); all of them when it stops."""
    services = app.state.services
    gate: asyncio.Lock = app.state.gate

    async def flush(everything: bool) -> None:
        async with gate:
            await run_in_threadpool(services.refusals.flush, everything=everything)

    async def loop() -> None:
        while True:
            await asyncio.sleep(every)
            try:
                if services.refusals.due():
                    await flush(False)
            except Exception:
                logger.warning("refusal flush failed", exc_info=True)

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        await flush(True)
