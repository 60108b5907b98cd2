"""What every request leaves behind: a request id, the seq it reflects, a log line, a metric.

`Observe` is plain ASGI middleware (outermost, so it also times errors and refused uploads). It
gives each request a `RequestInfo` in a context variable that dependencies fill in (the actor,
the seq the response reflects) and, when the response starts, adds `X-Request-ID` and
`X-SSJ-Seq`; when it ends, it writes one JSON log line (request id, actor, method, route,
status, duration, seq) and observes the latency histogram by route template.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ssj.domain.access import Principal
from ssj.metrics import REQUEST_SECONDS

logger = logging.getLogger("ssj.api.requests")

SEQ_HEADER = "X-SSJ-Seq"
REQUEST_ID_HEADER = "X-Request-ID"
_CLIENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


@dataclass
class RequestInfo:
    request_id: str
    method: str
    path: str
    seq: int | None = None
    actor: str | None = None
    route: str | None = None


current: ContextVar[RequestInfo | None] = ContextVar("ssj_request", default=None)


def note_seq(seq: int) -> None:
    """The read models' seq this response reflects (the newest noted wins)."""
    info = current.get()
    if info is not None:
        info.seq = seq if info.seq is None else max(info.seq, seq)


def note_actor(principal: Principal) -> None:
    info = current.get()
    if info is not None:
        info.actor = f"{principal.username}@{principal.department}"


def route_template(scope: Scope) -> str:
    """The matched route's path template (`/targets/{identifier}`, set in the scope by the
    router): label values stay bounded whatever paths clients send."""
    return str(getattr(scope.get("route"), "path", None) or "unmatched")


class Observe:
    """Request id, `X-SSJ-Seq`, one JSON log line and the latency histogram per request."""

    def __init__(self, app: ASGIApp, *, fallback_seq: Any = None) -> None:
        self.app = app
        self.fallback_seq = fallback_seq  # the seq to state when a request noted none

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = _header(scope, b"x-request-id")
        request_id = given if given and _CLIENT_ID.fullmatch(given) else uuid.uuid4().hex
        info = RequestInfo(request_id, scope["method"], scope["path"])
        token = current.set(info)
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.lower().encode(), request_id.encode()))
                seq = info.seq
                if seq is None and self.fallback_seq is not None:
                    seq = self.fallback_seq()
                if seq is not None and seq >= 0:
                    info.seq = seq
                    headers.append((SEQ_HEADER.lower().encode(), str(seq).encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            current.reset(token)
            seconds = time.perf_counter() - started
            route = info.route or route_template(scope)
            REQUEST_SECONDS.labels(route, info.method, str(status)).observe(seconds)
            logger.info(
                "request",
                extra={
                    "fields": {
                        "request_id": request_id,
                        "actor": info.actor,
                        "method": info.method,
                        "route": route,
                        "path": info.path,
                        "status": status,
                        "duration_ms": round(seconds * 1000, 2),
                        "seq": info.seq,
                    }
                },
            )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            text: str = value.decode("latin-1")
            return text
    return None
