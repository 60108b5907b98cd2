"""Receiving platforms (接收平台) and their outbox: register, update, pause, resume, remove, retry
dead letters (administrators); list and read (administrators, supervisors, reviewers).

Every change is a ledger event. An HMAC secret sent here is written to a 0600 file on the
server and never stored in the ledger (only its SHA-256); one left out is generated and returned
once in the response.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from ssj.api.deps import PrincipalDep, ServicesDep, head_seq, make_router
from ssj.api.schemas import SEQ, Schema, absent
from ssj.domain.subscribers import Subscriber
from ssj.services.delivery import SubscriberService

TAG = "归集 / Delivery"
router = make_router(TAG)


def get_subscribers(services: ServicesDep) -> SubscriberService:
    return SubscriberService(services)


SubscribersDep = Annotated[SubscriberService, Depends(get_subscribers)]


class AuthIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: str = Field("none", description="hmac、mtls 或 none / how ssj authenticates")
    secret: str | None = Field(
        None, description="HMAC 共享密钥（不给则生成）/ the shared secret (else generated)"
    )
    cert: str | None = Field(None, description="双向 TLS 客户端证书路径 / client certificate")
    key: str | None = Field(None, description="双向 TLS 客户端私钥路径 / client key")
    ca: str | None = Field(None, description="校验平台证书的 CA 路径 / CA for the platform")


class SubscriberIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "信用常州",
                    "endpoint": "https://credit.changzhou.example/ssj/events",
                    "kinds": ["results", "penalties"],
                    "departments": [],
                    "auth": {"method": "hmac"},
                    "max_tries": 10,
                }
            ]
        },
    )

    name: str = Field(description="平台名称 / the platform's name")
    endpoint: str = Field(description="接收地址 http(s):// / its endpoint")
    kinds: list[str] = Field(description="results（检查结果）、penalties（行政处罚）/ kinds")
    departments: list[str] = Field(
        default_factory=list, description="只推送这些部门的记录（空：全部）/ departments"
    )
    auth: AuthIn = Field(default_factory=AuthIn)
    max_tries: int | None = Field(None, description="转入死信前的尝试次数 / tries (default 10)")
    batch: int | None = Field(None, description="每次请求的记录数（默认 1）/ records per request")
    from_seq: int | None = Field(
        None, description="从此账本序号起（默认登记之后）/ records from this seq"
    )
    full_ids: bool = Field(False, description="报送完整身份证号码 / full identity numbers")
    legal_basis: str = Field("", description="报送完整号码的法律依据 / its legal basis")


class SubscriberUpdateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(description="原因（记入账本）/ reason")
    endpoint: str | None = None
    auth: AuthIn | None = None
    max_tries: int | None = None
    batch: int | None = None


class PlatformReasonIn(BaseModel):
    """A reason to pause, resume or remove a platform (may be empty)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field("", description="原因（记入账本）/ reason")


class RetryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seqs: list[int] = Field(default_factory=list, description="账本序号（空：全部死信）/ seqs")
    reason: str = Field("", description="原因 / reason")


# Responses ---------------------------------------------------------------------------------------


class SubscriberState(Schema):
    """A receiving platform as the delivery read model holds it (projections.delivery), with its
    outbox counts. Never a secret: the ledger holds only how ssj authenticates."""

    name: str = Field(description="接收平台名称 / platform name")
    endpoint: str = Field(description="推送地址 / endpoint URL")
    kinds: list[str] = Field(description="推送的记录类型：results|penalties / record kinds")
    departments: list[str] = Field(description="只推送这些部门的记录（空：全部）/ departments")
    auth: dict[str, str] = Field(
        description="认证方式及其设置（不含密钥）/ how ssj authenticates (no secret)"
    )
    from_seq: int = Field(description="自此账本序号起推送 / delivers records from this seq")
    max_tries: int = Field(description="最多尝试次数（之后为死信）/ tries before a dead letter")
    batch: int = Field(description="每次推送的条数 / records per request")
    full_ids: bool = Field(description="推送完整身份证号（需法律依据）/ full identity numbers")
    legal_basis: str = Field(description="推送完整身份证号的法律依据 / legal basis for full ids")
    status: str = Field(description="状态：active|paused|removed（在用、暂停、已移除）/ status")
    registered_seq: int = Field(description="登记时的账本序号 / seq registered at")
    registered_at: str = Field(description="登记时间 / registered at (ISO 8601)")
    changed_seq: int = Field(description="最近变更的账本序号 / seq of the last change")
    counts: dict[str, int] = Field(
        description="推送队列按状态计数（pending、delivered、dead、cancelled）/ outbox rows per "
        "status"
    )


