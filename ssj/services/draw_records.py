"""What a draw looks like to its readers: the drawn list with names, the event timeline, the
verification proof, and the public view (一公开).

Shared by the CLI and the HTTP API so that `ssj draws verify --json` and `GET /draws/{id}/verify`
write the same proof, and officials read the same Chinese labels everywhere. Read-only: nothing
here writes, and nothing reads the server nonce (it is in the ledger only after the reveal).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from uuid import UUID

from projections.registry import MAX_LIMIT
from ssj.domain.draws import (
    STATUS_LABELS_ZH,
    Draw,
    DrawStatus,
    RecusalKind,
    commit_digest,
)
from ssj.domain.draws import draw_id as make_draw_id
from ssj.domain.identifiers import masked
from ssj.domain.plans import PlanStatus, plan_id
from ssj.draw.eligibility import ALL, PRIORITY, REASON_LABELS
from ssj.errors import NotFoundError, ValidationError
from ssj.services.draws import DrawService, Verification

if TYPE_CHECKING:
    from ssj.services.context import Services

PROOF_FORMAT = "ssj-draw-proof/1"

EVENT_LABELS = {
    "Committed": "封存",
    "DiceRecorded": "录入骰子点数",
    "DrandRecorded": "录入 drand 随机数",
    "Revealed": "揭示",
    "Abandoned": "作废",
    "RecusalRequested": "回避申请",
    "RecusalDecided": "回避申请决定",
    "Recused": "回避",
}

RECUSAL_KIND_LABELS = {
    RecusalKind.DECLARED.value: "检查人员自行回避",
    RecusalKind.REQUESTED.value: "检查对象申请回避（经批准）",
}

_CHECK_LABELS = {
    "as_of_before_commit": "名录序号早于封存",
    "plan": "计划规则与封存一致",
    "population": "重算封存",
    "commit:strata": "分层（总体数、抽取数、默克尔根）",
    "commit:exclusions": "排除统计",
    "commit:registry": "名录统计",
    "commit:pools": "检查人员库与专家库",
    "commit:specialties": "所需专业",
    "commit:window": "实施期限",
    "drand_round_in_future": "drand 轮次晚于封存",
    "drand_beacon": "drand 信标",
    "nonce": "服务器随机数符合封存时的承诺",
    "dice": "见证人骰子点数",
    "seed": "种子",
    "strata_count": "分层数",
    "teams": "检查组",
}

# DEPT/CODE/第N轮 (a draw's label) or DEPT/CODE/N.
_LABEL = re.compile(r"(?P<department>[^/]+)/(?P<code>.+)/(?:第(?P<zh>\d+)轮|(?P<n>\d+))")


def resolve(ref: str) -> str:
    """A draw id from its UUID or its label (`CZ-SJJ-TZ/2026-01/第1轮`, or `…/2026-01/1`): ids
    follow from the plan and round, so the label names the draw as exactly as the UUID."""
    ref = ref.strip()
    found = _LABEL.fullmatch(ref)
    if found is None:
        return ref
    round = int(found["zh"] or found["n"])
    return str(make_draw_id(plan_id(found["department"], found["code"]), round))


def plan_filter(plan: str | None) -> str | None:
    """`DEPT/CODE` as the plan id the draws read model is keyed by."""
    if not plan:
        return None
    department, _, code = plan.strip().partition("/")
    if not department or not code:
        raise ValidationError(
            f"计划应写成 部门/计划编号，实际为“{plan}”", f"plan must be DEPT/CODE, got {plan!r}"
        )
    return str(plan_id(department, code))


def status_label(status: str) -> str:
    return f"{STATUS_LABELS_ZH[DrawStatus(status)]} {status}"


def stratum_label(name: str) -> str:
    """`B` → B 类; `all` → 全部; `C:priority` → C 类（未覆盖优先）."""
    base, _, part = name.partition(":")
    shown = "全部" if base == ALL else f"{base} 类"
    if part:
        shown += "（未覆盖优先）" if part == PRIORITY else "（其余）"
    return shown


def reason_label(reason: str) -> str:
    return REASON_LABELS.get(reason, reason)


def check_label(name: str) -> str:
    if name in _CHECK_LABELS:
        return _CHECK_LABELS[name]
    kind, _, detail = name.partition(":")
    if kind == "sample":
        return f"分层 {stratum_label(detail)} 抽取结果"
    if kind == "recusal":
        return f"第 {detail} 次回避的替补"
    return name


# Reading ---------------------------------------------------------------------------------------


def names(services: Services, table: str, keys: Iterable[str]) -> dict[str, str]:
    """Current names of targets (by identifier) or inspectors and experts (by certificate)."""
    wanted = list(keys)
    found = services.queries.get_many(table, wanted)
    return {k: str(found.get(k, {}).get("name") or "") for k in wanted}


def drawn(services: Services, draw: Draw) -> list[dict[str, Any]]:
    """Each drawn target in draw order (strata as recorded, tickets within), with its name and
    its current team (names and certificate numbers); empty before the reveal."""
    if draw.outcome is None:
        return []
    order = [(s["name"], i) for s in draw.outcome["strata"] for i in s["sample"]]
    teams = {target: draw.current_team(target) for _, target in order}
    people = names(
        services, "inspectors", (c for t in teams.values() for m in t.values() for c in m)
    )
    targets = services.queries.get_many("targets", [t for _, t in order])
    out = []
    for stratum, target in order:
        state = targets.get(target, {})
        out.append(
            {
                "stratum": stratum,
                "identifier": target,
                "id_kind": state.get("id_kind"),
                "name": state.get("name"),
                **{
                    role: [{"certificate_no": c, "name": people[c]} for c in members]
                    for role, members in teams[target].items()
                },
                "recused": draw.recused_from(target),
            }
        )
    return out


def events(services: Services, draw: Draw) -> list[dict[str, Any]]:
    """Every event of the draw with its seq, time and who recorded it (from the envelopes)."""
    out = []
    for logged in DrawService(services).events(draw):
        name = type(logged.event).__name__
        out.append(
            {
                "seq": logged.seq,
                "event": name,
                "event_zh": EVENT_LABELS.get(name, name),
                "recorded_at": logged.recorded_at,
                "user": logged.actor.user,
                "department": logged.actor.department,
                "role": logged.actor.role,
            }
        )
    return out


def proof(
    services: Services, draw: Draw, verification: Verification, *, replay: bool
) -> dict[str, Any]:
    """The verification as one JSON document: what was recorded, and every check on it."""
    facts = draw.committed
    plan = facts.plan
    return {
        "format": PROOF_FORMAT,
        "draw": {
            "id": str(draw.id),
            "label": facts.label,
            "plan": f"{plan.department}/{plan.code}",
            "plan_version": plan.version,
            "round": facts.round,
            "status": draw.status.value,
            "drawn_on": facts.drawn_on,
            "as_of_seq": facts.as_of_seq,
            "abandoned_reason": draw.abandoned_reason,
            "events": events(services, draw),
            "checked_against": "ledger replay" if replay else "read models",
        },
        "facts": draw.facts,  # as stored
        "entropy": {
            "witnesses": list(facts.entropy.witnesses),
            "dice": [{"witness": w, "digits": d} for w, d in draw.dice],
            "drand_round": draw.drand_round,
            "drand": draw.drand,
            "nonce_commitment": facts.nonce_commitment,
            "commit_digest": commit_digest(draw.facts),
            "nonce": draw.nonce,  # None until the reveal records it
        },
        "seed": draw.seed,
        "outcome": draw.outcome,
        "recusals": list(draw.recusals),
        "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in verification.checks],
        "ok": verification.ok,
    }


def all_draws(
    services: Services,
    filters: Mapping[str, str | None],
    *,
    at_seq: int | None = None,
    involving: str | None = None,
) -> list[dict[str, Any]]:
    """Every draw matching the read model's columns, with `involving` among its departments,
    ordered by department, plan and round (draws number hundreds a year, not millions)."""
    rows: list[dict[str, Any]] = []
    while True:
        page = services.draw_queries.list(
            "draws", filters, at_seq=at_seq, offset=len(rows), limit=MAX_LIMIT
        )
        rows.extend(page.rows)
        if len(page.rows) < MAX_LIMIT:
            break
    if involving is not None:
        rows = [r for r in rows if involving in r["departments"]]
    return sorted(rows, key=lambda r: (r["department"], r["plan_code"], r["round"]))


def draw_row(services: Services, ref: str, at_seq: int | None = None) -> dict[str, Any]:
    """A draw's read-model row, or NotFoundError in both languages."""
    key = resolve(ref)
    try:
        UUID(key)
    except ValueError:
        raise ValidationError(f"抽取编号无效：{ref}", f"invalid draw id {ref!r}") from None
    row = services.draw_queries.get("draws", [key], at_seq=at_seq)
    if row is None:
        raise NotFoundError(f"抽取 {ref} 不存在", f"draw {ref} not found")
    return row


