"""The documentation site builds with no warning: every page in the nav, every link resolves."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "site" / "developers" / "formats" / "index.html").exists()


def test_every_versioned_format_is_listed() -> None:
    """A format string in the code that docs/developers/formats.md does not name is a format
    nobody promised to keep."""
    import re

    found: set[str] = set()
    for path in [*ROOT.glob("ssj/**/*.py"), *ROOT.glob("ops/**/*.py")]:
        text = path.read_text(encoding="utf-8")
        found.update(re.findall(r"\bssj-[a-z-]+/\d+\b", text))
        found.update(re.findall(r"\bcn\.ssj\.[a-z.]+\.v\d+\b", text))
    formats = (ROOT / "docs" / "developers" / "formats.md").read_text(encoding="utf-8")
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert found
    assert sorted(f for f in found if f not in formats) == []
    assert sorted(f for f in found if f not in changelog) == []