class SubscriberList(Schema):
    total: int = Field(description="接收平台数 / platforms in all")
    items: list[SubscriberState] = Field(description="接收平台 / the platforms")


class SubscriberShown(Schema):
    item: SubscriberState = Field(description="接收平台 / the platform")


class SubscriberWritten(Schema):
    """A change to a platform: the ledger head after it and the platform as now read."""

    seq: int = Field(description=SEQ)
    item: SubscriberState = Field(description="写入后的接收平台 / the platform as now read")
    secret: str | None = absent(
        "新生成的 HMAC 密钥（只显示这一次，请交给接收平台）/ a generated HMAC secret, shown "
        "once: give it to the platform (only when one was generated)"
    )


class Retried(Schema):
    seq: int = Field(description=SEQ)
    retried: list[int] = Field(
        description="重新排队的死信（记录的账本序号）/ the dead letters put back in the queue (their seqs)"
    )


class Delivery(Schema):
    """One outbox row: a record for a platform and how its delivery went."""

    subscriber: str = Field(description="接收平台 / platform")
    seq: int = Field(description="记录的账本序号 / the record's seq")
    kind: str = Field(description="记录类型：results|penalties / record kind")
    status: str = Field(description="状态：pending|delivered|dead|cancelled / status")
    tries: int = Field(description="已尝试次数 / tries so far")
    next_at: str | None = Field(description="下次尝试时间 / next try at, or null")
    last_error: str | None = Field(description="最近的错误 / last error, or null")
    last_status: int | None = Field(description="最近的 HTTP 状态 / last HTTP status, or null")
    delivered_at: str | None = Field(description="送达时间 / delivered at, or null")
    reference: str | None = Field(description="接收平台的回执编号 / the platform's reference")
    report_seq: int | None = Field(description="推送报告的账本序号 / seq of the delivery report")
    status_zh: str = Field(description="状态（中文）/ status in Chinese")


class DeliveryPage(Schema):
    total: int = Field(description="符合条件的总条数 / rows matching, all pages")
    offset: int = Field(description="跳过的条数 / rows skipped")
    limit: int = Field(description="每页条数 / page size")
    items: list[Delivery] = Field(description="本页的推送记录 / this page's rows")


def _written(
    services: Any, subscribers: SubscriberService, principal: Any, found: Subscriber
) -> dict[str, Any]:
    return {"seq": head_seq(services), "item": subscribers.show(principal, found.name)}


def _auth(auth: AuthIn | None) -> dict[str, Any]:
    if auth is None:
        return {}
    return {
        "auth": auth.method,
        "secret": auth.secret.encode() if auth.secret is not None else None,
        "cert": auth.cert,
        "key": auth.key,
        "ca": auth.ca,
    }


@router.get(
    "/subscribers",
    summary="接收平台列表 / The receiving platforms",
    response_model=SubscriberList,
    response_model_exclude_unset=True,
)
def list_subscribers(subscribers: SubscribersDep, principal: PrincipalDep) -> dict[str, Any]:
    rows = subscribers.listing(principal)
    return {"total": len(rows), "items": rows}


