"""Annual assessment benchmark on PostgreSQL: the year's figures for every department on a ledger
of about 1,000,000 events shaped like a year, against a baseline read of the same tasks.

    python -m ops.bench.assessment                       (about 1,000,000 events: ~15 minutes)
    python -m ops.bench.assessment --targets 50000       (quick run)
    python -m ops.bench.assessment --keep ssj_bench_assess   (build once, reuse afterwards)

Set-up (timed, not a target):
1. the demo jurisdiction (`ssj.demo`: organisation, items, inspectors, conflicts), its plans and
   eight draws through the seed ceremony (recusals, an abandoned draw, a joint plan) and the
   year's inspections through `TaskService` (late and withheld publications, objections);
2. --targets more targets spread over the sections as the demo spreads them, saved through
   `Ledger.save` in batches of 1,000;
3. per section, an annual plan published through `PlanService` and drawn through `DrawService`
   (commit, dice, reveal), with the brief's ratios per credit-risk class;
4. every drawn task's lifecycle (notified, one result per item drafted and countersigned by its
   team, completed, informed, confirmed, published — some late, some withheld for good —
   closed) and follow-ups (rectification orders, re-checks passed or failed) built with the
   domain aggregates and saved in batches of 200 tasks (no per-command authorisation: that is
   what the task-service tests cover);
5. projections caught up.

Measured: (a) `AssessmentService.year` — every department's figures for the year (plans
completed, ratios per class, coverage, caps, participation, joint share, publication on time,
rectifications, recusals, abandoned draws); target <= 30 s. Baseline, same run: (b)
`OverdueService.report` for every department, which reads the same task rows and counts the
same publication deadlines (one figure of the eleven). The ratio says what the rest costs.

Needs a PostgreSQL server: SSJ_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/
postgres). A scratch database is created, migrated and dropped (kept with --keep).
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from eventsourcing.domain import Aggregate
from rich.console import Console

from ops.bench.common import bench_services, print_table
from ops.bench.registry import batches
from ssj.demo import DEFAULT_SEED
from ssj.demo import draws as demo_draws
from ssj.demo import inspections as demo_inspections
from ssj.demo.jurisdiction import ADMIN, build, iter_targets
from ssj.domain.followup import FollowUp
from ssj.domain.targets import Target, TargetRecord
from ssj.domain.tasks import Task
from ssj.errors import SsjError
from ssj.ledger.envelope import Actor
from ssj.services.context import Services
from ssj.services.draws import DrawService
from ssj.services.plans import PlanService

console = Console()
YEAR = 2026
TODAY = date(YEAR, 11, 20)  # the domain's "today" for the bulk lifecycle (no later date)
RATIOS = {"A": "1", "B": "3", "C": "10", "D": "30"}
WITNESSES = {"公证员": "31415926535897", "企业代表": "2718281828459"}
DEMO_TARGETS = 5_000
TASK_BATCH = 200


def fill(services: Services, count: int, seed: int) -> float:
    """`count` targets over the sections (the demo's shares), in batches of 1,000."""
    t0 = time.perf_counter()
    actor = Actor(ADMIN, "CZ-SJJ", "admin")
    done = 0
    for batch in batches(iter_targets(seed, count, first=10_000_000), 1000):
        services.ledger.save(*(Target.register(TargetRecord.parse(r)) for r in batch), actor=actor)
        done += len(batch)
        if done % 100_000 == 0:
            console.print(f"    … {done:,} / {count:,} targets ({time.perf_counter() - t0:.0f} s)")
    return time.perf_counter() - t0


def staffable(services: Services) -> dict[str, list[dict[str, Any]]]:
    """Per section, its items that at least four of its inspectors can staff."""
    inspectors = [i for i in services.queries.states("inspectors") if i["pool"] == "inspector"]
    found: dict[str, list[dict[str, Any]]] = {}
    for item in services.queries.states("items"):
        if item.get("retired_reason"):
            continue
        held = [set(i["specialties"]) for i in inspectors if i["department"] == item["department"]]
        if sum(set(item.get("required_specialties") or ()) <= h for h in held) >= 4:
            found.setdefault(item["department"], []).append(item)
    return found


def user_of(services: Services, department: str, role: str) -> str:
    username: str = next(
        u["username"]
        for u in services.queries.states("users")
        if u["department"] == department and role in u["roles"]
    )
    return username


def bulk_draws(services: Services) -> list[str]:
    """Per section, an annual plan of up to three items of one target type, drawn on July 1st."""
    plans, draws = PlanService(services), DrawService(services)
    drawn: list[str] = []
    for department, items in sorted(staffable(services).items()):
        by_type = Counter(i["target_type"] for i in items)
        target_type = by_type.most_common(1)[0][0]
        chosen = sorted(i["code"] for i in items if i["target_type"] == target_type)[:3]
        code = f"{YEAR}-BENCH"
        op = services.principal(user_of(services, department, "operator"))
        lead = services.principal(user_of(services, department, "leader"))
        raw = {
            "code": code,
            "department": department,
            "title": "基准测试年度计划",
            "year": YEAR,
            "kind": "annual",
            "items": chosen,
            "target_types": [target_type],
            "ratios": RATIOS,
        }
        try:
            plans.draft(op, raw)
            plans.submit(op, department, code)
            plans.approve(lead, department, code, "同意")
            plans.publish(op, department, code)
            draw, _ = draws.commit(op, department, code, list(WITNESSES), drawn_on=f"{YEAR}-07-01")
            for witness, digits in WITNESSES.items():
                draws.record_dice(op, str(draw.id), witness, digits)
            draw = draws.reveal(op, str(draw.id))
        except SsjError as e:  # a section whose pools cannot staff the draw: skipped, said
            console.print(f"    {department}: skipped ({e})")
            continue
        assert draw.outcome is not None
        console.print(f"    {department}: {len(draw.outcome['teams']):,} tasks drawn")
        drawn.append(str(draw.id))
    return drawn


def day(start: str, rng: random.Random, low: int, high: int) -> str:
    found = date.fromisoformat(start) + timedelta(days=rng.randint(low, high))
    return min(found, TODAY).isoformat()


def lifecycle(draw: Any, target: str, rng: random.Random) -> list[Aggregate]:
    """One drawn task from notification to closure (and its follow-up), as aggregates."""
    team = draw.current_team(target)["inspectors"]
    facts = draw.facts
    task = Task.notify(
        draw_id=str(draw.id),
        plan_id=draw.plan_id,
        identifier=target,
        departments=list(facts["departments"]),
        items=facts["items"],
        drawn_on=facts["drawn_on"],
        on=day(facts["drawn_on"], rng, 1, 20),
        how="电话通知",
        today=TODAY,
    )
    inspected = day(task.notified_on, rng, 1, 60)
    roll = rng.random()
    category = "rectified" if roll < 0.08 else "no_problem"
    for key in task.item_keys:
        task.draft_result(
            item=key,
            method="现场检查",
            inspected_on=inspected,
            findings="未发现问题" if category == "no_problem" else "发现问题，已当场责令改正",
            evidence=None,
            category=category,
            drafted_by=team[0],
            today=TODAY,
        )
        task.sign_result(key, team[1])
    task.complete(inspected, TODAY)
    task.inform(day(inspected, rng, 0, 3), TODAY)
    assert task.informed_on is not None
    task.confirm()
    out: list[Aggregate] = [task]
    if rng.random() < 0.03:
        task.withhold("涉及商业秘密，经审批不予公示", until_final=False)
    else:
        late = rng.random() < 0.1
        task.publish(
            day(task.informed_on, rng, 30, 60) if late else day(task.informed_on, rng, 1, 20),
            None,
            "检查结果公示",
            TODAY,
        )
    closing: str = task.publication["on"] if task.publication else task.informed_on
    task.close(day(closing, rng, 0, 5), TODAY)
    if category == "rectified":
        follow = FollowUp.open(
            task_id=str(task.id),
            identifier=target,
            departments=list(facts["departments"]),
            completed_on=inspected,
            team=team,
        )
        deadline = (date.fromisoformat(inspected) + timedelta(days=30)).isoformat()
        follow.order_rectification(
            ordered_on=inspected, deadline=deadline, requirement="限期整改", today=TODAY
        )
        if rng.random() < 0.8:
            follow.recheck(
                number=1,
                on=day(inspected, rng, 10, 40),
                passed=True,
                by=team[0],
                notes="",
                today=TODAY,
            )
        out.append(follow)
    return out


def bulk_tasks(services: Services, draw_ids: list[str], seed: int) -> tuple[int, float]:
    t0 = time.perf_counter()
    draws = DrawService(services)
    rng = random.Random(f"{seed}:assessment-bench")
    saved = 0
    for draw_id in draw_ids:
        draw = draws.draw(draw_id)
        assert draw.outcome is not None
        actor = Actor(
            user_of(services, draw.facts["departments"][0], "operator"),
            draw.facts["departments"][0],
            "operator",
        )
        targets = [i for s in draw.outcome["strata"] for i in s["sample"]]
        for chunk in batches(iter(targets), TASK_BATCH):
            aggregates = [a for t in chunk for a in lifecycle(draw, t, rng)]
            services.ledger.save(*aggregates, actor=actor)
            saved += len(chunk)
        console.print(f"    … {saved:,} tasks ({time.perf_counter() - t0:.0f} s)")
    return saved, time.perf_counter() - t0


def set_up(
    services: Services, data_dir: Path, args: argparse.Namespace
) -> list[tuple[str, str, str, str]]:
    rows: list[tuple[str, str, str, str]] = []
    services.ledger.initialise()
    t0 = time.perf_counter()
    console.print("set-up: demo jurisdiction, plans, draws and the year's inspections …")
    build(services, data_dir / "demo", targets=DEMO_TARGETS, seed=args.seed)
    demo_draws.run(services, seed=args.seed)
    demo_inspections.run(services, seed=args.seed, today=TODAY)
    rows.append(("set-up: demo year", f"{time.perf_counter() - t0:.0f} s", "", ""))
    console.print(f"set-up: {args.targets:,} targets …")
    elapsed = fill(services, args.targets, args.seed)
    rows.append(("set-up: fill", f"{args.targets / elapsed:,.0f} targets/s", "", ""))
    t0 = time.perf_counter()
    services.refresh()
    rows.append(
        ("set-up: projections catch up (fill)", f"{time.perf_counter() - t0:.0f} s", "", "")
    )
    t0 = time.perf_counter()
    console.print("set-up: a plan and a draw per section …")
    draw_ids = bulk_draws(services)
    rows.append(("set-up: plans and draws", f"{time.perf_counter() - t0:.0f} s", "", ""))
    console.print("set-up: the drawn tasks' lifecycles …")
    tasks, elapsed = bulk_tasks(services, draw_ids, args.seed)
    rows.append(("set-up: task lifecycles", f"{tasks:,} tasks in {elapsed:.0f} s", "", ""))
    t0 = time.perf_counter()
    services.refresh()
    rows.append(
        ("set-up: projections catch up (tasks)", f"{time.perf_counter() - t0:.0f} s", "", "")
    )
    return rows


def measure(services: Services) -> list[tuple[str, str, str, str]]:
    from ssj.services.assessment import AssessmentService
    from ssj.services.overdue import OverdueService

    rows: list[tuple[str, str, str, str]] = []
    services.refresh()
    admin = services.principal(ADMIN)
    size = services.ledger.size()
    t0 = time.perf_counter()
    report = AssessmentService(services).year(admin, YEAR)
    t_assess = time.perf_counter() - t0
    departments = report["departments"]
    tasks = sum(d["tasks"] for d in departments)
    t0 = time.perf_counter()
    overdue = OverdueService(services, clock=lambda: TODAY).report(admin)
    t_overdue = time.perf_counter() - t0
    rows.append(
        (
            f"(a) assessment {YEAR}, every department ({len(departments)}), {size:,} events",
            f"{t_assess:.2f} s ({tasks:,} tasks of the year)",
            "<= 30 s",
            "met" if t_assess <= 30 else "MISSED",
        )
    )
    rows.append(
        (
            "(b) baseline: overdue report, every department (same task rows and deadlines)",
            f"{t_overdue:.2f} s ({len(overdue['publication']):,} late or unknown)",
            "",
            f"assessment / baseline = {t_assess / t_overdue:.2f}x",
        )
    )
    over = sum(d["figures"]["caps"]["over_cap"] for d in departments)
    rows.append(("targets over their yearly cap", f"{over}", "0", "met" if over == 0 else "FOUND"))
    return rows


def main(argv: list[str] | None = None) -> list[tuple[str, str, str, str]]:
    """Runs the benchmark, prints its table and returns its rows (ops.bench all)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--targets", type=int, default=700_000)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--keep",
        metavar="NAME",
        help="keep the database NAME and its data directory (/tmp/NAME) and reuse them when "
        "they exist: set-up runs once, later runs only measure",
    )
    parser.add_argument("--build-only", action="store_true", help="set up, do not measure")
    args = parser.parse_args(argv)
    rows: list[tuple[str, str, str, str]] = []
    with bench_services("ssj_bench_assessment", args.keep) as (services, data_dir, existed):
        if not existed:
            rows += set_up(services, data_dir, args)
        if not args.build_only:
            rows += measure(services)
        size = services.ledger.size()
    title = f"Assessment benchmark, PostgreSQL, {size:,} events"
    print_table(console, title, ("measure", "result", "target", "verdict"), rows)
    return rows


if __name__ == "__main__":
    main()
