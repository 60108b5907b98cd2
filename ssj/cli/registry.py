"""Registry commands: bootstrap, departments, users, tokens, the item list (一单), the target and
inspector registries (两库), conflicts of interest and the read models.

Who acts: every command except `bootstrap` and `projections` runs as a registered user, named by
`--as USER` on the command or by the environment variable `SSJ_USER`; the service authorises it
(and records a refusal in the ledger). Lists print a table (Chinese headers), or with
`--format json` one JSON array of every matching row and nothing else on stdout, or CSV.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

import orjson
import typer
from rich.table import Table
from rich.text import Text

from projections.runner import REBUILD_PHASES
from ssj.cli.common import (
    AsUser,
    DeprecatedAsOf,
    cli_actor,
    current_principal,
    either_seq,
    err,
    fail,
    out,
    print_json,
    progress_bar,
    services_session,
)
from ssj.cli.imports import (
    ColumnsOption,
    DryRun,
    ProfileOption,
    Rejects,
    SheetOption,
    SkipInvalid,
    run_import,
)
from ssj.domain import fields
from ssj.domain.access import Command
from ssj.domain.conflicts import RELATION_LABELS, Relation, RuleKind
from ssj.domain.inspectors import POOL_LABELS, STATUS_LABELS, InspectorStatus, Pool
from ssj.domain.items import ITEM_CLASS_LABELS, ItemClass
from ssj.domain.organisation import (
    KIND_LABELS,
    LEVEL_LABELS,
    Department,
    DepartmentKind,
    Level,
    User,
)
from ssj.domain.targets import (
    CREDIT_CLASS_LABELS,
    TARGET_STATUS_LABELS,
    TARGET_TYPE_LABELS,
    CreditClass,
    TargetStatus,
    TargetType,
)
from ssj.errors import SsjError, ValidationError
from ssj.presentation import sheets
from ssj.presentation.views import (
    DECLARATIONS,
    DEPARTMENTS,
    INSPECTORS,
    ITEMS,
    TARGETS,
    USERS,
    View,
)

if TYPE_CHECKING:
    from ssj.services.context import Services

USER_HELP = "（以 --as USER 或 SSJ_USER 指明操作者）/ (act as --as USER or SSJ_USER)"

departments_app = typer.Typer(help=f"部门 / departments {USER_HELP}", no_args_is_help=True)
users_app = typer.Typer(help=f"用户与角色 / users and roles {USER_HELP}", no_args_is_help=True)
tokens_app = typer.Typer(help=f"API 令牌 / API tokens {USER_HELP}", no_args_is_help=True)
items_app = typer.Typer(
    help=f"随机抽查事项清单 / the inspection-item list {USER_HELP}", no_args_is_help=True
)
targets_app = typer.Typer(
    help=f"检查对象名录库 / the target registry {USER_HELP}", no_args_is_help=True
)
inspectors_app = typer.Typer(
    help=f"执法检查人员名录库 / the inspector registry {USER_HELP}", no_args_is_help=True
)
conflicts_app = typer.Typer(
    help=f"利害关系与回避规则 / conflicts of interest {USER_HELP}", no_args_is_help=True
)
projections_app = typer.Typer(
    help="读模型：状态与重建 / read models: status and rebuild", no_args_is_help=True
)

PAGE = 1000  # rows per query when a list pages through internally (RegistryQueries.MAX_LIMIT)


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class ReportFormat(StrEnum):
    text = "text"
    json = "json"


# Shared options --------------------------------------------------------------------------------

FormatOption = Annotated[
    Format,
    typer.Option(
        "--format", "-f", help="输出格式 / output: table, json (one array of all rows), csv"
    ),
]
AtSeq = Annotated[
    int | None,
    typer.Option(
        "--at-seq", metavar="SEQ", help="账本序号为 SEQ 时的名录 / the registry as it stood at SEQ"
    ),
]
Offset = Annotated[int, typer.Option(help="表格从第几条起（0 起）/ table: rows to skip")]
Limit = Annotated[int, typer.Option(help="表格每页条数 / table: rows per page (1-1000)")]
Search = Annotated[str | None, typer.Option("--search", help="名称包含 / name contains this text")]
DepartmentFilter = Annotated[
    str | None, typer.Option("--department", help="部门编码 / department code")
]
ImportFormat = Annotated[
    ReportFormat, typer.Option("--format", "-f", help="报告格式 / report: text or json")
]
FileArgument = Annotated[
    Path, typer.Argument(help="文件（.xlsx、.xls、.csv）/ the file", show_default=False)
]
ExportFile = Annotated[
    Path, typer.Argument(help="导出文件（.xlsx 或 .csv）/ file to write", show_default=False)
]
Reason = Annotated[str, typer.Option(help="理由 / reason")]


def _choice(name: str, value: str | None, enum: type[StrEnum], labels: Any = None) -> str | None:
    """A filter value given as a code or a Chinese label, as the stored code."""
    if value is None or value == "":
        return None
    try:
        code: str = fields.choice(name, value, enum, labels).value
        return code
    except SsjError as e:
        fail(e)


def _roles(values: Sequence[str]) -> list[str]:
    return fields.text_list("roles", ",".join(values))


# Listing -----------------------------------------------------------------------------------------


def _check_at_seq(services: Services, seq: int | None) -> int | None:
    if seq is None:
        return None
    size = services.ledger.size()
    if not 0 <= seq < size:
        raise ValidationError(
            f"账本序号 {seq} 不存在（账本共 {size} 条，序号 0–{size - 1}）",
            f"there is no ledger seq {seq} (the ledger holds {size} events, seq 0-{size - 1})",
        )
    return seq


def _all_rows(
    services: Services,
    table: str,
    filters: Mapping[str, str | None],
    search: str | None,
    at_seq: int | None,
) -> Iterator[dict[str, Any]]:
    """Every matching state, page by page, all as of one seq (so concurrent writes cannot make
    a row appear twice or go missing between pages)."""
    if at_seq is None:
        seq = services.runner.seq("registry")
        at_seq = seq if seq >= 0 else None
    offset = 0
    while True:
        page = services.queries.list(
            table, filters, at_seq=at_seq, offset=offset, limit=PAGE, search=search
        )
        yield from page.rows
        offset += len(page.rows)
        if len(page.rows) < PAGE:
            return


def _write_json_array(rows: Iterable[Mapping[str, Any]]) -> None:
    """One JSON array on stdout, written as it is read (constant memory for big registries)."""
    stream = sys.stdout.buffer
    first = True
    stream.write(b"[")
    for row in rows:
        stream.write(b"\n  " if first else b",\n  ")
        stream.write(orjson.dumps(row))
        first = False
    stream.write(b"]\n" if first else b"\n]\n")
    stream.flush()


def _print_table(
    view: View,
    rows: Sequence[Mapping[str, Any]],
    total: int,
    offset: int,
    at_seq: int | None,
) -> None:
    table = Table(header_style="bold", highlight=False)
    for name in view.columns:
        table.add_column(view.labels[name], overflow="fold")
    for row in rows:
        table.add_row(*(Text(view.cell(name, row.get(name))) for name in view.columns))
    out.print(table)
    when = f"，账本序号 {at_seq} 时 / at seq {at_seq}" if at_seq is not None else ""
    if rows:
        shown = f"第 {offset + 1}–{offset + len(rows)} 条，共 {total} 条{when} / rows {offset + 1}-{offset + len(rows)} of {total}"
    else:
        shown = f"无记录（共 {total} 条）{when} / no rows here ({total} in all)"
    out.print(shown, highlight=False, markup=False)


def _emit(
    view: View,
    fmt: Format,
    rows: Iterable[Mapping[str, Any]],
) -> None:
    try:
        if fmt is Format.json:
            _write_json_array(rows)
        else:
            text = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
            sheets.write_csv(view.sheet(rows), text)
            text.flush()
            text.detach()
    except BrokenPipeError:  # `ssj targets list --format json | head`: the reader has enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(0) from None


def _list(
    view: View,
    as_user: str | None,
    fmt: Format,
    filters: Mapping[str, str | None],
    *,
    search: str | None = None,
    at_seq: int | None = None,
    offset: int = 0,
    limit: int = 100,
) -> None:
    with services_session() as services:
        principal = current_principal(services, as_user)
        services.authorise(principal, view.read)
        seq = _check_at_seq(services, at_seq)
        if fmt is Format.table:
            page = services.queries.list(
                view.table, filters, at_seq=seq, offset=offset, limit=limit, search=search
            )
            _print_table(view, page.rows, page.total, offset, seq)
        else:
            _emit(view, fmt, _all_rows(services, view.table, filters, search, seq))


# Import and export ------------------------------------------------------------------------------


def _export(
    view: View,
    path: Path,
    as_user: str | None,
    filters: Mapping[str, str | None],
    search: str | None,
    at_seq: int | None,
) -> None:
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        fail(
            ValidationError(
                f"不支持的导出格式“{path.suffix or path.name}”：请用 .xlsx 或 .csv",
                f"cannot export to '{path.suffix or path.name}': use .xlsx or .csv",
            )
        )
    with services_session() as services:
        principal = current_principal(services, as_user)
        services.authorise(principal, view.read)
        seq = _check_at_seq(services, at_seq)
        states = _all_rows(services, view.table, filters, search, seq)
        write = _write_xlsx if suffix == ".xlsx" else _write_csv_file
        count = _atomic_write(path, lambda target: write(view, states, target))
    out.print(f"已导出 / exported {count} 条 rows → {path}", highlight=False, markup=False)


def _atomic_write(path: Path, write: Callable[[Path], int]) -> int:
    """Write beside the target and rename, so a failure never leaves half a file."""
    directory = path.resolve().parent
    try:
        handle, temporary = tempfile.mkstemp(prefix=".ssj-export-", dir=directory)
        os.close(handle)
    except OSError as e:
        raise ValidationError(
            f"无法写入 {path}：{e.strerror}", f"cannot write {path}: {e.strerror}"
        ) from None
    try:
        count = write(Path(temporary))
        os.replace(temporary, path)
    except OSError as e:
        raise ValidationError(
            f"无法写入 {path}：{e.strerror}", f"cannot write {path}: {e.strerror}"
        ) from None
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return count


class _Counter:
    """Counts the entries written (an item's continuation rows are not entries)."""

    def __init__(self, rows: Iterable[Mapping[str, Any]]) -> None:
        self.rows = rows
        self.count = 0

    def __iter__(self) -> Iterator[Mapping[str, Any]]:
        for row in self.rows:
            self.count += 1
            yield row


def _write_csv_file(view: View, states: Iterable[Mapping[str, Any]], target: Path) -> int:
    counted = _Counter(states)
    with target.open("w", encoding="utf-8-sig", newline="") as stream:  # BOM: Excel reads UTF-8
        sheets.write_csv(view.sheet(counted), stream)
    return counted.count


def _write_xlsx(view: View, states: Iterable[Mapping[str, Any]], target: Path) -> int:
    counted = _Counter(states)
    sheets.write_xlsx(view.sheet(counted), target, title=view.table)
    return counted.count


# Bootstrap -------------------------------------------------------------------------------------


def bootstrap(
    username: Annotated[str, typer.Option(help="管理员用户名 / administrator's username")],
    name: Annotated[str, typer.Option(help="管理员姓名 / administrator's name")],
    department: Annotated[str, typer.Option(help="首个部门编码 / first department's code")],
    department_name: Annotated[str, typer.Option(help="首个部门名称 / its name")],
    region_code: Annotated[str, typer.Option(help="行政区划代码 / region code (6 digits)")],
    level: Annotated[str, typer.Option(help="级别 / level: province, city, county")] = "city",
) -> None:
    """创建首个部门与管理员（必要时初始化账本）/ create the first department and administrator."""
    with services_session() as services:
        # Validate before anything is written (initialising the ledger writes its genesis).
        Department.register(department, department_name, level, "bureau", None, region_code)
        User.register(username, name, department, ["admin"])
        if not services.ledger.is_initialised():
            services.ledger.initialise(cli_actor())
        from ssj.services.registry import RegistryService

        outcome = RegistryService(services).bootstrap(
            username, name, department, department_name, region_code, level
        )
    if outcome == "unchanged":
        _done(
            f"已初始化过相同的部门 {department} 与管理员 {username}，未重复写入 / the same "
            f"department {department} and administrator {username} exist already: nothing written"
        )
        return
    out.print(
        f"已初始化 / bootstrapped: 部门 department {department}，管理员 administrator {username}",
        highlight=False,
        markup=False,
    )


def _registry(services: Services) -> Any:
    from ssj.services.registry import RegistryService

    return RegistryService(services)


def _done(message: str) -> None:
    out.print(message, highlight=False, markup=False)


# Departments -----------------------------------------------------------------------------------


@departments_app.command("add")
def departments_add(
    code: Annotated[str, typer.Argument(help="部门编码 / department code")],
    name: Annotated[str, typer.Option(help="名称 / name")],
    region_code: Annotated[str, typer.Option(help="行政区划代码 / region code")],
    level: Annotated[str, typer.Option(help="级别 / province, city, county")] = "city",
    kind: Annotated[str, typer.Option(help="类型 / bureau (局) or section (科室)")] = "section",
    parent: Annotated[str | None, typer.Option(help="上级部门编码 / parent code")] = None,
    as_user: AsUser = None,
) -> None:
    """登记部门 / register a department."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        outcome = _registry(services).add_department(
            principal, code, name, level, kind, parent, region_code
        )
    if outcome == "unchanged":
        _done(
            f"相同的部门 {code} 已登记，未重复写入 / an identical department {code} is registered "
            "already: nothing written"
        )
        return
    _done(f"已登记部门 / department registered: {code}")


@departments_app.command("alias")
def departments_alias(
    code: Annotated[str, typer.Argument(help="部门编码 / department code")],
    name: Annotated[str, typer.Argument(help="别名，如文件中的写法 / another name files use")],
    as_user: AsUser = None,
) -> None:
    """登记部门别名：导入时按编码、名称或别名识别部门 / add a name imports resolve to the
    department."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        added = _registry(services).add_department_alias(principal, code, name)
    if added:
        _done(f"已登记别名 / alias added: {name.strip()} → {code}")
    else:
        _done(f"别名已存在 / already an alias: {name.strip()} → {code}")


@departments_app.command("list")
def departments_list(
    parent: Annotated[str | None, typer.Option(help="上级部门 / parent code")] = None,
    level: Annotated[str | None, typer.Option(help="级别 / level")] = None,
    kind: Annotated[str | None, typer.Option(help="类型 / kind")] = None,
    search: Search = None,
    at_seq: AtSeq = None,
    as_of: DeprecatedAsOf = None,
    fmt: FormatOption = Format.table,
    offset: Offset = 0,
    limit: Limit = 100,
    as_user: AsUser = None,
) -> None:
    """列出部门 / list departments."""
    at_seq = either_seq(at_seq, as_of)
    filters = {
        "parent": parent,
        "level": _choice("level", level, Level, LEVEL_LABELS),
        "kind": _choice("kind", kind, DepartmentKind, KIND_LABELS),
    }
    _list(
        DEPARTMENTS,
        as_user,
        fmt,
        filters,
        search=search,
        at_seq=at_seq,
        offset=offset,
        limit=limit,
    )


# Users and tokens ------------------------------------------------------------------------------

RoleOption = Annotated[
    list[str],
    typer.Option(
        "--role",
        help="角色，可多次或用逗号分隔 / role (repeat, or comma-separated): admin, operator, "
        "leader, inspector, supervisor, reviewer",
    ),
]


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="用户名 / username")],
    name: Annotated[str, typer.Option(help="姓名 / name")],
    department: Annotated[str, typer.Option(help="部门编码 / department code")],
    role: RoleOption,
    as_user: AsUser = None,
) -> None:
    """登记用户 / register a user with roles."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        outcome = _registry(services).add_user(principal, username, name, department, _roles(role))
    if outcome == "unchanged":
        _done(
            f"相同的用户 {username} 已登记，未重复写入 / an identical user {username} is "
            "registered already: nothing written"
        )
        return
    _done(f"已登记用户 / user registered: {username}")


@users_app.command("list")
def users_list(
    department: DepartmentFilter = None,
    at_seq: AtSeq = None,
    as_of: DeprecatedAsOf = None,
    fmt: FormatOption = Format.table,
    offset: Offset = 0,
    limit: Limit = 100,
    as_user: AsUser = None,
) -> None:
    """列出用户（管理员、纪检监察、考核人员）/ list users (admin, supervisor, reviewer)."""
    at_seq = either_seq(at_seq, as_of)
    _list(
        USERS, as_user, fmt, {"department": department}, at_seq=at_seq, offset=offset, limit=limit
    )


@users_app.command("roles")
def users_roles(
    username: Annotated[str, typer.Argument(help="用户名 / username")],
    role: RoleOption,
    as_user: AsUser = None,
) -> None:
    """设定用户角色（替换原有角色）/ set a user's roles (replacing the old ones)."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        _registry(services).set_roles(principal, username, _roles(role))
    _done(f"已设定角色 / roles set: {username}")


