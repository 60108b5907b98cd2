"""The `ssj` command: thin commands over the application services."""

from __future__ import annotations

import typer

from ssj.cli import ledger

app = typer.Typer(
    help="ssj：双随机、一公开 审计账本 / the audit-first ledger for random inspections",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command()(ledger.init)
app.command()(ledger.verify)
app.command()(ledger.checkpoint)
app.add_typer(ledger.keys_app, name="keys")
app.add_typer(ledger.db_app, name="db")
app.add_typer(ledger.proof_app, name="proof")


@app.command()
def demo() -> None:
    """演示：在默认 SQLite 上生成示例账本并校验 / build a sample ledger and verify it."""
    from ssj.cli.demo import run

    run()


def main() -> None:
    app()