# The public view (一公开) ------------------------------------------------------------------------

PUBLIC_COMMIT_FIELDS = (
    "draw_id",
    "label",
    "department",
    "plan_code",
    "year",
    "round",
    "status",
    "drawn_on",
    "window",
    "departments",
    "as_of_seq",
    "committed_seq",
    "committed_at",
    "registry",
    "exclusions",
    "strata",
    "witnesses",
    "drand_round",
)
PUBLIC_REVEAL_FIELDS = (
    "dice",
    "drand_randomness",
    "seed",
    "revealed_seq",
    "revealed_at",
    "sample_size",
    "recusals",
)
PUBLIC_ABANDON_FIELDS = ("dice", "drand_randomness", "abandoned_reason")


def public_summary(row: Mapping[str, Any]) -> dict[str, Any]:
    """A draw as anyone may see it: the commit's facts always (nothing in them is secret);
    the dice, seed and counts once revealed; the dice and the reason once abandoned. Who
    operated it stays behind the token."""
    fields: Sequence[str] = PUBLIC_COMMIT_FIELDS
    if row["status"] == DrawStatus.REVEALED:
        fields = (*fields, *PUBLIC_REVEAL_FIELDS)
    elif row["status"] == DrawStatus.ABANDONED:
        fields = (*fields, *PUBLIC_ABANDON_FIELDS)
    shown = {f: row.get(f) for f in fields}
    shown["status_zh"] = STATUS_LABELS_ZH[DrawStatus(row["status"])]
    return shown


def public_drawn(entries: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The drawn list for the public: target and team members by name."""
    return [
        {
            "stratum": e["stratum"],
            "identifier": masked(e["identifier"], e["id_kind"]),
            "name": e["name"],
            "inspectors": [m["name"] for m in e["inspectors"]],
            "experts": [m["name"] for m in e["experts"]],
        }
        for e in entries
    ]


def plan_is_public(services: Services, row: Mapping[str, Any], at_seq: int | None) -> bool:
    if at_seq is not None:
        return (row["department"], row["plan_code"]) in public_plans(services, at_seq)
    plan = services.plan_queries.get(row["department"], row["plan_code"], at_seq=at_seq)
    return plan is not None and plan["status"] == PlanStatus.PUBLISHED


def public_plans(services: Services, at_seq: int) -> frozenset[tuple[str, str]]:
    """(department, code) of every plan published as of seq `at_seq`: one query for a whole
    list of draws (was one per row), kept while reads stay at that seq."""

    def published() -> frozenset[tuple[str, str]]:
        plans = services.plan_queries.all({"status": PlanStatus.PUBLISHED.value}, at_seq)
        return frozenset((p["department"], p["code"]) for p in plans)

    return services.by_seq("public plans", at_seq, published)