@users_app.command("link-certificate")
def users_link_certificate(
    username: Annotated[str, typer.Argument(help="用户名 / username")],
    certificate_no: Annotated[str, typer.Argument(help="执法证号 / certificate number")],
    as_user: AsUser = None,
) -> None:
    """关联用户与本人执法证号 / link a user to the inspector they are."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        _registry(services).link_certificate(principal, username, certificate_no)
    _done(f"已关联 / linked: {username} → {certificate_no}")


@users_app.command("deactivate")
def users_deactivate(
    username: Annotated[str, typer.Argument(help="用户名 / username")],
    reason: Reason,
    as_user: AsUser = None,
) -> None:
    """停用用户 / deactivate a user."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        _registry(services).deactivate_user(principal, username, reason)
    _done(f"已停用用户 / user deactivated: {username}")


@tokens_app.command("issue")
def tokens_issue(
    username: Annotated[str, typer.Argument(help="令牌所属用户 / the token's user")],
    label: Annotated[str, typer.Option(help="用途说明 / what the token is for")],
    as_user: AsUser = None,
) -> None:
    """签发 API 令牌：密钥只在标准输出显示这一次 / issue a token; the secret is printed once."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        secret = _registry(services).issue_token(principal, username, label)
    typer.echo(secret)
    err.print(
        f"已签发令牌 / token issued for {username}：请妥善保存，账本只记录其 SHA-256 / "
        "keep it safe: the ledger records only its SHA-256",
        highlight=False,
        markup=False,
    )


@tokens_app.command("revoke")
def tokens_revoke(
    token: Annotated[str, typer.Argument(help="令牌或其 SHA-256 / the token or its SHA-256")],
    reason: Reason,
    as_user: AsUser = None,
) -> None:
    """吊销 API 令牌 / revoke an API token."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        _registry(services).revoke_token(principal, token, reason)
    _done("已吊销令牌 / token revoked")


