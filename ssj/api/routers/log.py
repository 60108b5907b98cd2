"""The transparency-log API (`/log/...`): what a C2SP witness or any RFC 9162 client checks.

Public by design, no token: checkpoints (C2SP tlog-checkpoint signed notes), the verifier keys
(note verifier key format), each entry's envelope bytes, signature, key id and leaf hash, and
inclusion and consistency proofs (the shapes of `ssj proof`, hashes in hex). The envelope names
the event only by originator, version, topic and the SHA-256 of its state, so it holds no
personal data. The event body can (a target's name, a resident id): `/log/entries/{seq}/event`
needs a token whose user may READ_ALL (admin, supervisor, reviewer).
"""

from __future__ import annotations

import base64
from typing import Annotated, Any, Literal

from fastapi import Path, Query, Response
from pydantic import Field

from ssj.api.deps import MAX_SEQ, Limit, Offset, PrincipalDep, ServicesDep, make_router
from ssj.api.schemas import Schema
from ssj.domain.access import Command
from ssj.errors import NotFoundError, ValidationError
from ssj.ledger.envelope import Envelope
from ssj.services.context import Services

TAG = "透明日志 / Transparency log"
router = make_router(TAG)

Seq = Annotated[
    int, Path(ge=0, le=MAX_SEQ, description="账本序号（叶子索引）/ ledger seq (leaf index)")
]


def _row(services: Services, seq: int) -> tuple[int, int, bytes, bytes]:
    size = services.ledger.size()
    rows = services.ledger.ledger_recorder.select_envelopes(seq, 1, stop=seq + 1)
    if seq >= size or not rows:
        raise NotFoundError(
            f"第 {seq} 条不存在（账本共 {size} 条）",
            f"no entry at seq {seq} (the ledger has {size})",
        )
    return rows[0]


def _size(services: Services, size: int | None) -> int:
    return services.ledger.size() if size is None else size


# Responses ---------------------------------------------------------------------------------------

HEX = "十六进制 / hex"


class WitnessProblem(Schema):
    """A witness's last refusal (or failure to answer), until it cosigns again."""

    size: int = Field(description="被拒绝的检查点树大小 / size of the checkpoint refused")
    status: int = Field(description="HTTP 状态（0：无法连接）/ HTTP status (0: unreachable)")
    answer: str = Field(description="见证方的回答 / what the witness answered")
    detail: str = Field(description="说明 / detail")


class WitnessStatus(Schema):
    """One active witness against the newest checkpoint."""

    name: str = Field(description="见证方名称 / witness name")
    url: str = Field(description="见证方地址 / witness URL")
    state: Literal["ok", "behind", "refused", "unreachable"] = Field(
        description="ok：已联署最新检查点；behind：尚未联署；refused：拒绝（日志被截断、分叉或"
        "分裂视图）；unreachable：无法连接 / ok, behind, refused or unreachable"
    )
    cosigned_size: int = Field(description="已联署的最大树大小 / largest size cosigned")
    newest_checkpoint: int = Field(description="最新检查点的树大小 / newest checkpoint's size")
    problem: WitnessProblem | None = Field(description="最近的问题 / the last problem, or null")


class WitnessListed(Schema):
    """A witness ever configured."""

    name: str = Field(description="见证方名称 / witness name")
    key: str = Field(description="见证方验证公钥（note 格式）/ the witness's verifier key")
    url: str = Field(description="见证方地址 / witness URL")
    active: bool = Field(description="是否在用 / active")
    cosigned_size: int | None = Field(description="已联署的最大树大小 / largest size cosigned")
    problem: WitnessProblem | None = Field(description="最近的问题 / the last problem, or null")


class Witnesses(Schema):
    """The witnesses, for monitoring."""

    alert: bool = Field(description="任一见证方状态不是 ok / any witness is not ok")
    status: list[WitnessStatus] = Field(description="在用见证方的状态 / each active witness")
    witnesses: list[WitnessListed] = Field(description="全部见证方 / every witness configured")


class CheckpointRow(Schema):
    size: int = Field(description="树大小 / tree size")
    note: str = Field(description="签名的检查点（C2SP signed note）/ the signed checkpoint")


class CheckpointPage(Schema):
    """Checkpoints, oldest first (no `at_seq`: the history only grows)."""

    total: int = Field(description="检查点总数 / checkpoints in all")
    offset: int = Field(description="跳过的条数 / rows skipped")
    limit: int = Field(description="每页条数 / page size")
    items: list[CheckpointRow] = Field(description="本页的检查点 / this page's checkpoints")


