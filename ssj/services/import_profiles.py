"""Column mappings for files of other layouts (`--columns FILE`), and named profiles that keep
them, so a department reuses one mapping for each monthly export (`ssj imports profiles`).

A mapping is YAML or JSON:

    kind: targets               # optional: the kind of file it is for
    sheet: 名录                  # optional: the sheet to read
    department: CZ-SJJ-TZ       # optional: the department of rows that name none
    columns:                    # field: the header label(s) of its column in this layout
      identifier: 统一代码
      name: [企业名称, 名称]
    constants:                  # field: the value of blank (or missing) cells
      region_code: "320402"
      target_type: 企业

Profiles are JSON files in `$SSJ_DATA_DIR/import-profiles/`, one per name; saving one again
replaces it. They configure reading, not the ledger: what each import wrote is in the ledger.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

from ssj.errors import NotFoundError, ValidationError

_NAME = re.compile(r"^[\w\u4e00-\u9fff.-]{1,64}$")
KEYS = {"kind", "sheet", "department", "columns", "constants"}


@dataclass(frozen=True)
class Mapping:
    kind: str | None = None
    sheet: str | None = None
    department: str | None = None
    columns: dict[str, list[str]] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in {
                "kind": self.kind,
                "sheet": self.sheet,
                "department": self.department,
                "columns": self.columns,
                "constants": self.constants,
            }.items()
            if v
        }


def _bad(zh: str, en: str) -> ValidationError:
    return ValidationError(f"列映射无效：{zh}", f"invalid column mapping: {en}")


def parse_mapping(data: object) -> Mapping:
    """A mapping from its parsed YAML/JSON, checked: unknown keys and wrong shapes are errors."""
    if not isinstance(data, dict):
        raise _bad("应为键值对象", "expected an object of keys")
    unknown = sorted(set(map(str, data)) - KEYS)
    if unknown:
        raise _bad(
            f"未知的键 {'、'.join(unknown)}（可用：{'、'.join(sorted(KEYS))}）",
            f"unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(KEYS))})",
        )
    columns: dict[str, list[str]] = {}
    for name, labels in (data.get("columns") or {}).items():
        given = [labels] if isinstance(labels, str) else labels
        if not isinstance(given, list) or not given or not all(isinstance(x, str) for x in given):
            raise _bad(f"columns.{name} 应为表头文字或其列表", f"columns.{name}: a label or list")
        columns[str(name)] = [x.strip() for x in given]
    constants = {}
    for name, value in (data.get("constants") or {}).items():
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise _bad(f"constants.{name} 应为文字", f"constants.{name}: a text value")
        constants[str(name)] = str(value)
    text = {k: data.get(k) for k in ("kind", "sheet", "department")}
    for key, value in text.items():
        if value is not None and not isinstance(value, str):
            raise _bad(f"{key} 应为文字", f"{key}: a text value")
    return Mapping(text["kind"], text["sheet"], text["department"], columns, constants)


def load_mapping(path: Path) -> Mapping:
    """A mapping file, YAML or JSON (JSON is YAML)."""
    try:
        raw = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise ValidationError(f"无法读取列映射文件 {path}：{e}", f"cannot read {path}: {e}") from e
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as e:
        raise _bad(f"{Path(path).name} 不是有效的 YAML/JSON：{e}", f"{path}: {e}") from e
    return parse_mapping(data)


def _folder(data_dir: Path) -> Path:
    return data_dir / "import-profiles"


def _checked(name: str) -> str:
    if not _NAME.match(name):
        raise ValidationError(
            "配置名只能包含汉字、字母、数字、点、横线和下划线（最多 64 个）",
            "a profile name holds letters, digits, Chinese characters, '.', '-' and '_' (<= 64)",
        )
    return name


def save_profile(data_dir: Path, name: str, mapping: Mapping) -> Path:
    folder = _folder(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{_checked(name)}.json"
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(orjson.dumps(mapping.as_dict(), option=orjson.OPT_INDENT_2))
    temporary.replace(path)
    return path


def get_profile(data_dir: Path, name: str) -> Mapping:
    path = _folder(data_dir) / f"{_checked(name)}.json"
    if not path.is_file():
        raise NotFoundError(f"导入配置 {name} 不存在", f"import profile {name} not found")
    return parse_mapping(orjson.loads(path.read_bytes()))


def list_profiles(data_dir: Path) -> dict[str, Mapping]:
    folder = _folder(data_dir)
    if not folder.is_dir():
        return {}
    return {p.stem: get_profile(data_dir, p.stem) for p in sorted(folder.glob("*.json"))}
