"""Running `ssj` commands: in-process through Typer's CliRunner by default, as a real subprocess
where a test needs one (exit codes of a crash, signals, concurrency, a clean interpreter).

A subprocess costs about 0.7 s (the interpreter, imports, and Typer building its command tree
from function signatures); in-process the tree is built once (cached below), so the command-line
tests take seconds instead of minutes. Both give a `subprocess.CompletedProcess`, so a test reads
the same either way; `SSJ_CLI_SUBPROCESS=1` runs every call as a subprocess, as before.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path

import typer.testing

from ssj.cli.app import app

SSJ = str(Path(sys.executable).parent / "ssj")
ALWAYS_SUBPROCESS = os.environ.get("SSJ_CLI_SUBPROCESS", "") in ("1", "true", "yes")

typer.testing._get_command = functools.cache(typer.testing._get_command)  # type: ignore[attr-defined]
_runner = typer.testing.CliRunner()


def invoke(args: Sequence[str], env: Mapping[str, str]) -> typer.testing.Result:
    """`ssj ARGS` in-process with `env` added to the test's own environment."""
    return _runner.invoke(app, list(args), env=dict(env))


def _open_databases() -> set[str]:
    """This process's open file descriptors on SQLite files (a database, its -wal or -shm), as
    "fd path": a command run in-process must close what it opened, as its process would."""
    found = set()
    for fd in os.listdir("/proc/self/fd") if os.path.isdir("/proc/self/fd") else []:
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # closed meanwhile (listdir's own descriptor)
        if ".sqlite" in target:
            found.add(f"{fd} {target}")
    return found


def run_ssj(
    args: Sequence[str], env: Mapping[str, str], *, subprocess_: bool = False
) -> subprocess.CompletedProcess[str]:
    """`ssj ARGS` with exactly `env` as its environment (variables not in it are unset)."""
    if subprocess_ or ALWAYS_SUBPROCESS:
        return subprocess.run(
            [SSJ, *args], env=dict(env), capture_output=True, text=True, timeout=120, check=False
        )
    changes: dict[str, str | None] = {k: None for k in os.environ if k not in env}
    changes.update(env)
    before = _open_databases()
    result = _runner.invoke(app, list(args), env=changes)
    left = _open_databases() - before
    # A file the test itself holds open is left out: SQLite keeps a closed connection's
    # descriptor while another connection of the process holds a lock on that file.
    held = {line.split(" ", 1)[1] for line in before}
    left = {line for line in left if line.split(" ", 1)[1] not in held}
    assert not left, f"`ssj {' '.join(args)}` left SQLite files open: {sorted(left)}"
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        # What the interpreter would have printed before exiting 1.
        stderr += "".join(traceback.format_exception(result.exception))
    return subprocess.CompletedProcess([SSJ, *args], result.exit_code, result.stdout, stderr)
