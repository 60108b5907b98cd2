"""`ssj assessment` as reviewers run it: real subprocesses on both backends, the summary table
with Chinese labels, JSON, a drill-down, the XLSX export read back, PNG charts for one or every
department, refusals and bad input in one bilingual line with nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl

from ssj.config import Settings
from tests.cli.test_draws_cli import refused
from tests.cli.test_registry_cli import LEADER, OPERATOR, REVIEWER, jurisdiction, ok, run, size
from tests.services.conftest import OTHER, OWN, Jurisdiction
from tests.services.test_assessment import ABANDON_REASON, ON, Year
from tests.services.test_draws import World

__all__ = ["jurisdiction"]

PNG = b"\x89PNG\r\n\x1a\n"


def test_assessment_on_the_command_line(
    settings: Settings, jurisdiction: Jurisdiction, tmp_path: Path
) -> None:
    world = World(jurisdiction)
    world.publish()
    Year(world)
    table = ok(
        run(settings, "assessment", "show", "2026", "--on", ON, user=REVIEWER, COLUMNS="300")
    )
    for label in ("各部门考核汇总", "计划完成", "覆盖率", "按期公示率", "整改闭环率", OWN, OTHER):
        assert label in table, table
    one = ok(
        run(
            settings,
            "assessment",
            "show",
            "2026",
            "--department",
            OWN,
            "--on",
            ON,
            user=LEADER,
            COLUMNS="300",
        )
    )
    assert "整改闭环率" in one and "50.0%" in one and ABANDON_REASON in one, one
    report = json.loads(
        ok(
            run(
                settings,
                "assessment",
                "show",
                "2026",
                "--department",
                OWN,
                "--on",
                ON,
                "--json",
                user=LEADER,
            )
        )
    )
    assert report["figures"]["coverage"]["covered"] == 4
    assert report["figures"]["publication"]["late"] == 1
    detail = ok(
        run(
            settings,
            "assessment",
            "detail",
            "2026",
            OWN,
            "publication",
            "--on",
            ON,
            user=LEADER,
            COLUMNS="300",
        )
    )
    for label in ("应公示日期", "逾期公示", "按期公示", "不予公示或暂缓公示", "共 4 条"):
        assert label in detail, detail
    page = json.loads(
        ok(
            run(
                settings,
                "assessment",
                "detail",
                "2026",
                OWN,
                "coverage",
                "--limit",
                "5",
                "--json",
                user=LEADER,
            )
        )
    )
    assert (page["total"], len(page["items"])) == (60, 5)

    workbook = tmp_path / "考核2026.xlsx"
    ok(
        run(
            settings,
            "assessment",
            "export",
            "2026",
            "--output",
            str(workbook),
            "--on",
            ON,
            user=REVIEWER,
        )
    )
    book = openpyxl.load_workbook(workbook, read_only=True)
    assert f"{OWN} 汇总" in book.sheetnames
    rows = list(book[f"{OWN} 计划完成"].iter_rows(values_only=True))
    assert rows[0][:2] == ("计划编号", "计划名称") and len(rows) == 3  # two plans

    chart = tmp_path / "tz.png"
    ok(
        run(
            settings,
            "assessment",
            "chart",
            "2026",
            OWN,
            "--output",
            str(chart),
            "--on",
            ON,
            user=LEADER,
        )
    )
    assert chart.read_bytes().startswith(PNG)
    charts = tmp_path / "charts"
    ok(
        run(
            settings,
            "assessment",
            "chart",
            "2026",
            "--output-dir",
            str(charts),
            "--on",
            ON,
            user=REVIEWER,
        )
    )
    written = sorted(p.name for p in charts.iterdir())
    assert f"assessment-2026-{OWN}.png" in written and f"assessment-2026-{OTHER}.png" in written
    assert (charts / f"assessment-2026-{OWN}.png").read_bytes() == chart.read_bytes()


def test_refusals_and_bad_input(
    settings: Settings, jurisdiction: Jurisdiction, tmp_path: Path
) -> None:
    before = size(settings)
    refused(run(settings, "assessment", "show", "2026", user=LEADER), "read_all")
    refused(run(settings, "assessment", "show", "2026", "--department", OTHER, user=LEADER), OTHER)
    refused(run(settings, "assessment", "show", "2026", "--department", OWN, user=OPERATOR))
    assert size(settings) == before + 3  # the refusals, recorded
    refused(run(settings, "assessment", "show", "1999", user=REVIEWER), "2000")
    refused(run(settings, "assessment", "detail", "2026", OWN, "速度", user=REVIEWER), "速度")
    refused(run(settings, "assessment", "show", "2026", "--on", "2026-13-01", user=REVIEWER), "on")
    refused(
        run(
            settings,
            "assessment",
            "export",
            "2026",
            "--output",
            str(tmp_path / "x.csv"),
            user=REVIEWER,
        ),
        ".xlsx",
    )
    refused(run(settings, "assessment", "chart", "2026", user=REVIEWER), "--output-dir")
    assert size(settings) == before + 3
    assert not (tmp_path / "x.csv").exists()