# Items -----------------------------------------------------------------------------------------


@items_app.command("import")
def items_import(
    file: FileArgument,
    department: Annotated[
        str | None,
        typer.Option(help="文件无牵头部门列时使用 / lead department when the file has none"),
    ] = None,
    fmt: ImportFormat = ReportFormat.text,
    as_user: AsUser = None,
    dry_run: DryRun = False,
    skip_invalid: SkipInvalid = False,
    rejects: Rejects = None,
    sheet: SheetOption = None,
    columns: ColumnsOption = None,
    profile: ProfileOption = None,
) -> None:
    """导入抽查事项清单（有任何问题则不写入）/ import the item list (all or nothing)."""
    run_import(
        "items",
        file,
        department,
        as_user,
        fmt is ReportFormat.json,
        dry_run=dry_run,
        skip_invalid=skip_invalid,
        rejects=rejects,
        sheet=sheet,
        columns=columns,
        profile=profile,
    )


def _item_filters(
    department: str | None, category: str | None, target_type: str | None, item_class: str | None
) -> dict[str, str | None]:
    return {
        "department": department,
        "category": category,
        "target_type": _choice("target_type", target_type, TargetType, TARGET_TYPE_LABELS),
        "item_class": _choice("item_class", item_class, ItemClass, ITEM_CLASS_LABELS),
    }