class VerifierKey(Schema):
    """A signing key of the log and the ledger positions it is valid for."""

    key_id: str = Field(description="密钥标识 / key id")
    suite: str = Field(description="算法套件 / signature suite")
    verifier_key: str = Field(description="验证公钥（note 格式）/ verifier key (note format)")
    valid_from_seq: int = Field(description="有效起始序号 / valid from seq")
    valid_to_seq: int | None = Field(description="有效截止序号（在用为空）/ valid to seq, or null")
    revoked_as_of_seq: int | None = Field(
        description="自此序号起吊销（未吊销为空）/ revoked as of seq, or null"
    )
    status: Literal["active", "retired", "revoked"] = Field(description="状态 / status")


class VerifierKeys(Schema):
    origin: str = Field(description="日志名称（检查点第一行）/ log origin")
    suite: str = Field(description="算法套件 / signature suite")
    keys: list[VerifierKey] = Field(description="全部验证公钥 / every key")


class LogEntry(Schema):
    """An entry of the log: its envelope bytes and signature."""

    seq: int = Field(description="账本序号 / ledger seq")
    envelope: str = Field(description="信封（base64）/ envelope bytes, base64")
    envelope_hex: str = Field(description="信封（十六进制）/ envelope bytes, hex")
    signature: str = Field(description="签名（base64）/ signature, base64")
    key_id: str = Field(description="签名密钥标识 / signing key id")
    leaf_hash: str = Field(description=f"叶子哈希（{HEX}）/ leaf hash")


class LogEvent(Schema):
    """An entry's event body, beside the digest its envelope signs."""

    seq: int = Field(description="账本序号 / ledger seq")
    originator_id: str = Field(description="聚合标识（UUID）/ aggregate id")
    originator_version: int = Field(description="聚合版本 / aggregate version")
    topic: str = Field(description="事件类型 / event topic")
    state: str = Field(description="事件内容（base64）/ event state bytes, base64")
    state_sha256_in_envelope: str = Field(
        description=f"信封中的事件内容 SHA-256（{HEX}）/ the state digest the envelope signs"
    )


class InclusionProof(Schema):
    seq: int = Field(description="叶子索引 / leaf index")
    size: int = Field(description="树大小 / tree size")
    leaf_hash: str = Field(description=f"叶子哈希（{HEX}）/ leaf hash")
    root: str = Field(description=f"树根（{HEX}）/ root hash")
    proof: list[str] = Field(description=f"证明路径（{HEX}）/ proof hashes")


class ConsistencyProof(Schema):
    old_size: int = Field(description="旧树大小 / old size")
    new_size: int = Field(description="新树大小 / new size")
    old_root: str = Field(description=f"旧树根（{HEX}）/ old root")
    new_root: str = Field(description=f"新树根（{HEX}）/ new root")
    proof: list[str] = Field(description=f"证明路径（{HEX}）/ proof hashes")


@router.get(
    "/log/checkpoint",
    summary="最新检查点 / The latest checkpoint (C2SP signed note, text/plain)",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
)
def latest_checkpoint(services: ServicesDep) -> Response:
    signed = witnessed_checkpoint(services)
    if signed is None:
        raise NotFoundError("尚未签发检查点", "no checkpoint has been issued yet")
    return Response(signed, media_type="text/plain; charset=utf-8")


def witnessed_checkpoint(services: Services) -> str | None:
    """The newest checkpoint with every witness cosignature recorded for it as extra signature
    lines (C2SP tlog-cosignature), as a note verifier expects them."""
    from ssj.witness.log import cosigned_note

    return services.by_head("checkpoint", lambda: cosigned_note(services.ledger))


@router.get(
    "/log/witnesses",
    summary="见证方与联署状态 / Witnesses: cosignatures, refusals (monitoring)",
    response_model=Witnesses,
    response_model_exclude_unset=True,
)
def witnesses(services: ServicesDep) -> dict[str, Any]:
    """Each active witness against the newest checkpoint: `ok`, `behind` (has not cosigned it),
    `refused` (its last answer refused a checkpoint: a truncated or forked log, or a split view)
    or `unreachable`; `alert` is true when any is not ok."""
    from ssj.witness.log import listing, status

    rows = status(services.ledger)
    return {
        "alert": any(r["state"] != "ok" for r in rows),
        "status": rows,
        "witnesses": listing(services.ledger),
    }


@router.get(
    "/log/checkpoints",
    summary="检查点历史（分页）/ Checkpoint history, oldest first",
    response_model=CheckpointPage,
    response_model_exclude_unset=True,
)
def checkpoints(
    services: ServicesDep,
    offset: Offset = 0,
    limit: Limit = 100,
) -> dict[str, Any]:
    found = services.ledger.checkpoints()
    return {
        "total": len(found),
        "offset": offset,
        "limit": limit,
        "items": [{"size": s, "note": n} for s, n in found[offset : offset + limit]],
    }


