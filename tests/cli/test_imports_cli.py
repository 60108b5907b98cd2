"""Import options as officials use them (issue #11 items 6-8), in real subprocesses: a dry run
that shows how columns were understood, --format json for every outcome, a column mapping and
a saved profile for another layout, --skip-invalid with its rejects file, department aliases."""

from __future__ import annotations

import json
from pathlib import Path

from ssj.config import Settings
from tests.cli import test_registry_cli as base
from tests.cli.test_registry_cli import OPERATOR, ok, run, size
from tests.data.real import synthetic
from tests.services.conftest import OWN, Jurisdiction

jurisdiction = base.jurisdiction  # the same in-process jurisdiction fixture


def gbk_export(path: Path) -> Path:
    """A county's GBK CSV export in its own layout (synthetic): 统一代码, 字号, 所在区."""
    lines = ["统一代码,字号,所在区,备注"]
    lines += [f"{row[1]},{row[0].strip()},{row[3].strip()},甲" for row in synthetic.TARGET_ROWS]
    path.write_bytes("\r\n".join(lines).encode("gbk"))
    return path


def test_dry_run_mapping_profile_and_skip_invalid(
    settings: Settings, jurisdiction: Jurisdiction, tmp_path: Path
) -> None:
    path = gbk_export(tmp_path / "export.csv")
    before = size(settings)
    header = run(settings, "targets", "import", str(path), "--format", "json", user=OPERATOR)
    assert header.returncode == 2 and header.stderr == ""
    report = json.loads(header.stdout)
    assert report["written"] is False and "no header row" in report["error"]["en"]

    mapping = tmp_path / "县导出.yaml"
    mapping.write_text(
        "kind: targets\ncolumns:\n  identifier: 统一代码\n  name: 字号\n"
        "  jurisdiction: 所在区\nconstants:\n  credit_class: C\n",
        encoding="utf-8",
    )
    dry = run(
        settings,
        "targets",
        "import",
        str(path),
        "--columns",
        str(mapping),
        "--department",
        OWN,
        "--dry-run",
        user=OPERATOR,
    )
    assert dry.returncode == 2  # one bad row: a dry run says what an import would refuse
    lines = dry.stdout.splitlines()
    assert lines[0].startswith("export.csv（csv，gb18030）表头在第 1 行")
    assert "  A 列 统一代码 → identifier" in lines
    assert "  D 列 备注 → —（保留为附加信息 / kept as extra）" in lines
    assert any(line.startswith("  预览 / preview: identifier=") for line in lines)
    assert "第 7 行 A 列" in dry.stderr and size(settings) == before

    saved = run(settings, "imports", "profiles", "save", "县导出", "--columns", str(mapping))
    assert saved.returncode == 0
    listed = json.loads(ok(run(settings, "imports", "profiles", "list", "--json")))
    assert listed["县导出"]["constants"] == {"credit_class": "C"}
    done = run(
        settings,
        "targets",
        "import",
        str(path),
        "--profile",
        "县导出",
        "--department",
        OWN,
        "--skip-invalid",
        "--format",
        "json",
        user=OPERATOR,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["created"], report["rejected"], report["problem_count"]) == (6, 1, 1)
    rejects = Path(report["rejects_file"])
    assert rejects.name == "export.rejects.csv"
    text = rejects.read_bytes().decode("gb18030").splitlines()
    assert text[0] == "统一代码,字号,所在区,备注,问题"
    assert text[1].startswith(f"{synthetic.BAD_USCC},合成示范广告有限公司,高新区分局,甲,")
    again = json.loads(
        ok(
            run(
                settings,
                "targets",
                "import",
                str(path),
                "--profile",
                "县导出",
                "--department",
                OWN,
                "--skip-invalid",
                "--format",
                "json",
                user=OPERATOR,
            )
        )
    )
    assert (again["created"], again["unchanged"], again["rejected"]) == (0, 6, 1)


def test_department_alias_command(settings: Settings, jurisdiction: Jurisdiction) -> None:
    assert "已登记别名" in ok(run(settings, "departments", "alias", OWN, "常州特设科"))
    assert "别名已存在" in ok(run(settings, "departments", "alias", OWN, "常州特设科"))
    clash = run(settings, "departments", "alias", "CZ-SJJ-SP", "常州特设科")
    assert clash.returncode == 2 and "already the code, name or alias of department" in clash.stderr
    listed = json.loads(ok(run(settings, "departments", "list", "--format", "json")))
    own = next(d for d in listed if d["code"] == OWN)
    assert own["aliases"] == ["常州特设科"]