Category = Annotated[str | None, typer.Option(help="抽查类别 / category")]
TargetTypeFilter = Annotated[
    str | None, typer.Option(help="检查对象类型 / target type (企业, enterprise, …)")
]
ItemClassFilter = Annotated[
    str | None, typer.Option(help="事项类别 / general (一般) or key (重点)")
]


@items_app.command("list")
def items_list(
    department: DepartmentFilter = None,
    category: Category = None,
    target_type: TargetTypeFilter = None,
    item_class: ItemClassFilter = None,
    search: Search = None,
    at_seq: AtSeq = None,
    as_of: DeprecatedAsOf = None,
    fmt: FormatOption = Format.table,
    offset: Offset = 0,
    limit: Limit = 100,
    as_user: AsUser = None,
) -> None:
    """列出抽查事项（含已废止）/ list inspection items (retired ones too)."""
    at_seq = either_seq(at_seq, as_of)
    filters = _item_filters(department, category, target_type, item_class)
    _list(ITEMS, as_user, fmt, filters, search=search, at_seq=at_seq, offset=offset, limit=limit)


@items_app.command("export")
def items_export(
    file: ExportFile,
    department: DepartmentFilter = None,
    category: Category = None,
    target_type: TargetTypeFilter = None,
    item_class: ItemClassFilter = None,
    search: Search = None,
    at_seq: AtSeq = None,
    as_of: DeprecatedAsOf = None,
    as_user: AsUser = None,
) -> None:
    """导出抽查事项清单（.xlsx 或 .csv，可重新导入）/ export the item list (re-importable)."""
    at_seq = either_seq(at_seq, as_of)
    filters = _item_filters(department, category, target_type, item_class)
    _export(ITEMS, file, as_user, filters, search, at_seq)


