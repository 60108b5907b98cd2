"""Serving the API with uvicorn, with bounded request heads.

uvicorn's protocols answer an over-long request line or header block with a bare 400, or not at
all (httptools sets no limit of its own). A serious server says what was wrong: 414 URI Too Long
for a request line over `MAX_REQUEST_LINE` bytes, 431 Request Header Fields Too Large for a head
over `MAX_HEAD` bytes, each with the API's bilingual error body. The rest of the stream is read
and dropped for a moment before closing, so the client reads the answer instead of a reset.

The protocol is uvicorn's httptools one (llhttp, a C parser) rather than its h11 one (pure
Python, a noticeable part of a worker's CPU per request). `ssj serve --workers N` runs its
workers under `Supervisor`, uvicorn's supervisor with a health check that a stop signal ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pickle
import signal
import time
from multiprocessing.connection import wait
from typing import Any

import orjson
from uvicorn.config import STARTUP_FAILURE, Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors.multiprocess import Multiprocess, Process

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


# The supervisor (`Supervisor` below, as uvicorn's) pings each worker in turn and kills one
# that has not answered in this many seconds (uvicorn's default, 5, is shorter than a worker's
# start on a busy 2-core machine: importing the app took 30 s there under load, and workers were
# killed in a loop).
WORKER_HEALTHCHECK_SECONDS = 60


def uvicorn_options() -> dict[str, Any]:
    """What every `uvicorn.run`/`uvicorn.Config` of ssj passes: the bounded protocol and a
    patient worker health check."""
    return {
        "http": BoundedHttpToolsProtocol,
        "timeout_worker_healthcheck": WORKER_HEALTHCHECK_SECONDS,
    }


# How long the supervisor waits on a worker's health answer before it looks at its signals
# again: uvicorn's own supervisor loop looks every half second.
HEALTHCHECK_SLICE_SECONDS = 0.5
STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})
_supervisor_log = logging.getLogger("uvicorn.error")


class Supervisor(Multiprocess):
    """uvicorn's worker supervisor, whose health check ends at once on a stop signal or on the
    worker's exit.

    uvicorn 0.55.0 waits for each worker's answer to its ping in one blocking `poll` of up to
    `WORKER_HEALTHCHECK_SECONDS` and reads its queued signals only between checks. A worker
    answers only once its start-up has imported ssj and uvicorn, and the supervisor holds both
    ends of each worker's pipe: a worker killed then by the process group's SIGTERM never
    answers, and its death never reads as end-of-file, so `ssj serve --workers N` took 60 s to
    stop (with SIGTERM to the supervisor alone, systemd's `KillMode=mixed`: as long as the
    worker took to start). Here the same ping keeps the same deadline, waited for in slices on
    the pipe and on the worker's sentinel, until SIGINT or SIGTERM is queued; `run()` then
    terminates and joins the workers as before. A hung worker is still killed at the deadline.

    Not a shorter health timeout (workers slow to start on a busy machine were killed in a
    loop), nor workers that exit on SIGTERM in start-up (they do; the pipe stays open in the
    supervisor). Pinned to the installed uvicorn by tests/api/test_uvicorn_supervisor.py."""

    def keep_subprocess_alive(self) -> None:
        """uvicorn's, with `process.is_alive(timeout)` replaced by `_answers`."""
        for idx, process in enumerate(self.processes):
            if self._stopping():
                return  # run() handles the signal: it terminates and joins every worker
            if self._answers(process):
                continue
            if self._stopping():
                return  # the worker died of that signal, most likely: no replacement
            process.kill()  # hung; a no-op on a worker that has exited
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                # the app, TLS or the socket is broken: every restart would fail the same way
                _supervisor_log.error(
                    "Child process [%s] failed to start, stopping the parent process.", process.pid
                )
                self.should_exit.set()
                return
            _supervisor_log.info("Child process [%s] died", process.pid)
            replacement = Process(self.config, self.sockets)
            replacement.start()
            self.processes[idx] = replacement

    def _answers(self, process: Process) -> bool:
        """Whether the worker answers a ping within `timeout_worker_healthcheck`, as uvicorn's
        `Process.ping` asks; False as soon as it has exited or the supervisor is stopping."""
        conn = process.parent_conn
        deadline = time.monotonic() + self.config.timeout_worker_healthcheck
        try:
            conn.send(b"ping")
            while not self._stopping():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                ready = wait([conn, process.process.sentinel], min(left, HEALTHCHECK_SLICE_SECONDS))
                if conn in ready:
                    conn.recv()  # whether its server has started: any answer is alive
                    return True
                if ready:
                    return False  # the worker has exited
        except (OSError, EOFError, pickle.UnpicklingError):
            return False
        return False

    def _stopping(self) -> bool:
        """Told to stop, or SIGINT/SIGTERM queued for `run()`'s next round. Only peeked at: the
        other signals' handlers restart or resize the list of workers being checked."""
        return self.should_exit.is_set() or not STOP_SIGNALS.isdisjoint(self.signal_queue)


def supervise(config: Config) -> None:
    """What `uvicorn.run` does for `workers > 1` (bind the socket, supervise the workers), with
    `Supervisor` in place of uvicorn's."""
    with contextlib.suppress(KeyboardInterrupt):  # SIGINT before the supervisor's handlers
        Supervisor(config, sockets=[config.bind_socket()]).run()
