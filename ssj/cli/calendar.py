"""Working days (工作日): deadlines, and the yearly holiday arrangements they follow.

`ssj calendar deadline DATE N` prints the N-th working day after DATE and nothing else, for
scripts: it needs no user, and it never writes to the ledger. With no ledger yet (an SQLite
ledger file that does not exist: a fresh machine before `ssj init`) it creates nothing and
counts with the `chinesecalendar` package alone; otherwise it opens the ledger without table
creation and reads the registered arrangements (a registered year wins over the package).
`show` reads the same way. `register` is an administrator's command (`--as USER` or SSJ_USER).

An arrangement file (`--file`) is one JSON object: `document`, `holidays`, `workdays` (lists of
YYYY-MM-DD, or ranges `2031-02-10..2031-02-17`), optionally `year` and `reason`; options given
on the command line replace the file's values.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from rich.table import Table

from ssj.cli.common import (
    AsUser,
    DeprecatedAsOf,
    current_principal,
    either_seq,
    fail,
    out,
    print_json,
    services_session,
)
from ssj.domain.calendar import (
    FIELD_LABELS,
    SOURCE_LABELS_ZH,
    WEEKDAYS_ZH,
    Source,
    WorkingCalendar,
    parse_day,
    parse_working_days,
)
from ssj.errors import SsjError, ValidationError

if TYPE_CHECKING:
    from ssj.services.calendar import CalendarService

calendar_app = typer.Typer(
    help="工作日与节假日安排（deadline、show 无需用户；register 以 --as USER 或 SSJ_USER 指明管理员）"
    "/ working days and holiday arrangements (deadline and show need no user; register acts "
    "as --as USER or SSJ_USER, an administrator)",
    no_args_is_help=True,
)

Year = Annotated[int, typer.Argument(help="年度 / year")]
AtSeq = Annotated[
    int | None,
    typer.Option(
        "--at-seq", metavar="SEQ", help="按此账本序号时的安排 / the arrangements at this ledger seq"
    ),
]


@contextmanager
def _reading() -> Iterator[CalendarService | None]:
    """The calendar service over a ledger opened for reading, or None when there is no ledger
    yet; any SsjError becomes one line on stderr and exit 2."""
    from ssj.services.calendar import CalendarService, open_for_reading

    try:
        services = open_for_reading()
    except SsjError as e:
        fail(e)
    try:
        yield None if services is None else CalendarService(services)
    except SsjError as e:
        fail(e)
    finally:
        if services is not None:
            services.close()


def _no_ledger_as_of(at_seq: int | None) -> None:
    if at_seq is not None:
        raise ValidationError(
            f"尚无账本，没有序号 {at_seq}", f"there is no ledger yet, so no seq {at_seq}"
        )


@calendar_app.command(
    "deadline",
    context_settings={"ignore_unknown_options": True},  # "-1" reaches our check, bilingual
)
def calendar_deadline(
    start: Annotated[str, typer.Argument(metavar="DATE", help="起算日 YYYY-MM-DD / start date")],
    n: Annotated[
        str,
        typer.Argument(
            metavar="N", help="工作日天数（起算日不计）/ working days (DATE not counted)"
        ),
    ],
    at_seq: AtSeq = None,
    as_of: DeprecatedAsOf = None,
) -> None:
    """起算日后第 N 个工作日，只输出日期 / the N-th working day after DATE (prints only it)."""
    at_seq = either_seq(at_seq, as_of)
    with _reading() as service:
        if service is None:
            _no_ledger_as_of(at_seq)
            result = WorkingCalendar().add_working_days(
                parse_day("start", start), parse_working_days(n)
            )
        else:
            result = service.deadline(start, n, at_seq)
    sys.stdout.write(result.isoformat() + "\n")


def _read_file(path: Path) -> dict[str, Any]:
    try:
        found = orjson.loads(path.read_bytes())
    except OSError as e:
        raise ValidationError(
            f"无法读取 {path}：{e.strerror}", f"cannot read {path}: {e.strerror}"
        ) from None
    except orjson.JSONDecodeError as e:
        raise ValidationError(
            f"{path} 不是有效的 JSON：{e}", f"{path} is not valid JSON: {e}"
        ) from None
    if not isinstance(found, dict):
        raise ValidationError(f"{path} 应为一个 JSON 对象", f"{path} must hold one JSON object")
    unknown = sorted(set(found) - set(FIELD_LABELS))
    if unknown:
        raise ValidationError(
            f"{path}：“{unknown[0]}”不是节假日安排的字段（可用：{'、'.join(FIELD_LABELS)}）",
            f"{path}: {unknown[0]!r} is not an arrangement field (one of "
            f"{', '.join(FIELD_LABELS)})",
        )
    return found


@calendar_app.command("register")
def calendar_register(
    year: Year,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file", help="安排 JSON 文件（一个对象）/ the arrangement as one JSON object"
        ),
    ] = None,
    holiday: Annotated[
        list[str] | None,
        typer.Option(
            "--holiday",
            metavar="DATE",
            help="放假日期，可多次，或范围 2031-02-10..2031-02-17 / a day off (repeat, or a range)",
        ),
    ] = None,
    workday: Annotated[
        list[str] | None,
        typer.Option(
            "--workday",
            metavar="DATE",
            help="调休上班日（周六或周日），可多次 / a make-up working day (repeat)",
        ),
    ] = None,
    document: Annotated[
        str | None,
        typer.Option(help="国务院办公厅通知的文号及标题 / the notice's number and title"),
    ] = None,
    reason: Annotated[
        str | None, typer.Option(help="修改理由（再次登记时必填）/ reason (to amend a year)")
    ] = None,
    as_user: AsUser = None,
) -> None:
    """登记（或修改）一年的节假日安排（管理员）/ register or amend a year's arrangement (admin)."""
    from ssj.services.calendar import CalendarService

    with services_session() as services:
        raw = _read_file(file) if file is not None else {}
        if "year" in raw and str(raw["year"]) != str(year):
            raise ValidationError(
                f"文件中的年度 {raw['year']} 与命令中的 {year} 不符",
                f"the file's year {raw['year']} is not the {year} given",
            )
        options = {"holidays": holiday, "workdays": workday, "document": document}
        raw.update({k: v for k, v in options.items() if v})
        if reason is not None:
            raw["reason"] = reason
        principal = current_principal(services, as_user)
        done = CalendarService(services).register_year(
            principal,
            year,
            raw.get("document"),
            raw.get("holidays"),
            raw.get("workdays"),
            str(raw.get("reason") or ""),
        )
    verbs = {
        "created": ("已登记", "registered"),
        "updated": ("已修改", "amended"),
        "unchanged": ("与已登记的安排相同，未写入", "unchanged, nothing written"),
    }
    zh, en = verbs[done["outcome"]]
    out.print(
        f"{zh} {year} 年节假日安排 / arrangement of {year} {en}（版本 version {done['version']}，"
        f"放假 {len(done['holidays'])} 天，调休上班 {len(done['workdays'])} 天）",
        highlight=False,
        markup=False,
    )


