"""A typed client generated from the OpenAPI document (openapi-python-client, as a subprocess)
calls a real `ssj serve` on a free loopback port over a small ledger (issue 15 item 2): the
public results page, a paged target list with a token, a target registered, and an error
answer parsed as the one bilingual `Error` schema. What comes back is the generated models,
not dicts: the document describes the answers precisely enough to build them."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from ssj.api import create_app
from ssj.config import Settings
from tests.api.test_pages import Published
from tests.conftest import settings_env
from tests.services.conftest import OWN, Jurisdiction, jurisdiction, target_row

pytestmark = pytest.mark.slow  # generating the client and starting a server: tens of seconds

__all__ = ["jurisdiction"]  # the services tests' fixture, shared here

BIN = Path(sys.executable).parent
PACKAGE = "ssj_generated_client"
SERVER_START_SECONDS = 90


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def generate(spec: dict[str, Any], directory: Path) -> ModuleType:
    """The client package generated from `spec` in `directory`, imported."""
    directory.mkdir(parents=True, exist_ok=True)
    document = directory / "openapi.json"
    document.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(
        [
            str(BIN / "openapi-python-client"),
            "generate",
            "--path",
            str(document),
            "--output-path",
            str(directory / PACKAGE),
            "--meta",
            "none",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    sys.path.insert(0, str(directory))
    importlib.invalidate_caches()
    return importlib.import_module(PACKAGE)


def endpoint(tag: str, name: str) -> Any:
    """A generated endpoint module (one per operation, in a package per tag)."""
    return importlib.import_module(f"{PACKAGE}.api.{tag}.{name}")


@pytest.fixture
def served(jurisdiction: Jurisdiction, settings: Settings, tmp_path: Path) -> Iterator[Any]:
    """`ssj serve` over Published's ledger (revealed draws, published results); its base URL,
    a token of the administrator, and the world."""
    world = Published(jurisdiction)
    token = jurisdiction.registry.issue_token(jurisdiction.root, "root", "generated client")
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(BIN / "ssj"), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=settings_env(settings),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            assert server.poll() is None, f"ssj serve exited:\n{log.read_text()}"
            try:
                if httpx.get(f"{base}/public/items", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"ssj serve did not answer:\n{log.read_text()}"
            time.sleep(0.05)
        yield base, token, world
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_a_generated_client_reads_writes_and_parses_errors(
    served: Any, jurisdiction: Jurisdiction, tmp_path: Path
) -> None:
    base, token, world = served
    spec = create_app(jurisdiction.services).openapi()
    package = generate(spec, tmp_path / "client")
    try:
        models = importlib.import_module(f"{PACKAGE}.models")
        anonymous = package.Client(base_url=base, timeout=httpx.Timeout(30))
        client = package.AuthenticatedClient(base_url=base, token=token, timeout=httpx.Timeout(30))

        # The public results page: a target found by name, then its published results.
        search = endpoint("公开_public", "search_results_public_results_get")
        found = search.sync(client=anonymous, q="常州第")
        assert isinstance(found, models.FoundTargets), found
        assert found.total >= 1 and all(isinstance(t.public_id, str) for t in found.items)
        published_id = world.targets["published"]
        results = endpoint("公开_public", "target_results_public_targets_public_id_results_get")
        answer = results.sync(published_id, client=anonymous)
        assert isinstance(answer, models.PublishedResults), answer
        [target] = answer.targets
        assert target.public_id == published_id
        [result] = target.results
        assert result.plan_public is True and result.published_on
        assert result.public_summary == world.summaries["published"]

        # A paged target list, with a token.
        listing = endpoint("检查对象名录库_targets", "list_targets_targets_get")
        page = listing.sync(client=client, limit=5, offset=2)
        assert isinstance(page, models.TargetPage), page
        assert (page.offset, page.limit, len(page.items)) == (2, 5, 5)
        assert page.total > 5 and page.as_of >= 0
        first = page.items[0]
        assert isinstance(first, models.TargetState) and first.department == OWN
        assert isinstance(first.tags, list)

        # A write: registering a target answers 201 with the entry as now read.
        save = endpoint("检查对象名录库_targets", "save_target_targets_put")
        body = models.TargetIn.from_dict(target_row(4242))
        written = save.sync_detailed(client=client, body=body)
        assert written.status_code == 201, written.content
        assert isinstance(written.parsed, models.TargetWritten), written.parsed
        assert written.parsed.outcome.value == "created"
        assert written.parsed.item.identifier == target_row(4242)["identifier"]
        assert written.parsed.seq >= page.as_of
        again = save.sync_detailed(client=client, body=body)
        assert again.status_code == 200 and again.parsed.outcome.value == "unchanged"

        # Errors come as the one bilingual Error schema: not found, and refused without token.
        get_target = endpoint("检查对象名录库_targets", "get_target_targets_identifier_get")
        missing = get_target.sync_detailed("91320402MA9999999X", client=client)
        assert missing.status_code == 404
        assert isinstance(missing.parsed, models.Error), missing.parsed
        assert missing.parsed.code == "not_found"
        assert missing.parsed.message_zh and missing.parsed.message_en
        refused = listing.sync_detailed(client=anonymous)
        assert refused.status_code == 401 and isinstance(refused.parsed, models.Error)
        assert refused.parsed.code == "unauthenticated"
    finally:
        sys.path.remove(str(tmp_path / "client"))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]
        shutil.rmtree(tmp_path / "client", ignore_errors=True)
