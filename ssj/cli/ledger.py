"""Ledger commands: init, verify, checkpoint, proofs, keys, database migration."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ssj.cli.common import (
    EXIT_DAMAGE,
    cli_actor,
    err,
    fail,
    ledger_session,
    out,
    print_json,
    progress_bar,
    read_checkpoints,
)
from ssj.config import Settings
from ssj.errors import SsjError, ValidationError
from ssj.ledger.audit import verify_ledger

keys_app = typer.Typer(help="签名密钥：创建、列出、轮换、吊销 / signing keys", no_args_is_help=True)
# --witness KEY… --quorum N, shared by `ssj verify` and `ssj audit verify`.
WitnessKeys = Annotated[
    list[str] | None,
    typer.Option("--witness", help="信任的见证方公钥（可多次）/ a trusted witness key"),
]
Quorum = Annotated[
    int | None,
    typer.Option(
        min=1, help="最新检查点所需的见证方联署数 / cosignatures the newest checkpoint needs"
    ),
]
witnesses_app = typer.Typer(
    help="见证方：添加、列出、移除、状态 / the log's witnesses (C2SP tlog-witness)",
    no_args_is_help=True,
)
db_app = typer.Typer(help="数据库 / database set-up", no_args_is_help=True)
proof_app = typer.Typer(help="默克尔证明 / Merkle proofs (RFC 9162)", no_args_is_help=True)


def init(
    suite: Annotated[
        str,
        typer.Option(
            help="密码套件：ed25519-sha256（默认）或 sm2-sm3（国密，密评）/ cryptographic suite",
        ),
    ] = "ed25519-sha256",
) -> None:
    """初始化账本（生成首个签名密钥，选定密码套件）/ initialise the ledger: its suite and first key."""
    from ssj.ledger import suite as suites

    with ledger_session() as ledger:
        try:
            chosen = suites.get(suite)
            existed = ledger.is_initialised()
            key_id = ledger.initialise(cli_actor(), chosen)
        except SsjError as e:
            fail(e)
        state = "已存在 / already initialised" if existed else "已初始化 / initialised"
        out.print(
            f"{state}: {ledger.settings.database.redacted()} suite {ledger.suite.name} key {key_id}",
            highlight=False,
        )


def verify(
    checkpoint: Annotated[
        list[Path] | None,
        typer.Option(
            "--checkpoint",
            "-c",
            help="外部保存的检查点文件（可多次）/ a checkpoint file kept outside the database",
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
    read_only: Annotated[
        bool,
        typer.Option(
            "--read-only",
            help="在只读副本上校验（SSJ_READ_DATABASE_URL）/ verify on the read replica "
            "(SSJ_READ_DATABASE_URL)",
        ),
    ] = False,
) -> None:
    """校验整个账本 / verify every signature, link, seq, root and checkpoint."""
    with ledger_session(read_only) as ledger:
        outside = read_checkpoints(checkpoint)
        witness_keys, needed = witness_options(witness, quorum)
        with progress_bar("校验 / verifying", ledger.size()) as update:
            report = verify_ledger(
                ledger,
                outside,
                key or [],
                jobs=jobs,
                progress=update,
                witness_keys=witness_keys,
                quorum=needed,
            )
        first = report.first
        if json:
            print_json(
                {
                    "ok": report.ok,
                    "size": report.size,
                    "root": report.root.hex(),
                    "signatures": report.signatures,
                    "checkpoints": report.checkpoints,
                    "outside_checkpoints": report.outside_checkpoints,
                    "suite": ledger.suite.name,
                    "cosigned_by": report.cosigned_by,
                    "damage": [
                        {"seq": d.seq, "kind": d.kind, "zh": d.zh, "en": d.en, "detail": d.detail}
                        for d in sorted(report.damage, key=lambda d: d.seq)
                    ],
                }
            )
        elif first is None:
            out.print(
                f"账本完好 / ledger intact: {report.size} events, {report.signatures} signatures, "
                f"{report.checkpoints} checkpoints, {report.outside_checkpoints} outside checkpoints, "
                f"root {report.root.hex()} ({ledger.suite.name})"
                + (
                    f"; newest checkpoint cosigned by {', '.join(report.cosigned_by)}"
                    if report.cosigned_by
                    else ""
                ),
                highlight=False,
            )
        if first is not None:
            err.print(f"[bold red]损坏 / DAMAGE[/] {first.line()}", highlight=False)
            raise typer.Exit(EXIT_DAMAGE)


def checkpoint(
    output: Annotated[
        Path | None, typer.Option("--out", "-o", help="同时写入文件 / also write to a file")
    ] = None,
) -> None:
    """签发检查点（已签名的树头）/ issue a signed checkpoint now and print it."""
    from ssj.witness.log import cosigned_note

    with ledger_session() as ledger:
        try:
            ledger.issue_checkpoint(cli_actor())
            signed = cosigned_note(ledger) or ""
        except SsjError as e:
            fail(e)
        if output is not None:
            output.write_text(signed, encoding="utf-8")
        typer.echo(signed, nl=False)
        refused = _report_witnesses(ledger.witness_outcomes)
        if refused:
            raise typer.Exit(EXIT_DAMAGE)


@proof_app.command("inclusion")
def inclusion(
    seq: int, size: Annotated[int | None, typer.Option(help="树大小 / tree size")] = None
) -> None:
    """收录证明 / inclusion proof for the envelope at SEQ."""
    with ledger_session() as ledger:
        try:
            n = ledger.size() if size is None else size
            proof = ledger.inclusion_proof(seq, n)
        except SsjError as e:
            fail(e)
        print_json({"seq": seq, "size": n, "proof": [h.hex() for h in proof]})


@proof_app.command("consistency")
def consistency(old_size: int, new_size: int) -> None:
    """一致性证明 / consistency proof between two tree sizes."""
    with ledger_session() as ledger:
        try:
            proof = ledger.consistency_proof(old_size, new_size)
        except SsjError as e:
            fail(e)
        print_json({"old_size": old_size, "new_size": new_size, "proof": [h.hex() for h in proof]})


@keys_app.command("list")
def keys_list(json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """列出密钥环 / list the key ring (validity in ledger seqs)."""
    with ledger_session() as ledger:
        try:
            listing = ledger.key_listing()
        except SsjError as e:
            fail(e)
        if json:
            print_json(listing)
            return
        labels = {
            "active": "使用中 active",
            "retired": "已停用 retired",
            "revoked": "已吊销 revoked",
        }
        for k in listing:
            to = k["valid_to_seq"] if k["valid_to_seq"] is not None else "…"
            revoked = (
                f"  revoked as of {k['revoked_as_of_seq']}"
                if k["revoked_as_of_seq"] is not None
                else ""
            )
            here = "private key here" if k["private_key_here"] else "no private key here"
            out.print(
                f"{k['key_id']}  {k['suite']}  {labels[k['status']]}  seq {k['valid_from_seq']}–{to}"
                f"{revoked}  ({here})",
                highlight=False,
            )


@keys_app.command("create")
def keys_create(
    name: Annotated[
        str | None, typer.Option(help="密钥名 / key name (default: log origin)")
    ] = None,
) -> None:
    """生成新私钥文件（尚未启用）/ generate a private key file (not yet in use)."""
    settings = _settings()
    from ssj.ledger.keys import KeyStore

    try:
        signer = KeyStore(settings.keys_dir).create(name or settings.log_origin)
    except SsjError as e:
        fail(e)
    out.print(f"{signer.key_id}\n{signer.verifier_key}", highlight=False)


@keys_app.command("rotate")
def keys_rotate(
    to: Annotated[
        str | None, typer.Option(help="改用已有密钥 / switch to this existing key id")
    ] = None,
) -> None:
    """轮换签名密钥 / make a new (or the given) key the signing key; the old one retires."""
    with ledger_session() as ledger:
        try:
            key_id = ledger.rotate_key(cli_actor(), to)
        except SsjError as e:
            fail(e)
        out.print(f"已轮换 / rotated: now signing with {key_id}", highlight=False)


@keys_app.command("revoke")
def keys_revoke(
    key_id: str,
    as_of: Annotated[int, typer.Option("--as-of", help="自此序号起作废 / invalid from this seq")],
    reason: Annotated[str, typer.Option(help="理由 / reason")],
) -> None:
    """吊销密钥 / revoke a key as of a seq: its later signatures fail verification."""
    with ledger_session() as ledger:
        try:
            ledger.revoke_key(cli_actor(), key_id, as_of, reason)
        except SsjError as e:
            fail(e)
        out.print(f"已吊销 / revoked {key_id} as of seq {as_of}", highlight=False)


@db_app.command("migrate")
def db_migrate(
    owner: Annotated[str, typer.Option(help="属主角色 / owner role")] = "ssj_owner",
    runtime_role: Annotated[
        str, typer.Option(help="运行角色（仅 SELECT、INSERT）/ runtime role")
    ] = "ssj_app",
) -> None:
    """创建 PostgreSQL 模式、表与角色 / create schema, tables and roles (run as a DBA)."""
    from ssj.ledger.migrate import migrate

    try:
        for line in migrate(_settings(), owner=owner, runtime=runtime_role):
            out.print(line, highlight=False)
    except SsjError as e:
        fail(e)


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SsjError as e:
        fail(e)


def witness_options(witness: list[str] | None, quorum: int | None) -> tuple[list[str], int]:
    """--witness keys and --quorum (default: all of them); a quorum needs keys to count."""
    keys = witness or []
    needed = len(keys) if quorum is None else quorum
    if needed > len(keys):
        fail(
            ValidationError(
                f"法定数 {needed} 大于给出的见证方公钥数 {len(keys)}",
                f"quorum {needed} is more than the {len(keys)} witness keys given",
            )
        )
    return keys, needed


def _report_witnesses(outcomes: list[object]) -> bool:
    """Each witness's answer on stderr, refusals in red; True if any witness did not cosign."""
    problem = False
    for outcome in outcomes:
        ok = getattr(outcome, "ok", False)
        line = outcome.line()  # type: ignore[attr-defined]
        if ok:
            err.print(f"[green]✓[/] {escape(line)}", highlight=False)
        else:
            problem = True
            err.print(
                f"[bold red]见证方拒绝或无响应 / WITNESS PROBLEM[/] {escape(line)}", highlight=False
            )
    return problem


