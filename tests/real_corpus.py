"""Where tests find the real-file corpus (tests/data/real/README.md): its bytes are not in this
repository. `SSJ_REAL_FILES` names the folder, else `<repo>/../shared/real`; each file is
checked against the SHA-256 in `tests/data/real/manifest.json`, and tests skip with one line
naming the folder when it is absent."""

from __future__ import annotations

import hashlib
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
MANIFEST = REPO / "tests" / "data" / "real" / "manifest.json"


def folder() -> Path:
    return Path(os.environ.get("SSJ_REAL_FILES") or REPO.parent / "shared" / "real")


@cache
def manifest() -> dict[str, dict[str, Any]]:
    return {entry["file"]: entry for entry in json.loads(MANIFEST.read_text())["files"]}


@cache
def _checked(name: str) -> Path:
    path = folder() / name
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != manifest()[name]["sha256"]:
        raise AssertionError(f"{path} is not the corpus file (sha256 {digest})")
    return path


def real_file(name: str) -> Path:
    """The corpus file `name`, checked; skips the test when the corpus is not on this machine."""
    if not (folder() / name).is_file():
        pytest.skip(f"real-file corpus not found in {folder()} (set SSJ_REAL_FILES)")
    return _checked(name)


def spot(name: str, cell: str) -> str:
    """The manifest's text of a spot cell."""
    return next(s["text"] for s in manifest()[name]["spot"] if s["cell"] == cell)
