"""API tokens: issued and revoked by administrators; the ledger keeps only their SHA-256."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field

from ssj.api.deps import PrincipalDep, ReasonIn, RegistryDep, ServicesDep, head_seq, make_router
from ssj.api.schemas import SEQ, Schema
from ssj.domain.organisation import token_hash

TAG = "令牌 / Tokens"
router = make_router(TAG)


class TokenIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"username": "zhangsan", "label": "数据对接 2025"}]},
    )

    username: str = Field(description="令牌所属用户 / the user the token acts as")
    label: str = Field(description="用途说明 / what the token is for")


class TokenOut(BaseModel):
    token: str = Field(description="令牌（只显示这一次）/ the secret, shown this once only")
    token_sha256: str = Field(description="令牌的 SHA-256（吊销时使用）/ its SHA-256, to revoke")
    username: str
    label: str
    seq: int = Field(description="签发事件之后的账本末尾序号 / ledger head after issuing")


class TokenRevoked(Schema):
    token_sha256: str = Field(description="被吊销令牌的 SHA-256 / the revoked token's SHA-256")
    revoked: Literal[True] = Field(description="已吊销 / revoked")
    seq: int = Field(description=SEQ)


@router.post(
    "/tokens",
    status_code=201,
    response_model=TokenOut,
    summary="签发令牌（管理员）/ Issue a token (administrators)",
    description="令牌明文只在此返回一次，账本只记录其哈希。/ The secret is returned once; "
    "the ledger records only its hash.",
)
def issue_token(
    services: ServicesDep, registry: RegistryDep, principal: PrincipalDep, body: TokenIn
) -> TokenOut:
    secret = registry.issue_token(principal, body.username, body.label)
    return TokenOut(
        token=secret,
        token_sha256=token_hash(secret),
        username=body.username,
        label=body.label,
        seq=head_seq(services),
    )


@router.delete(
    "/tokens/{sha256}",
    response_model=TokenRevoked,
    response_model_exclude_unset=True,
    summary="吊销令牌（管理员）/ Revoke a token (administrators)",
    description="按 SHA-256 吊销（不要把令牌明文放进网址）；原因放在请求体中。/ Revoke by "
    "SHA-256 (never put a secret in a URL); the reason goes in the body.",
)
def revoke_token(
    services: ServicesDep,
    registry: RegistryDep,
    principal: PrincipalDep,
    sha256: Annotated[
        str, Path(pattern="^[0-9a-f]{64}$", description="令牌的 SHA-256 / the token's SHA-256")
    ],
    body: ReasonIn,
) -> dict[str, Any]:
    registry.revoke_token(principal, sha256, body.reason)
    return {"token_sha256": sha256, "revoked": True, "seq": head_seq(services)}
