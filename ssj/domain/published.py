"""Values derived from published text: keep what is published, derive what you can, never invent.

Departments' files hold prose where ssj wants codes: 检查方式 "现场检查或书面检查", 抽查比例
"不少于5%", 抽查频次 "1—2次/年", 检查对象 "各类宾馆、旅店", 企业类型 "有限责任公司（自然人独资）",
dates as "2017/3/7", "2017年3月7日" or Excel serials. Each function here returns what the text
says without doubt, or None when it does not (the caller keeps the text and warns): no default
is ever applied here. Pure functions, no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

EXCEL_EPOCH = date(1899, 12, 30)
_SERIAL = re.compile(r"^\d{4,5}(?:\.0+)?$")
_DATE = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?$"
)
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
FOREVER = {"长期", "长期有效", "永久", "永久有效", "无固定期限", "9999-09-09", "9999-12-31"}


def fold(text: str) -> str:
    """NFKC (full-width digits, ％, （） become ASCII) and no spaces: for reading numbers."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def iso_date(text: str | None) -> str | None:
    """An ISO date from what officials type or Excel stores: 2017-03-07, 2017/3/7, 2017.3.7,
    2017年3月7日, 20170307, or an Excel serial day (42801, 1900 system) between 1900 and 9999.
    None for anything else."""
    if text is None:
        return None
    s = fold(text).replace("T00:00:00", "")
    found = _DATE.match(s) or _COMPACT_DATE.match(s)
    try:
        if found:
            return date(int(found[1]), int(found[2]), int(found[3])).isoformat()
        if _SERIAL.match(s):
            serial = int(float(s))
            if 1 <= serial <= 2_958_465:
                return (EXCEL_EPOCH + timedelta(days=serial)).isoformat()
    except (ValueError, OverflowError):
        return None
    return None


def validity(text: str | None) -> tuple[str | None, str | None] | None:
    """A 有效期 cell: "2020-01-01至2025-12-31" (also 到, ~, －, —) -> (from, to); one date ->
    (None, to); 长期 / 9999-09-09 -> (None, "9999-12-31"). None when unreadable."""
    if text is None:
        return None
    s = fold(text)
    if s in {fold(f) for f in FOREVER}:
        return None, "9999-12-31"
    parts = re.split(r"至|到|~|～|—|－|--|(?<=\d)-(?=\d{4})", s)
    if len(parts) == 2:
        start, end = iso_date(parts[0]), parts[1]
        if start is None:
            return None
        if fold(end) in {fold(f) for f in FOREVER}:
            return start, "9999-12-31"
        finish = iso_date(end)
        return (start, finish) if finish is not None else None
    single = iso_date(s)
    return (None, single) if single is not None else None


# Target types -----------------------------------------------------------------------------

_INDIVIDUAL = ("个体", "个人独资")
_ENTERPRISE = (
    "公司",
    "企业",
    "合作社",
    "合伙",
    "独资",
    "外资",
    "中外合",
    "集体所有制",
    "全民所有制",
    "股份",
    "分支机构",
    "营业单位",
)


def target_type_of_enterprise_type(text: str | None) -> str | None:
    """企业类型 as the registration system writes it -> "individual" or "enterprise"."""
    if not text:
        return None
    s = fold(text)
    if s.startswith("个体") or s in ("个体工商户", "个体户"):
        return "individual"
    if any(word in s for word in _ENTERPRISE) or any(word in s for word in _INDIVIDUAL):
        return "enterprise"  # 个人独资企业 is an enterprise, not an individual business
    return None


def target_type_of_identifier(kind: str, canonical: str) -> str | None:
    """What an id says of its holder: a USCC of authority 9 (industry and commerce) category 1
    or 3 is an enterprise or co-operative, 2 an individual business; a 15-digit registration
    number's 7th digit is 0-5 for enterprises and 6-9 for individual businesses (GS15-2006);
    the older 13/14-character numbers were issued to enterprises (企合…, 企独…)."""
    if kind == "uscc" and canonical[:1] == "9":
        return {"1": "enterprise", "2": "individual", "3": "enterprise"}.get(canonical[1:2])
    if kind == "registration_no":
        if len(canonical) == 15 and canonical.isdigit():
            return "individual" if canonical[6] in "6789" else "enterprise"
        return "enterprise"
    return None


# Items: methods, ratio, frequency, target descriptions ------------------------------------

SPLIT = re.compile(r"[、，,；;/／|｜\n]|或者|或|与|及|和|以及")


def split(text: str | None) -> list[str]:
    """Parts of a list typed in one cell: 现场检查、书面检查 / 现场检查或书面检查."""
    if not text:
        return []
    return [part.strip() for part in SPLIT.split(text) if part and part.strip()]


@dataclass(frozen=True)
class Ratio:
    """A ratio in percent, as a range: 不少于5% -> (5, None); 不超过30% -> (None, 30);
    3%-5% -> (3, 5); 5% -> (5, 5); 2‰ -> (0.2, 0.2)."""

    minimum: Decimal | None
    maximum: Decimal | None


_NUMBER = r"(\d+(?:\.\d+)?)"
_UNIT = r"(%|‰|％|百分之|千分之)"


