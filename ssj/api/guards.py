"""Text that arrives in a URL is held to the text policy before any endpoint sees it.

A query or path parameter reaches SQL as a filter (PostgreSQL refuses NUL in text) and comes back
in messages; a control character or lone surrogate there is never meaningful. One ASGI
middleware refuses it with the API's bilingual 422, naming the parameter, for every route.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from ssj.domain import text as policy


def url_problem(scope: Scope) -> tuple[str, str, str] | None:
    """The first parameter of the request's URL that breaks the policy: (name, zh, en)."""
    found = policy.problem(scope.get("path", ""))
    if found is not None:
        return ("path", *found)
    query = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True, errors="surrogateescape"):
        for part in (name, value):
            found = policy.problem(part)
            if found is not None:
                return (name if policy.problem(name) is None else "query", *found)
    return None


class TextGuard:
    """Refuse (422) a request whose path or query breaks the text policy."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            found = url_problem(scope)
            if found is not None:
                name, zh, en = found
                body = orjson.dumps(
                    {
                        "code": "field",
                        "message_zh": f"{name}：{zh}",
                        "message_en": f"{name}: {en}",
                        "field": name,
                    }
                )
                headers = [
                    (b"content-type", b"application/json"),
                    (b"content-length", b"%d" % len(body)),
                ]
                await send({"type": "http.response.start", "status": 422, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