@items_app.command("retire")
def items_retire(
    department: Annotated[str, typer.Argument(help="牵头部门 / lead department")],
    code: Annotated[str, typer.Argument(help="事项编码 / item code")],
    reason: Reason,
    as_user: AsUser = None,
) -> None:
    """废止抽查事项 / retire an item (it stays on record)."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        _registry(services).retire_item(principal, department, code, reason)
    _done(f"已废止事项 / item retired: {department} {code}")


# Targets ---------------------------------------------------------------------------------------


def _target_filters(
    department: str | None,
    status: str | None,
    target_type: str | None,
    credit_class: str | None,
    region_code: str | None,
) -> dict[str, str | None]:
    return {
        "department": department,
        "status": _choice("status", status, TargetStatus, TARGET_STATUS_LABELS),
        "target_type": _choice("target_type", target_type, TargetType, TARGET_TYPE_LABELS),
        "credit_class": _choice("credit_class", credit_class, CreditClass, CREDIT_CLASS_LABELS),
        "region_code": region_code,
    }


TargetStatusFilter = Annotated[
    str | None, typer.Option(help="状态 / status (存续 active, 注销 deregistered, …)")
]
CreditClassFilter = Annotated[str | None, typer.Option(help="信用风险分类 / credit class A-D")]
RegionFilter = Annotated[str | None, typer.Option(help="行政区划代码 / region code")]


@targets_app.command("import")
def targets_import(
    file: FileArgument,
    department: Annotated[
        str | None,
        typer.Option(help="文件无责任部门列时使用 / department when the file has none"),
    ] = None,
    fmt: ImportFormat = ReportFormat.text,
    as_user: AsUser = None,
    dry_run: DryRun = False,
    skip_invalid: SkipInvalid = False,
    rejects: Rejects = None,
    sheet: SheetOption = None,
    columns: ColumnsOption = None,
    profile: ProfileOption = None,
) -> None:
    """导入检查对象名录（有任何问题则不写入）/ import targets (all or nothing)."""
    run_import(
        "targets",
        file,
        department,
        as_user,
        fmt is ReportFormat.json,
        dry_run=dry_run,
        skip_invalid=skip_invalid,
        rejects=rejects,
        sheet=sheet,
        columns=columns,
        profile=profile,
    )


@targets_app.command("list")
def targets_list(
    department: DepartmentFilter = None,
    status: TargetStatusFilter = None,
    target_type: TargetTypeFilter = None,
    credit_class: CreditClassFilter = None,
    region_code: RegionFilter = None,
    search: Search = None,
    at_seq: AtSeq = None,
    as_of: DeprecatedAsOf = None,
    fmt: FormatOption = Format.table,
    offset: Offset = 0,
    limit: Limit = 100,
    as_user: AsUser = None,
) -> None:
    """列出检查对象 / list targets."""
    at_seq = either_seq(at_seq, as_of)
    filters = _target_filters(department, status, target_type, credit_class, region_code)
    _list(TARGETS, as_user, fmt, filters, search=search, at_seq=at_seq, offset=offset, limit=limit)


@targets_app.command("export")
def targets_export(
    file: ExportFile,
    department: DepartmentFilter = None,
    status: TargetStatusFilter = None,
    target_type: TargetTypeFilter = None,
    credit_class: CreditClassFilter = None,
    region_code: RegionFilter = None,
    search: Search = None,
    at_seq: AtSeq = None,
    as_of: DeprecatedAsOf = None,
    as_user: AsUser = None,
) -> None:
    """导出检查对象名录（.xlsx 或 .csv，可重新导入）/ export targets (re-importable)."""
    at_seq = either_seq(at_seq, as_of)
    filters = _target_filters(department, status, target_type, credit_class, region_code)
    _export(TARGETS, file, as_user, filters, search, at_seq)


# Inspectors ------------------------------------------------------------------------------------


def _inspector_filters(
    department: str | None, pool: str | None, status: str | None
) -> dict[str, str | None]:
    return {
        "department": department,
        "pool": _choice("pool", pool, Pool, POOL_LABELS),
        "status": _choice("status", status, InspectorStatus, STATUS_LABELS),
    }


PoolFilter = Annotated[
    str | None, typer.Option(help="名录库 / inspector (检查人员) or expert (专家)")
]
InspectorStatusFilter = Annotated[
    str | None, typer.Option(help="状态 / status (在岗 active, 休假 on_leave, …)")
]


@inspectors_app.command("import")
def inspectors_import(
    file: FileArgument,
    department: Annotated[
        str | None,
        typer.Option(help="文件无所属部门列时使用 / department when the file has none"),
    ] = None,
    fmt: ImportFormat = ReportFormat.text,
    as_user: AsUser = None,
    dry_run: DryRun = False,
    skip_invalid: SkipInvalid = False,
    rejects: Rejects = None,
    sheet: SheetOption = None,
    columns: ColumnsOption = None,
    profile: ProfileOption = None,
) -> None:
    """导入执法检查人员名录（有任何问题则不写入）/ import inspectors (all or nothing)."""
    run_import(
        "inspectors",
        file,
        department,
        as_user,
        fmt is ReportFormat.json,
        dry_run=dry_run,
        skip_invalid=skip_invalid,
        rejects=rejects,
        sheet=sheet,
        columns=columns,
        profile=profile,
    )


@inspectors_app.command("list")
def inspectors_list(
    department: DepartmentFilter = None,
    pool: PoolFilter = None,
    status: InspectorStatusFilter = None,
    search: Search = None,
    at_seq: AtSeq = None,
    as_of: DeprecatedAsOf = None,
    fmt: FormatOption = Format.table,
    offset: Offset = 0,
    limit: Limit = 100,
    as_user: AsUser = None,
) -> None:
    """列出执法检查人员与专家 / list inspectors and experts."""
    at_seq = either_seq(at_seq, as_of)
    filters = _inspector_filters(department, pool, status)
    _list(
        INSPECTORS,
        as_user,
        fmt,
        filters,
        search=search,
        at_seq=at_seq,
        offset=offset,
        limit=limit,
    )


@inspectors_app.command("export")
def inspectors_export(
    file: ExportFile,
    department: DepartmentFilter = None,
    pool: PoolFilter = None,
    status: InspectorStatusFilter = None,
    search: Search = None,
    at_seq: AtSeq = None,
    as_of: DeprecatedAsOf = None,
    as_user: AsUser = None,
) -> None:
    """导出执法检查人员名录（.xlsx 或 .csv，可重新导入）/ export inspectors (re-importable)."""
    at_seq = either_seq(at_seq, as_of)
    _export(INSPECTORS, file, as_user, _inspector_filters(department, pool, status), search, at_seq)


# Conflicts of interest -------------------------------------------------------------------------


@conflicts_app.command("declare")
def conflicts_declare(
    inspector: Annotated[str, typer.Option(help="执法证号 / the inspector's certificate no.")],
    target: Annotated[str, typer.Option(help="检查对象标识 / the target's identifier")],
    relation: Annotated[
        str,
        typer.Option(
            help="关系 / kinship (近亲属), employment (曾任职), shareholding, dispute, other"
        ),
    ],
    valid_from: Annotated[str, typer.Option("--from", help="起始日期 / from (YYYY-MM-DD)")],
    reason: Reason,
    valid_to: Annotated[
        str | None, typer.Option("--to", help="终止日期 / until (YYYY-MM-DD)")
    ] = None,
    as_user: AsUser = None,
) -> None:
    """登记利害关系声明；标准输出为声明编号（相同的声明已存在时为其编号，不重复登记）/ declare a
    conflict; prints its id on stdout (an identical existing one's id: nothing written)."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        declaration_id, outcome = _registry(services).declare_conflict(
            principal,
            {
                "certificate_no": inspector,
                "target_identifier": target,
                "relation": relation,
                "valid_from": valid_from,
                "valid_to": valid_to,
                "reason": reason,
            },
        )
    typer.echo(str(declaration_id))
    if outcome == "unchanged":
        err.print(
            f"相同的利害关系声明已存在（编号 {declaration_id}），未重复登记 / an identical "
            f"declaration exists already ({declaration_id}): nothing written",
            highlight=False,
            markup=False,
        )
        return
    err.print("已登记利害关系声明 / conflict declared", highlight=False, markup=False)