@router.get(
    "/subscribers/{name}",
    summary="一个接收平台 / One platform",
    response_model=SubscriberShown,
    response_model_exclude_unset=True,
)
def get_subscriber(subscribers: SubscribersDep, principal: PrincipalDep, name: str) -> Any:
    return {"item": subscribers.show(principal, name)}


@router.post(
    "/subscribers",
    summary="登记接收平台 / Register a platform",
    status_code=201,
    response_model=SubscriberWritten,
    response_model_exclude_unset=True,
)
def add_subscriber(
    services: ServicesDep,
    subscribers: SubscribersDep,
    principal: PrincipalDep,
    body: SubscriberIn,
) -> dict[str, Any]:
    found, secret = subscribers.add(
        principal,
        body.name,
        body.endpoint,
        body.kinds,
        departments=body.departments,
        max_tries=body.max_tries,
        batch=body.batch,
        from_seq=body.from_seq,
        full_ids=body.full_ids,
        legal_basis=body.legal_basis,
        **_auth(body.auth),
    )
    written = _written(services, subscribers, principal, found)
    if secret is not None:
        written["secret"] = secret.decode()  # shown once: give it to the platform
    return written


@router.post(
    "/subscribers/{name}/update",
    summary="修改接收平台 / Update a platform",
    response_model=SubscriberWritten,
    response_model_exclude_unset=True,
)
def update_subscriber(
    services: ServicesDep,
    subscribers: SubscribersDep,
    principal: PrincipalDep,
    name: str,
    body: SubscriberUpdateIn,
) -> dict[str, Any]:
    settings = {
        k: v for k, v in (("max_tries", body.max_tries), ("batch", body.batch)) if v is not None
    }
    found, secret = subscribers.update(
        principal,
        name,
        reason=body.reason,
        endpoint=body.endpoint,
        settings=settings,
        **_auth(body.auth),
    )
    written = _written(services, subscribers, principal, found)
    if secret is not None:
        written["secret"] = secret.decode()
    return written


def _lifecycle(verb: str, summary: str) -> None:
    def endpoint(
        services: ServicesDep,
        subscribers: SubscribersDep,
        principal: PrincipalDep,
        name: str,
        body: PlatformReasonIn,
    ) -> dict[str, Any]:
        found = getattr(subscribers, verb)(principal, name, body.reason)
        return _written(services, subscribers, principal, found)

    router.post(
        f"/subscribers/{{name}}/{verb}",
        summary=summary,
        name=f"{verb}_subscriber",
        response_model=SubscriberWritten,
        response_model_exclude_unset=True,
    )(endpoint)


_lifecycle("pause", "暂停推送 / Pause delivery")
_lifecycle("resume", "恢复推送 / Resume delivery")
_lifecycle("remove", "移除接收平台（待推送记录取消）/ Remove a platform")


@router.post(
    "/subscribers/{name}/retry",
    summary="死信重新推送 / Put dead letters back in the queue",
    response_model=Retried,
    response_model_exclude_unset=True,
)
def retry(
    services: ServicesDep,
    subscribers: SubscribersDep,
    principal: PrincipalDep,
    name: str,
    body: RetryIn,
) -> dict[str, Any]:
    retried = subscribers.retry(principal, name, body.seqs, body.reason)
    return {"seq": head_seq(services), "retried": retried}


@router.get(
    "/deliveries",
    summary="推送队列（死信：status=dead）/ The outbox (dead letters: status=dead)",
    response_model=DeliveryPage,
    response_model_exclude_unset=True,
)
def deliveries(
    subscribers: SubscribersDep,
    principal: PrincipalDep,
    response: Response,
    subscriber: str | None = None,
    status: Annotated[list[str] | None, Query()] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    total, rows = subscribers.deliveries(
        principal, subscriber=subscriber, statuses=status or [], offset=offset, limit=limit
    )
    return {"total": total, "offset": offset, "limit": limit, "items": rows}
