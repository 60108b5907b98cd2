"""Identifiers of inspected subjects: 统一社会信用代码, 居民身份证号码 and free-text ids.

Ids become sampling ids, so one subject must have exactly one spelling: every validator returns a
canonical string (surrounding whitespace stripped, Unicode-normalised), and two inputs that denote
the same code always canonicalise to the same string. A typo must be rejected here, before it can
create a second subject in the registry or change a draw. Pure functions, no I/O.

Rules follow GB 32100-2015 (统一社会信用代码, authority table with the later A and N rows),
GB 11714-1997 (组织机构代码, positions 9-17 of a USCC) and GB 11643-1999 (公民身份号码,
ISO 7064 MOD 11-2).
"""

from __future__ import annotations

import operator
import re
import unicodedata
from datetime import date
from enum import StrEnum
from functools import lru_cache

from ssj.errors import ValidationError

USCC_LENGTH = 18
USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
"""GB 32100-2015 code character set: 31 characters; I, O, Z, S, V are never used. Index = character value."""
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
"""W_i = 3^(i-1) mod 31 for positions 1..17."""

ORG_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
"""GB 11714-1997 §2.1.2 weights for the 8-character organisation code body."""
_ORG_CODE_VALUES = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
"""GB 11714-1997 Annex A: digits are 0-9, Latin letters A-Z are 10-35 (the full alphabet)."""
_USCC_VALUE = {c: i for i, c in enumerate(USCC_CHARSET)}
_ORG_CODE_VALUE = {c: i for i, c in enumerate(_ORG_CODE_VALUES)}

REGISTRATION_AUTHORITIES: dict[str, tuple[str, str, dict[str, str]]] = {
    "1": (
        "机构编制",
        "establishment administration",
        {"1": "机关", "2": "事业单位", "3": "中央编办直接管理机构编制的群众团体", "9": "其他"},
    ),
    "2": ("外交", "foreign affairs", {"1": "外国常驻新闻机构", "9": "其他"}),
    "3": (
        "司法行政",
        "judicial administration",
        {
            "1": "律师执业机构",
            "2": "公证处",
            "3": "基层法律服务所",
            "4": "司法鉴定机构",
            "5": "仲裁委员会",
            "9": "其他",
        },
    ),
    "4": ("文化", "culture", {"1": "外国在华文化中心", "9": "其他"}),
    "5": (
        "民政",
        "civil affairs",
        {"1": "社会团体", "2": "民办非企业单位", "3": "基金会", "9": "其他"},
    ),
    "6": (
        "旅游",
        "tourism",
        {
            "1": "外国旅游部门常驻代表机构",
            "2": "港澳台地区旅游部门常驻内地（大陆）代表机构",
            "9": "其他",
        },
    ),
    "7": ("宗教", "religious affairs", {"1": "宗教活动场所", "2": "宗教院校", "9": "其他"}),
    "8": ("工会", "trade unions", {"1": "基层工会", "9": "其他"}),
    "9": ("工商", "industry and commerce", {"1": "企业", "2": "个体工商户", "3": "农民专业合作社"}),
    "A": (
        "中央军委改革和编制办公室",
        "CMC reform and establishment office",
        {"1": "军队事业单位", "9": "其他"},
    ),
    "N": (
        "农业",
        "agriculture",
        {"1": "组级集体经济组织", "2": "村级集体经济组织", "3": "乡镇级集体经济组织", "9": "其他"},
    ),
    "Y": ("其他", "other", {"1": "不再划分机构类别"}),
}
"""GB 32100-2015 authority table: registration authority (position 1) -> (zh, en, categories for position 2)."""

RESIDENT_ID_LENGTH = 18
RESIDENT_ID_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
"""ISO 7064 MOD 11-2 weights 2^(18-i) mod 11: 7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2."""
EARLIEST_BIRTH_DATE = date(1800, 1, 1)
"""Loose floor: GB 11643-1999's own Annex A example was born in 1880."""

FREE_TEXT_MAX_LENGTH = 64


class IdentifierError(ValidationError):
    """An identifier that fails its standard; the message names the position and the rule."""


class IdKind(StrEnum):
    """What an identifier is, and so which rule checks it."""

    USCC = "uscc"
    REGISTRATION_NO = "registration_no"  # 注册号: before USCCs (15 digits, older 13/14 chars)
    RESIDENT_ID = "resident_id"
    PRODUCT = "product"
    PROJECT = "project"
    BEHAVIOUR = "behaviour"
    OTHER = "other"


