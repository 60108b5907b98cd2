"""Serving the API with uvicorn, with bounded request heads.

uvicorn's protocols answer an over-long request line or header block with a bare 400, or not at
all (httptools sets no limit of its own). A serious server says what was wrong: 414 URI Too Long
for a request line over `MAX_REQUEST_LINE` bytes, 431 Request Header Fields Too Large for a head
over `MAX_HEAD` bytes, each with the API's bilingual error body. The rest of the stream is read
and dropped for a moment before closing, so the client reads the answer instead of a reset.

The protocol is uvicorn's httptools one (llhttp, a C parser) rather than its h11 one (pure
Python, a noticeable part of a worker's CPU per request).
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_REQUEST_LINE = 8 * 1024  # nginx's large_client_header_buffers default, per line
MAX_HEAD = 32 * 1024  # nginx: four such buffers
DRAIN_SECONDS = 2.0

_TOO_LARGE = {
    414: (
        "URI Too Long",
        "请求行（网址）过长",
        f"request line (URL) longer than {MAX_REQUEST_LINE} bytes",
    ),
    431: (
        "Request Header Fields Too Large",
        "请求头过大",
        f"request head longer than {MAX_HEAD} bytes",
    ),
}


def too_large_response(status: int) -> bytes:
    reason, zh, en = _TOO_LARGE[status]
    body = orjson.dumps({"code": f"http_{status}", "message_zh": zh, "message_en": en})
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class HeadTooLarge(Exception):
    """Raised from a parser callback to stop parsing a head that is over a limit."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, answering 414/431 for over-long request heads.

    The request line is measured as httptools hands over the URL, piece by piece; the head as
    each header is complete; and, for a header still arriving, by the bytes received since the
    head began (httptools would keep a header of any size)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._refused = False
        self._in_head = True  # between requests, or reading one's head
        self._received = 0  # bytes received in this head (at most: from the chunk it began in)
        self._head = 0  # the head's size so far: request line and complete headers

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # the answer is sent; drop what the client is still sending
        if self._in_head:
            self._received += len(data)
        super().data_received(data)
        if self._in_head and self._received > MAX_HEAD and not self._refused:
            self._refuse(431)

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        # the line: method, space, URL, space, "HTTP/1.1"
        self._head = len(self.parser.get_method()) + len(self.url) + 10
        if self._head > MAX_REQUEST_LINE:
            self._refuse(414)
            raise HeadTooLarge(414)  # httptools stops parsing; uvicorn's 400 is skipped

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head += len(name) + len(value) + 4  # name, ": ", value, CRLF
        if self._head > MAX_HEAD:
            self._refuse(431)
            raise HeadTooLarge(431)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._received = self._head = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True

    def send_400_response(self, msg: str) -> None:
        if not self._refused:  # else the parser stopped on HeadTooLarge: answered
            super().send_400_response(msg)

    def _refuse(self, status: int) -> None:
        self._refused = True
        self.logger.warning("refused a request head: HTTP %d", status)
        self.transport.write(too_large_response(status))
        if self.transport.can_write_eof():
            self.transport.write_eof()
        asyncio.get_running_loop().call_later(DRAIN_SECONDS, self.transport.close)


# uvicorn's supervisor pings each worker every half second and kills one that has not answered
# in this many seconds (its default, 5, is shorter than a worker's start on a busy 2-core
# machine: importing the app took 30 s there under load, and workers were killed in a loop).
WORKER_HEALTHCHECK_SECONDS = 60


def uvicorn_options() -> dict[str, Any]:
    """What every `uvicorn.run`/`uvicorn.Config` of ssj passes: the bounded protocol and a
    patient worker health check."""
    return {
        "http": BoundedHttpToolsProtocol,
        "timeout_worker_healthcheck": WORKER_HEALTHCHECK_SECONDS,
    }
