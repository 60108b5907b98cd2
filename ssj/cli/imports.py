"""Import commands' shared options and report (`ssj items|targets|inspectors import`), and the
saved column mappings (`ssj imports profiles`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from ssj.cli.common import (
    EXIT_BAD_INPUT,
    current_principal,
    err,
    fail,
    open_services,
    out,
    print_json,
    progress_bar,
)
from ssj.config import Settings
from ssj.errors import SsjError, ValidationError

if TYPE_CHECKING:
    from ssj.imports.spreadsheet import Note, Problem
    from ssj.services.imports import ImportReport

imports_app = typer.Typer(help="导入配置 / import settings", no_args_is_help=True)
profiles_app = typer.Typer(help="列映射配置 / saved column mappings", no_args_is_help=True)
imports_app.add_typer(profiles_app, name="profiles")

DryRun = Annotated[
    bool, typer.Option("--dry-run", help="只检查并报告，不写入 / check and report, write nothing")
]
SkipInvalid = Annotated[
    bool,
    typer.Option(
        "--skip-invalid",
        help="写入有效行，问题行写入退回文件 / write the valid rows, the others to a rejects file",
    ),
]
Rejects = Annotated[
    Path | None,
    typer.Option(
        help="退回文件路径（默认：原文件名.rejects.扩展名）/ where to write rejected rows"
    ),
]
SheetOption = Annotated[str | None, typer.Option(help="工作表名称 / the sheet to read")]
ColumnsOption = Annotated[
    Path | None,
    typer.Option("--columns", help="列映射文件（YAML/JSON）/ a column mapping file"),
]
ProfileOption = Annotated[
    str | None, typer.Option("--profile", help="已保存的列映射名 / a saved column mapping")
]


def problem_line(problem: Problem | Note) -> str:
    """ "第 N 行 X 列：… / row N column X: …", whatever the wording of the underlying problem."""
    row, column, zh, en = problem.row, problem.column, problem.zh, problem.en
    if row <= 0:
        return f"{zh} / {en}"
    where_zh = f"第 {row} 行 {column} 列" if column else f"第 {row} 行"
    where_en = f"row {row} column {column}" if column else f"row {row}"
    if zh.startswith(where_zh):  # the reader's own problems already say where
        return f"{zh} / {en}"
    if zh.startswith(f"第 {row} 行"):  # the importer's say the row and the header label
        zh = zh.removeprefix(f"第 {row} 行").lstrip(" ：:")
        en = en.removeprefix(f"row {row}").lstrip(" :")
    return f"{where_zh}：{zh} / {where_en}: {en}"


def run_import(
    kind: str,
    path: Path,
    department: str | None,
    as_user: str | None,
    json: bool,
    *,
    dry_run: bool = False,
    skip_invalid: bool = False,
    rejects: Path | None = None,
    sheet: str | None = None,
    columns: Path | None = None,
    profile: str | None = None,
) -> None:
    from ssj.services import import_profiles
    from ssj.services.imports import ImportReport, Options, import_file

    report = ImportReport(file=path.name, kind=kind, dry_run=dry_run)
    try:
        mapping = import_profiles.Mapping()
        if profile is not None:
            mapping = import_profiles.get_profile(Settings.from_env().data_dir, profile)
        if columns is not None:
            mapping = import_profiles.load_mapping(columns)
        if mapping.kind and mapping.kind != kind:
            raise ValidationError(
                f"列映射用于{mapping.kind}，不是{kind}",
                f"the mapping is for {mapping.kind}, not {kind}",
            )
        options = Options(
            department=department or mapping.department,
            dry_run=dry_run,
            skip_invalid=skip_invalid,
            rejects=rejects,
            sheet=sheet or mapping.sheet,
            columns=mapping.columns,
            constants=mapping.constants,
        )
        services = open_services()
        try:
            principal = current_principal(services, as_user)
            with progress_bar(f"导入 / importing {escape(path.name)}", 0) as update:
                report = import_file(
                    services, principal, kind, path, progress=update, options=options
                )
        finally:
            services.close()
    except SsjError as e:
        if not json:
            fail(e)
        report.error = {"zh": e.zh, "en": e.en}
        print_json(report.as_dict())
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if json:
        print_json(report.as_dict())
    else:
        _print(report)
    if report.problems and not (skip_invalid and report.written) and not (dry_run and skip_invalid):
        raise typer.Exit(EXIT_BAD_INPUT)
    if dry_run and report.problems:
        raise typer.Exit(EXIT_BAD_INPUT)


def _print(report: ImportReport) -> None:
    """What was read and done on stdout; problems on stderr. A refused import prints only its
    problems (the notes are in --format json)."""
    say: dict[str, Any] = {"highlight": False, "markup": False}
    if report.problems and not report.written and not report.dry_run:
        _problems(report)
        return
    where = f"{report.format}" + (f"，工作表 sheet “{report.sheet}”" if report.sheet else "")
    where += f"，{report.encoding}" if report.encoding else ""
    header = "、".join(str(r) for r in report.header_rows)
    out.print(f"{report.file}（{where}）表头在第 {header} 行 / header in row(s) {header}", **say)
    if report.dry_run:
        for column in report.columns:
            field = column["field"] or "—（保留为附加信息 / kept as extra）"
            out.print(f"  {column['column']} 列 {column['label']} → {field}", **say)
        for state in report.preview:
            shown = "，".join(f"{k}={v}" for k, v in state.items() if v not in (None, "", [], {}))
            out.print(f"  预览 / preview: {shown}", **say)
    for note in report.notes:
        out.print(f"提示 / note: {problem_line(note)}", **say)
    if report.written:
        out.print(
            f"已导入 / imported {report.file}：{report.rows} 行 rows，新增 created {report.created}，"
            f"更新 updated {report.updated}，未变 unchanged {report.unchanged}，"
            f"退回 rejected {report.rejected}",
            **say,
        )
    elif report.dry_run and not report.problems:
        out.print(f"检查通过，未写入 / checked, nothing written: {report.rows} 行 rows", **say)
    if report.rejects_file:
        out.print(f"问题行已写入 / rejected rows written to {report.rejects_file}", **say)
    _problems(report)


def _problems(report: ImportReport) -> None:
    say: dict[str, Any] = {"highlight": False, "markup": False}
    if report.problems:
        if report.written:
            head = (
                f"{report.file} 有 {report.problem_count} 个问题，问题行未导入 / "
                f"{report.problem_count} problem(s): those rows were not imported"
            )
        elif report.dry_run:
            head = f"{report.file} 有 {report.problem_count} 个问题 / {report.problem_count} problem(s)"
        else:
            head = (
                f"{report.file} 有 {report.problem_count} 个问题，未导入任何数据 / "
                f"{report.problem_count} problem(s), nothing was imported"
            )
        err.print(f"错误 / error: {head}", **say)
        for problem in report.problems:
            err.print(problem_line(problem), **say)


@profiles_app.command("save")
def profiles_save(
    name: Annotated[str, typer.Argument(help="配置名 / profile name")],
    columns: Annotated[Path, typer.Option("--columns", help="列映射文件 / mapping file")],
) -> None:
    """保存列映射，供每月的导出文件重复使用 / save a column mapping for reuse."""
    from ssj.services import import_profiles

    mapping = import_profiles.load_mapping(columns)
    path = import_profiles.save_profile(Settings.from_env().data_dir, name, mapping)
    out.print(f"已保存 / saved {name} → {path}", highlight=False, markup=False)


@profiles_app.command("list")
def profiles_list(
    json: Annotated[bool, typer.Option("--json", help="JSON 输出 / print JSON")] = False,
) -> None:
    """列出已保存的列映射 / list saved column mappings."""
    from ssj.services import import_profiles

    found = import_profiles.list_profiles(Settings.from_env().data_dir)
    if json:
        print_json({name: m.as_dict() for name, m in found.items()})
        return
    if not found:
        out.print("（无 / none）", highlight=False, markup=False)
    for name, mapping in found.items():
        columns = "，".join(f"{k}←{'/'.join(v)}" for k, v in mapping.columns.items())
        constants = "，".join(f"{k}={v}" for k, v in mapping.constants.items())
        out.print(
            f"{name}  {mapping.kind or ''}  {columns}  {constants}".rstrip(),
            highlight=False,
            markup=False,
        )


@profiles_app.command("show")
def profiles_show(name: Annotated[str, typer.Argument(help="配置名 / profile name")]) -> None:
    """显示一个列映射 / show a saved column mapping."""
    from ssj.services import import_profiles

    print_json(import_profiles.get_profile(Settings.from_env().data_dir, name).as_dict())
