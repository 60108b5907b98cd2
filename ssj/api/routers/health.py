"""Liveness, readiness and Prometheus metrics, for load balancers and monitoring.

No token: a reverse proxy keeps these paths to the internal network (see ops/deploy/). What the
database knows is read when asked; counters of this process (and, under several workers, of
all of them through `PROMETHEUS_MULTIPROC_DIR`) are added.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from pydantic import BaseModel, ConfigDict, Field

from projections import delivery as outbox
from ssj.api.schemas import absent
from ssj.domain.subscribers import SubscriberStatus
from ssj.services import health
from ssj.services.context import Services

router = APIRouter(tags=["运行状态 / Operations"])


class CheckResult(BaseModel):
    """One readiness check: whether it passed, what it measured, and the error if it failed.
    Which measures a check has depends on the check (and none when it failed)."""

    model_config = ConfigDict(extra="allow")
    ok: bool
    error: str = absent("检查失败的原因（仅失败时）/ why the check failed (only then)")
    head_seq: int = absent("database、replica：账本末尾序号 / the ledger head seq")
    ms: int | float = absent("database：查询耗时（毫秒）/ query time in ms")
    key_id: str = absent("signing_key：当前签名密钥 / the active signing key")
    lag: int = absent("projections：读模型落后的事件数 / events the read models lag")
    max_lag: int = absent("projections、replica：允许的最大延迟 / the lag allowed")
    size: int | None = absent("checkpoint：最新检查点的树大小 / the newest checkpoint's size")
    age_seconds: int | float | None = absent("checkpoint：最新检查点的时长 / its age (s)")
    pending_events: int = absent("checkpoint：未被检查点覆盖的事件 / events not yet covered")
    interval_seconds: int | float = absent("checkpoint：签发间隔 / the checkpoint interval")
    ledger_lag: int = absent("replica：副本未重放的账本事件 / ledger events not replayed")
    projection_lag: int = absent("replica：副本读模型的延迟 / the replica's read-model lag")
    replay_delay_seconds: float | None = absent("replica：距上次重放的秒数 / since replay (s)")
    in_recovery: bool = absent("replica：副本处于恢复模式 / the replica is in recovery")
    position: int = absent(
        "replica：副本读模型已到的账本序号 / the seq its read models have reached (a seq; the key"
        " keeps its first name for clients)"
    )


class Liveness(BaseModel):
    status: Literal["ok"] = Field(description="进程存活 / the process is up")


class Readiness(BaseModel):
    """The answer of /readyz, ready or not (503 carries the same body, not an error)."""

    ready: bool
    checks: dict[str, CheckResult]


@router.get(
    "/healthz",
    response_model=Liveness,
    response_model_exclude_unset=True,
    summary="进程存活 / the process is up",
)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="可以接收请求 / ready to serve",
    description="数据库可达、签名密钥可读、读模型延迟低于阈值、检查点未过期（只读副本的延迟亦同）"
    "；不就绪时 503 / database reachable, signing key readable, read models (and a replica) "
    "lagging less than the threshold, last checkpoint recent enough; 503 when not ready",
    response_model=Readiness,
    responses={503: {"description": "未就绪 / not ready", "model": Readiness}},
)
async def readyz(request: Request) -> JSONResponse:
    services: Services = request.app.state.services
    reader: Services = request.app.state.reader
    found = await run_in_threadpool(health.check, services, reader)
    return JSONResponse(found.as_dict(), status_code=200 if found.ready else 503)


class LedgerCollector(Collector):
    """Gauges read from the database at scrape time."""

    def __init__(self, services: Services, reader: Services) -> None:
        self.services = services
        self.reader = reader

    def collect(self) -> Iterator[Any]:
        found = health.check(self.services, self.reader)
        up = GaugeMetricFamily("ssj_ready", "1 when every readiness check passes")
        up.add_metric([], 1.0 if found.ready else 0.0)
        yield up
        checks = GaugeMetricFamily("ssj_check_ok", "Each readiness check", labels=["check"])
        for c in found.checks:
            checks.add_metric([c.name], 1.0 if c.ok else 0.0)
        yield checks
        if found.head_seq is None:
            return
        head = GaugeMetricFamily("ssj_ledger_head_seq", "Seq of the newest ledger event")
        head.add_metric([], found.head_seq)
        yield head
        events = CounterMetricFamily("ssj_ledger_events", "Events appended to the ledger")
        events.add_metric([], found.head_seq + 1)
        yield events
        lag = GaugeMetricFamily(
            "ssj_projection_lag_events",
            "Ledger events not yet in a read model",
            labels=["projection"],
        )
        for name, seq in found.seqs.items():
            lag.add_metric([name], found.head_seq - seq)
        yield lag
        if found.checkpoint_age_seconds is not None:
            age = GaugeMetricFamily("ssj_checkpoint_age_seconds", "Age of the newest checkpoint")
            age.add_metric([], found.checkpoint_age_seconds)
            yield age
        pending = GaugeMetricFamily(
            "ssj_checkpoint_pending_events", "Ledger events not yet covered by a checkpoint"
        )
        pending.add_metric([], found.head_seq + 1 - (found.checkpoint_size or 0))
        yield pending
        backlog = GaugeMetricFamily(
            "ssj_delivery_backlog",
            "Records owed to a credit platform: pending (waiting or failed) or dead",
            labels=["platform", "status"],
        )
        for (platform, status), n in delivery_backlog(self.services).items():
            backlog.add_metric([platform, status], n)
        yield backlog
        if found.replica is not None:
            for key, help_text in (
                ("ledger_lag", "Ledger events the replica has not replayed"),
                ("projection_lag", "Ledger events not yet in the replica's read models"),
                ("replay_delay_seconds", "Seconds since the replica replayed a transaction"),
            ):
                value = found.replica.get(key)
                if value is not None:
                    gauge = GaugeMetricFamily(f"ssj_replica_{key}", help_text)
                    gauge.add_metric([], float(value))
                    yield gauge


def delivery_backlog(services: Services) -> dict[tuple[str, str], int]:
    """Per platform not removed: its pending and dead outbox rows, as the read model holds
    them now (no wait; empty where no platform is registered)."""
    found: dict[tuple[str, str], int] = {}
    for name, by_status in outbox.counts(services.store).items():
        row = outbox.subscriber_row(services.store, name)
        if row is not None and row["status"] != SubscriberStatus.REMOVED.value:
            for status in (outbox.PENDING, outbox.DEAD):
                found[name, status] = by_status.get(status, 0)
    return found


def process_metrics() -> bytes:
    """This process's counters, or every worker's under PROMETHEUS_MULTIPROC_DIR."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


@router.get(
    "/metrics",
    summary="Prometheus 指标 / Prometheus metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(request: Request) -> Response:
    registry = getattr(request.app.state, "metrics_registry", None)
    if registry is None:
        registry = CollectorRegistry()
        registry.register(LedgerCollector(request.app.state.services, request.app.state.reader))
        request.app.state.metrics_registry = registry
    body = await run_in_threadpool(lambda: process_metrics() + generate_latest(registry))
    return Response(body, media_type=CONTENT_TYPE_LATEST)