@conflicts_app.command("withdraw")
def conflicts_withdraw(
    declaration: Annotated[str, typer.Argument(metavar="ID", help="声明编号 / declaration id")],
    reason: Reason,
    as_user: AsUser = None,
) -> None:
    """撤回利害关系声明 / withdraw a declaration (it stays on record)."""
    try:
        declaration_id = UUID(declaration)
    except ValueError:
        fail(
            ValidationError(
                f"声明编号无效“{declaration}”", f"invalid declaration id {declaration!r}"
            )
        )
    with services_session() as services:
        principal = current_principal(services, as_user)
        _registry(services).withdraw_conflict(principal, declaration_id, reason)
    _done(f"已撤回声明 / declaration withdrawn: {declaration_id}")


@conflicts_app.command("list")
def conflicts_list(
    inspector: Annotated[str | None, typer.Option(help="执法证号 / certificate no.")] = None,
    target: Annotated[str | None, typer.Option(help="检查对象标识 / target identifier")] = None,
    relation: Annotated[str | None, typer.Option(help="关系 / relation")] = None,
    withdrawn: Annotated[
        bool, typer.Option("--withdrawn/--active-only", help="含已撤回 / include withdrawn ones")
    ] = True,
    at_seq: AtSeq = None,
    as_of: DeprecatedAsOf = None,
    fmt: FormatOption = Format.table,
    offset: Offset = 0,
    limit: Limit = 100,
    as_user: AsUser = None,
) -> None:
    """列出利害关系声明 / list declared conflicts of interest."""
    at_seq = either_seq(at_seq, as_of)
    wanted = _choice("relation", relation, Relation, RELATION_LABELS)
    with services_session() as services:
        principal = current_principal(services, as_user)
        services.authorise(principal, DECLARATIONS.read)
        seq = _check_at_seq(services, at_seq)
        found = []
        for row in services.queries.states(
            "declarations", at_seq=seq, columns=("aggregate_id", "state")
        ):
            state = {"id": row["aggregate_id"], **orjson.loads(row["state"])}
            if (
                (inspector is None or state["certificate_no"] == inspector)
                and (target is None or state["target_identifier"] == target)
                and (wanted is None or state["relation"] == wanted)
                and (withdrawn or not state["withdrawn"])
            ):
                found.append(state)
        found.sort(key=lambda s: (s["certificate_no"], s["target_identifier"], s["valid_from"]))
        if fmt is Format.table:
            if offset < 0 or not 1 <= limit <= PAGE:
                raise ValidationError(
                    f"分页参数无效（offset ≥ 0，1 ≤ limit ≤ {PAGE}）",
                    f"invalid paging (offset >= 0, 1 <= limit <= {PAGE})",
                )
            _print_table(DECLARATIONS, found[offset : offset + limit], len(found), offset, seq)
        else:
            _emit(DECLARATIONS, fmt, found)


