"""The synthetic jurisdiction: deterministic files, valid identifiers, an idempotent build whose
counts match its summary, and `ssj demo` run twice, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest

from ssj.config import Settings
from ssj.demo.jurisdiction import (
    FILES,
    Summary,
    build,
    generate,
    reclassification_seq,
    write_files,
)
from ssj.domain.identifiers import validate_identifier
from ssj.domain.inspectors import InspectorRecord
from ssj.domain.items import ItemRecord
from ssj.domain.targets import TargetRecord
from ssj.ledger.audit import verify_ledger
from ssj.services.context import Services
from ssj.services.imports import import_file
from tests import worlds
from tests.conftest import settings_env

SMALL = 300


def test_same_seed_writes_identical_files(tmp_path: Path) -> None:
    first = write_files(generate(SMALL, seed=7), tmp_path / "a")
    second = write_files(generate(SMALL, seed=7), tmp_path / "b")
    other = write_files(generate(SMALL, seed=8), tmp_path / "c")
    assert sorted(first) == sorted(FILES)
    for kind, path in first.items():
        assert path.read_bytes() == second[kind].read_bytes(), kind
    assert first["targets"].read_bytes() != other["targets"].read_bytes()


def test_every_identifier_and_record_validates(tmp_path: Path) -> None:
    plan = generate(SMALL, seed=11)
    rows = plan.targets + plan.updates
    kinds = Counter(row["id_kind"] for row in rows)
    assert kinds["uscc"] and kinds["resident_id"] and kinds["product"]
    for row in rows:
        assert validate_identifier(row["id_kind"], row["identifier"]) == row["identifier"]
        TargetRecord.parse(dict(row))
    assert len({row["identifier"] for row in plan.final_targets()}) == SMALL
    for item in plan.items:
        ItemRecord.parse(dict(item))
    for person in plan.inspectors + plan.experts:
        InspectorRecord.parse({k: str(v) if v else None for k, v in person.items()})
    files = write_files(plan, tmp_path)
    raw = files["targets"].read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # GBK, as Excel saves CSV on Chinese Windows
    with files["targets"].open(encoding="gbk", newline="") as f:
        assert sum(1 for _ in csv.reader(f)) == len(plan.targets) + 1
    sheet = openpyxl.load_workbook(files["items"], read_only=True).active
    assert sheet is not None
    title = next(iter(sheet.iter_rows(values_only=True)))[0]
    assert isinstance(title, str) and "随机抽查事项清单" in title
    assert min(float(i["default_ratio"]) for i in plan.items) >= 3
    assert max(float(i["default_ratio"]) for i in plan.items) <= 30


def test_generate_rejects_tiny_sizes() -> None:
    from ssj.errors import ValidationError

    with pytest.raises(ValidationError):
        generate(10)


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    s = Services(settings)
    try:
        s.ledger.initialise()
        yield s
    finally:
        s.close()


def check_counts(services: Services, summary: Summary) -> None:
    q = services.queries
    services.refresh()
    assert len(q.states("departments")) == summary.departments
    users = q.states("users")
    assert dict(Counter(r for u in users for r in u["roles"])) == summary.users
    items = q.states("items")
    assert len(items) == summary.items
    assert sum(1 for i in items if i["item_class"] == "key") == summary.key_items
    assert sum(1 for i in items if i["cooperating_departments"]) == summary.joint_items
    targets = q.states("targets", columns=("credit_class", "target_type", "status"))
    assert len(targets) == summary.targets
    assert dict(Counter(t["credit_class"] for t in targets)) == summary.targets_by_credit_class
    assert dict(Counter(t["target_type"] for t in targets)) == summary.targets_by_type
    assert dict(Counter(t["status"] for t in targets)) == summary.targets_by_status
    pools = Counter(p["pool"] for p in q.states("inspectors", columns=("pool",)))
    assert (pools["inspector"], pools["expert"]) == (summary.inspectors, summary.experts)
    assert len(q.states("declarations")) == summary.conflicts
    assert len(q.states("conflict_rules")) == summary.rule_sets


KINDS = ("departments", "users", "items", "targets", "inspectors", "declarations")


def everything(services: Services) -> tuple[int, dict[str, list[dict]]]:
    """The ledger's size and the registry's rows, sorted (two builds of the same seed list
    their declarations in different orders)."""
    services.refresh()
    return services.ledger.size(), {k: sorted(services.queries.states(k), key=repr) for k in KINDS}


def test_build_twice_writes_nothing_the_second_time(
    services: Services, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    summary = build(services, tmp_path / "demo", targets=SMALL, seed=3)
    assert summary.targets == SMALL and summary.written
    assert {r.file: r.created for r in summary.imports}["targets.csv"] > 0
    check_counts(services, summary)
    size = services.ledger.size()

    # The copy other tests start from (tests/worlds.py) holds what this build wrote.
    backend = "postgres" if services.settings.database.is_postgres else "sqlite"
    assert (worlds.SMALL, worlds.SEED) == (SMALL, 3)
    with worlds.copied(backend, "built", tmp_path / "copy", tmp_path_factory) as settings:
        copy = Services(settings)
        try:
            assert everything(copy) == everything(services)
            assert verify_ledger(copy.ledger, jobs=1).ok
        finally:
            copy.close()

    again = build(services, tmp_path / "demo", targets=SMALL, seed=3)
    assert again.events_written == 0 and services.ledger.size() == size
    assert all(r.created == r.updated == 0 for r in again.imports)
    assert "targets.csv" not in {r.file for r in again.imports}  # the pre-reclassification list
    check_counts(services, again)

    admin = services.principal("admin")
    for kind, name in (("items", "items"), ("inspectors", "inspectors"), ("targets", "update")):
        report = import_file(services, admin, kind, summary.files[name])
        assert report.written and report.created == report.updated == 0, report.problems
    assert services.ledger.size() == size

    # The registry as first imported, before the reclassification, is one as-of query away.
    seq = reclassification_seq(services)
    assert seq is not None
    before = services.queries.states("targets", at_seq=seq, columns=("identifier",))
    assert len(before) == SMALL - (summary.targets - len(generate(SMALL, seed=3).targets))


def test_demo_command_twice(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ssj.cli.demo import run

    for name, value in settings_env(settings).items():
        if name.startswith("SSJ_"):
            monkeypatch.setenv(name, value)
    run(targets=150, seed=5)
    first = capsys.readouterr().out
    assert "完好 / intact" in first and "as-of" in first
    run(targets=150, seed=5)
    second = capsys.readouterr().out
    assert "完好 / intact" in second
    assert "0 条事件 / events" in second  # nothing new the second time
    assert (settings.data_dir / "demo" / "targets.csv").exists()
