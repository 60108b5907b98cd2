"""`ssj demo`: the main job on the embedded default, end to end, with a summary table.

It grows with the project: today it initialises the ledger, rotates a key, issues checkpoints,
keeps one outside the database (as an auditor would) and verifies the whole ledger against it.
"""

from __future__ import annotations

from rich.table import Table

from ssj.cli.common import cli_actor, fail, open_ledger, out, progress_bar
from ssj.errors import SsjError
from ssj.ledger.audit import verify_ledger


def run() -> None:
    ledger = open_ledger()
    actor = cli_actor()
    try:
        ledger.initialise(actor)
        first = ledger.issue_checkpoint(actor)
        ledger.rotate_key(actor)
        second = ledger.issue_checkpoint(actor)
    except SsjError as e:
        fail(e)
    outside = ledger.settings.data_dir / "checkpoints"
    outside.mkdir(parents=True, exist_ok=True)
    path = outside / f"checkpoint-{ledger.size()}.txt"
    path.write_text(second, encoding="utf-8")
    with progress_bar("校验 / verifying", ledger.size()) as update:
        report = verify_ledger(ledger, [first, second], progress=update)
    table = Table(title="ssj demo")
    table.add_column("项目 / item")
    table.add_column("值 / value")
    table.add_row("数据库 / database", ledger.settings.database.redacted())
    table.add_row("账本长度 / events", str(report.size))
    table.add_row("签名 / signatures checked", str(report.signatures))
    table.add_row("检查点 / checkpoints", str(report.checkpoints))
    table.add_row("外部检查点 / outside checkpoint", str(path))
    table.add_row("根哈希 / root", report.root.hex())
    table.add_row("结论 / verdict", "完好 / intact" if report.ok else "损坏 / DAMAGED")
    out.print(table)
    if not report.ok and report.first is not None:
        out.print(report.first.line())
        raise SystemExit(1)
