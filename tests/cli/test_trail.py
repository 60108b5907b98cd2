"""`ssj trail KIND ID` (mounted as `ssj audit trail`) as officials run it: real subprocesses on
both backends; the Chinese table, JSON, CSV and XLSX; filters; bad input refused with one
bilingual line, exit 2 and nothing written."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import openpyxl

from ssj.config import Settings
from ssj.services.trail import EXPORT_LABELS
from tests.cli.test_draws_cli import refused
from tests.cli.test_registry_cli import OPERATOR, jurisdiction, ok, run, size
from tests.services.conftest import Jurisdiction
from tests.services.test_draws import World

__all__ = ["jurisdiction"]  # the registry CLI tests' fixture

PLAN = "CZ-SJJ-TZ/2026-01"


def test_trail_on_the_command_line(
    settings: Settings, jurisdiction: Jurisdiction, tmp_path: Path
) -> None:
    world = World(jurisdiction, targets=20, inspectors=4)
    world.publish()
    world.run()
    table = ok(run(settings, "audit", "trail", "plan", PLAN, user="supervisor-own", COLUMNS="250"))
    for text in ("全程留痕", "起草抽查计划", "揭示抽取", "operator-own", "有效", "共 8 条"):
        assert text in table, table
    found = json.loads(
        ok(
            run(
                settings,
                "audit",
                "trail",
                "plan",
                PLAN,
                "--format",
                "json",
                "--actor",
                "leader-own",
            )
        )
    )
    assert [r["kind"] for r in found["items"]] == ["Plan.Approved"]
    assert found["items"][0]["signature"] == "valid"
    page = json.loads(
        ok(run(settings, "audit", "trail", "draw", f"{PLAN}/第1轮", "-f", "json", "--limit", "2"))
    )
    assert page["total"] == 4 and [r["kind"] for r in page["items"]] == [
        "Draw.Committed",
        "Draw.DiceRecorded",
    ]
    seqs = [r["seq"] for r in page["items"]]
    ranged = json.loads(
        ok(
            run(
                settings,
                "audit",
                "trail",
                "draw",
                f"{PLAN}/第1轮",
                "-f",
                "json",
                "--from-seq",
                str(seqs[1]),
                "--to-seq",
                str(seqs[1]),
            )
        )
    )
    assert [r["seq"] for r in ranged["items"]] == seqs[1:]
    # CSV on stdout, XLSX to a file: Chinese headers, the same rows.
    text = ok(run(settings, "audit", "trail", "plan", PLAN, "--format", "csv", user=OPERATOR))
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == list(EXPORT_LABELS.values()) and len(rows) == 9
    assert rows[1][6] == "Plan.Drafted" and rows[1][8] == "有效 valid"
    book = tmp_path / "留痕.xlsx"
    ok(run(settings, "audit", "trail", "plan", PLAN, "--format", "xlsx", "--output", str(book)))
    sheet = list(openpyxl.load_workbook(book, read_only=True).worksheets[0].values)
    assert list(sheet[0]) == list(EXPORT_LABELS.values()) and len(sheet) == 9


def test_trail_bad_input(settings: Settings, jurisdiction: Jurisdiction) -> None:
    world = World(jurisdiction, targets=20, inspectors=4)
    world.publish()
    before = size(settings)
    refused(run(settings, "audit", "trail", "firm", "x"), "target", "检查对象")
    refused(run(settings, "audit", "trail", "plan", PLAN, "--since", "2026-02-30"), "since")
    refused(
        run(
            settings,
            "audit",
            "trail",
            "plan",
            PLAN,
            "--since",
            "2026-03-02",
            "--until",
            "2026-03-01",
        ),
        "until",
    )
    refused(
        run(settings, "audit", "trail", "plan", PLAN, "--from-seq", "9", "--to-seq", "3"), "to_seq"
    )
    refused(run(settings, "audit", "trail", "plan", PLAN, "--limit", "-5"), "limit")
    refused(run(settings, "audit", "trail", "plan", PLAN, "--format", "xlsx"), "--output")
    refused(run(settings, "audit", "trail", "target", "no-such-firm"), "no-such-firm")
    refused(run(settings, "audit", "trail", "plan", PLAN, user=None), "SSJ_USER")
    assert size(settings) == before
