"""What the public web page (一公开) shows: targets found by name or identifier, a target's
published inspection results, and a draw's drawn list with the results published so far.

The rule for results, the only one the page follows: a task's result is shown once it is
published (status `published`, or `closed` after publication), and then only as
- the plan, the draw (label and date), the inspecting departments,
- the date the inspection was completed, the result category (in Chinese), the public summary,
  and the publication date;
any of these named in the publication's `redacted_fields` is replaced by 已依法隐去. Nothing
else of a task ever reaches the page: never the findings, the evidence digests, the methods,
the team's drafts and signatures, the target's objection, or why a result was withheld. A task
not yet published, or withheld (暂缓公示 or 不予公示), is not shown at all.

Resident identity numbers (a natural person's) are masked everywhere (`draw_records.masked`),
links included: a target's page is addressed by its public identifier, the masked one, so a
full number never appears in a URL or a page. Read-only; reads are pinned to one ledger seq.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from projections.draws import task_page
from projections.registry import MAX_LIMIT
from projections.versioned import at_seq_clause
from ssj.domain.access import Forbidden
from ssj.domain.draws import DrawStatus
from ssj.domain.identifiers import masked, validate_resident_id
from ssj.domain.plans import FIELD_LABELS as PLAN_LABELS
from ssj.domain.plans import PlanKind, PlanStatus
from ssj.domain.targets import TARGET_TYPE_LABELS
from ssj.domain.tasks import CATEGORY_LABELS_ZH, PublicField, ResultCategory, TaskStatus, task_id
from ssj.errors import NotFoundError, ValidationError
from ssj.services import draw_records as records
from ssj.services.context import Services
from ssj.services.draws import DrawService

PAGE_SIZE = 50
REDACTED = "已依法隐去"
PUBLISHED_STATUSES = frozenset({TaskStatus.PUBLISHED.value, TaskStatus.CLOSED.value})
# The fields of a result the page can show, each hidden when named in `redacted_fields`.
SHOWN_FIELDS = tuple(f.value for f in PublicField)

# A USCC, a registration number, a resident id number (whole or masked): searched as one.
_IDENTIFIER = re.compile(r"[0-9A-Za-z*]{15,18}")


@dataclass(frozen=True)
class Found:
    """One page of a list: its rows and how many there are in all."""

    rows: list[dict[str, Any]]
    total: int


def is_published(task: Mapping[str, Any]) -> bool:
    return task["status"] in PUBLISHED_STATUSES and task.get("published_on") is not None


def public_id(target: Mapping[str, Any]) -> str:
    """How the public names a target: its identifier, masked if it is a resident id number."""
    return masked(str(target["identifier"]), target.get("id_kind"))


def department_names(services: Services, seq: int) -> dict[str, str]:
    return {d["code"]: d["name"] for d in services.queries.states("departments", at_seq=seq)}


# Targets ---------------------------------------------------------------------------------------


def _public_target(target: Mapping[str, Any]) -> dict[str, Any]:
    return {"public_id": public_id(target), "name": target.get("name")}


def search_targets(services: Services, text: str, offset: int, limit: int, seq: int) -> Found:
    """Targets whose identifier is `text` (whole, or masked as the page shows it), else those
    whose name contains it. Identifiers match whole only: no prefix search that would let
    anyone enumerate identity numbers."""
    text = text.strip()
    if not text:
        return Found([], 0)
    if _IDENTIFIER.fullmatch(text):
        identifier = text.upper()
        found = targets_named(services, identifier, seq)
        if not found and "*" not in identifier:
            exact = services.queries.get("targets", [identifier], at_seq=seq)
            found = [exact] if exact is not None else []
        if found:
            rows = [_public_target(t) for t in found]
            return Found(rows[offset : offset + limit], len(rows))
    page = services.queries.list("targets", {}, at_seq=seq, offset=offset, limit=limit, search=text)
    return Found([_public_target(t) for t in page.rows], page.total)


def targets_named(services: Services, public: str, seq: int) -> list[dict[str, Any]]:
    """The targets whose public identifier is `public` (usually one; two persons' masked numbers
    can coincide, and then the page lists both)."""
    public = public.strip().upper()
    if not _IDENTIFIER.fullmatch(public):
        return []
    if "*" not in public:
        target = services.queries.get("targets", [public], at_seq=seq)
        found = [target] if target is not None else []
    else:
        where, params = at_seq_clause(seq)
        rows = services.store.query(
            f"SELECT state FROM targets WHERE identifier LIKE ? AND {where} ORDER BY identifier",
            [public.replace("*", "_"), *params],
        )
        found = [orjson.loads(r[0]) for r in rows]
    return [t for t in found if public_id(t) == public]


# Results ---------------------------------------------------------------------------------------


def _tasks_of(services: Services, identifier: str, seq: int) -> Iterator[dict[str, Any]]:
    offset = 0
    while True:
        page = task_page(
            services.store, {"identifier": identifier}, at_seq=seq, offset=offset, limit=MAX_LIMIT
        )
        yield from page.rows
        offset += len(page.rows)
        if not page.rows or offset >= page.total:
            return


def category_zh(category: str | None) -> str | None:
    return CATEGORY_LABELS_ZH[ResultCategory(category)] if category else None


def public_result(
    services: Services, task: Mapping[str, Any], names: Mapping[str, str], seq: int
) -> dict[str, Any]:
    """A published task's result as the page shows it (see the module's rule)."""
    if not is_published(task):  # not an assert: this guards what the public sees
        raise ValueError(f"task {task['task_id']} is not published")
    redacted = set(task.get("redacted_fields") or ())
    draw = services.draw_queries.get("draws", [task["draw_id"]], at_seq=seq) or {}
    plan = None
    if draw:
        plan = services.plan_queries.get(draw["department"], draw["plan_code"], at_seq=seq)
    plan_public = plan is not None and plan["status"] == PlanStatus.PUBLISHED
    shown: dict[str, Any] = {
        "departments": "、".join(names.get(d, d) for d in task["departments"]),
        "completed_on": task.get("completed_on"),
        "category": category_zh(task.get("category")),
        "public_summary": task.get("public_summary"),
    }
    return {
        **{f: REDACTED if f in redacted else shown[f] for f in SHOWN_FIELDS},
        "plan_department": draw.get("department"),
        "plan_code": draw.get("plan_code"),
        # A plan sent back to draft after the result was published: its code stays, its
        # (possibly amended, unapproved) title and its page do not.
        "plan_title": plan["title"] if plan is not None and plan_public else None,
        "plan_public": plan_public,
        "draw_id": task["draw_id"],
        "draw_label": draw.get("label"),
        "drawn_on": task.get("drawn_on"),
        "published_on": task["published_on"],
    }


def history(services: Services, identifier: str, seq: int) -> list[dict[str, Any]]:
    """A target's published results, newest draw first."""
    names = department_names(services, seq)
    return [
        public_result(services, t, names, seq)
        for t in _tasks_of(services, identifier, seq)
        if is_published(t)
    ]


