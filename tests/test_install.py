"""constraints.txt, through which `make install` installs ssj, pins every dependency that
pyproject.toml names (and what their requested extras pull in) within pyproject.toml's range:
a dependency added without `make constraints` would otherwise install at whatever version the
index has that day, and a range narrowed past its pin would not install at all."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!-]+)$")


def pins() -> dict[str, str]:
    found: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        match = PIN.match(line)
        assert match, f"not an exact pin: {line!r}"
        name = canonicalize_name(match[1])
        assert name not in found, f"pinned twice: {name}"
        found[name] = match[2]
    return found


def requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    named = [*project["dependencies"]]
    for group in project["optional-dependencies"].values():
        named += group
    return [Requirement(r) for r in named]


def test_every_requirement_is_pinned_within_its_range() -> None:
    pinned = pins()
    missing = [str(r) for r in requirements() if canonicalize_name(r.name) not in pinned]
    outside = [
        f"{r} (pinned {pinned[canonicalize_name(r.name)]})"
        for r in requirements()
        if canonicalize_name(r.name) in pinned
        and not r.specifier.contains(pinned[canonicalize_name(r.name)], prereleases=True)
    ]
    assert missing == []
    assert outside == []


def test_what_requested_extras_pull_in_is_pinned() -> None:
    """`psycopg[binary,pool]` installs psycopg-binary and psycopg-pool: pinned too."""
    pinned = pins()
    pulled: list[Requirement] = []
    for r in requirements():
        for extra in sorted(r.extras):
            for text in metadata.requires(r.name) or []:
                needed = Requirement(text)
                if needed.marker is not None and needed.marker.evaluate({"extra": extra}):
                    pulled.append(needed)
    assert pulled, "no requirement of pyproject.toml asks for an extra any more"
    assert [str(r) for r in pulled if canonicalize_name(r.name) not in pinned] == []


def test_ssj_itself_is_not_pinned() -> None:
    """The constraints are ssj's dependencies: pinning ssj would refuse every new version."""
    assert "ssj" not in pins()
