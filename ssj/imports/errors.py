"""Why a file as a whole is refused: damaged, of the wrong kind, or beyond a limit.

Limits (`ssj.config.ImportLimits`) are checked while a file streams, so the refusal comes after
a bounded amount of work. Each message names the limit's setting, for the administrator who may
raise it; `too_large` marks the size limits, which HTTP answers with 413 rather than 422.
"""

from __future__ import annotations

from ssj.config import IMPORT_ENV
from ssj.errors import ValidationError


class ImportFileError(ValidationError):
    """The file as a whole cannot be read: nothing from it can be trusted, so nothing is imported."""

    code = "import_file"


class ImportLimitError(ImportFileError):
    """The file goes beyond a configured limit; reading stopped there."""

    code = "import_limit"

    def __init__(self, zh: str, en: str, *, limit: str, too_large: bool = False) -> None:
        super().__init__(zh, en)
        self.limit = limit  # the ImportLimits field
        self.too_large = too_large

    def as_dict(self) -> dict[str, str]:
        return {**super().as_dict(), "limit": IMPORT_ENV[self.limit]}


def size(n: int) -> str:
    """1073741824 -> "1 GiB": limits are usually round binary sizes."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n:,} B"


_BYTES = frozenset({"upload_bytes", "file_bytes", "member_bytes", "unzipped_bytes"})


def shown(limit: str, value: int) -> str:
    return size(value) if limit in _BYTES else f"{value:,}"


def over(name: str, limit: str, value: int, zh: str, en: str) -> ImportLimitError:
    """`zh`/`en` say what went beyond `value`, the current value of the setting `limit`."""
    setting = IMPORT_ENV[limit]
    return ImportLimitError(
        f"{name}：{zh}（上限 {shown(limit, value)}，由 {setting} 设置）；已停止读取，未导入任何数据",
        f"{name}: {en} (limit {shown(limit, value)}, set by {setting}); reading stopped, nothing "
        "was imported",
        limit=limit,
        too_large=limit in _BYTES,
    )


def file_too_large(name: str, limit: str, value: int) -> ImportLimitError:
    return over(
        name,
        limit,
        value,
        "文件过大，请拆分为几个较小的文件分别导入",
        "the file is too large; split it into smaller files",
    )
