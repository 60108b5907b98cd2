"""The `ssj` command's entry point.

`ssj witness ...`, the ledger's own commands (init, verify, checkpoint, keys, db, proof,
witnesses) and `ssj serve` / `ssj ops` need none of the other command modules, so for them
`main` builds a tree of only their module's commands: the same commands, options and help as
in the whole tree (`ssj.cli.app`, which registers them with the same functions), without
importing the rest (registry, plans, draws, tasks, ...). A witness server or an `ssj
checkpoint` process starts with about 0.3 CPU-s of imports fewer, `ssj serve` about 0.15.
`tests/cli/test_smoke.py` compares each such tree with the whole one.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import typer


def new_app() -> typer.Typer:
    """The top of the tree, as the whole `ssj` has it."""
    return typer.Typer(
        help="ssj：双随机、一公开 审计账本 / the audit-first ledger for random inspections",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
    )


def add_ledger(app: typer.Typer) -> None:
    from ssj.cli import ledger

    app.command()(ledger.init)
    app.command()(ledger.verify)
    app.command()(ledger.checkpoint)
    app.add_typer(ledger.keys_app, name="keys")
    app.add_typer(ledger.db_app, name="db")
    app.add_typer(ledger.proof_app, name="proof")


def add_production(app: typer.Typer) -> None:
    from ssj.cli import production

    app.command()(production.serve)
    app.add_typer(production.ops_app, name="ops")


def add_witnesses(app: typer.Typer) -> None:
    from ssj.cli import ledger

    app.add_typer(ledger.witnesses_app, name="witnesses")


def add_witness(app: typer.Typer) -> None:
    from ssj.witness import cli as witness_cli

    app.add_typer(witness_cli.witness_app, name="witness")


# A top-level name -> what registers it (and the names beside it) on its own.
ALONE: dict[str, Callable[[typer.Typer], None]] = {
    **dict.fromkeys(("init", "verify", "checkpoint", "keys", "db", "proof"), add_ledger),
    **dict.fromkeys(("serve", "ops"), add_production),
    "witnesses": add_witnesses,
    "witness": add_witness,
}


def alone(name: str) -> typer.Typer | None:
    """The tree of only `name`'s module, or None when `name` needs the whole tree."""
    register = ALONE.get(name)
    if register is None:
        return None
    app = new_app()
    register(app)
    return app


def main() -> None:
    app = alone(sys.argv[1]) if len(sys.argv) > 1 else None
    if app is None:
        from ssj.cli.app import app as whole

        app = whole
    app()