ID_KIND_LABELS: dict[str, IdKind] = {
    "统一社会信用代码": IdKind.USCC,
    "社会信用代码": IdKind.USCC,
    "信用代码": IdKind.USCC,
    "注册号": IdKind.REGISTRATION_NO,
    "工商注册号": IdKind.REGISTRATION_NO,
    "营业执照注册号": IdKind.REGISTRATION_NO,
    "身份证号": IdKind.RESIDENT_ID,
    "身份证号码": IdKind.RESIDENT_ID,
    "居民身份证号码": IdKind.RESIDENT_ID,
    "居民身份证": IdKind.RESIDENT_ID,
    "产品批次号": IdKind.PRODUCT,
    "项目编号": IdKind.PROJECT,
    "行为编号": IdKind.BEHAVIOUR,
    "其他": IdKind.OTHER,
    "标识": IdKind.OTHER,
}
"""Chinese names of id kinds an import accepts (the first of each kind is how it is shown)."""
ID_KIND_NAMES = {kind: next(k for k, v in ID_KIND_LABELS.items() if v is kind) for kind in IdKind}

REGISTRATION_NO_LENGTHS = (13, 14, 15)

_FREE_TEXT_LABELS: dict[IdKind, tuple[str, str]] = {
    IdKind.PRODUCT: ("产品批次号", "product id"),
    IdKind.PROJECT: ("项目编号", "project id"),
    IdKind.BEHAVIOUR: ("行为编号", "behaviour id"),
    IdKind.OTHER: ("标识", "identifier"),
}


def _fold(code: str) -> str:
    """NFKC first (full-width letters and the ideographic space become ASCII), then strip, upper."""
    return unicodedata.normalize("NFKC", code).strip().upper()


def _uscc_chars_error(s: str, first: int = 1) -> IdentifierError | None:
    """The leftmost character outside the 31-character set, with a hint for look-alike letters."""
    for pos, ch in enumerate(s, start=first):
        if ch not in USCC_CHARSET:
            hint_zh, hint_en = "", ""
            if ch in "IO":
                digit = "1" if ch == "I" else "0"
                hint_zh, hint_en = f"，是否应为数字 {digit}", f"; did you mean the digit {digit}?"
            return IdentifierError(
                f"第 {pos} 位字符“{ch}”不在统一社会信用代码字符集内（不使用 I、O、Z、S、V）{hint_zh}",
                f"character {ch!r} at position {pos} is not in the USCC character set "
                f"(I, O, Z, S, V are never used){hint_en}",
            )
    return None


