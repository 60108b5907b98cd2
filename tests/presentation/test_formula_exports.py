"""A target named like a spreadsheet formula, exported by every path (CLI and API, XLSX and
CSV): never a formula in the file, and every export imports back unchanged. Both backends."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from fastapi.testclient import TestClient

from ssj.api import create_app
from ssj.presentation.sheets import csv_cell, unneutralised
from tests.api.test_registry_api import Api
from tests.cli.test_registry_cli import ok, run, size
from tests.services.conftest import Jurisdiction, jurisdiction, target_row

__all__ = ["jurisdiction"]

NAMES = ['=HYPERLINK("http://evil.example/","点我")', "+86 519 8888", "@SUM(1,2)", "-1+1"]


@pytest.fixture
def api(jurisdiction: Jurisdiction) -> Iterator[Api]:
    for n, name in enumerate(NAMES):
        jurisdiction.registry.save_target(jurisdiction.root, target_row(n, name=name))
    jurisdiction.services.refresh()
    with TestClient(create_app(jurisdiction.services)) as client:
        yield Api(jurisdiction, client)


def names_in_csv(content: str) -> set[str]:
    rows = list(csv.reader(io.StringIO(content)))
    at = rows[0].index("名称")
    return {r[at] for r in rows[1:]}


def assert_xlsx_text(path_or_bytes: Path | bytes) -> None:
    source = io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes) else path_or_bytes
    sheet = openpyxl.load_workbook(source).active
    assert sheet is not None
    at = [c.value for c in sheet[1]].index("名称") + 1
    cells = [sheet.cell(row=r, column=at) for r in range(2, sheet.max_row + 1)]
    assert {c.value for c in cells} == set(NAMES)  # shown as typed, not evaluated
    assert all(c.data_type == "s" for c in cells)  # text cells: no formula anywhere


def test_csv_cells_are_neutralised_and_read_back() -> None:
    for name in NAMES:
        assert csv_cell(name) == "'" + name and unneutralised(csv_cell(name)) == name
    assert csv_cell("常州第1机械有限公司") == "常州第1机械有限公司"
    assert unneutralised("'常州") == "'常州"  # an apostrophe before ordinary text stays


def test_every_export_path_writes_text_not_formulas(api: Api, tmp_path: Path) -> None:
    written = size(api.j.services.settings)
    # The API.
    body = api.get("/targets/export.csv").content.decode("utf-8-sig")
    assert names_in_csv(body) == {"'" + n for n in NAMES}
    assert_xlsx_text(api.get("/targets/export.xlsx").content)
    # The command line: the same presentation layer, so the same cells.
    settings = api.j.services.settings
    ok(run(settings, "targets", "export", str(tmp_path / "t.csv")))
    from_cli = (tmp_path / "t.csv").read_text(encoding="utf-8-sig")
    assert names_in_csv(from_cli) == {"'" + n for n in NAMES}
    ok(run(settings, "targets", "export", str(tmp_path / "t.xlsx")))
    assert_xlsx_text(tmp_path / "t.xlsx")
    listed = ok(run(settings, "targets", "list", "--format", "csv"))
    assert names_in_csv(listed) >= {"'" + n for n in NAMES}
    # Every export imports back unchanged: the apostrophe is the file's, not the name's.
    for path in (tmp_path / "t.csv", tmp_path / "t.xlsx"):
        done = run(settings, "targets", "import", str(path), "--format", "json")
        assert done.returncode == 0, done.stdout
        report = done.stdout
        assert '"unchanged": 4' in report, report
    answer = api.upload("targets", "t.csv", body.encode("utf-8-sig"))
    assert answer.status_code == 200 and answer.json()["unchanged"] == 4, answer.text
    # A CSV cell that starts with "=" without the apostrophe is what Excel would run: refused.
    raw = body.replace("'=HYPERLINK", "=HYPERLINK").encode("utf-8-sig")
    refused = api.upload("targets", "raw.csv", raw)
    assert refused.status_code == 422, refused.text
    [problem] = refused.json()["problems"]
    assert problem["column"] == "C" and "formula" in problem["en"], problem
    assert size(settings) == written
