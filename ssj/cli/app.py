"""The `ssj` command's whole tree: thin commands over the application services. `ssj.cli.main`
runs it, or only the part one top-level name needs."""

from __future__ import annotations

import typer

from ssj.cli import (
    assessment,
    audit,
    calendar,
    deliver,
    draws,
    followups,
    imports,
    overdue,
    plans,
    production,
    registry,
    tasks,
    trail,
)
from ssj.cli.main import add_ledger, add_production, add_witness, add_witnesses, new_app
from ssj.demo import DEFAULT_SEED, DEFAULT_TARGETS, MIN_TARGETS

app = new_app()
add_ledger(app)
audit.audit_app.add_typer(trail.trail_app, name="trail")
app.add_typer(audit.audit_app, name="audit")
app.command()(registry.bootstrap)
for group, name in (
    (registry.departments_app, "departments"),
    (imports.imports_app, "imports"),
    (registry.users_app, "users"),
    (registry.tokens_app, "tokens"),
    (registry.items_app, "items"),
    (registry.targets_app, "targets"),
    (registry.inspectors_app, "inspectors"),
    (registry.conflicts_app, "conflicts"),
    (plans.plans_app, "plans"),
    (draws.draws_app, "draws"),
    (tasks.tasks_app, "tasks"),
    (followups.followups_app, "followups"),
):
    app.add_typer(group, name=name)
# The singular names used until now (`ssj draw`, `ssj task`, `ssj followup`): hidden aliases kept
# for one release so that scripts keep working (CHANGELOG.md, Deprecated).
for group, old_name in (
    (draws.draws_app, "draw"),
    (tasks.tasks_app, "task"),
    (followups.followups_app, "followup"),
):
    app.add_typer(group, name=old_name, hidden=True)
app.add_typer(calendar.calendar_app, name="calendar")
registry.projections_app.command("run")(production.projections_run)
app.add_typer(registry.projections_app, name="projections")
add_production(app)
app.command()(overdue.overdue)
app.add_typer(assessment.assessment_app, name="assessment")
add_witnesses(app)
add_witness(app)
app.add_typer(deliver.subscribers_app, name="subscribers")
app.add_typer(deliver.deliver_app, name="deliver")


@app.command()
def demo(
    targets: int = typer.Option(
        DEFAULT_TARGETS, "--targets", min=MIN_TARGETS, help="检查对象数量 / number of targets"
    ),
    seed: int = typer.Option(DEFAULT_SEED, "--seed", help="随机种子 / seed of the synthetic data"),
) -> None:
    """演示：示例辖区、计划与抽取，并逐一校验 / a sample jurisdiction, plans and draws, all verified."""
    from ssj.cli.demo import run

    run(targets=targets, seed=seed)
