"""The installed `ssj` console script, run as a real process.

Every other command-line test runs `ssj` in-process (tests/cli/inprocess.py); these few prove that
what they test is what a user's shell runs: the entry point, the exit codes 0, 1 and 2, and the
bilingual lines on stderr. Tests that need a process for its own sake (servers, daemons, kill -9,
workers, the stdlib-only reproduce script) start one where they are.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
from collections.abc import Iterator
from typing import Any

from ssj.config import Settings
from tests.cli.inprocess import SSJ, run_ssj
from tests.conftest import settings_env


def ssj(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SSJ, *args], env=settings_env(settings), capture_output=True, text=True, timeout=120
    )


def test_help_lists_the_command_groups(sqlite_settings: Settings) -> None:
    shown = ssj(sqlite_settings, "--help")
    assert shown.returncode == 0, shown.stderr
    for group in ("init", "verify", "draws", "audit", "serve"):
        assert group in shown.stdout


def test_init_verify_and_the_three_exit_codes(sqlite_settings: Settings) -> None:
    """0 intact; 2 bad input, one bilingual line, nothing written; 1 damage, named by seq."""
    init = ssj(sqlite_settings, "init")
    assert init.returncode == 0, init.stderr
    intact = ssj(sqlite_settings, "verify")
    assert intact.returncode == 0, intact.stderr
    assert "ledger intact: 2 events" in intact.stdout

    bad = ssj(sqlite_settings, "init", "--suite", "rsa")
    assert bad.returncode == 2, bad.stderr
    assert "未知的密码套件" in bad.stderr and "Traceback" not in bad.stderr

    # As the database administrator: one byte of the newest envelope's signature changed.
    path = sqlite_settings.database.path
    assert path
    with sqlite3.connect(path) as conn:
        [(seq, signature)] = conn.execute(
            "SELECT seq, signature FROM ssj_envelopes ORDER BY seq DESC LIMIT 1"
        ).fetchall()
        forged = bytes([signature[0] ^ 1]) + bytes(signature[1:])
        conn.execute("UPDATE ssj_envelopes SET signature = ? WHERE seq = ?", (forged, seq))
    damaged = ssj(sqlite_settings, "verify")
    assert damaged.returncode == 1, damaged.stdout + damaged.stderr
    assert f"第 {seq} 条" in damaged.stderr and f"seq {seq}:" in damaged.stderr


def test_old_singular_group_names_are_hidden_aliases(sqlite_settings: Settings) -> None:
    """`ssj draw`, `ssj task` and `ssj followup` still run (one release), unlisted in the help."""

    def commands(*args: str) -> set[str]:
        shown = run_ssj([*args, "--help"], settings_env(sqlite_settings))
        assert shown.returncode == 0, shown.stderr
        return {line.split()[1] for line in shown.stdout.splitlines() if line.startswith("│ ")}

    names = commands()
    assert {"draws", "tasks", "followups", "plans", "targets"} <= names
    assert not names & {"draw", "task", "followup"}
    for old, new in (("draw", "draws"), ("task", "tasks"), ("followup", "followups")):
        assert commands(old) == commands(new)
        assert "show" in commands(new)


def test_at_seq_options_hide_their_old_name(sqlite_settings: Settings) -> None:
    """Every command that reads at a seq names it `--at-seq` in its help; `--as-of` (its first
    name, one release more) is accepted, hidden; `ssj keys revoke --as-of` is not a read."""
    import typer.main

    from ssj.cli.app import app

    def walk(command: Any, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
        if hasattr(command, "commands"):  # a group (typer vendors its own click)
            for name, sub in command.commands.items():
                if not sub.hidden:
                    yield from walk(sub, (*path, name))
        elif any("--at-seq" in p.opts for p in command.params):
            hidden = [p for p in command.params if "--as-of" in p.opts]
            assert hidden and all(getattr(p, "hidden", False) for p in hidden), path
            yield path

    reading = list(walk(typer.main.get_command(app), ()))
    assert len(reading) >= 17 and ("targets", "list") in reading and ("overdue",) in reading
    env = {**settings_env(sqlite_settings), "COLUMNS": "200"}
    for path in reading:
        shown = run_ssj([*path, "--help"], env)
        assert shown.returncode == 0 and "--at-seq" in shown.stdout, (path, shown.stderr)
        assert not re.search(r"--as-of(?![\w-])", shown.stdout), path


def test_a_name_run_alone_is_the_same_command_as_in_the_whole_tree() -> None:
    """`ssj NAME ...` for the names `ssj.cli.main` runs without the rest of the tree: every
    command under NAME has the same parameters (names, options, defaults, help), the same help
    text, and prints the same help, as in the whole tree (`ssj.cli.app`)."""
    import typer.main
    import typer.testing

    from ssj.cli.app import app
    from ssj.cli.main import ALONE, alone

    def shape(command: Any, path: tuple[str, ...]) -> Iterator[tuple[Any, ...]]:
        params = [
            (p.name, tuple(p.opts), repr(p.default), p.required, getattr(p, "help", None))
            for p in command.params
        ]
        yield path, command.help, command.hidden, params
        for name, sub in getattr(command, "commands", {}).items():
            yield from shape(sub, (*path, name))

    whole = typer.main.get_command(app)
    runner = typer.testing.CliRunner()
    assert {"witness", "checkpoint", "keys", "serve"} <= set(ALONE) < set(whole.commands)  # type: ignore[attr-defined]
    for name in ALONE:
        part = alone(name)
        assert part is not None
        fast = typer.main.get_command(part)
        assert name in fast.commands  # type: ignore[attr-defined]
        expected = list(shape(whole.commands[name], (name,)))  # type: ignore[attr-defined]
        assert list(shape(fast.commands[name], (name,))) == expected, name  # type: ignore[attr-defined]
        for path, *_ in expected:
            shown = runner.invoke(part, [*path, "--help"], env={"COLUMNS": "120"})
            reference = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "120"})
            assert shown.exit_code == reference.exit_code == 0, path
            assert shown.output == reference.output, path