@witnesses_app.command("add")
def witnesses_add(
    key: Annotated[str, typer.Option(help="见证方联署公钥 / the witness's cosignature key")],
    url: Annotated[str, typer.Option(help="见证方提交地址 / the witness's submission prefix")],
) -> None:
    """添加见证方（记入账本）/ configure a witness (a ledger event)."""
    from ssj.witness import log as witness_log

    with ledger_session() as ledger:
        try:
            name = witness_log.add(ledger, cli_actor(), key, url)
        except SsjError as e:
            fail(e)
        out.print(f"已添加见证方 / witness added: {name} {url}", highlight=False)


@witnesses_app.command("remove")
def witnesses_remove(name: str, reason: Annotated[str, typer.Option(help="理由 / reason")]) -> None:
    """移除见证方（记入账本）/ stop sending checkpoints to a witness (a ledger event)."""
    from ssj.witness import log as witness_log

    with ledger_session() as ledger:
        try:
            witness_log.remove(ledger, cli_actor(), name, reason)
        except SsjError as e:
            fail(e)
        out.print(f"已移除见证方 / witness removed: {name}", highlight=False)


@witnesses_app.command("list")
def witnesses_list(json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """列出见证方 / list the witnesses, their last cosigned size and last refusal."""
    from ssj.witness import log as witness_log

    with ledger_session() as ledger:
        try:
            listing = witness_log.listing(ledger)
        except SsjError as e:
            fail(e)
        if json:
            print_json(listing)
            return
        for w in listing:
            state = "使用中 active" if w["active"] else "已移除 removed"
            problem = w["problem"]
            extra = (
                f"  last refusal at size {problem['size']}: {problem['detail']}" if problem else ""
            )
            out.print(
                f"{w['name']}  {state}  {w['url']}  cosigned {w['cosigned_size'] or 0}{extra}\n"
                f"    {w['key']}",
                highlight=False,
            )


@witnesses_app.command("status")
def witnesses_status(json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """见证监测：拒绝、无响应或落后时退出码为 1 / monitoring: exit 1 if a witness refused,
    was unreachable, or has not cosigned the newest checkpoint."""
    from ssj.witness import log as witness_log

    with ledger_session() as ledger:
        try:
            rows = witness_log.status(ledger)
        except SsjError as e:
            fail(e)
        labels = {
            "ok": "正常 ok",
            "behind": "未联署最新检查点 behind",
            "refused": "拒绝联署 REFUSED",
            "unreachable": "无法连接 UNREACHABLE",
        }
        if json:
            print_json(rows)
        else:
            if not rows:
                out.print("未配置见证方 / no witnesses configured", highlight=False)
            for r in rows:
                problem = r["problem"]
                detail = (
                    f" — size {problem['size']}: HTTP {problem['status']} {problem['detail']}"
                    if problem
                    else ""
                )
                line = (
                    f"{r['name']}: {labels[r['state']]}, cosigned {r['cosigned_size']} of newest "
                    f"checkpoint {r['newest_checkpoint']}{detail}"
                )
                if r["state"] == "ok":
                    out.print(line, highlight=False, markup=False)
                else:
                    err.print(f"[bold red]{escape(line)}[/]", highlight=False)
        if any(r["state"] != "ok" for r in rows):
            raise typer.Exit(EXIT_DAMAGE)
