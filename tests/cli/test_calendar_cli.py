"""`ssj calendar` as officials and scripts run it: real subprocesses.

`deadline` prints only the date, needs no user, and on a fresh machine (no ledger file) creates
nothing and counts with the package alone; `register` and `show` on both backends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ssj.config import Settings
from ssj.domain.access import Refusal
from tests.cli.test_registry_cli import OPERATOR, jurisdiction, ok, run, size
from tests.services.conftest import Jurisdiction

__all__ = ["jurisdiction"]  # the registry CLI tests' fixture, shared here

DOCUMENT = "国办发明电〔2030〕99号 国务院办公厅关于2031年部分节假日安排的通知"


def test_deadline_on_a_fresh_machine(sqlite_settings: Settings) -> None:
    data_dir = sqlite_settings.data_dir
    assert not data_dir.exists()
    result = run(sqlite_settings, "calendar", "deadline", "2024-02-08", "2", user=None)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "2024-02-18\n"  # over the Spring Festival to the make-up Sunday
    assert run(sqlite_settings, "calendar", "deadline", "2025-09-26", "20", user=None).stdout == (
        "2025-10-30\n"
    )
    shown = ok(run(sqlite_settings, "calendar", "show", "2026", user=None))
    assert "chinesecalendar 程序包" in shown and "调休上班" in shown and "2026-02-28" in shown

    for args, words in (
        (("2031-01-06", "5"), ("2031", "ssj calendar register 2031", "unknown")),
        (("2024-02-30", "1"), ("日期无效", "invalid date")),
        (("2024-02-08", "-1"), ("0–3650", "0-3650")),
        (("2024-02-08", "两天"), ("整数", "whole number")),
        (("2024-02-08", "1", "--as-of", "3"), ("尚无账本", "no ledger yet")),
    ):
        failed = run(sqlite_settings, "calendar", "deadline", *args, user=None)
        assert failed.returncode == 2, (args, failed.stderr)
        assert failed.stdout == ""
        for word in words:
            assert word in failed.stderr, (word, failed.stderr)
    assert not data_dir.exists()  # nothing was created


def test_register_then_deadline_and_show(
    settings: Settings, jurisdiction: Jurisdiction, tmp_path: Path
) -> None:
    before = size(settings)
    unknown = run(settings, "calendar", "deadline", "2031-01-17", "4", user=None)
    assert unknown.returncode == 2 and "calendar_year_unknown" not in unknown.stdout
    assert "2031" in unknown.stderr and unknown.stdout == ""

    path = tmp_path / "arrangement.json"
    arrangement = {
        "year": 2031,
        "document": DOCUMENT,
        "holidays": ["2031-01-01", "2031-01-22..2031-01-28", "2031-10-01..2031-10-07"],
        "workdays": ["2031-01-19", "2031-02-08", "2031-09-28"],
    }
    path.write_text(json.dumps(arrangement, ensure_ascii=False), encoding="utf-8")

    refused = run(settings, "calendar", "register", "2031", "--file", str(path), user=OPERATOR)
    assert refused.returncode == 2 and "manage_calendar" in refused.stderr
    assert size(settings) == before + 1
    jurisdiction.services.refresh()
    logged = jurisdiction.services.ledger.read(before, 1)[0].event
    assert isinstance(logged, Refusal.Recorded)  # type: ignore[attr-defined]
    before = size(settings)

    registered = ok(run(settings, "calendar", "register", "2031", "--file", str(path)))
    assert "已登记" in registered and "version 1" in registered
    assert size(settings) == before + 1
    done = run(settings, "calendar", "deadline", "2031-01-17", "4", user=None)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "2031-01-29\n"
    assert (
        run(
            settings, "calendar", "deadline", "2031-01-17", "4", "--at-seq", str(before - 1)
        ).returncode
        == 2
    )

    # Amending: from options over the file, with a reason; without one nothing is written.
    amend = ("calendar", "register", "2031", "--file", str(path), "--workday", "2031-01-19")
    missing = run(settings, *amend)
    assert missing.returncode == 2 and "理由" in missing.stderr
    assert size(settings) == before + 1
    amended = ok(run(settings, *amend, "--reason", "更正：只有 1 月 19 日上班"))
    assert "已修改" in amended and "version 2" in amended
    bad = run(
        settings,
        "calendar",
        "register",
        "2031",
        "--holiday",
        "2031-01-01",
        "--document",
        "x",
        "--workday",
        "2031-01-20",
        "--reason",
        "r",
    )
    assert bad.returncode == 2 and "周六或周日" in bad.stderr and "Saturday or Sunday" in bad.stderr
    assert size(settings) == before + 2

    shown = ok(run(settings, "calendar", "show", "2031", user=None))
    for text in (
        "账本登记",
        "2031-01-19",
        "调休上班",
        "放假",
        "更正：只有 1 月 19 日上班",
        DOCUMENT,
    ):
        assert text in shown, text
    listed = json.loads(ok(run(settings, "calendar", "show", "2031", "--json", user=None)))
    assert listed["source"] == "ledger" and listed["workdays"] == ["2031-01-19"]
    assert [v["version"] for v in listed["versions"]] == [1, 2]
    package = json.loads(ok(run(settings, "calendar", "show", "2024", "--json", user=None)))
    assert package["source"] == "package" and "2024-02-18" in package["workdays"]


@pytest.mark.parametrize("args", [("2031",), ("2031", "--document", "通知")])
def test_register_needs_a_user_and_days(
    settings: Settings, jurisdiction: Jurisdiction, args: tuple[str, ...]
) -> None:
    before = size(settings)
    anonymous = run(settings, "calendar", "register", *args, "--holiday", "2031-01-01", user=None)
    assert anonymous.returncode == 2 and "--as" in anonymous.stderr
    empty = run(settings, "calendar", "register", *args)
    assert empty.returncode == 2 and "错误" in empty.stderr
    assert size(settings) == before
