"""Small validators shared by the registry aggregates: each raises a bilingual ValidationError
that names the field, so importers can turn it into a row-level report."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from datetime import date
from enum import StrEnum
from typing import Any, TypeVar

from ssj.domain import text as policy
from ssj.errors import ValidationError

E = TypeVar("E", bound=StrEnum)
T = TypeVar("T")
REGION_CODE = re.compile(r"[1-9]\d{5}")


class FieldError(ValidationError):
    """A bad value in one named field."""

    code = "field"

    def __init__(self, field: str, zh: str, en: str) -> None:
        super().__init__(f"{field}：{zh}", f"{field}: {en}")
        self.field = field


class FieldErrors(FieldError):
    """Every bad field of one record, so an import reports them all at once; it reads as the
    first of them for callers that show one."""

    def __init__(self, errors: list[FieldError]) -> None:
        ValidationError.__init__(self, errors[0].zh, errors[0].en)
        self.field = errors[0].field
        self.errors = errors


class Collect:
    """Run validators of independent fields and gather their errors: `value = c(fn, ...)`
    returns fn's result or None; `c.check()` raises them all (one: itself; several:
    FieldErrors)."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def __call__(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        try:
            return fn(*args, **kwargs)
        except FieldErrors as e:
            self.errors.extend(e.errors)
        except FieldError as e:
            self.errors.append(e)
        return None

    def check(self) -> None:
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise FieldErrors(self.errors)


# Text already normalised and checked, with what the policy found: an import's 登记机关,
# 管辖单位, department and class cells repeat on most rows. Cleared when full (unique names
# and codes pass through it), so it stays a few hundred kilobytes.
_CLEANED: dict[tuple[str, bool], tuple[str, tuple[str, str] | None]] = {}
_CLEANED_SIZE = 4096


def text(
    field: str,
    value: object,
    *,
    required: bool = True,
    max_length: int = 500,
    multiline: bool = False,
) -> str:
    """Trimmed, NFC-normalised text (full-width spaces included) that the text policy
    (`ssj.domain.text`) allows: one line, or several where `multiline`."""
    if value is None or value == "":  # most optional cells of an import: nothing to check
        if required:
            raise FieldError(field, "不能为空", "must not be empty")
        return ""
    cleaned = _CLEANED.get((value, multiline)) if type(value) is str else None
    if cleaned is None:
        s = unicodedata.normalize("NFC", str(value or "")).strip().strip("\u3000").strip()
        if multiline:
            s = policy.fold_line_ends(s)
        cleaned = (s, policy.problem(s, multiline=multiline))
        if type(value) is str:
            if len(_CLEANED) >= _CLEANED_SIZE:
                _CLEANED.clear()
            _CLEANED[(value, multiline)] = cleaned
    s, found = cleaned
    if found is not None:
        raise FieldError(field, found[0], found[1])
    if required and not s:
        raise FieldError(field, "不能为空", "must not be empty")
    if len(s) > max_length:
        raise FieldError(field, f"超过 {max_length} 个字符", f"longer than {max_length} characters")
    return s


def prose(field: str, value: object, *, required: bool = True, max_length: int = 2000) -> str:
    """Free text that may run over several lines: reasons, findings, decisions, notes."""
    return text(field, value, required=required, max_length=max_length, multiline=True)


def choice(field: str, value: object, enum: type[E], labels: dict[str, E] | None = None) -> E:
    """An enum member by value, or by one of its Chinese labels."""
    raw = text(field, value)
    if labels and raw in labels:
        return labels[raw]
    try:
        return enum(raw)
    except ValueError:
        allowed = ", ".join([m.value for m in enum] + list(labels or {}))
        raise FieldError(
            field,
            f"无效取值“{raw}”（可选：{allowed}）",
            f"invalid value {raw!r} (one of {allowed})",
        ) from None


def region_code(field: str, value: object) -> str:
    raw = text(field, value)
    if not REGION_CODE.fullmatch(raw):
        raise FieldError(
            field,
            f"行政区划代码应为 6 位数字，实际为“{raw}”",
            f"region code must be 6 digits, got {raw!r}",
        )
    return raw


def iso_date(field: str, value: object, *, required: bool = True) -> str | None:
    raw = text(field, value, required=required)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw.replace("/", "-").replace(".", "-")).isoformat()
    except ValueError:
        raise FieldError(
            field,
            f"日期无效“{raw}”（应为 YYYY-MM-DD）",
            f"invalid date {raw!r} (expected YYYY-MM-DD)",
        ) from None


def text_list(field: str, values: Iterable[object] | str | None) -> list[str]:
    """A list from a list, or from text separated by 、，,;； or newlines; order kept, no duplicates."""
    if values is None:
        return []
    items = re.split(r"[、，,;；\n]+", values) if isinstance(values, str) else list(values)
    seen: dict[str, None] = {}
    for item in items:
        s = text(field, item, required=False)
        if s:
            seen.setdefault(s, None)
    return list(seen)


def whole(
    field: str, value: object, low: int, high: int | None = None, default: int | None = None
) -> int:
    """A whole number in [low, high]; `default` when empty (none: required)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if default is None:
            raise FieldError(field, "不能为空", "must not be empty")
        return default
    try:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ValueError
        number = int(value)
    except ValueError:
        raise FieldError(
            field, f"应为整数，实际为“{value}”", f"must be a whole number, got {value!r}"
        ) from None
    if number < low or (high is not None and number > high):
        zh = f"应为 {low}–{high} 的整数" if high is not None else f"应为不小于 {low} 的整数"
        en = f"must be {low}-{high}" if high is not None else f"must be at least {low}"
        raise FieldError(field, f"{zh}，实际为 {number}", f"{en}, got {number}")
    return number
