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
from typing import Annotated, Any

from fastapi import Path, Query, Response

from ssj.api.deps import MAX_SEQ, Limit, Offset, PrincipalDep, ServicesDep, make_router
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

    return cosigned_note(services.ledger)


@router.get(
    "/log/witnesses",
    summary="见证方与联署状态 / Witnesses: cosignatures, refusals (monitoring)",
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


@router.get("/log/checkpoints", summary="检查点历史（分页）/ Checkpoint history, oldest first")
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


@router.get("/log/keys", summary="验证公钥与有效范围 / Verifier keys and their validity")
def keys(services: ServicesDep) -> dict[str, Any]:
    listing = services.ledger.key_listing()
    return {
        "origin": services.settings.log_origin,
        "suite": services.ledger.suite.name,
        "keys": [{k: v for k, v in e.items() if k != "private_key_here"} for e in listing],
    }


@router.get("/log/entries/{seq}", summary="一条记录的信封与签名 / An entry: envelope, signature")
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


@router.get("/log/proof/inclusion", summary="收录证明 / Inclusion proof (RFC 9162)")
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


@router.get("/log/proof/consistency", summary="一致性证明 / Consistency proof (RFC 9162)")
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