# A draw's drawn list ---------------------------------------------------------------------------


def public_draw_row(services: Services, draw_id: str, seq: int) -> dict[str, Any]:
    """A draw of a published plan, or NotFoundError (as the public API answers)."""
    try:
        row = records.draw_row(services, draw_id, at_seq=seq)
    except (NotFoundError, ValidationError):  # in public, an id that is no UUID is not found
        row = None
    if row is None or not records.plan_is_public(services, row, seq):
        raise NotFoundError(
            f"没有公开的抽取 {draw_id}（账本序号 {seq}）",
            f"no public draw {draw_id} (as of seq {seq})",
        )
    return row


def public_export(services: Services, draw_id: str, seq: int) -> dict[str, Any]:
    """A public draw's full export (`ssj-draw-export/1`), unless its population holds resident
    identity numbers (individual businesses): personal data the public must not receive."""
    row = public_draw_row(services, draw_id, seq)
    exported = DrawService(services).export(row["draw_id"])
    if any(_personal(i) for s in exported["strata"] for i in s["ids"]):
        raise Forbidden(
            "本次抽取的总体含居民身份证号码（个体工商户），全量复核文件不公开；"
            "纪检监察人员请以授权账户下载 /draws/{id}/export",
            "the population holds resident identity numbers (individual businesses): the full "
            "export is not public; auditors download /draws/{id}/export with a token",
        )
    return exported