@router.get(
    "/log/keys",
    summary="验证公钥与有效范围 / Verifier keys and their validity",
    response_model=VerifierKeys,
    response_model_exclude_unset=True,
)
def keys(services: ServicesDep) -> dict[str, Any]:
    listing = services.ledger.key_listing()
    return {
        "origin": services.settings.log_origin,
        "suite": services.ledger.suite.name,
        "keys": [{k: v for k, v in e.items() if k != "private_key_here"} for e in listing],
    }


@router.get(
    "/log/entries/{seq}",
    summary="一条记录的信封与签名 / An entry: envelope, signature",
    response_model=LogEntry,
    response_model_exclude_unset=True,
)
def entry(services: ServicesDep, seq: Seq) -> dict[str, Any]:
    _, _, data, signature = _row(services, seq)
    return {
        "seq": seq,
        "envelope": base64.b64encode(data).decode("ascii"),
        "envelope_hex": data.hex(),
        "signature": base64.b64encode(signature).decode("ascii"),
        "key_id": Envelope.from_bytes(data).key_id,
        "leaf_hash": services.ledger.suite.tree.leaf_hash(data).hex(),
    }


@router.get(
    "/log/entries/{seq}/event",
    summary="一条记录的事件内容（需 READ_ALL）/ An entry's event body (READ_ALL token)",
    response_model=LogEvent,
    response_model_exclude_unset=True,
)
def entry_event(services: ServicesDep, principal: PrincipalDep, seq: Seq) -> dict[str, Any]:
    services.authorise(principal, Command.READ_ALL)
    _, nid, data, _ = _row(services, seq)
    found = services.ledger.recorder.select_notifications(nid, 1, stop=nid)
    if not found or found[0].id != nid:
        raise NotFoundError(
            f"第 {seq} 条的事件缺失：请运行 `ssj verify`",
            f"the event of seq {seq} is missing: run `ssj verify`",
        )
    event = found[0]
    return {
        "seq": seq,
        "originator_id": str(event.originator_id),
        "originator_version": event.originator_version,
        "topic": event.topic,
        "state": base64.b64encode(event.state).decode("ascii"),
        "state_sha256_in_envelope": Envelope.from_bytes(data).state_digest.hex(),
    }


@router.get(
    "/log/proof/inclusion",
    summary="收录证明 / Inclusion proof (RFC 9162)",
    response_model=InclusionProof,
    response_model_exclude_unset=True,
)
def inclusion(
    services: ServicesDep,
    seq: Annotated[int, Query(ge=0, le=MAX_SEQ, description="叶子索引 / leaf index")],
    size: Annotated[
        int | None, Query(ge=1, le=MAX_SEQ, description="树大小（默认当前）/ tree size")
    ] = None,
) -> dict[str, Any]:
    n = _size(services, size)
    if seq >= n:
        raise ValidationError(
            f"序号 {seq} 不在树大小 {n} 之内", f"seq {seq} is not below tree size {n}"
        )
    proof = services.ledger.inclusion_proof(seq, n)
    _, _, data, _ = _row(services, seq)
    return {
        "seq": seq,
        "size": n,
        "leaf_hash": services.ledger.suite.tree.leaf_hash(data).hex(),
        "root": services.ledger.root(n).hex(),
        "proof": [h.hex() for h in proof],
    }


@router.get(
    "/log/proof/consistency",
    summary="一致性证明 / Consistency proof (RFC 9162)",
    response_model=ConsistencyProof,
    response_model_exclude_unset=True,
)
def consistency(
    services: ServicesDep,
    old_size: Annotated[
        int, Query(ge=0, le=MAX_SEQ, alias="old", description="旧树大小 / old size")
    ],
    new_size: Annotated[
        int | None,
        Query(ge=0, le=MAX_SEQ, alias="new", description="新树大小（默认当前）/ new size"),
    ] = None,
) -> dict[str, Any]:
    new = _size(services, new_size)
    if old_size > new:
        raise ValidationError(
            f"旧树大小 {old_size} 大于新树大小 {new}",
            f"old size {old_size} is larger than new size {new}",
        )
    proof = services.ledger.consistency_proof(old_size, new)
    return {
        "old_size": old_size,
        "new_size": new,
        "old_root": services.ledger.root(old_size).hex(),
        "new_root": services.ledger.root(new).hex(),
        "proof": [h.hex() for h in proof],
    }
