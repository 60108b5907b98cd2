"""Excel's conventions the readers need: column letters, cell ranges, serial dates, date formats.

Written here rather than imported from openpyxl because importing any part of openpyxl imports
all of it (and numpy): about 20 MB and half a second in every import process, for a few small
functions. The conversions follow ECMA-376 and give what openpyxl gives for the same cells.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from decimal import Decimal

WINDOWS_EPOCH = datetime(1899, 12, 30)  # day 0 of the 1900 system, leap-year bug included
MAC_EPOCH = datetime(1904, 1, 1)
_RANGE = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d+)(?::\$?([A-Za-z]{1,3})\$?(\d+))?$")
# Built-in number formats that show dates or times: 14-22 and 45-47 everywhere, 27-36 and 50-58
# in Chinese, Japanese and Korean Excel (ECMA-376 Part 1, 18.8.30). 46 is elapsed time.
BUILTIN_DATES = frozenset(range(14, 23)) | {45, 46, 47} | frozenset(range(27, 37))
BUILTIN_DATES |= frozenset(range(50, 59))
BUILTIN_DURATIONS = frozenset({46})
BUILTIN_PERCENTS = frozenset({9, 10})  # 0% and 0.00%
_QUOTED_OR_BRACKETED = re.compile(r'"[^"]*"|\[(?![hHmMsS]+\])[^\]]*\]|\\.|_.')
_DATE_CODES = re.compile(r"[dmyhsDMYHS]")
_ELAPSED = re.compile(r"\[(?:h+|m+|s+)\]", re.IGNORECASE)


def column_letter(index: int) -> str:
    """1 -> "A", 28 -> "AB"."""
    letters = ""
    while index > 0:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def column_index(letters: str) -> int:
    """ "A" -> 1, "XFD" -> 16384."""
    if not letters.isascii() or not letters.isalpha() or len(letters) > 3:
        raise ValueError(f"column {letters!r}")
    index = 0
    for letter in letters.upper():
        index = index * 26 + ord(letter) - 64
    return index


def cell_range(ref: str) -> tuple[int, int, int, int]:
    """ "B2:D5" -> (first row, first column, last row, last column), 1-based."""
    found = _RANGE.match(ref.strip())
    if found is None:
        raise ValueError(f"cell range {ref!r}")
    first_col, first_row, last_col, last_row = found.groups()
    last_col, last_row = last_col or first_col, last_row or first_row
    rows = sorted((int(first_row), int(last_row)))
    cols = sorted((column_index(first_col), column_index(last_col)))
    return rows[0], cols[0], rows[1], cols[1]


def is_date_format(code: str) -> bool:
    """Whether a number format shows a date or time: a date or time code outside quoted text,
    bracketed colours and locales, escapes and padding, in its first (positive) section."""
    section = code.split(";", 1)[0]
    return _DATE_CODES.search(_QUOTED_OR_BRACKETED.sub("", section)) is not None


def is_percent_format(code: str) -> bool:
    """A format that shows a number times 100 with "%": a % outside quotes and escapes."""
    section = code.split(";", 1)[0]
    return "%" in _QUOTED_OR_BRACKETED.sub("", section) and not is_date_format(code)


def percent_text(value: float) -> str:
    """0.1 -> "10%", 0.025 -> "2.5%": the percentage Excel shows, to 15 significant digits."""
    shown = Decimal(format(value * 100, ".15g")).normalize()
    return f"{shown:f}%"


def is_duration_format(code: str) -> bool:
    """Elapsed time ([h]:mm:ss): shown as a duration, not a time of day."""
    return _ELAPSED.search(code.split(";", 1)[0]) is not None


def from_serial(value: float, epoch: datetime, *, duration: bool = False) -> object:
    """An Excel serial number as a datetime, a time of day (below 1), or a timedelta; to the
    millisecond. Raises OverflowError or ValueError beyond the calendar."""
    if duration:
        span = timedelta(days=value)
        return timedelta(milliseconds=round(span.total_seconds() * 1000))
    day, fraction = divmod(value, 1)
    offset = timedelta(milliseconds=round(fraction * 86_400_000))
    if 0 <= value < 1 and offset.days == 0:
        minutes, seconds = divmod(offset.seconds, 60)
        return time(minutes // 60, minutes % 60, seconds, offset.microseconds)
    if 0 < value < 60 and epoch == WINDOWS_EPOCH:
        day += 1  # 1900-02-29 does not exist, but Excel counts it
    return epoch + timedelta(days=day) + offset


def from_iso(text: str) -> datetime:
    """A cell of type "d" (ISO 8601), as some writers store dates."""
    return datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
