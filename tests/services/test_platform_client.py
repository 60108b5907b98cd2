"""The delivery worker's HTTP client against a real server on loopback (`http.server` in a
thread): one kept connection, a platform that hangs up while idle, a timeout, redirects and
Retry-After passed through as they are."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ssj.errors import ValidationError
from ssj.services.platform_client import PlatformClient


@dataclass
class Platform:
    """What the server saw and how it behaves: `hang_up` closes each connection after its
    answer (without saying so in a header), `delay` answers late, `status` and `headers` are
    the answer's."""

    url: str = ""
    connections: set[tuple[str, int]] = field(default_factory=set)
    bodies: list[bytes] = field(default_factory=list)
    hang_up: bool = False
    delay: float = 0.0
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    gate: threading.Event | None = None  # when set up: answer only once it is set


@pytest.fixture
def platform() -> Iterator[Platform]:
    seen = Platform()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            seen.connections.add(self.client_address)
            seen.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
            time.sleep(seen.delay)
            if seen.gate is not None:
                seen.gate.wait(10)
            data = b'{"reference": "R1"}'
            self.send_response(seen.status)
            for name, value in seen.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            self.close_connection = seen.hang_up

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    seen.url = f"http://127.0.0.1:{server.server_address[1]}/in?from=ssj"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield seen
    server.shutdown()
    server.server_close()


def test_requests_share_one_kept_connection(platform: Platform) -> None:
    client = PlatformClient(platform.url, timeout=5)
    answers = [
        client.post(b'{"n": %d}' % n, {"Content-Type": "application/json"}) for n in range(3)
    ]
    assert [(a.status, a.body) for a in answers] == [(200, b'{"reference": "R1"}')] * 3
    assert platform.bodies == [b'{"n": 0}', b'{"n": 1}', b'{"n": 2}']
    assert len(platform.connections) == 1
    client.close()


def test_send_returns_with_the_request_on_the_wire_and_answer_reads_its_answer(
    platform: Platform,
) -> None:
    """The worker builds the next request between `send` and `answer`: `send` must not wait
    for the platform's answer."""
    platform.gate = threading.Event()
    client = PlatformClient(platform.url, timeout=5)
    client.send(b"first", {})  # the platform holds its answer until the gate opens
    deadline = time.monotonic() + 5
    while not platform.bodies and time.monotonic() < deadline:
        time.sleep(0.01)
    assert platform.bodies == [b"first"]
    platform.gate.set()
    answer = client.answer()
    assert (answer.status, answer.body) == (200, b'{"reference": "R1"}')
    assert client.post(b"second", {}).status == 200  # the same connection, ready again
    assert platform.bodies == [b"first", b"second"] and len(platform.connections) == 1
    client.close()


def test_a_platform_that_hung_up_while_idle_gets_a_new_connection(platform: Platform) -> None:
    platform.hang_up = True
    client = PlatformClient(platform.url, timeout=5)
    for n in range(3):
        assert client.post(b"%d" % n, {}).status == 200
        time.sleep(0.2)  # the server's FIN arrives while the connection is idle
    assert platform.bodies == [b"0", b"1", b"2"]
    assert len(platform.connections) == 3
    client.close()


def test_a_timeout_raises_and_the_next_request_starts_clean(platform: Platform) -> None:
    client = PlatformClient(platform.url, timeout=0.3)
    platform.delay = 1.0
    with pytest.raises(TimeoutError):
        client.post(b"slow", {})
    assert client.connection.sock is None  # closed: its late answer is never read as the next
    platform.delay = 0.0
    time.sleep(1.0)
    assert client.post(b"fast", {}).body == b'{"reference": "R1"}'
    client.close()


def test_redirects_and_retry_after_come_back_as_answered(platform: Platform) -> None:
    client = PlatformClient(platform.url, timeout=5)
    platform.status, platform.headers = 302, {"Location": "http://elsewhere.example/"}
    assert client.post(b"x", {}).status == 302  # not followed: an answer is the platform's
    platform.status, platform.headers = 503, {"Retry-After": "120"}
    answer = client.post(b"x", {})
    assert (answer.status, answer.retry_after) == (503, "120")
    assert platform.bodies == [b"x", b"x"]
    client.close()


def test_an_endpoint_that_is_not_http_is_refused() -> None:
    for endpoint in ("ftp://x.cn/in", "x.cn/in", "https:///in"):
        with pytest.raises(ValidationError):
            PlatformClient(endpoint, timeout=1)
