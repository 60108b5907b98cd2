"""The public page (一公开) rendered in headless Chromium, on SQLite and PostgreSQL: a real
`ssj serve` on a free port over a test ledger, each page's DOM dumped by Debian's chromium
(installed by `make browser`, which `make test` runs) and checked for what it must show and for
the absence of everything unpublished, withheld or redacted.

Without chromium the test skips with one line, except under CI=true, where it fails.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ssj.config import Settings
from ssj.domain.tasks import ResultCategory
from tests.api.test_pages import SCRIPT_NAME, Published, text_of, zh
from tests.conftest import IN_CI, settings_env
from tests.services.conftest import Jurisdiction, jurisdiction

pytestmark = pytest.mark.slow  # a real server and chromium

__all__ = ["jurisdiction"]  # the services tests' fixture, shared here

SERVER_START_SECONDS = 60
CHROMIUM_SECONDS = 120


def chromium() -> str:
    """The chromium executable, or skip (fail under CI=true)."""
    found = shutil.which("chromium")
    if found is not None:
        return found
    if IN_CI:
        pytest.fail("chromium is required under CI=true but not installed: run `make browser`")
    pytest.skip("chromium not installed (`make browser` installs Debian's chromium)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(
    jurisdiction: Jurisdiction, settings: Settings, tmp_path: Path
) -> Iterator[tuple[str, Published]]:
    """`ssj serve` in a subprocess over the ledger `Published` fills; its base URL."""
    chromium()  # skip before building anything
    data = Published(jurisdiction)
    port = free_port()
    ssj = Path(sys.executable).with_name("ssj")  # the console script of this environment
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(ssj), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=settings_env(settings),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            if server.poll() is not None:
                pytest.fail(f"ssj serve exited with {server.returncode}:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(f"{base}/gongshi", timeout=5) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"ssj serve did not answer in {SERVER_START_SECONDS} s:\n{log.read_text()}"
                )
            time.sleep(0.05)
        yield base, data
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def dump_dom(url: str, profile: Path) -> str:
    """The DOM as headless Chromium builds it from the page."""
    done = subprocess.run(
        [
            chromium(),
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=CHROMIUM_SECONDS,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "</html>" in done.stdout, (url, done.stdout[:500], done.stderr[-2000:])
    return done.stdout


def test_public_page_in_headless_chromium(served: tuple[str, Published], tmp_path: Path) -> None:
    base, data = served
    pages = {
        "published": data.page_of("published"),
        "redacted": data.page_of("redacted"),
        "withheld": data.page_of("withheld"),
        "unpublished": data.page_of("unpublished"),
        "resident": data.page_of("resident"),
        "draw": f"/gongshi/draws/{data.draw_id}",
        "resident_draw": f"/gongshi/draws/{data.resident_draw}",
        "search": "/gongshi/search?q=%E8%84%9A%E6%9C%AC%E6%B5%8B%E8%AF%95",  # 脚本测试
        "home": "/gongshi",
    }
    with ThreadPoolExecutor(3) as pool:
        futures = {
            name: pool.submit(dump_dom, base + path, tmp_path / f"profile-{name}")
            for name, path in pages.items()
        }
        doms = {name: f.result() for name, f in futures.items()}
    texts = {name: text_of(dom) for name, dom in doms.items()}

    # What must be there: the published result's summary and category, dates, the plan.
    shown = texts["published"]
    assert data.summaries["published"] in shown
    assert zh(ResultCategory.RECTIFIED) in shown
    assert "2026-03-05" in shown and "2026-03-10" in shown and data.label in shown
    assert data.summaries["redacted"] in texts["redacted"] and "已依法隐去" in texts["redacted"]
    assert zh(ResultCategory.RECTIFIED) in texts["draw"] and data.label in texts["home"]
    for case in ("withheld", "unpublished"):
        assert "暂无已公示的抽查检查结果" in texts[case]
    # A resident identity number: masked on the drawn list and the business's own page.
    assert "320402********" in texts["resident_draw"] and "常州某某小吃店" in texts["resident_draw"]
    assert "320402********" in texts["resident"] and data.summaries["resident"] in texts["resident"]
    # A script in a target's name is text, never an element.
    assert SCRIPT_NAME in texts["search"]

    # What must never be there, on any page.
    for name, dom in doms.items():
        text = texts[name]
        for case in ("withheld", "unpublished"):
            assert data.summaries[case] not in text, (name, case)
            assert zh(data.categories[case]) not in text, (name, case)
        assert zh(data.categories["redacted"]) not in text, name  # the redacted category
        for case, secret in data.secrets.items():  # findings: never public
            assert secret not in dom, (name, case)
        for number in data.resident_ids:
            assert number not in dom, name
        assert "<script" not in dom.lower(), name
