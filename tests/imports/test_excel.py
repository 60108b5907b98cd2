"""Excel's conventions, checked against openpyxl (the reference the readers replaced)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from openpyxl.styles.numbers import BUILTIN_FORMATS
from openpyxl.styles.numbers import is_date_format as openpyxl_is_date
from openpyxl.styles.numbers import is_timedelta_format as openpyxl_is_duration
from openpyxl.utils import get_column_letter
from openpyxl.utils.cell import range_boundaries
from openpyxl.utils.datetime import CALENDAR_MAC_1904, WINDOWS_EPOCH, from_excel

from ssj.imports import excel

CODES = [
    *BUILTIN_FORMATS.values(),
    'yyyy"年"m"月"d"日"',
    "[$-F800]dddd, mmmm dd, yyyy",
    "[DBNum1][$-804]yyyy年m月d日",
    '[Red]#,##0.00;"-"',
    "0.00_);\\(0.00\\)",
    '0" days"',
    "[h]:mm:ss",
    "[mm]:ss",
    "[$¥-804]#,##0",
    "e",
]


@pytest.mark.parametrize("code", CODES)
def test_date_formats_as_openpyxl(code: str) -> None:
    assert excel.is_date_format(code) == openpyxl_is_date(code)
    assert excel.is_duration_format(code) == openpyxl_is_duration(code)


def test_builtin_date_formats() -> None:
    for number, code in BUILTIN_FORMATS.items():
        assert (number in excel.BUILTIN_DATES) == openpyxl_is_date(code), number
    assert {27, 31, 36, 50, 58} <= excel.BUILTIN_DATES  # CJK Excel's dates, unknown to openpyxl


@pytest.mark.parametrize(
    "value", [0, 0.5, 0.999999, 1, 59, 60, 61, 45352.395833, 2958465.99999, 36526.0000001]
)
def test_serial_dates_as_openpyxl(value: float) -> None:
    for ours, theirs in (
        (excel.WINDOWS_EPOCH, WINDOWS_EPOCH),
        (excel.MAC_EPOCH, CALENDAR_MAC_1904),
    ):
        assert outcome(excel.from_serial, value, ours) == outcome(from_excel, value, theirs)
    assert excel.from_serial(value, excel.WINDOWS_EPOCH, duration=True) == from_excel(
        value, WINDOWS_EPOCH, timedelta=True
    )


def outcome(convert: Callable[..., object], *args: object) -> object:
    try:
        return convert(*args)
    except (OverflowError, ValueError) as e:
        return type(e)


def test_columns_and_ranges() -> None:
    for n in (1, 26, 27, 52, 702, 703, 16384):
        assert excel.column_letter(n) == get_column_letter(n)
        assert excel.column_index(get_column_letter(n)) == n
    for ref in ("A1", "B2:D5", "$A$1:$XFD$1048576", "d5:b2"):
        first_col, first_row, last_col, last_row = range_boundaries(ref.upper())
        rows = sorted((first_row, last_row))
        cols = sorted((first_col, last_col))
        assert excel.cell_range(ref) == (rows[0], cols[0], rows[1], cols[1])
    for bad in ("A", "1:2", "A0x", "ABCD1", ""):
        with pytest.raises(ValueError):
            excel.cell_range(bad)
