"""ops/deploy: the systemd units pass `systemd-analyze verify` (no warning either) with the
installed `ssj` in place of /opt/ssj, run as the unprivileged `ssj` user with the restricted
runtime role's environment, and run the commands ssj really has."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "ops" / "deploy"
SSJ = Path(sys.executable).parent / "ssj"
UNITS = sorted([*DEPLOY.glob("*.service"), *DEPLOY.glob("*.timer")])


def installed(tmp_path: Path) -> list[Path]:
    env = tmp_path / "ssj.env"
    shutil.copy(DEPLOY / "ssj.env.example", env)
    out = []
    for unit in UNITS:
        text = unit.read_text().replace("/opt/ssj/.venv/bin/ssj", str(SSJ))
        text = text.replace("/etc/ssj/ssj.env", str(env))
        path = tmp_path / unit.name
        path.write_text(text)
        out.append(path)
    return out


def test_units_are_what_production_needs() -> None:
    names = {u.name for u in UNITS}
    assert names == {
        "ssj-api.service",
        "ssj-projections.service",
        "ssj-checkpoint.service",
        "ssj-checkpoint.timer",
    }
    for unit in UNITS:
        text = unit.read_text()
        if unit.suffix == ".service":
            assert "User=ssj" in text and "NoNewPrivileges=yes" in text
            assert "ProtectSystem=strict" in text and "CapabilityBoundingSet=\n" in text
            assert "EnvironmentFile=/etc/ssj/ssj.env" in text
    api = (DEPLOY / "ssj-api.service").read_text()
    assert "--projections daemon" in api and "--workers" in api
    env = (DEPLOY / "ssj.env.example").read_text()
    assert "SSJ_CREATE_TABLES=no" in env and "postgresql://ssj_app:" in env
    # Every command a unit runs exists.
    for unit in UNITS:
        for line in unit.read_text().splitlines():
            if line.startswith("ExecStart="):
                args = line.split("=", 1)[1].split()[1:]
                words = args[: next((i for i, a in enumerate(args) if a.startswith("-")), None)]
                done = subprocess.run(
                    [str(SSJ), *words, "--help"], capture_output=True, text=True, timeout=60
                )
                assert done.returncode == 0, (line, done.stderr)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_analyze_verify(tmp_path: Path) -> None:
    units = installed(tmp_path)
    done = subprocess.run(
        ["systemd-analyze", "verify", *map(str, units)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr  # unknown keys are only warnings: none