def _percent(number: str, unit: str) -> Decimal:
    value = Decimal(number)
    return value / 10 if unit in ("‰", "千分之") else value


def ratio(text: str | None) -> Ratio | None:
    """The ratio a cell states without doubt, or None (根据实际情况确定)."""
    if text is None:
        return None
    s = fold(text).replace("％", "%").rstrip("。.")
    s = re.sub(r"^(?:抽查比例|比例|按|抽取|随机抽取|抽查)[:：]?", "", s)
    s = re.sub(r"(?:的?比例)?(?:/年|每年|/次|每次|的企业|的对象)$", "", s)
    try:
        found = re.fullmatch(rf"(百分之|千分之)?{_NUMBER}(%|‰)?", s)
        if found and (found[1] or found[3]):
            return _one(_percent(found[2], found[1] or found[3]))
        found = re.fullmatch(
            rf"(?:不少于|不低于|不得低于|至少|最低|≥|>=){_NUMBER}{_UNIT}(?:以上)?", s
        )
        if found is None:
            found = re.fullmatch(rf"{_NUMBER}{_UNIT}(?:以上|及以上)", s)
        if found:
            return Ratio(_percent(found[1], found[2]), None)
        found = re.fullmatch(
            rf"(?:不超过|不高于|不得超过|最高|至多|≤|<=){_NUMBER}{_UNIT}(?:以下)?", s
        )
        if found is None:
            found = re.fullmatch(rf"{_NUMBER}{_UNIT}(?:以下|及以下)", s)
        if found:
            return Ratio(None, _percent(found[1], found[2]))
        found = re.fullmatch(rf"{_NUMBER}{_UNIT}?(?:-|—|－|~|～|至|到){_NUMBER}{_UNIT}", s)
        if found:
            low = _percent(found[1], found[2] or found[4])
            return Ratio(low, _percent(found[3], found[4]))
    except InvalidOperation:
        return None
    return None


def _one(value: Decimal) -> Ratio:
    return Ratio(value, value)


@dataclass(frozen=True)
class Frequency:
    """Rounds a year: 每年2次 -> (2, 2); 1—2次/年 -> (1, 2); 每年不少于1次 -> (1, None)."""

    minimum: int | None
    maximum: int | None


_CHINESE_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6}
_CHINESE_DIGITS |= {"七": 7, "八": 8, "九": 9, "十": 10, "十二": 12}


def _count(token: str) -> int:
    return int(token) if token.isdigit() else _CHINESE_DIGITS[token]


def frequency(text: str | None) -> Frequency | None:
    """The yearly frequency a cell states without doubt, or None."""
    if text is None:
        return None
    s = fold(text).rstrip("。.")
    n = r"(\d+|十二|[一二两三四五六七八九十])"
    s = re.sub(r"^(?:抽查频次|频次)[:：]?", "", s)
    year = r"(?:每年|一年|年度|全年)"
    patterns = [
        (rf"{year}?{n}次(?:/年|每年)?", "exact"),
        (rf"{year}(?:抽查)?{n}次", "exact"),
        (rf"{year}?{n}(?:-|—|－|~|～|至|到){n}次(?:/年)?", "range"),
        (rf"{n}(?:-|—|－|~|～|至|到){n}次/年", "range"),
        (rf"{year}?(?:不少于|至少|不低于){n}次(?:/年)?", "min"),
        (rf"{year}?(?:不超过|最多|至多|不多于){n}次(?:/年)?", "max"),
        (rf"{n}次/年", "exact"),
        (rf"{n}", "exact"),
    ]
    if s in ("每年", "年度", "一年一次", "每年一次"):
        return Frequency(1, 1)
    for pattern, kind in patterns:
        found = re.fullmatch(pattern, s)
        if found is None:
            continue
        if kind == "exact":
            value = _count(found[1])
            return Frequency(value, value)
        if kind == "range":
            return Frequency(_count(found[1]), _count(found[2]))
        if kind == "min":
            return Frequency(_count(found[1]), None)
        return Frequency(None, _count(found[1]))
    return None


def target_types_of_description(text: str | None) -> list[str]:
    """Target types a 检查对象 description names without doubt: 个体工商户 -> individual;
    企业, 公司, 经营者, 单位, 学校, 宾馆 … -> enterprise (organisations that hold a code);
    项目 -> project; 产品 -> product. Several may apply; none when nothing is clear."""
    if not text:
        return []
    found: list[str] = []
    s = fold(text)
    if "个体" in s:
        found.append("individual")
    organisations: tuple[str, ...] = (
        "企业",
        "公司",
        "经营者",
        "经营单位",
        "单位",
        "机构",
        "学校",
        "宾馆",
        "旅店",
    )
    organisations += ("医院", "合作社", "场所", "超市", "商场", "门店", "加油站", "生产者")
    if any(word in s for word in organisations):
        found.append("enterprise")
    if "项目" in s or "工程" in s:
        found.append("project")
    if "产品" in s and not any(w in s for w in ("生产企业", "产品生产", "产品经营")):
        found.append("product")
    return found
