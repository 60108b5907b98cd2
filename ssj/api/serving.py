"""Serving the API with uvicorn, with bounded request heads.

uvicorn's h11 protocol answers an over-long request line or header block with a bare 400 (or
the client sees its connection reset while still sending). A serious server says what was wrong:
414 URI Too Long for a request line over `MAX_REQUEST_LINE` bytes, 431 Request Header Fields Too
Large for a head over `MAX_HEAD` bytes, each with the API's bilingual error body. The rest of the
stream is read and dropped for a moment before closing, so the client reads the answer instead
of a reset.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
import orjson
from uvicorn.protocols.http.h11_impl import H11Protocol

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


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, answering 414/431 for over-long request heads."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head = bytearray()
        self._refused = False

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # the answer is sent; drop what the client is still sending
        if self.conn.their_state is h11.IDLE:  # still reading a request's head
            self._head += data[: MAX_HEAD + 1 - len(self._head)]
            status = self._too_large()
            if status is not None:
                self._refuse(status)
                return
        else:
            self._head.clear()
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._head.clear()

    def _too_large(self) -> int | None:
        head = bytes(self._head).lstrip(b"\r\n")  # empty lines before a request are allowed
        line_end = head.find(b"\r\n")
        if (len(head) if line_end < 0 else line_end) > MAX_REQUEST_LINE:
            return 414
        if head.find(b"\r\n\r\n") < 0 and len(head) > MAX_HEAD:
            return 431
        return None

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
    """What every `uvicorn.run`/`uvicorn.Config` of ssj passes: the bounded protocol, h11's own
    limit above ours so that ours answers first, and a patient worker health check."""
    return {
        "http": BoundedH11Protocol,
        "h11_max_incomplete_event_size": MAX_HEAD + 1024,
        "timeout_worker_healthcheck": WORKER_HEALTHCHECK_SECONDS,
    }
