"""`ssj demo`: the main job on the embedded default, end to end, with a summary table.

1. Initialise the ledger (idempotent).
2. Build the synthetic jurisdiction of 常州市市场监督管理局 (`ssj.demo.jurisdiction`) into
   `$SSJ_DATA_DIR/demo`: the official-format files are written there and loaded through the real
   importers and services. A second run writes nothing new: the build is idempotent.
3. Publish the demo's inspection plans and run their draws (`ssj.demo.draws`): two rounds for
   some plans, an abandoned draw, a joint plan, recusals. Idempotent too: a second run creates
   no plan and no draw.
3b. Take the drawn tasks through the year's inspections (`ssj.demo.inspections`): results
   signed by two, the target's say, publication on time, late or withheld, closure; no date after
   today. Idempotent on the same day.
3c. Follow them up (`ssj.demo.followups`): rectification orders and re-checks, reminders,
   penalty cases and their publication, referrals; again no date after today, idempotent.
4. Issue a checkpoint, rotate the signing key, issue another, keep that one outside the database
   (as an auditor would) and verify the whole ledger against both.
5. Re-run every draw in the ledger (`DrawService.verify`; the last one also from read models
   replayed from the ledger alone).
6. Print what the registries hold (read from the projections), the verdict, every draw with its
   verdict, the tasks by status, result category and publication, and an as-of query: the target registry as it stood before the yearly credit
   reclassification. Exit 1 if the ledger is damaged or any draw fails its verification.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console, JustifyMethod
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from ssj.cli.common import EXIT_DAMAGE, cli_actor, err, fail, out, progress_bar
from ssj.demo import DEFAULT_SEED, DEFAULT_TARGETS
from ssj.errors import SsjError
from ssj.ledger.audit import verify_ledger
from ssj.ledger.verify import Report
from ssj.services.context import Services

if TYPE_CHECKING:
    from ssj.demo.draws import Checked, Result
    from ssj.demo.inspections import Result as Inspected

CREDIT_LABELS = {"A": "A 类（低风险）", "B": "B 类", "C": "C 类", "D": "D 类（高风险）"}
TYPE_LABELS = {"enterprise": "企业", "individual": "个体工商户", "product": "产品"}
STATUS_LABELS = {
    "active": "存续",
    "abnormal": "经营异常",
    "deregistered": "注销",
    "serious_violation": "严重违法失信",
}
HISTORY_EN = {
    "open_task": "with an open task",
    "recent_inspection": "inspected within the exclusion window",
    "cap_department": "at the department's yearly cap",
    "cap_all": "at the yearly cap across departments",
}
SHORT_HISTORY = {
    "open_task": "未办结",
    "recent_inspection": "近期已查",
    "cap_department": "本部门上限",
    "cap_all": "合计上限",
}
KIND_LABELS = {"annual": "年度 / annual", "monthly": "月度 / monthly"}
RECUSAL_KINDS = {"declared": "本人申报 / declared", "requested": "对象申请 / requested"}


@contextmanager
def phases() -> Iterator[Callable[[str, int, int], None]]:
    """One progress bar per build phase, on stderr (hidden when stderr is not a terminal)."""
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=not err.is_terminal,
    )
    tasks: dict[str, TaskID] = {}

    def update(phase: str, done: int, total: int) -> None:
        if phase not in tasks:
            tasks[phase] = progress.add_task(phase, total=total)
        progress.update(tasks[phase], completed=done, total=total)

    with progress:
        yield update


def run(targets: int = DEFAULT_TARGETS, seed: int = DEFAULT_SEED) -> None:
    started = time.perf_counter()
    try:
        services = Services()
    except SsjError as e:
        fail(e)
    try:
        _run(services, targets, seed, started)
    except SsjError as e:
        fail(e)
    finally:
        services.close()


def _run(services: Services, targets: int, seed: int, started: float) -> None:
    from ssj.demo import draws, followups, inspections
    from ssj.demo.jurisdiction import build

    ledger = services.ledger
    actor = cli_actor()
    ledger.initialise(actor)
    directory = ledger.settings.data_dir / "demo"
    with phases() as update:
        summary = build(services, directory, targets=targets, seed=seed, progress=update)
        result = draws.run(services, seed=seed, progress=update)
        inspected = inspections.run(services, seed=seed, progress=update)
        followed = followups.run(services, seed=seed, progress=update)
    first = ledger.issue_checkpoint(actor)
    ledger.rotate_key(actor)
    second = ledger.issue_checkpoint(actor)
    outside = ledger.settings.data_dir / "checkpoints"
    outside.mkdir(parents=True, exist_ok=True)
    path = outside / f"checkpoint-{ledger.size()}.txt"
    path.write_text(second, encoding="utf-8")
    with progress_bar("校验 / verifying", ledger.size()) as tick:
        report = verify_ledger(ledger, [first, second], progress=tick)
    with phases() as update:
        checked = draws.verify_all(services, replay=1, progress=update)
    services.refresh()

    table = Table(title=f"ssj demo：{summary.directory}", show_lines=False)
    table.add_column("项目 / item")
    table.add_column("值 / value", overflow="fold")
    _registry_rows(table, services)
    written = (
        "、".join(f"{r.file} +{r.created} ~{r.updated} ={r.unchanged}" for r in summary.imports)
        or "—"
    )
    _plan_rows(table, services, result, checked)
    events = (
        summary.events_written
        + result.events_written
        + inspected.events_written
        + followed.events_written
    )
    table.add_row(
        "本次写入 / written now",
        f"{events:,} 条事件 / events（名录库 / registries {summary.events_written:,}，"
        f"计划和抽取 / plans and draws {result.events_written:,}，"
        f"检查和公示 / inspections {inspected.events_written:,}，"
        f"后续处置 / follow-up {followed.events_written:,}）",
    )
    table.add_row("导入 / imports (+new ~changed =same)", written)
    _ledger_rows(table, services, report, str(path))
    failed = [c for c in checked if not c.ok]
    table.add_row(
        "抽取验证 / draws verified",
        f"{len(checked) - len(failed)}/{len(checked)} "
        + ("通过 / passed" if not failed else "有不通过 / SOME FAILED"),
    )
    table.add_row("用时 / elapsed", f"{time.perf_counter() - started:.1f} s")
    out.print(table)
    _draws_table(checked, result)
    _tasks_table(services, inspected)
    _followup_table(services)
    _as_of_example(services)
    if not report.ok and report.first is not None:
        out.print(report.first.line())
    for c in failed:
        out.print(
            f"抽取验证不通过 / DRAW VERIFICATION FAILED {c.row['label']}：{'；'.join(c.failed)}",
            markup=False,
        )
    if failed or not report.ok:
        raise SystemExit(EXIT_DAMAGE)


def _counts(counter: Counter[str], labels: dict[str, str] | None = None) -> str:
    return "，".join(
        f"{(labels or {}).get(k, k)} {v:,}"
        for k, v in sorted(counter.items(), key=lambda kv: kv[0])
    )


def _registry_rows(table: Table, services: Services) -> None:
    """What the registries hold, read back from the projections (not from the generator)."""
    q = services.queries
    departments = q.states("departments", columns=("code", "closed"))
    users = q.states("users")
    roles: Counter[str] = Counter(r for u in users if u["active"] for r in u["roles"])
    items = q.states("items")
    key_items = sum(1 for i in items if i["item_class"] == "key")
    joint = sum(1 for i in items if i.get("cooperating_departments"))
    targets = q.states("targets", columns=("credit_class", "target_type", "status"))
    people = q.states("inspectors", columns=("pool", "status"))
    declarations = q.states("declarations", columns=("withdrawn",))
    rules = q.states("conflict_rules")
    table.add_row("部门 / departments", f"{len(departments)}")
    table.add_row("用户 / users", f"{len(users)}（{_counts(roles)}）")
    table.add_row(
        "抽查事项 / inspection items",
        f"{len(items)}（重点 / key {key_items}，联合 / joint {joint}）",
    )
    table.add_row(
        "检查对象 / targets",
        f"{len(targets):,}（{_counts(Counter(t['target_type'] for t in targets), TYPE_LABELS)}）",
    )
    table.add_row(
        "  信用风险分类 / credit class",
        _counts(Counter(t["credit_class"] for t in targets), CREDIT_LABELS),
    )
    table.add_row(
        "  登记状态 / status", _counts(Counter(t["status"] for t in targets), STATUS_LABELS)
    )
    pools = Counter(p["pool"] for p in people)
    table.add_row("执法检查人员 / inspectors", f"{pools.get('inspector', 0)}")
    table.add_row("专家 / experts", f"{pools.get('expert', 0)}")
    table.add_row(
        "利害关系声明 / conflict declarations",
        f"{sum(1 for d in declarations if d['withdrawn'] != '1')}（回避规则 / rule sets {len(rules)}）",
    )


def _plan_rows(table: Table, services: Services, result: Result, checked: list[Checked]) -> None:
    """Plans by status and kind, and draws by status, from the read models."""
    from ssj.domain.draws import STATUS_LABELS_ZH as DRAW_STATUS
    from ssj.domain.draws import DrawStatus
    from ssj.domain.plans import STATUS_LABELS_ZH as PLAN_STATUS
    from ssj.domain.plans import PlanStatus

    plans = services.plan_queries.all()
    status = Counter(f"{PLAN_STATUS[PlanStatus(p['status'])]} / {p['status']}" for p in plans)
    kinds = Counter(KIND_LABELS.get(p["kind"], p["kind"]) for p in plans)
    joint = sum(1 for p in plans if p.get("cooperating"))
    table.add_row(
        "抽查计划 / plans",
        f"{len(plans)}（{_counts(status)}；{_counts(kinds)}，其中联合 / of which joint {joint}；"
        f"本次新建 / new {result.plans_created}）",
    )
    draws = Counter(
        f"{DRAW_STATUS[DrawStatus(c.row['status'])]} / {c.row['status']}" for c in checked
    )
    tasks = sum(c.drawn for c in checked)
    table.add_row(
        "抽取 / draws",
        f"{len(checked)}（{_counts(draws)}；本次新建 / new {result.draws_created}）；"
        f"抽查任务 / tasks {tasks:,}",
    )


def _draws_table(checked: list[Checked], result: Result) -> None:
    """Every draw with its verdict, then what the table cannot show: exclusions by earlier
    rounds, abandonments, recusals, replays and rounds the service refused."""
    from ssj.demo.draws import history_label

    table = Table(
        title="抽取与验证 / draws and their verification",
        box=box.SIMPLE_HEAD,
        collapse_padding=True,
        pad_edge=False,
    )
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("计划\nplan", "left"),
        ("轮次\nround", "right"),
        ("日期\ndate", "left"),
        ("总体\npopulation", "right"),
        ("抽中\ndrawn", "right"),
        ("检查组\nteams", "right"),
        ("历史排除\nexcluded", "left"),
        ("回避\nrecusals", "right"),
        ("结论\nverdict", "center"),
    )
    for header, justify in columns:
        table.add_column(header, justify=justify, overflow="fold")
    for c in checked:
        row = c.row
        if row["status"] == "revealed":
            drawn, teams = f"{c.drawn:,}", f"{c.drawn:,}×{c.team}"
        else:
            drawn = "作废" if row["status"] == "abandoned" else "待揭示"
            teams = "—"
        history = "，".join(f"{SHORT_HISTORY.get(k, k)} {v:,}" for k, v in c.history.items())
        table.add_row(
            f"{row['plan_code']}\n{c.kind}",
            str(row["round"]),
            row["drawn_on"],
            f"{row['registry']['eligible']:,}",
            drawn,
            teams,
            history or "—",
            str(row["recusals"]),
            ("✓" if c.ok else "✗") + (" 重放" if c.replayed else ""),
        )
    # A file or a pipe has no width: don't fold the table into the 80 columns rich assumes.
    wide = out if out.is_terminal else Console(file=out.file, width=max(out.width, 100))
    wide.print(table)
    out.print(
        "总体：符合条件的检查对象 / population: eligible targets；检查组：组数×每组人数（+专家）"
        " / teams: count × members (+ experts)；✓ 重放 / replayed: verified again on read models"
        " rebuilt from the ledger alone",
        markup=False,
    )
    for c in checked:
        label = c.row["label"]
        for reason, n in c.history.items():
            out.print(
                f"排除 / excluded {label}（{c.row['drawn_on']}）：{history_label(reason)} {n:,} 个"
                f" / {n:,} targets {HISTORY_EN.get(reason, reason)} (tasks of earlier draws)",
                markup=False,
            )
        if c.verification.abandoned_reason:
            out.print(f"作废 / abandoned {label}：{c.verification.abandoned_reason}", markup=False)
        for r in c.verification.recusals:
            out.print(
                f"回避 / recusal {label} {r['target']}：{r['certificate_no']} → "
                f"{r['replacement']}（{RECUSAL_KINDS.get(r['kind'], r['kind'])}：{r['reason']}）",
                markup=False,
            )
        if c.replayed:
            out.print(
                f"重放 / replayed {label}：由账本重建读模型至第 {c.row['as_of_seq']:,} 条后"
                + ("验证通过" if c.ok else "验证不通过")
                + f" / rebuilt the read models from the ledger alone up to seq "
                f"{c.row['as_of_seq']:,}: " + ("verified" if c.ok else "FAILED"),
                markup=False,
            )
    for skipped in result.skipped:
        out.print(
            f"未抽取 / not drawn {skipped.label}（{skipped.drawn_on}）：{skipped.error}",
            markup=False,
        )


def _tasks_table(services: Services, inspected: Inspected) -> None:
    """The year's inspections, from the read models: tasks by status, results by category,
    publications on time, late and withheld."""
    from ssj.demo.inspections import PUBLICATION_DAYS, summarise
    from ssj.domain.tasks import (
        CATEGORY_LABELS_ZH,
        STATUS_LABELS_ZH,
        ResultCategory,
        TaskStatus,
    )

    found = summarise(services)
    table = Table(title="检查与公示 / inspections and publication (一公开)", box=box.SIMPLE_HEAD)
    table.add_column("项目 / item")
    table.add_column("数量 / count", justify="right")
    total = sum(found.statuses.values())
    table.add_row("抽查任务 / tasks", f"{total:,}")
    for status in TaskStatus:
        if found.statuses.get(status.value):
            table.add_row(
                f"  {STATUS_LABELS_ZH[status]} / {status.value}",
                f"{found.statuses[status.value]:,}",
            )
    table.add_row("检查结果（任务最严重类别） / results (most serious per task)", "")
    for category in ResultCategory:
        if found.categories.get(category.value):
            table.add_row(
                f"  {CATEGORY_LABELS_ZH[category]} / {category.value}",
                f"{found.categories[category.value]:,}",
            )
    table.add_row("公示 / publications", "")
    for label, n in (
        (
            f"按时（{PUBLICATION_DAYS} 个工作日内） / on time (within {PUBLICATION_DAYS} working days)",
            found.on_time,
        ),
        (f"逾期 / late (after {PUBLICATION_DAYS} working days)", found.late),
        ("结果确定后公示 / withheld until final, then published", found.final_published),
        ("暂缓公示中 / withheld until final", found.pending_final),
        ("不予公示 / withheld for good", found.withheld),
        ("其中部分字段隐去 / of which redacted", found.redacted),
    ):
        table.add_row(f"  {label}", f"{n:,}")
    decided = found.objections
    for label, n in (
        ("异议成立（重新检查） / objections upheld (inspected again)", decided.get("upheld", 0)),
        ("异议不成立 / objections rejected", decided.get("rejected", 0)),
        ("异议待决定 / objections pending", decided.get("pending", 0)),
        ("本次推进的任务 / tasks advanced by this run", inspected.tasks_advanced),
        ("本次关联执法证号 / certificate links by this run", inspected.relinks),
        ("本次写入事件 / events written by this run", inspected.events_written),
    ):
        table.add_row(label, f"{n:,}")
    wide = out if out.is_terminal else Console(file=out.file, width=max(out.width, 120))
    wide.print(table)


def _followup_table(services: Services) -> None:
    """What followed the inspections, from the read models, and what is overdue today."""
    from projections.followups import TABLES
    from projections.registry import RegistryQueries
    from ssj.demo.jurisdiction import ADMIN
    from ssj.services.overdue import OverdueService

    rows = RegistryQueries(services.store, TABLES).states("followups")
    orders = [r for row in rows for r in row["rectifications"]]
    cases = [c for row in rows for c in row["cases"]]
    report = OverdueService(services).report(services.principal(ADMIN))
    late: Counter[str] = Counter()
    for department in report["summary"]:
        late.update({k: v for k, v in department.items() if isinstance(v, int)})
    table = Table(title="后续处置 / follow-up", box=box.SIMPLE_HEAD)
    table.add_column("项目 / item")
    table.add_column("数量 / count", justify="right")
    for label, n in (
        ("有后续处置的任务 / tasks followed up", len(rows)),
        ("责令整改 / rectification orders", len(orders)),
        ("  复查通过 / passed their re-check", sum(1 for r in orders if r["passed_on"])),
        (
            "  复查未通过 / re-checks failed",
            sum(1 for r in orders for c in r["rechecks"] if not c["passed"]),
        ),
        ("  整改逾期未复查通过 / overdue today", late.get("rectification_overdue", 0)),
        ("催告 / reminders", sum(len(row["reminders"]) for row in rows)),
        ("立案处罚 / penalty cases", len(cases)),
        ("  调低信用风险分类 / credit class lowered", sum(1 for c in cases if c["credit_class"])),
        ("  处罚信息已公示 / published", sum(1 for c in cases if c["published_on"])),
        ("  逾期公示（超过 7 个工作日）/ published late", late.get("penalty_published_late", 0)),
        ("  逾期未公示 / overdue today", late.get("penalty_overdue", 0)),
        ("移送 / referrals", sum(len(row["referrals"]) for row in rows)),
    ):
        table.add_row(label, f"{n:,}")
    wide = out if out.is_terminal else Console(file=out.file, width=max(out.width, 120))
    wide.print(table)


def _ledger_rows(table: Table, services: Services, report: Report, outside: str) -> None:
    ledger = services.ledger
    table.add_row("数据库 / database", ledger.settings.database.redacted())
    table.add_row("账本长度 / ledger events", f"{report.size:,}")
    table.add_row("签名 / signatures checked", f"{report.signatures:,}")
    table.add_row("检查点 / checkpoints", str(report.checkpoints))
    table.add_row("外部检查点 / outside checkpoint", outside)
    table.add_row("根哈希 / root", report.root.hex())
    table.add_row("结论 / verdict", "完好 / intact" if report.ok else "损坏 / DAMAGED")


def _as_of_example(services: Services) -> None:
    """The target registry as it stood before the reclassification, next to today's."""
    from ssj.demo.jurisdiction import reclassification_seq

    seq = reclassification_seq(services)
    if seq is None:
        return
    q = services.queries
    then = Counter(
        t["credit_class"]
        for t in q.states("targets", at_seq=seq, columns=("credit_class", "status"))
        if t["status"] == "active"
    )
    now = Counter(
        t["credit_class"]
        for t in q.states("targets", columns=("credit_class", "status"))
        if t["status"] == "active"
    )
    table = Table(
        title=f"按时点查询 / as-of query：存续检查对象的信用风险分类，第 {seq:,} 条（调整前）与现在"
        f" / active targets by credit class at seq {seq:,} (before the reclassification) and now"
    )
    table.add_column("信用风险分类 / class")
    table.add_column(f"第 {seq:,} 条 / seq {seq:,}", justify="right")
    table.add_column("现在 / now", justify="right")
    for cls in sorted(set(then) | set(now)):
        table.add_row(CREDIT_LABELS.get(cls, cls), f"{then[cls]:,}", f"{now[cls]:,}")
    table.add_row("合计 / total", f"{sum(then.values()):,}", f"{sum(now.values()):,}")
    out.print(table)
    rows = services.store.query(
        "SELECT identifier FROM targets WHERE to_seq IS NOT NULL ORDER BY to_seq LIMIT 100"
    )
    for (identifier,) in rows:
        before = q.get("targets", [identifier], at_seq=seq)
        current = q.get("targets", [identifier])
        if before and current and before["credit_class"] != current["credit_class"]:
            out.print(
                f"例 / e.g. {identifier} {current['name']}：信用风险分类 / credit class "
                f"{before['credit_class']}（at_seq={seq:,}）→ {current['credit_class']}（现在 / now）"
            )
            return
