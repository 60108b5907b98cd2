"""One platform's keep-alive HTTP(S) connection, on the standard library's `http.client`.

The delivery worker posts a platform's records one request after another, each after the one
before is answered (order is kept), so every request's client time sits on the critical path.
httpx cost about 260 µs of CPU per request and `http.client` about 75 (measured 2026-12-06: 3 KB
bodies to a server on loopback); urllib3 sat between (130). What httpx's pool added is done here:
one connection per platform, opened again when the platform closed it while idle (checked before
each request, as urllib3 does), and closed after any error so that the next request starts clean.
Redirects are not followed (an answer is the platform's or none), and TLS (a CA, client
certificates for mutual TLS) is the caller's `ssl` context.
"""

from __future__ import annotations

import http.client
import select
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from ssj.domain.subscribers import parse_endpoint

USER_AGENT = "ssj-deliver/1"


@dataclass(frozen=True)
class Answer:
    """What a request came back with: the status, the body, the Retry-After header."""

    status: int
    body: bytes
    retry_after: str | None


class PlatformClient:
    """POSTs to one endpoint over one connection; not shared between threads at once."""

    def __init__(
        self, endpoint: str, timeout: float, context: ssl.SSLContext | None = None
    ) -> None:
        """`endpoint` is checked as a platform's registration checks it (`parse_endpoint`)."""
        parts = urlsplit(parse_endpoint(endpoint))
        assert parts.hostname is not None  # parse_endpoint refuses a URL without a host
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.connection: http.client.HTTPConnection = (
            http.client.HTTPSConnection(
                parts.hostname,
                parts.port,
                timeout=timeout,
                context=context or ssl.create_default_context(),
            )
            if parts.scheme == "https"
            else http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        )

    def post(self, content: bytes, headers: dict[str, str]) -> Answer:
        """Send and read the whole answer. Raises `TimeoutError` when the platform is slower
        than the timeout, another `OSError` or `http.client.HTTPException` when it cannot be
        reached or answers with something that is not HTTP; the connection is then closed."""
        self.send(content, headers)
        return self.answer()

    def send(self, content: bytes, headers: dict[str, str]) -> None:
        """Put a request on the wire and return at once: the caller builds the next while the
        platform works, then reads this one's `answer` (one thread, no hand-off between
        threads on the critical path). Raises as `post` does."""
        c = self.connection
        if c.sock is not None and _closed_by_peer(c.sock):
            c.close()  # it hung up while idle: a new connection, not a failed try
        try:
            c.request(
                "POST", self.path, body=content, headers={"User-Agent": USER_AGENT, **headers}
            )
        except BaseException:
            c.close()
            raise

    def answer(self) -> Answer:
        """The answer to the request `send` put on the wire. Raises as `post` does."""
        c = self.connection
        try:
            response = c.getresponse()
            body = response.read()
        except BaseException:
            c.close()
            raise
        return Answer(response.status, body, response.getheader("Retry-After"))

    def close(self) -> None:
        self.connection.close()


def _closed_by_peer(sock: socket.socket) -> bool:
    """An idle keep-alive socket that is readable has been closed (or broken) by the other
    end: between two requests a platform has nothing else to say. (`poll`, not `select`: no
    limit on the descriptor's number.)"""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))