@conflicts_app.command("rules")
def conflicts_rules(
    department: Annotated[str, typer.Argument(help="部门编码 / department code")],
    not_own_district: Annotated[
        bool | None,
        typer.Option(
            "--not-own-district/--no-not-own-district",
            help="不得检查居住地所在区县的对象 / never inspect in one's home district",
            show_default=False,
        ),
    ] = None,
    employment_within_years: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            help="曾任职 N 年内回避（0 关闭）/ recuse from former employers for N years (0: off)",
        ),
    ] = None,
    as_user: AsUser = None,
) -> None:
    """查看或设定部门的回避规则（未给出的规则保持不变）/ show or set a department's rules."""
    with services_session() as services:
        principal = current_principal(services, as_user)
        services.authorise(principal, Command.READ_REGISTRY)
        current = services.queries.get("conflict_rules", [department])
        rules: dict[str, Any] = dict(current["rules"]) if current else {}
        changes: dict[str, Any] = {}
        if not_own_district is not None:
            changes[RuleKind.NOT_OWN_DISTRICT.value] = not_own_district
        if employment_within_years is not None:
            changes[RuleKind.EMPLOYMENT_WITHIN_YEARS.value] = employment_within_years
        if changes:
            rules.update(changes)
            _registry(services).set_conflict_rules(principal, department, rules)
            services.refresh()
            current = services.queries.get("conflict_rules", [department])
            rules = dict(current["rules"]) if current else rules
        elif current is None:
            services.require_department(department)
    shown = {
        RuleKind.NOT_OWN_DISTRICT.value: bool(rules.get(RuleKind.NOT_OWN_DISTRICT.value, False)),
        RuleKind.EMPLOYMENT_WITHIN_YEARS.value: int(
            rules.get(RuleKind.EMPLOYMENT_WITHIN_YEARS.value, 0) or 0
        ),
    }
    state = "已设定 / set" if changes else "现行 / current"
    _done(
        f"{state} {department}：不查居住地区县 not_own_district="
        f"{str(shown['not_own_district']).lower()}，曾任职回避年限 employment_within_years="
        f"{shown['employment_within_years']}"
    )