def uscc_check_character(first17: str) -> str:
    """GB 32100-2015 check character for the 17 canonical characters before it (31 maps to 0)."""
    if len(first17) != USCC_LENGTH - 1:
        raise IdentifierError(
            f"计算校验码需要前 17 位，实际为 {len(first17)} 位",
            f"the check character needs the first 17 characters, got {len(first17)}",
        )
    if (err := _uscc_chars_error(first17)) is not None:
        raise err
    total = sum(_USCC_VALUE[c] * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_CHARSET[(31 - total % 31) % 31]


def organization_code_check_character(body8: str) -> str:
    """GB 11714-1997 check character of an 8-character organisation code body: 0-9 or X."""
    if len(body8) != 8 or any(c not in _ORG_CODE_VALUE for c in body8):
        raise IdentifierError(
            f"组织机构代码本体应为 8 位数字或大写字母，实际为“{body8}”",
            f"an organisation code body must be 8 digits or capital letters, got {body8!r}",
        )
    total = sum(_ORG_CODE_VALUE[c] * w for c, w in zip(body8, ORG_CODE_WEIGHTS, strict=True))
    c9 = 11 - total % 11
    return "X" if c9 == 10 else "0" if c9 == 11 else str(c9)


@lru_cache(maxsize=16)
def _uscc_valid(s: str) -> bool:
    """Whether a folded code breaks no rule: the common case, checked in one pass (and
    remembered, since an import classifies a code and then validates it)."""
    values = [_USCC_VALUE.get(c) for c in s]
    if len(values) != USCC_LENGTH or None in values:
        return False
    authority = REGISTRATION_AUTHORITIES.get(s[0])
    if authority is None or s[1] not in authority[2] or not s[2:8].isdigit():
        return False
    body = [_ORG_CODE_VALUE.get(c) for c in s[8:16]]
    if None in body:
        return False
    c9 = 11 - sum(map(operator.mul, body, ORG_CODE_WEIGHTS)) % 11
    if s[16] != ("X" if c9 == 10 else "0" if c9 == 11 else str(c9)):
        return False
    total = sum(map(operator.mul, values[:17], USCC_WEIGHTS))
    return s[17] == USCC_CHARSET[(31 - total % 31) % 31]


def _uscc_error(s: str) -> IdentifierError | None:
    """The first rule a folded code breaks, checked left to right so the message points at it."""
    if _uscc_valid(s):
        return None
    if not s:
        return IdentifierError("统一社会信用代码为空", "unified social credit code is empty")
    if len(s) != USCC_LENGTH:
        return IdentifierError(
            f"统一社会信用代码应为 18 位，实际为 {len(s)} 位",
            f"unified social credit code must be 18 characters, got {len(s)}",
        )
    if (err := _uscc_chars_error(s)) is not None:
        return err
    authority = REGISTRATION_AUTHORITIES.get(s[0])
    if authority is None:
        known = "、".join(REGISTRATION_AUTHORITIES)
        return IdentifierError(
            f"第 1 位登记管理部门代码“{s[0]}”未在 GB 32100-2015 中定义（应为 {known} 之一）",
            f"registration authority code (position 1) {s[0]!r} is not defined by GB 32100-2015 "
            f"(expected one of {', '.join(REGISTRATION_AUTHORITIES)})",
        )
    name_zh, name_en, categories = authority
    if s[1] not in categories:
        allowed = "、".join(categories)
        return IdentifierError(
            f"第 2 位机构类别代码“{s[1]}”不属于登记管理部门 {s[0]}（{name_zh}）（应为 {allowed} 之一）",
            f"organisation category code (position 2) {s[1]!r} is not defined for registration "
            f"authority {s[0]} ({name_en}); expected one of {', '.join(categories)}",
        )
    if not s[2:8].isdigit():
        return IdentifierError(
            f"第 3–8 位登记管理机关行政区划码应为 6 位数字，实际为“{s[2:8]}”",
            f"administrative division code (positions 3-8) must be 6 digits, got {s[2:8]!r}",
        )
    org_check = organization_code_check_character(s[8:16])
    if s[16] != org_check:
        return IdentifierError(
            f"第 17 位组织机构代码校验码（GB 11714，第 9–17 位）应为 {org_check}，实际为 {s[16]}",
            f"organisation code check character (position 17, GB 11714 over positions 9-17) "
            f"should be {org_check}, got {s[16]}",
        )
    check = uscc_check_character(s[:17])
    if s[17] != check:
        return IdentifierError(
            f"第 18 位校验码应为 {check}，实际为 {s[17]}",
            f"check character (position 18) should be {check}, got {s[17]}",
        )
    return None


def validate_uscc(code: str) -> str:
    """The canonical 统一社会信用代码, or IdentifierError naming the first broken rule.

    Officials paste full-width or lower-case text, so input is NFKC-folded, stripped and
    upper-cased first; inner spaces and hyphens are not removed (they are not part of the code).
    A resident ID number typed into this field gets a hint to use the resident_id kind.

    Strict on purpose: some codes issued in Xiamen before 2016 carry a wrong position-18 check
    character (e.g. 91350203M0001FUE2P, where the standard gives J) and are rejected here; such a
    subject has to be registered under the `other` kind.
    """
    s = _fold(code)
    err = _uscc_error(s)
    if err is None:
        return s
    if _resident_id_error(s, None) is None:
        raise IdentifierError(
            f"{err.zh}；该号码是有效的居民身份证号码，个体工商户请选择 resident_id 类型",
            f"{err.en}; this is a valid resident ID number: use the resident_id kind for "
            f"individual business owners",
        )
    raise err


def make_uscc(first17: str) -> str:
    """A valid USCC from its first 17 characters (for synthetic data); rejects a bad prefix."""
    return validate_uscc(first17 + uscc_check_character(first17))


def resident_id_check_character(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of a 17-digit body: 0-9 or X (for 10)."""
    if len(first17) != RESIDENT_ID_LENGTH - 1 or not all(c in "0123456789" for c in first17):
        raise IdentifierError(
            f"计算校验码需要 17 位数字，实际为“{first17}”",
            f"the check digit needs 17 digits, got {first17!r}",
        )
    total = sum(int(c) * w for c, w in zip(first17, RESIDENT_ID_WEIGHTS, strict=True))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


def _resident_id_error(s: str, today: date | None) -> IdentifierError | None:
    """The first rule a folded resident ID number breaks, left to right."""
    if not s:
        return IdentifierError("居民身份证号码为空", "resident ID number is empty")
    if len(s) != RESIDENT_ID_LENGTH:
        legacy_zh, legacy_en = "", ""
        if len(s) == 15 and s.isdigit():
            legacy_zh = "（15 位为第一代旧号码，请使用 18 位号码）"
            legacy_en = " (15 digits is a first-generation number: use the 18-digit number)"
        return IdentifierError(
            f"居民身份证号码应为 18 位，实际为 {len(s)} 位{legacy_zh}",
            f"resident ID number must be 18 characters, got {len(s)}{legacy_en}",
        )
    for pos, ch in enumerate(s[:17], start=1):
        if ch not in "0123456789":
            return IdentifierError(
                f"居民身份证号码第 {pos} 位应为数字，实际为“{ch}”",
                f"resident ID number position {pos} must be a digit, got {ch!r}",
            )
    if s[17] not in "0123456789X":
        return IdentifierError(
            f"第 18 位校验码应为数字或 X，实际为“{s[17]}”",
            f"check character (position 18) must be a digit or X, got {s[17]!r}",
        )
    try:
        born = date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        return IdentifierError(
            f"第 7–14 位出生日期“{s[6:14]}”不是有效日期",
            f"birth date (positions 7-14) {s[6:14]!r} is not a valid date",
        )
    latest = today or date.today()
    if not EARLIEST_BIRTH_DATE <= born <= latest:
        return IdentifierError(
            f"第 7–14 位出生日期 {born.isoformat()} 不合理（应在 {EARLIEST_BIRTH_DATE.isoformat()} "
            f"与 {latest.isoformat()} 之间）",
            f"birth date (positions 7-14) {born.isoformat()} is implausible (expected between "
            f"{EARLIEST_BIRTH_DATE.isoformat()} and {latest.isoformat()})",
        )
    check = resident_id_check_character(s[:17])
    if s[17] != check:
        return IdentifierError(
            f"第 18 位校验码应为 {check}，实际为 {s[17]}",
            f"check character (position 18) should be {check}, got {s[17]}",
        )
    return None


def validate_resident_id(code: str, *, today: date | None = None) -> str:
    """The canonical 18-digit 居民身份证号码 (GB 11643-1999), for individual business owners.

    The address code (positions 1-6) is not checked against GB/T 2260: divisions are renamed and
    merged, but numbers issued under old codes stay valid. `today` bounds the birth date and
    defaults to the local date.
    """
    s = _fold(code)
    if (err := _resident_id_error(s, today)) is not None:
        raise err
    return s


def validate_registration_no(code: str) -> str:
    """The canonical 注册号 (registration number of a market entity before the USCC).

    15 digits (工商行政管理市场主体注册号编制规则, GS15-2006; a farmers' cooperative's holds NA
    after the region: 469006NA000129X), or an older 13- or 14-character
    form that may hold letters or Chinese characters (企合浙绍总字第002112号). The 15th digit is
    an ISO 7064 MOD 11,10 check digit, but genuine numbers that fail it are in the registers, so
    it is not enforced. Folded like a USCC (NFKC, stripped, upper-cased).
    """
    s = _fold(code)
    if not s:
        raise IdentifierError("注册号为空", "registration number is empty")
    if len(s) not in REGISTRATION_NO_LENGTHS:
        raise IdentifierError(
            f"注册号应为 15 位数字或 13、14 位的旧号码，实际为 {len(s)} 位",
            f"a registration number has 15 digits, or 13 or 14 characters in older forms; "
            f"got {len(s)}",
        )
    if len(s) == 15 and not (s.isdigit() or _COOPERATIVE_NO.fullmatch(s)):
        raise IdentifierError(
            "15 位注册号应全为数字（农民专业合作社为 6 位区划码、NA、6 位顺序号和校验位）",
            "a 15-character registration number must be all digits (a farmers' cooperative's: "
            "6-digit region, NA, 6 digits and a check character)",
        )
    for pos, ch in enumerate(s, start=1):
        if not (ch.isdigit() and ch.isascii()) and not ("A" <= ch <= "Z") and not _is_cjk(ch):
            raise IdentifierError(
                f"注册号第 {pos} 位字符“{ch}”无效（只能是数字、字母或汉字）",
                f"registration number character {pos} {ch!r} is not a digit, letter or "
                "Chinese character",
            )
    if not any(ch.isdigit() for ch in s):
        raise IdentifierError("注册号中没有数字", "a registration number holds digits")
    return s


# 农民专业合作社 registered before the USCC: region, NA, sequence, check (469006NA000129X).
_COOPERATIVE_NO = re.compile(r"[0-9]{6}NA[0-9]{6}[0-9A-Z]")


def _is_cjk(ch: str) -> bool:
    return unicodedata.category(ch) == "Lo" and "\u3400" <= ch <= "\u9fff"


def classify_identifier(value: str) -> IdKind:
    """The kind an identifier from a registry export is, when no column says: 18 characters are
    a USCC (or a resident ID number, if it is a valid one and not a valid USCC); 15 digits, or
    13/14 characters with a digit, a registration number; anything else `other`. A wrong USCC
    is still a USCC, so that its check character is reported rather than hidden as `other`."""
    s = _fold(value)
    if len(s) == USCC_LENGTH:
        if _uscc_error(s) is not None and _resident_id_error(s, None) is None:
            return IdKind.RESIDENT_ID
        return IdKind.USCC
    if len(s) == 15 and (s.isdigit() or _COOPERATIVE_NO.fullmatch(s)):
        return IdKind.REGISTRATION_NO
    if len(s) in (13, 14) and any(ch.isdigit() for ch in s):
        try:
            validate_registration_no(s)
        except IdentifierError:
            return IdKind.OTHER
        return IdKind.REGISTRATION_NO
    return IdKind.OTHER


def region_of(kind: IdKind | str, canonical: str) -> str | None:
    """The registering authority's region code an identifier carries: a USCC's positions 3-8,
    a registration number's first six digits. None for other kinds (a resident ID number's
    region is a person's, not the entity's)."""
    if kind == IdKind.USCC and canonical[2:8].isdigit():
        return canonical[2:8]
    if kind == IdKind.REGISTRATION_NO and canonical[:6].isdigit():
        return canonical[:6]
    return None


def _validate_free_text(kind: IdKind, value: str) -> str:
    """1-64 printable characters after NFC and stripping.

    No compatibility folding: batch and project numbers are opaque, and NFKC could merge two
    distinct ids (e.g. "①" and "1"), whereas NFC only merges spellings of the same characters.
    """
    label_zh, label_en = _FREE_TEXT_LABELS[kind]
    s = unicodedata.normalize("NFC", value).strip()
    if not s:
        raise IdentifierError(f"{label_zh}为空", f"{label_en} is empty")
    if len(s) > FREE_TEXT_MAX_LENGTH:
        raise IdentifierError(
            f"{label_zh}最长 {FREE_TEXT_MAX_LENGTH} 个字符，实际为 {len(s)} 个",
            f"{label_en} must be at most {FREE_TEXT_MAX_LENGTH} characters, got {len(s)}",
        )
    for pos, ch in enumerate(s, start=1):
        if not ch.isprintable():
            raise IdentifierError(
                f"{label_zh}第 {pos} 个字符 U+{ord(ch):04X} 不可打印",
                f"{label_en} character {pos} (U+{ord(ch):04X}) is not printable",
            )
    return s


def validate_identifier(kind: IdKind | str, value: str) -> str:
    """The canonical, NFC-normalised id of the given kind; the string sampling will hash.

    Canonicalisation (stripping, Unicode normalisation, and for codes upper-casing and full-width
    folding) is what makes a re-import of the same subject land on the same sampling id.
    """
    try:
        k = IdKind(kind)
    except ValueError:
        allowed = ", ".join(m.value for m in IdKind)
        raise IdentifierError(
            f"未知的标识类型“{kind}”（可选：{allowed}）",
            f"unknown identifier kind {kind!r} (one of {allowed})",
        ) from None
    if k is IdKind.USCC:
        canonical = validate_uscc(value)
    elif k is IdKind.REGISTRATION_NO:
        canonical = validate_registration_no(value)
    elif k is IdKind.RESIDENT_ID:
        canonical = validate_resident_id(value)
    else:
        canonical = _validate_free_text(k, value)
    return unicodedata.normalize("NFC", canonical)


def masked(identifier: str, id_kind: str | None) -> str:
    """A resident id number (a natural person's) keeps only its first 6 and last 4 characters
    in public; codes of firms, projects and products are shown whole."""
    if id_kind == IdKind.RESIDENT_ID and len(identifier) > 10:
        return identifier[:6] + "*" * (len(identifier) - 10) + identifier[-4:]
    return identifier
