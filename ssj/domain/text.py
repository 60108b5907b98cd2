"""The one text policy for everything a person types or a file carries into the ledger.

The ledger is append-only: a value written once is there forever, so a character that a read
model cannot hold (PostgreSQL text refuses NUL; UTF-8 cannot encode a lone surrogate) would stop
every projection for good. So text is refused before anything is written when it holds:

- C0 control characters (U+0000–U+001F) and DEL (U+007F), except tab and line feed in a
  multi-line field (a carriage return before a line feed is folded into the line feed);
- C1 control characters (U+0080–U+009F);
- lone surrogates (U+D800–U+DFFF): not characters at all, only halves of a UTF-16 pair;
- Unicode non-characters (U+FDD0–U+FDEF and the last two code points of every plane).

Messages name the code point and its position instead of quoting the text: the offending
character would garble the message itself.
"""

from __future__ import annotations

import re
from typing import Any

_SINGLE_LINE = "\x00-\x1f\x7f-\x9f"
_MULTI_LINE = "\x00-\x08\x0b-\x1f\x7f-\x9f"  # tab (09) and line feed (0a) allowed
_REST = "\ud800-\udfff\ufdd0-\ufdef" + "".join(
    f"{chr(p + 0xFFFE)}{chr(p + 0xFFFF)}" for p in range(0, 0x110000, 0x10000)
)
FORBIDDEN_SINGLE_LINE = re.compile(f"[{_SINGLE_LINE}{_REST}]")
FORBIDDEN_MULTI_LINE = re.compile(f"[{_MULTI_LINE}{_REST}]")

# What no read model can store: PostgreSQL text refuses NUL, and UTF-8 (both databases, and
# every JSON answer) cannot carry a lone surrogate.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def describe(char: str) -> tuple[str, str]:
    """A character's name for messages, in Chinese and English."""
    point = ord(char)
    if point <= 0x1F or point == 0x7F:
        kind = ("控制字符", "control character")
    elif 0x80 <= point <= 0x9F:
        kind = ("C1 控制字符", "C1 control character")
    elif 0xD800 <= point <= 0xDFFF:
        kind = ("孤立代理项", "lone surrogate")
    else:
        kind = ("非字符码位", "non-character")
    return f"{kind[0]} U+{point:04X}", f"{kind[1]} U+{point:04X}"


def problem(value: str, *, multiline: bool = False) -> tuple[str, str] | None:
    """Why `value` may not be stored (Chinese, English), or None if it may.

    Text whose every character is printable (`str.isprintable`, nearly every value) holds none
    of the forbidden ones: each is a control, a surrogate or a non-character, which Unicode never
    calls printable (non-characters stay unassigned for good). That test costs about a tenth of
    the pattern's search (0.07-0.10 against 1.15-1.23 us for a name or an address, 2026-12-07),
    which an import ran for every new value of every row."""
    if value.isprintable():
        return None
    found = (FORBIDDEN_MULTI_LINE if multiline else FORBIDDEN_SINGLE_LINE).search(value)
    if found is None:
        return None
    zh, en = describe(found.group())
    at = found.start() + 1
    if not multiline and found.group() in "\t\n\r":
        return (
            f"第 {at} 个字符是{zh}：此字段只能有一行",
            f"character {at} is a {en}: this field is a single line",
        )
    return f"第 {at} 个字符是不允许的{zh}", f"character {at} is a forbidden {en}"


def fold_line_ends(value: str) -> str:
    """CR LF and lone CR become LF: what a browser's text area or a Windows file sends."""
    return value.replace("\r\n", "\n").replace("\r", "\n")


def first_problem(value: Any, path: str = "") -> tuple[str, str, str] | None:
    """The first string anywhere in a JSON-like value (dict keys too) that breaks the policy
    for multi-line text, as (path, zh, en): the ledger's last line of defence."""
    if isinstance(value, str):
        found = problem(value, multiline=True)
        return (path, *found) if found else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and (found := problem(key, multiline=True)):
                return (where, *found)
            if (nested := first_problem(item, where)) is not None:
                return nested
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            if (nested := first_problem(item, f"{path}[{i}]")) is not None:
                return nested
    return None


def escape_unstorable(value: str) -> str:
    """`value` with each unstorable character written as a visible `\\uXXXX` escape."""
    return UNSTORABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", value)


def escape_all(value: Any, path: str = "", found: list[str] | None = None) -> Any:
    """A copy of a JSON-like value with unstorable characters escaped in every string (dict
    keys too); the paths changed are appended to `found`."""
    if isinstance(value, str):
        if UNSTORABLE.search(value) is None:
            return value
        if found is not None:
            found.append(path or "$")
        return escape_unstorable(value)
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and UNSTORABLE.search(key):
                if found is not None:
                    found.append(where)
                key = escape_unstorable(key)
            out[key] = escape_all(item, where, found)
        return out
    if isinstance(value, list):
        return [escape_all(item, f"{path}[{i}]", found) for i, item in enumerate(value)]
    if isinstance(value, tuple):
        return tuple(escape_all(item, f"{path}[{i}]", found) for i, item in enumerate(value))
    return value
