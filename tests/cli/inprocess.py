"""Running `ssj` commands in-process (Typer's CliRunner) instead of as a subprocess.

Typer rebuilds the whole click command tree from function signatures on every invocation (about
0.5 s for ssj's ~100 commands); the tree does not change, so it is built once here.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

import typer.testing
from typer.testing import Result

from ssj.cli.main import app

typer.testing._get_command = functools.cache(typer.testing._get_command)  # type: ignore[attr-defined]
_runner = typer.testing.CliRunner()


def invoke(args: Sequence[str], env: Mapping[str, str]) -> Result:
    """`ssj ARGS` with `env` as its environment variables (added to the test's own)."""
    return _runner.invoke(app, list(args), env=dict(env))
