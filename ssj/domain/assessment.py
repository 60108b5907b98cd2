"""The annual assessment (考核): per department and year, figures computed from plain rows.

Pure: the read models' rows as of one ledger seq go in (plans, draws with the rules their
commits froze, tasks, follow-ups, the registries, each completed task's publication deadline),
figures and the rows behind each figure come out. No clock: `on` (the day things not yet done
are judged on: the year's last day, or earlier while the year runs) is an input, so the same
ledger, year and day always give the same figures.

Definitions (the department is the plan's lead unless said otherwise; "the year's tasks" are
the tasks of draws dated in the year, revealed, so drawn; a task is *inspected* once its
completion is recorded, and is not while an upheld objection has reopened it):

- plans: the year's plans the department leads. A published plan is *completed* when it has at
  least one drawn task and every task of its draws was inspected on or before the plan's window
  end; *in progress* when not, but its window ends after `on`; *not completed* when its window
  ended by `on` with a task not inspected in it; *not drawn* when nothing was drawn under it.
  Share: completed / published. Draft, submitted, approved and cancelled plans are listed, not
  counted.
- ratios: per credit-risk class (the draws' strata; a fixed-count draw is class "all"), the
  eligible population each draw froze (summed over the year's draws), the number required
  (the k each draw froze by applying the plan's ratio and minimum to that population), the
  tasks drawn and the tasks inspected. Achieved ratio: inspected / population; required ratio:
  required / population; met when inspected >= required.
- coverage: the department's registry targets in its items' scope (a target type of one of its
  items not retired) that are active, plus any such target inspected in the cycle; covered when
  a task involving the department (lead or cooperating) was inspected in the cycle: the
  `cycle_years` calendar years ending with the assessed year.
- caps: the year's tasks of each target in draw order (date, then commit seq); a task is over
  the cap when the target already had `yearly_cap_department` tasks that year involving the
  drawing plan's departments, or `yearly_cap_all` tasks by any department, under the rules its
  draw froze (the rule draws apply). Listed per drawing (lead) department; should be none.
- participation: the department's certified inspectors (inspector pool, certificate valid on a
  day of the year, active or on leave; plus anyone of the department who took part) and those
  on the current team (after recusals) of at least one inspected task of the year.
- joint: the year's tasks involving the department (lead or cooperating), and those of a joint
  plan (more than one department).
- publication: the year's inspected tasks, by the state of the publication deadline (counted
  under the calendar as of the completion's seq): on time, late, overdue (not published, due
  before `on`), pending (not yet due on `on`), withheld (not published by decision: for good,
  or until final), unknown (the calendar does not know a year the count needs: never
  guessed). Share on time: on time / (on time + late + overdue). Median working days from
  completion to publication (published results whose count is known), and median working days
  late of the late ones.
- delivery: the records of the year (results of the year's tasks, penalties decided in the
  year) owed to each credit platform, by the state of their deadline measured to the
  platform's acknowledgement (the publication period for results, 7 working days for
  penalties): on time, late, overdue (not delivered, due before `on`), pending, unknown; and
  the dead letters. Share on time: on time / (on time + late + overdue). Per record and
  platform; the department is the task's lead or the penalty's deciding authority.
- rectifications: orders on the year's tasks; closed when a re-check passed (on or before `on`),
  late when it passed after the order's deadline, overdue when not passed and the deadline is
  before `on`, open otherwise. Share closed: closed / orders.
- recusals: recusals recorded on the year's draws as of the seq, by kind (declared by the
  inspector, requested by the target and approved); requests pending.
- abandoned draws: the year's draws abandoned, with their reasons.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ssj.errors import ValidationError

# The figures in the order reviewers read them; each has a drill-down of the same name.
FIGURES = (
    "plans",
    "ratios",
    "coverage",
    "caps",
    "participation",
    "joint",
    "publication",
    "delivery",
    "rectifications",
    "recusals",
    "abandoned_draws",
)
FIGURE_LABELS = {
    "plans": ("计划完成", "plans completed"),
    "ratios": ("抽查比例（按信用风险分类）", "ratio achieved vs required"),
    "coverage": ("名录库覆盖率", "registry coverage"),
    "caps": ("超过年度抽查上限", "over the yearly cap"),
    "participation": ("检查人员参与率", "inspector participation"),
    "joint": ("联合抽查占比", "joint inspections"),
    "publication": ("结果按时公示", "results published on time"),
    "delivery": ("按时归集到信用平台", "records delivered to the credit platforms on time"),
    "rectifications": ("整改闭环", "rectification closure"),
    "recusals": ("回避", "recusals"),
    "abandoned_draws": ("作废的抽取", "abandoned draws"),
}
PLAN_STATES_ZH = {
    "completed": "已完成",
    "in_progress": "实施中",
    "not_completed": "未完成",
    "not_drawn": "未抽取",
    "not_published": "未公布",
    "cancelled": "已撤销",
}
PUBLICATION_STATES_ZH = {
    "on_time": "按期公示",
    "late": "逾期公示",
    "overdue": "逾期未公示",
    "pending": "未到期",
    "withheld": "不予公示或暂缓公示",
    "unknown": "期限未知",
}
DELIVERY_STATES_ZH = {
    "on_time": "按期送达",
    "late": "逾期送达",
    "overdue": "逾期未送达",
    "pending": "未到期",
    "unknown": "期限未知",
}
RECTIFICATION_STATES_ZH = {
    "closed": "复查通过（按期）",
    "closed_late": "复查通过（逾期）",
    "overdue": "逾期未复查通过",
    "open": "整改期限内",
}
RECUSAL_KINDS_ZH = {"declared": "检查人员自行回避", "requested": "检查对象申请回避"}
INSPECTED_STATUSES = frozenset({"active", "on_leave"})


def parse_figure(value: str) -> str:
    """A figure by its name or Chinese label, or a bilingual error listing them."""
    raw = value.strip()
    for name, (zh, en) in FIGURE_LABELS.items():
        if raw in (name, zh, en):
            return name
    names = ", ".join(FIGURES)
    raise ValidationError(
        f"考核指标“{raw}”不存在（可选：{names}）", f"no figure {raw!r} (choose one of: {names})"
    )


def share(part: int, whole: int) -> float | None:
    """part / whole rounded to 4 places; None when there is nothing to divide by."""
    return round(part / whole, 4) if whole else None


def _median(values: Sequence[int]) -> float | None:
    return float(statistics.median(values)) if values else None


@dataclass
class Rows:
    """What the figures are computed from: the read models' rows as of one seq.

    `rules` and `recusals` come from each draw's committed facts and recorded recusals (by
    draw id); `publication` maps a completed task's id to its deadline state (as
    `ssj.domain.deadlines.Deadline.as_state`, plus `working_days`: completion to publication);
    `deliveries` holds the year's records per platform with the deadline state measured to
    delivery (`ssj.services.delivery.delivery_deadlines`).
    """

    year: int
    on: date
    cycle_years: int = 1
    departments: dict[str, str] = field(default_factory=dict)  # code -> name
    plans: list[dict[str, Any]] = field(default_factory=list)
    draws: list[dict[str, Any]] = field(default_factory=list)
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    recusals: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    publication: dict[str, dict[str, Any]] = field(default_factory=dict)
    deliveries: list[dict[str, Any]] = field(default_factory=list)  # per record and platform
    followups: list[dict[str, Any]] = field(default_factory=list)
    targets: list[dict[str, Any]] = field(default_factory=list)  # identifier, department, …
    items: list[dict[str, Any]] = field(default_factory=list)
    inspectors: list[dict[str, Any]] = field(default_factory=list)


class Assessment:
    """The year's figures for every department, from one set of rows (indexed once)."""

    def __init__(self, rows: Rows) -> None:
        self.rows = rows
        self.year = rows.year
        self.on = rows.on.isoformat()
        prefix = f"{rows.year:04d}-"
        self.draws = {d["draw_id"]: d for d in rows.draws}
        self.year_draws = [d for d in rows.draws if d["drawn_on"].startswith(prefix)]
        self.year_tasks = [t for t in rows.tasks if t["drawn_on"].startswith(prefix)]
        self.led: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.involving: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.by_draw: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for t in self.year_tasks:
            self.led[t["department"]].append(t)
            self.by_draw[t["draw_id"]].append(t)
            for d in t["departments"]:
                self.involving[d].append(t)
        self.task_ids = {t["task_id"] for t in self.year_tasks}
        self.targets: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for target in rows.targets:
            self.targets[target["department"]].append(target)
        self._caps: list[dict[str, Any]] | None = None

    def departments(self) -> list[str]:
        """Every open department (nothing done is a finding too), and any other with items,
        inspectors, a plan of the year or tasks, by code."""
        found = set(self.rows.departments)
        found.update(i["department"] for i in self.rows.items)
        found.update(i["department"] for i in self.rows.inspectors if i["pool"] == "inspector")
        found.update(p["department"] for p in self.rows.plans if int(p["year"]) == self.year)
        found.update(self.involving)
        return sorted(found)

    # Figures -----------------------------------------------------------------------------------

    def figures(self, department: str) -> dict[str, Any]:
        return {name: self._summary(name, department) for name in FIGURES}

    def department(self, department: str) -> dict[str, Any]:
        """One department's figures, with its name and the number of tasks it led."""
        return {
            "department": department,
            "name": self.rows.departments.get(department, department),
            "tasks": len(self.led.get(department, ())),
            "figures": self.figures(department),
        }

    def _summary(self, name: str, department: str) -> dict[str, Any]:
        detail = self.detail(name, department)
        return SUMMARIES[name](self, department, detail)

    def detail(self, name: str, department: str) -> list[dict[str, Any]]:
        """The rows behind one figure (plans, draw strata, targets, tasks, inspectors …)."""
        return DETAILS[parse_figure(name)](self, department)

    # Drill-downs ---------------------------------------------------------------------------------

    def _plans(self, department: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        plans = [
            p
            for p in self.rows.plans
            if p["department"] == department and int(p["year"]) == self.year
        ]
        for plan in sorted(plans, key=lambda p: p["code"]):
            draws = [d for d in self.year_draws if d["plan_id"] == plan["plan_id"]]
            tasks = [t for d in draws for t in self.by_draw.get(d["draw_id"], ())]
            end = plan["window_end"]
            in_time = sum(1 for t in tasks if t.get("completed_on") and t["completed_on"] <= end)
            late = sum(1 for t in tasks if t.get("completed_on") and t["completed_on"] > end)
            status = plan["status"]
            if status == "cancelled":
                state = "cancelled"
            elif status != "published":
                state = "not_published"
            elif not tasks:
                state = "not_drawn"
            elif in_time == len(tasks):
                state = "completed"
            elif end >= self.on:
                state = "in_progress"
            else:
                state = "not_completed"
            out.append(
                {
                    "code": plan["code"],
                    "title": plan["title"],
                    "kind": plan["kind"],
                    "status": status,
                    "window_start": plan["window_start"],
                    "window_end": end,
                    "draws": sum(1 for d in draws if d["status"] == "revealed"),
                    "tasks": len(tasks),
                    "inspected_in_window": in_time,
                    "inspected_after_window": late,
                    "not_inspected": len(tasks) - in_time - late,
                    "state": state,
                    "state_zh": PLAN_STATES_ZH[state],
                }
            )
        return out

    def _ratios(self, department: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        draws = [
            d
            for d in self.year_draws
            if d["department"] == department and d["status"] == "revealed"
        ]
        for draw in sorted(draws, key=lambda d: (d["drawn_on"], d["committed_seq"])):
            rules = self.rows.rules.get(draw["draw_id"], {})
            ratios = rules.get("ratios") or {}
            tasks = self.by_draw.get(draw["draw_id"], ())
            classes: dict[str, dict[str, Any]] = {}
            for stratum in draw["strata"]:
                cls = stratum["name"].split(":")[0]
                row = classes.setdefault(
                    cls,
                    {
                        "draw": draw["label"],
                        "drawn_on": draw["drawn_on"],
                        "credit_class": cls,
                        "ratio": None if cls == "all" else ratios.get(cls),
                        "fixed_count": rules.get("fixed_count"),
                        "population": 0,
                        "required": 0,
                        "drawn": 0,
                        "inspected": 0,
                    },
                )
                row["population"] += int(stratum["size"])
                row["required"] += int(stratum["k"])
            for t in tasks:
                row = classes[t["stratum"].split(":")[0]]
                row["drawn"] += 1
                row["inspected"] += 1 if t.get("completed_on") else 0
            out.extend(classes[c] for c in sorted(classes))
        return out

    def _coverage(self, department: str) -> list[dict[str, Any]]:
        types = {
            i["target_type"]
            for i in self.rows.items
            if i["department"] == department and not i.get("retired_reason")
        }
        first = f"{self.year - self.rows.cycle_years + 1:04d}-01-01"
        last = f"{self.year:04d}-12-31"
        inspected: dict[str, list[str]] = defaultdict(list)
        for t in self.rows.tasks:
            done = t.get("completed_on")
            if done and first <= done <= last and department in t["departments"]:
                inspected[t["identifier"]].append(done)
        out: list[dict[str, Any]] = []
        for target in self.targets.get(department, ()):
            if target["target_type"] not in types:
                continue
            identifier = target["identifier"]
            found = inspected.get(identifier)
            if target["status"] != "active" and not found:
                continue
            out.append(
                {
                    "identifier": identifier,
                    "target_type": target["target_type"],
                    "status": target["status"],
                    "inspections": len(found or ()),
                    "last_inspected_on": max(found) if found else None,
                    "covered": bool(found),
                }
            )
        out.sort(key=lambda r: (r["covered"], r["identifier"]))
        return out

    def _all_caps(self) -> list[dict[str, Any]]:
        """Every task over a yearly cap, for all departments (counted once per assessment)."""
        if self._caps is not None:
            return self._caps
        order = sorted(
            self.year_tasks,
            key=lambda t: (
                t["drawn_on"],
                int(self.draws.get(t["draw_id"], {}).get("committed_seq") or 0),
                t["identifier"],
            ),
        )
        earlier: dict[str, list[dict[str, Any]]] = defaultdict(list)
        found: list[dict[str, Any]] = []
        for t in order:
            before = earlier[t["identifier"]]
            if before:
                rules = self.rows.rules.get(t["draw_id"], {})
                cap_department = int(rules.get("yearly_cap_department") or 0)
                cap_all = int(rules.get("yearly_cap_all") or 0)
                mine = sum(1 for b in before if set(b["departments"]) & set(t["departments"]))
                kinds = []
                if cap_department and mine >= cap_department:
                    kinds.append("department")
                if cap_all and len(before) >= cap_all:
                    kinds.append("all")
                if kinds:
                    found.append(
                        {
                            "identifier": t["identifier"],
                            "task_id": t["task_id"],
                            "draw": t["label"],
                            "department": t["department"],
                            "drawn_on": t["drawn_on"],
                            "earlier_department": mine,
                            "cap_department": cap_department,
                            "earlier_all": len(before),
                            "cap_all": cap_all,
                            "over": kinds,
                            "earlier_draws": [b["label"] for b in before],
                        }
                    )
            before.append(t)
        self._caps = found
        return found

    def _caps_of(self, department: str) -> list[dict[str, Any]]:
        return [r for r in self._all_caps() if r["department"] == department]

    def _participation(self, department: str) -> list[dict[str, Any]]:
        first, last = f"{self.year:04d}-01-01", f"{self.year:04d}-12-31"
        tasks: Counter[str] = Counter()
        for t in self.involving.get(department, ()):
            if t.get("completed_on"):
                tasks.update(set(t["inspectors"]))
        out: list[dict[str, Any]] = []
        for i in self.rows.inspectors:
            if i["department"] != department or i["pool"] != "inspector":
                continue
            certified = (
                (i.get("certificate_valid_from") or "") <= last
                and (i.get("certificate_valid_to") or "") >= first  # none: validity unknown
                and i["status"] in INSPECTED_STATUSES
            )
            took = tasks.get(i["certificate_no"], 0)
            if certified or took:
                out.append(
                    {
                        "certificate_no": i["certificate_no"],
                        "name": i.get("name"),
                        "status": i["status"],
                        "inspected_tasks": took,
                        "took_part": took > 0,
                    }
                )
        out.sort(key=lambda r: (r["took_part"], r["certificate_no"]))
        return out

    def _joint(self, department: str) -> list[dict[str, Any]]:
        return [
            _task(t, {"joint": len(t["departments"]) > 1})
            for t in self.involving.get(department, ())
        ]

    def _publication(self, department: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for t in self.led.get(department, ()):
            if not t.get("completed_on"):
                continue
            found = self.rows.publication.get(t["task_id"]) or {}
            if t.get("withheld") and not t.get("published_on"):
                state = "withheld"
            else:
                state = found.get("state", "unknown")
            out.append(
                _task(
                    t,
                    {
                        "completed_on": t["completed_on"],
                        "within_working_days": found.get("within_working_days"),
                        "due_on": found.get("due_on"),
                        "published_on": t.get("published_on"),
                        "withheld": t.get("withheld"),
                        "state": state,
                        "state_zh": PUBLICATION_STATES_ZH[state],
                        "working_days": found.get("working_days"),
                        "working_days_late": found.get("working_days_late"),
                        "reason_zh": found.get("reason_zh") or "",
                        "reason_en": found.get("reason_en") or "",
                    },
                )
            )
        return out

    def _delivery(self, department: str) -> list[dict[str, Any]]:
        return [r for r in self.rows.deliveries if r["department"] == department]

    def _rectifications(self, department: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for row in self.rows.followups:
            if row["task_id"] not in self.task_ids or row["departments"][0] != department:
                continue
            for n, order in enumerate(row["rectifications"], start=1):
                passed = order.get("passed_on")
                if passed and passed > self.on:
                    passed = None
                if passed:
                    state = "closed" if passed <= order["deadline"] else "closed_late"
                elif order["deadline"] < self.on:
                    state = "overdue"
                else:
                    state = "open"
                out.append(
                    {
                        "task_id": row["task_id"],
                        "identifier": row["identifier"],
                        "rectification": n,
                        "ordered_on": order["ordered_on"],
                        "deadline": order["deadline"],
                        "rechecks": len(order["rechecks"]),
                        "passed_on": passed,
                        "state": state,
                        "state_zh": RECTIFICATION_STATES_ZH[state],
                    }
                )
        return out

    def _recusals(self, department: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for draw in self.year_draws:
            if draw["department"] != department:
                continue
            recorded = self.rows.recusals.get(draw["draw_id"], [])
            seen: Counter[str] = Counter()
            wanted = {t["identifier"]: t.get("recused", []) for t in self.by_draw[draw["draw_id"]]}
            for r in recorded:  # the recusals the rows hold as of the seq, in order
                seen[r["target"]] += 1
                if seen[r["target"]] > len(wanted.get(r["target"], ())):
                    continue
                out.append(
                    {
                        "draw": draw["label"],
                        "identifier": r["target"],
                        "certificate_no": r["certificate_no"],
                        "kind": r["kind"],
                        "kind_zh": RECUSAL_KINDS_ZH.get(r["kind"], r["kind"]),
                        "reason": r["reason"],
                        "replacement": r["replacement"],
                    }
                )
        return out

    def _abandoned(self, department: str) -> list[dict[str, Any]]:
        return [
            {
                "draw": d["label"],
                "drawn_on": d["drawn_on"],
                "committed_by": d.get("committed_by"),
                "reason": d["abandoned_reason"],
            }
            for d in sorted(self.year_draws, key=lambda d: (d["drawn_on"], d["committed_seq"]))
            if d["department"] == department and d["status"] == "abandoned"
        ]


def _task(t: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "task_id": t["task_id"],
        "draw": t["label"],
        "identifier": t["identifier"],
        "departments": t["departments"],
        "status": t["status"],
        **extra,
    }


# Summaries of each drill-down ------------------------------------------------------------------


def _sum_plans(a: Assessment, department: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    states = Counter(r["state"] for r in rows)
    published = sum(1 for r in rows if r["status"] == "published")
    return {
        "plans": len(rows),
        "published": published,
        **{s: states.get(s, 0) for s in PLAN_STATES_ZH},
        "share": share(states.get("completed", 0), published),
    }


def _sum_ratios(a: Assessment, department: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    classes: dict[str, dict[str, Any]] = {}
    for r in rows:
        c = classes.setdefault(
            r["credit_class"],
            {"credit_class": r["credit_class"], "population": 0, "required": 0, "drawn": 0},
        )
        c.setdefault("inspected", 0)
        for k in ("population", "required", "drawn", "inspected"):
            c[k] += r[k]
    out = []
    for name in sorted(classes):
        c = classes[name]
        out.append(
            {
                **c,
                "required_ratio": share(c["required"], c["population"]),
                "achieved_ratio": share(c["inspected"], c["population"]),
                "met": c["inspected"] >= c["required"],
            }
        )
    return {"classes": out, "met": all(c["met"] for c in out) if out else None}


def _sum_coverage(a: Assessment, department: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    covered = sum(1 for r in rows if r["covered"])
    return {
        "cycle_years": a.rows.cycle_years,
        "from": f"{a.year - a.rows.cycle_years + 1:04d}-01-01",
        "to": f"{a.year:04d}-12-31",
        "in_scope": len(rows),
        "covered": covered,
        "share": share(covered, len(rows)),
    }


def _sum_caps(a: Assessment, department: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "over_cap": len({r["identifier"] for r in rows}),
        "tasks": len(rows),
        "department": sum(1 for r in rows if "department" in r["over"]),
        "all": sum(1 for r in rows if "all" in r["over"]),
    }


def _sum_participation(
    a: Assessment, department: str, rows: list[dict[str, Any]]
) -> dict[str, Any]:
    took = sum(1 for r in rows if r["took_part"])
    return {"inspectors": len(rows), "took_part": took, "share": share(took, len(rows))}


def _sum_joint(a: Assessment, department: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    joint = sum(1 for r in rows if r["joint"])
    return {"tasks": len(rows), "joint": joint, "share": share(joint, len(rows))}


def _sum_publication(a: Assessment, department: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    states = Counter(r["state"] for r in rows)
    counted = states["on_time"] + states["late"] + states["overdue"]
    days = [r["working_days"] for r in rows if r["published_on"] and r["working_days"] is not None]
    late = [r["working_days_late"] for r in rows if r["state"] == "late" and r["working_days_late"]]
    return {
        "results": len(rows),
        **{s: states.get(s, 0) for s in PUBLICATION_STATES_ZH},
        "share_on_time": share(states["on_time"], counted),
        "median_working_days": _median(days),
        "median_working_days_late": _median(late),
    }


def _sum_delivery(a: Assessment, department: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    states = Counter(r["state"] for r in rows)
    counted = states["on_time"] + states["late"] + states["overdue"]
    return {
        "records": len(rows),
        **{s: states.get(s, 0) for s in DELIVERY_STATES_ZH},
        "dead_letters": sum(1 for r in rows if r.get("status") == "dead"),
        "share_on_time": share(states["on_time"], counted),
    }


def _sum_rectifications(
    a: Assessment, department: str, rows: list[dict[str, Any]]
) -> dict[str, Any]:
    states = Counter(r["state"] for r in rows)
    closed = states["closed"] + states["closed_late"]
    return {
        "orders": len(rows),
        **{s: states.get(s, 0) for s in RECTIFICATION_STATES_ZH},
        "share_closed": share(closed, len(rows)),
    }


def _sum_recusals(a: Assessment, department: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    kinds = Counter(r["kind"] for r in rows)
    pending = sum(
        int(d.get("pending_requests") or 0) for d in a.year_draws if d["department"] == department
    )
    return {
        "total": len(rows),
        **{k: kinds.get(k, 0) for k in RECUSAL_KINDS_ZH},
        "pending": pending,
    }


def _sum_abandoned(a: Assessment, department: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"count": len(rows), "reasons": [r["reason"] for r in rows]}


DETAILS = {
    "plans": Assessment._plans,
    "ratios": Assessment._ratios,
    "coverage": Assessment._coverage,
    "caps": Assessment._caps_of,
    "participation": Assessment._participation,
    "joint": Assessment._joint,
    "publication": Assessment._publication,
    "delivery": Assessment._delivery,
    "rectifications": Assessment._rectifications,
    "recusals": Assessment._recusals,
    "abandoned_draws": Assessment._abandoned,
}
SUMMARIES = {
    "plans": _sum_plans,
    "ratios": _sum_ratios,
    "coverage": _sum_coverage,
    "caps": _sum_caps,
    "participation": _sum_participation,
    "joint": _sum_joint,
    "publication": _sum_publication,
    "delivery": _sum_delivery,
    "rectifications": _sum_rectifications,
    "recusals": _sum_recusals,
    "abandoned_draws": _sum_abandoned,
}


def headline(figures: Mapping[str, Any]) -> dict[str, float | None]:
    """The shares a summary table and the chart show (0–1; None: nothing to count)."""
    ratios = figures["ratios"]["classes"]
    inspected = sum(c["inspected"] for c in ratios)
    required = sum(c["required"] for c in ratios)
    return {
        "plans": figures["plans"]["share"],
        "ratios": share(inspected, required),
        "coverage": figures["coverage"]["share"],
        "participation": figures["participation"]["share"],
        "joint": figures["joint"]["share"],
        "publication": figures["publication"]["share_on_time"],
        "rectifications": figures["rectifications"]["share_closed"],
    }


def departments_of(rows: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Department code -> name of the open departments, from the read model's rows."""
    return {r["code"]: r["name"] for r in rows if not r.get("closed")}