def _personal(identifier: str) -> bool:
    """A resident identity number: personal information the public must not receive."""
    if len(identifier) != 18:
        return False
    try:
        validate_resident_id(identifier)
    except ValidationError:
        return False
    return True


def drawn_page(
    services: Services, row: Mapping[str, Any], offset: int, limit: int, seq: int
) -> Found:
    """One page of a revealed draw's drawn list, in draw order (`records.public_drawn`: names,
    masked identifiers, team members by name), each with its published result's category."""
    if row["status"] != DrawStatus.REVEALED:
        return Found([], 0)
    draw = DrawService(services).draw(row["draw_id"])
    assert draw.outcome is not None
    order = [(s["name"], i) for s in draw.outcome["strata"] for i in s["sample"]]
    shown = order[offset : offset + limit]
    teams = {target: draw.current_team(target) for _, target in shown}
    people = records.names(
        services, "inspectors", (c for t in teams.values() for m in t.values() for c in m)
    )
    entries: list[dict[str, Any]] = []
    results: list[str | None] = []
    for stratum, target in shown:
        state = services.queries.get("targets", [target], at_seq=seq) or {}
        entries.append(
            {
                "stratum": records.stratum_label(stratum),
                "identifier": target,
                "id_kind": state.get("id_kind"),
                "name": state.get("name"),
                **{
                    role: [{"name": people[c]} for c in members]
                    for role, members in teams[target].items()
                },
            }
        )
        task = services.draw_queries.get("tasks", [str(task_id(draw.id, target))], at_seq=seq)
        category = None
        if task is not None and is_published(task):
            redacted = "category" in (task.get("redacted_fields") or ())
            category = REDACTED if redacted else category_zh(task.get("category"))
        results.append(category)
    rows = [
        {**public, "public_id": public["identifier"], "result": result}
        for public, result in zip(records.public_drawn(entries), results, strict=True)
    ]
    return Found(rows, len(order))


# Plans, as the page shows them -----------------------------------------------------------------

_KIND_ZH = {PlanKind.ANNUAL.value: "年度计划", PlanKind.MONTHLY.value: "月度计划"}
_TARGET_TYPE_ZH = {t.value: zh for zh, t in TARGET_TYPE_LABELS.items()}


def item_names(services: Services, department: str, codes: Iterable[str], seq: int) -> str:
    """`CODE 名称` for each of a department's items in a plan."""
    shown = []
    for code in codes:
        item = services.queries.get("items", [department, code], at_seq=seq)
        shown.append(f"{code} {item['name']}" if item else code)
    return "、".join(shown)


def plan_fields(services: Services, plan: Mapping[str, Any], seq: int) -> list[tuple[str, str]]:
    """A public plan's rules as label and text, in the order of the plan's fields (empty ones
    left out)."""
    names = department_names(services, seq)
    rows: list[tuple[str, str]] = []
    for name, label in PLAN_LABELS.items():
        value = plan.get(name)
        if value is None or value == "" or value == [] or value == {}:
            continue
        if name == "department":
            text = names.get(value, value)
        elif name == "items":
            text = item_names(services, plan["department"], value, seq)
        elif name == "cooperating":
            text = "；".join(
                f"{names.get(d, d)}：{item_names(services, d, codes, seq)}"
                for d, codes in value.items()
            )
        elif name == "kind":
            text = _KIND_ZH.get(value, value)
        elif name == "target_types":
            text = "、".join(_TARGET_TYPE_ZH.get(t, t) for t in value)
        elif name == "ratios":
            text = "；".join(f"{c} 类 {r}%" for c, r in value.items())
        elif isinstance(value, bool):
            text = "是" if value else "否"
        elif isinstance(value, (list, tuple)):
            text = "、".join(str(v) for v in value)
        else:
            text = str(value)
        rows.append((label, text))
    return rows


def latest_draws(services: Services, seq: int, limit: int) -> list[dict[str, Any]]:
    """The newest revealed draws of published plans (`records.public_summary`)."""
    rows = [
        r
        for r in records.all_draws(services, {"status": DrawStatus.REVEALED.value}, at_seq=seq)
        if records.plan_is_public(services, r, seq)
    ]
    rows.sort(key=lambda r: (r["drawn_on"], r["label"]), reverse=True)
    return [records.public_summary(r) for r in rows[:limit]]