def _day_rows(shown: dict[str, Any]) -> list[tuple[date, str]]:
    rows = [(date.fromisoformat(d), "放假") for d in shown["holidays"]]
    rows += [(date.fromisoformat(d), "调休上班") for d in shown["workdays"]]
    return sorted(rows)


@calendar_app.command("show")
def calendar_show(
    year: Year,
    at_seq: AtSeq = None,
    as_of: DeprecatedAsOf = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON")] = False,
) -> None:
    """查看一年的节假日安排（放假与调休上班日、来源）/ show a year's arrangement and its source."""
    at_seq = either_seq(at_seq, as_of)
    with _reading() as service:
        if service is None:
            _no_ledger_as_of(at_seq)
            found = WorkingCalendar().arrangement(year)
            shown: dict[str, Any] = {
                "as_of": None,
                **found.as_state(),
                "source": found.source.value,
                "versions": [],
            }
        else:
            shown = service.year(year, at_seq)
    if as_json:
        print_json(shown)
        return
    source = Source(shown["source"])
    out.print(f"{year} 年节假日安排 / holiday arrangement of {year}", highlight=False, markup=False)
    out.print(
        f"来源 source：{SOURCE_LABELS_ZH[source]}（{source.value}）", highlight=False, markup=False
    )
    out.print(f"通知 document：{shown['document']}", highlight=False, markup=False)
    table = Table("日期", "星期", "安排", header_style="bold", highlight=False)
    for day, kind in _day_rows(shown):
        table.add_row(day.isoformat(), WEEKDAYS_ZH[day.weekday()], kind)
    out.print(table)
    weekdays_off = sum(1 for d in shown["holidays"] if date.fromisoformat(d).weekday() < 5)
    out.print(
        f"放假 {len(shown['holidays'])} 天（其中工作日 {weekdays_off} 天），调休上班 "
        f"{len(shown['workdays'])} 天",
        highlight=False,
        markup=False,
    )
    for v in shown["versions"]:  # one line each: long notices and reasons stay whole
        why = f"，修改理由 reason：{v['reason']}" if v["reason"] else ""
        out.print(
            f"版本 version {v['version']}：账本序号 seq {v['seq']}，{v['recorded_by']} "
            f"{v['recorded_at']}，通知 document：{v['document']}{why}",
            highlight=False,
            markup=False,
        )