# Read models -----------------------------------------------------------------------------------


@projections_app.command("status")
def projections_status(json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """读模型进度 / how far each read model has applied the ledger."""
    with services_session() as services:
        size = services.ledger.size()
        seqs = services.runner.seqs()
        escaped = len(services.runner.escapes())
    rows = [
        {"name": name, "seq": seq, "ledger_size": size, "behind": size - 1 - seq}
        for name, seq in seqs.items()
    ]
    if json:
        print_json(rows)
        return
    for row in rows:
        _done(
            f"{row['name']}：已应用至序号 applied through seq {row['seq']}，账本 ledger size "
            f"{size}，落后 behind {row['behind']}"
        )
    if escaped:
        typer.echo(
            f"注意：{escaped} 条事件含读模型无法存储的字符，已转义保存（ssj projections escapes）"
            f" / note: {escaped} event(s) hold characters no read model can store; they are "
            "held escaped (ssj projections escapes)",
            err=True,
        )


@projections_app.command("escapes")
def projections_escapes(json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """读模型中被转义的事件 / events the read models hold escaped (characters they cannot
    store, such as NUL, written before the text policy existed or below the API)."""
    with services_session() as services:
        services.refresh()
        rows: list[dict[str, Any]] = [
            {"seq": seq, "event": topic, "paths": paths.split(", ")}
            for seq, topic, paths in services.runner.escapes()
        ]
    if json:
        print_json(rows)
        return
    if not rows:
        _done("没有被转义的事件 / no event is held escaped")
    for row in rows:
        _done(f"序号 seq {row['seq']} {row['event']}：{', '.join(row['paths'])}")


@projections_app.command("rebuild")
def projections_rebuild() -> None:
    """丢弃并从账本重建全部读模型 / drop every read model and replay the whole ledger."""
    with services_session() as services:
        started = time.perf_counter()
        with progress_bar("重建 / rebuilding", services.ledger.size(), "events") as update:
            applied = services.runner.rebuild(update)
        seconds = time.perf_counter() - started
        size = services.ledger.size()
        phases = services.runner.phases
    rate = f"{applied / seconds:,.0f}" if seconds > 0 else "-"
    _done(
        f"已重建 / rebuilt: {applied:,} 条事件 events replayed in {seconds:.1f} s ({rate} 条/秒 "
        f"events/s), 账本 / ledger size {size:,}"
    )
    _done(
        "用时 / time: "
        + "; ".join(
            f"{zh} / {en} {phases[name]:.1f} s"
            for name, (zh, en) in REBUILD_PHASES.items()
            if name in phases
        )
    )
