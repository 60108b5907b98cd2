"""`ssj audit`: the auditor's commands. `export` reads the database; `verify` never opens one;
`trail` (ssj.cli.trail) shows a subject's history."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ssj.cli.common import EXIT_DAMAGE, err, fail, out, print_json, progress_bar, read_checkpoints
from ssj.cli.ledger import Quorum, WitnessKeys, witness_options
from ssj.errors import SsjError, ValidationError

audit_app = typer.Typer(
    help="审计：全程留痕、离线审计包 / auditors' tools: audit trail, offline audit bundle",
    no_args_is_help=True,
)

# Damage kinds grouped into the per-check lines that `verify` prints.
GROUPS: list[tuple[str, str, str, frozenset[str]]] = [
    (
        "file",
        "审计包文件与清单哈希",
        "bundle file and manifest hashes",
        frozenset({"bundle", "manifest", "bundle_truncated"}),
    ),
    (
        "chain",
        "序号连续与哈希链",
        "seq contiguity and chain links",
        frozenset({"envelope", "gap", "chain", "originator", "missing_event", "unsealed_event"}),
    ),
    ("events", "事件与信封相符", "events match their envelopes", frozenset({"state", "topic"})),
    (
        "signatures",
        "签名与密钥环",
        "signatures and key ring",
        frozenset({"genesis", "unknown_key", "retired_key", "revoked_key", "signature", "keyring"}),
    ),
    (
        "checkpoints",
        "默克尔根与检查点",
        "Merkle roots against checkpoints",
        frozenset({"checkpoint", "truncated", "untrusted", "out_of_range", "witness_quorum"}),
    ),
    (
        "proofs",
        "一致性与收录证明",
        "consistency and inclusion proofs",
        frozenset({"consistency", "inclusion", "frontier", "merkle_nodes"}),
    ),
]


@audit_app.command("export")
def export(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="审计包文件 / bundle file to write")
    ],
    from_seq: Annotated[
        int | None, typer.Option("--from-seq", help="起始序号 / first seq (default 0)")
    ] = None,
    to_seq: Annotated[
        int | None, typer.Option("--to-seq", help="结束序号（含）/ last seq, inclusive")
    ] = None,
    bundle_format: Annotated[
        str,
        typer.Option(
            "--format",
            help="审计包格式 / bundle format: ssj-audit-bundle/2 (zstd, default) or "
            "ssj-audit-bundle/1 (JSON lines, for older readers)",
        ),
    ] = "ssj-audit-bundle/2",
) -> None:
    """导出离线审计包 / write a self-contained audit bundle (whole ledger or a seq range)."""
    from ssj.cli.common import open_ledger
    from ssj.ledger.bundle import open_writer
    from ssj.services.audit_bundle import export_bundle

    try:
        open_writer(output, bundle_format).abort()  # the format is known (and the place writable)
    except SsjError as e:
        fail(e)
    except OSError as e:
        fail(ValidationError(f"无法写入 {output}：{e}", f"cannot write {output}: {e}"))

    ledger = open_ledger()
    try:
        total = ledger.size()
        with progress_bar("导出 / exporting", total) as update:
            summary = export_bundle(
                ledger, output, from_seq, to_seq, progress=update, fmt=bundle_format
            )
    except SsjError as e:
        fail(e)
    except OSError as e:
        fail(ValidationError(f"无法写入 {output}：{e}", f"cannot write {output}: {e}"))
    finally:
        ledger.close()
    out.print(
        f"已导出 / exported {output}: seq {summary.from_seq}–{summary.to_seq}, "
        f"{summary.events} events, {summary.checkpoints} checkpoints, "
        f"{summary.context} context envelopes, {summary.bytes:,} bytes",
        highlight=False,
    )


@audit_app.command("verify")
def verify(
    bundle: Annotated[Path, typer.Argument(help="审计包文件 / bundle file")],
    checkpoint: Annotated[
        list[Path] | None,
        typer.Option(
            "--checkpoint", "-c", help="外部保存的检查点文件（可多次）/ a checkpoint kept elsewhere"
        ),
    ] = None,
    key: Annotated[
        list[str] | None,
        typer.Option("--key", help="信任的验证公钥（note 格式）/ trusted verifier key"),
    ] = None,
    jobs: Annotated[int | None, typer.Option(help="验签进程数 / signature processes")] = None,
    json: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
    witness: WitnessKeys = None,
    quorum: Quorum = None,
) -> None:
    """离线校验审计包（不连数据库、不联网）/ check a bundle with no database and no network."""
    from ssj.ledger.bundle import BundleError
    from ssj.services.audit_bundle import audit_bundle

    outside = read_checkpoints(checkpoint)
    if not bundle.is_file():
        fail(ValidationError(f"审计包不存在：{bundle}", f"no such bundle file: {bundle}"))
    witness_keys, needed = witness_options(witness, quorum)
    try:
        with progress_bar("校验 / verifying", 0) as update:
            audit = audit_bundle(
                bundle,
                outside,
                key or [],
                jobs,
                progress=update,
                witness_keys=witness_keys,
                quorum=needed,
            )
    except BundleError as e:
        fail(e)
    r = audit.result
    report = r.report
    damage = sorted(report.damage, key=lambda d: d.seq)
    if json:
        print_json(
            {
                "ok": audit.ok,
                "format": r.header.get("format"),
                "origin": r.header.get("origin"),
                "from_seq": r.from_seq,
                "to_seq": r.to_seq,
                "events": r.events,
                "size": report.size,
                "root": report.root.hex(),
                "signatures": report.signatures,
                "checkpoints_recorded": report.checkpoints,
                "checkpoints_bundled": r.checkpoints,
                "outside_checkpoints": report.outside_checkpoints,
                "consistency_proofs": r.consistency_proofs,
                "inclusion_proofs": r.inclusion_proofs,
                "covered_to": r.covered_to,
                "manifest_ok": r.manifest_ok,
                "cosigned_by": report.cosigned_by,
                "damage": [
                    {"seq": d.seq, "kind": d.kind, "zh": d.zh, "en": d.en, "detail": d.detail}
                    for d in damage
                ],
                "draws": [d.as_dict() for d in audit.draws],
            }
        )
    else:
        _print_checks(audit)
    if not audit.ok:
        first = report.first
        if first is not None:
            err.print(f"[bold red]损坏 / DAMAGE[/] {first.line()}", highlight=False)
        else:
            failed = [d for d in audit.draws if d.status == "failed"]
            err.print(
                f"[bold red]抽取重算不符 / DRAW FAILED[/] {failed[0].label}: "
                f"{failed[0].reason_zh} / {failed[0].reason_en}",
                highlight=False,
            )
        raise typer.Exit(EXIT_DAMAGE)


def _print_checks(audit: object) -> None:
    from ssj.services.audit_bundle import OfflineAudit

    assert isinstance(audit, OfflineAudit)
    r = audit.result
    report = r.report
    kinds = {d.kind for d in report.damage}
    details = {
        "file": f"{r.bundle_bytes:,} bytes",
        "chain": f"seq {r.from_seq}–{r.to_seq}, {r.events} events",
        "events": f"{r.events} events",
        "signatures": f"{report.signatures} signatures",
        "checkpoints": (
            f"{report.checkpoints} recorded in range, {r.checkpoints} bundled, "
            f"{report.outside_checkpoints} outside"
            + (
                f"; newest cosigned by {', '.join(report.cosigned_by)}"
                if report.cosigned_by
                else ""
            )
        ),
        "proofs": f"{r.consistency_proofs} consistency, {r.inclusion_proofs} inclusion",
    }
    for name, zh, en, group in GROUPS:
        bad = sorted((d for d in report.damage if d.kind in group), key=lambda d: d.seq)
        mark = "[red]✗[/]" if bad else "[green]✓[/]"
        out.print(f"{mark} {zh} / {en}: {details[name]}", highlight=False)
        for d in bad[:5]:
            out.print(f"    {d.line()}", highlight=False, markup=False)
    del kinds
    for check in audit.draws:
        mark = {"passed": "[green]✓[/]", "failed": "[red]✗[/]", "skipped": "[yellow]–[/]"}[
            check.status
        ]
        label = {"passed": "通过 passed", "failed": "不符 FAILED", "skipped": "未重算 not re-run"}[
            check.status
        ]
        checks = len(check.verification.checks) if check.verification is not None else 0
        reason = f" — {check.reason_zh} / {check.reason_en}" if check.reason_en else ""
        out.print(
            f"{mark} 抽取重算 / draw re-run {check.label} ({check.draw_id}): {label}, {checks} checks{reason}",
            highlight=False,
        )
    passed = sum(d.status == "passed" for d in audit.draws)
    skipped = sum(d.status == "skipped" for d in audit.draws)
    covered = (
        f"tied to a signed checkpoint up to size {r.covered_to}"
        if r.covered_to
        else "no signed checkpoint covers it"
    )
    if audit.ok:
        out.print(
            f"审计包完好 / bundle intact: {r.events} events, root {report.root.hex()} at size "
            f"{report.size}, {covered}; draws {passed} re-run and passed, {skipped} not re-run",
            highlight=False,
        )
