"""The `ssj` command: thin commands over the application services."""

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
    ledger,
    overdue,
    plans,
    production,
    registry,
    tasks,
    trail,
)
from ssj.demo import DEFAULT_SEED, DEFAULT_TARGETS, MIN_TARGETS
from ssj.witness import cli as witness_cli

app = typer.Typer(
    help="ssj：双随机、一公开 审计账本 / the audit-first ledger for random inspections",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command()(ledger.init)
app.command()(ledger.verify)
app.command()(ledger.checkpoint)
app.add_typer(ledger.keys_app, name="keys")
app.add_typer(ledger.db_app, name="db")
app.add_typer(ledger.proof_app, name="proof")
audit.audit_app.add_typer(trail.trail_app, name="trail")
app.add_typer(audit.audit_app, name="audit")
app.command()(registry.bootstrap)
app.add_typer(registry.departments_app, name="departments")
app.add_typer(imports.imports_app, name="imports")
app.add_typer(registry.users_app, name="users")
app.add_typer(registry.tokens_app, name="tokens")
app.add_typer(registry.items_app, name="items")
app.add_typer(registry.targets_app, name="targets")
app.add_typer(registry.inspectors_app, name="inspectors")
app.add_typer(registry.conflicts_app, name="conflicts")
app.add_typer(plans.plans_app, name="plans")
app.add_typer(draws.draws_app, name="draws")
app.add_typer(tasks.tasks_app, name="tasks")
app.add_typer(followups.followups_app, name="followups")
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
app.command()(production.serve)
app.add_typer(production.ops_app, name="ops")
app.command()(overdue.overdue)
app.add_typer(assessment.assessment_app, name="assessment")
app.add_typer(ledger.witnesses_app, name="witnesses")
app.add_typer(witness_cli.witness_app, name="witness")
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


def main() -> None:
    app()
