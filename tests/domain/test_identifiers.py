"""USCC, resident ID and free-text identifiers: published codes, every failure's message, and
properties that matter for sampling ids (one canonical spelling, every single typo rejected)."""

from __future__ import annotations

import unicodedata
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssj.domain.identifiers import (
    ORG_CODE_WEIGHTS,
    REGISTRATION_AUTHORITIES,
    RESIDENT_ID_WEIGHTS,
    USCC_CHARSET,
    USCC_WEIGHTS,
    IdentifierError,
    IdKind,
    classify_identifier,
    make_uscc,
    organization_code_check_character,
    region_of,
    resident_id_check_character,
    uscc_check_character,
    validate_identifier,
    validate_registration_no,
    validate_resident_id,
    validate_uscc,
)
from ssj.errors import ValidationError
from tests.conftest import examples

# Codes published with a name or in a standard; each passes both check characters.
PUBLISHED_USCCS = [
    "91350100M000100Y43",  # GB 32100-2015 worked example (its "…Y4Z" input corrected to 3)
    "91110108551385082Q",  # 小米科技有限责任公司
    "914403001922038216",  # 华为技术有限公司
    "91440300708461136T",  # 深圳市腾讯计算机系统有限公司
    "911100007109250324",  # 中国移动通信集团有限公司 (registered at national level: 110000)
    "91110000600037341L",  # python-stdnum / dataprep documentation example
    "91330201MA282UF146",  # 宁波安联检测有限公司: letters in the GB 11714 body
    "12440600MB2C07549J",  # a 事业单位 (1 机构编制 / 2) with letters in the body
]
# GB 11643-1999 Annex A examples.
PUBLISHED_RESIDENT_IDS = ["11010519491231002X", "440524188001010014"]
TODAY = date(2025, 1, 1)


def err(fn: object, *args: object, **kwargs: object) -> IdentifierError:
    with pytest.raises(IdentifierError) as info:
        fn(*args, **kwargs)  # type: ignore[operator]
    return info.value


# --- algorithms against the standards' own definitions ------------------------------------------


def test_uscc_charset_and_weights_follow_gb_32100() -> None:
    assert len(USCC_CHARSET) == 31
    assert not set("IOZSV") & set(USCC_CHARSET)
    assert [pow(3, i, 31) for i in range(17)] == list(USCC_WEIGHTS)


def test_gb_32100_worked_example() -> None:
    # The standard computes 1640 mod 31 = 28, so C18 = 31 - 28 = 3 and "…Y4Z" is rejected
    # (Z is not even in the character set, which is the more precise complaint).
    assert uscc_check_character("91350100M000100Y4") == "3"
    assert "position 18" in err(validate_uscc, "91350100M000100Y4Z").en
    e = err(validate_uscc, "91350100M000100Y4Y")
    assert e.zh == "第 18 位校验码应为 3，实际为 Y"
    assert e.en == "check character (position 18) should be 3, got Y"


def test_check_value_31_maps_to_zero() -> None:
    # Weighted sum 0 mod 31: C18 = 31 - 0 = 31, which the standard writes as "0".
    assert uscc_check_character("9111000000000000G") == "0"
    assert validate_uscc("911100000000004570") == "911100000000004570"


def test_organization_code_check_gb_11714() -> None:
    assert ORG_CODE_WEIGHTS == (3, 7, 9, 10, 5, 8, 4, 2)
    assert organization_code_check_character("19220382") == "1"  # Huawei's 19220382-1
    # Letters take 10-35 (A-Z, full alphabet), not the USCC values: M=22, Q=26, U=30.
    assert organization_code_check_character("MA282UF1") == "4"
    assert organization_code_check_character("M0001QKT") == "1"


@pytest.mark.parametrize(
    ("body", "check"),
    [("00000000", "0"), ("00000001", "9"), ("00000030", "X")],
)
def test_organization_code_check_10_is_x_and_11_is_0(body: str, check: str) -> None:
    # sum 0 -> 11 -> "0"; sum 2 -> 9; sum 3*4=12 -> 12 mod 11 = 1 -> 10 -> "X".
    assert organization_code_check_character(body) == check


def test_resident_id_weights_are_iso_7064_mod_11_2() -> None:
    assert RESIDENT_ID_WEIGHTS == (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    assert resident_id_check_character("11010519491231002") == "X"
    assert resident_id_check_character("44052418800101001") == "4"


# --- published examples -------------------------------------------------------------------------


@pytest.mark.parametrize("code", PUBLISHED_USCCS)
def test_published_usccs_validate(code: str) -> None:
    assert validate_uscc(code) == code
    assert make_uscc(code[:17]) == code


@pytest.mark.parametrize("code", PUBLISHED_RESIDENT_IDS)
def test_published_resident_ids_validate(code: str) -> None:
    assert validate_resident_id(code, today=TODAY) == code


def test_xiamen_pre_2016_anomaly_is_rejected() -> None:
    # A real code whose position 18 disagrees with the standard (hutool#2020): strict by design.
    assert err(validate_uscc, "91350203M0001FUE2P").en.endswith("should be J, got P")


# --- canonicalisation ---------------------------------------------------------------------------


def test_uscc_is_folded_to_canonical_form() -> None:
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in "91110108551385082q")
    assert validate_uscc(f"\u3000 {full_width}\t\n") == "91110108551385082Q"
    assert validate_uscc(" 91110108551385082q ") == "91110108551385082Q"


def test_resident_id_lower_case_x() -> None:
    assert validate_resident_id("１１０１０５１９４９１２３１００２ｘ", today=TODAY) == (
        "11010519491231002X"
    )


# --- USCC failure messages ----------------------------------------------------------------------


def test_uscc_errors_are_validation_errors() -> None:
    assert issubclass(IdentifierError, ValidationError)
    assert err(validate_uscc, "x").as_dict()["code"] == "validation"


@pytest.mark.parametrize(
    ("code", "zh", "en"),
    [
        ("  ", "统一社会信用代码为空", "unified social credit code is empty"),
        (
            "91110108551385082",
            "统一社会信用代码应为 18 位，实际为 17 位",
            "unified social credit code must be 18 characters, got 17",
        ),
        (
            "9111 0108551385082Q",
            "统一社会信用代码应为 18 位，实际为 19 位",
            "unified social credit code must be 18 characters, got 19",
        ),
        (
            "9111010855138S082Q",
            "第 14 位字符“S”不在统一社会信用代码字符集内（不使用 I、O、Z、S、V）",
            "character 'S' at position 14 is not in the USCC character set "
            "(I, O, Z, S, V are never used)",
        ),
        (
            "9111010855O385082Q",
            "第 11 位字符“O”不在统一社会信用代码字符集内（不使用 I、O、Z、S、V），是否应为数字 0",
            "character 'O' at position 11 is not in the USCC character set "
            "(I, O, Z, S, V are never used); did you mean the digit 0?",
        ),
        (
            "B1110108551385082Q",
            "第 1 位登记管理部门代码“B”未在 GB 32100-2015 中定义"
            "（应为 1、2、3、4、5、6、7、8、9、A、N、Y 之一）",
            "registration authority code (position 1) 'B' is not defined by GB 32100-2015 "
            "(expected one of 1, 2, 3, 4, 5, 6, 7, 8, 9, A, N, Y)",
        ),
        (
            "99110108551385082Q",
            "第 2 位机构类别代码“9”不属于登记管理部门 9（工商）（应为 1、2、3 之一）",
            "organisation category code (position 2) '9' is not defined for registration "
            "authority 9 (industry and commerce); expected one of 1, 2, 3",
        ),
        (
            "9111A108551385082Q",
            "第 3–8 位登记管理机关行政区划码应为 6 位数字，实际为“11A108”",
            "administrative division code (positions 3-8) must be 6 digits, got '11A108'",
        ),
        (
            "91110108551385083Q",
            "第 17 位组织机构代码校验码（GB 11714，第 9–17 位）应为 2，实际为 3",
            "organisation code check character (position 17, GB 11714 over positions 9-17) "
            "should be 2, got 3",
        ),
        (
            "91110108551385082R",
            "第 18 位校验码应为 Q，实际为 R",
            "check character (position 18) should be Q, got R",
        ),
    ],
)
def test_uscc_error_messages(code: str, zh: str, en: str) -> None:
    e = err(validate_uscc, code)
    assert (e.zh, e.en) == (zh, en)


def test_uscc_field_given_a_resident_id_hints_at_the_kind() -> None:
    e = err(validate_uscc, "11010519491231002X")
    assert "居民身份证号码" in e.zh and "resident_id" in e.zh
    assert "use the resident_id kind" in e.en


@pytest.mark.parametrize(("authority", "entry"), sorted(REGISTRATION_AUTHORITIES.items()))
def test_every_tabled_category_is_accepted(
    authority: str, entry: tuple[str, str, dict[str, str]]
) -> None:
    for category in entry[2]:
        body = "MA01B2C3"
        first17 = f"{authority}{category}110000{body}{organization_code_check_character(body)}"
        assert validate_uscc(make_uscc(first17)).startswith(authority + category)


def test_uscc_check_character_rejects_bad_input() -> None:
    assert "got 16" in err(uscc_check_character, "9111010855138508").en
    assert "position 3" in err(uscc_check_character, "91I10108551385082").en


def test_make_uscc_rejects_a_structurally_bad_prefix() -> None:
    assert "position 17" in err(make_uscc, "91110108551385083").en


# --- USCC properties ----------------------------------------------------------------------------

BODY_CHARS = st.sampled_from(USCC_CHARSET)


@st.composite
def uscc_prefixes(draw: st.DrawFn) -> str:
    """Structurally valid first 17 characters: tabled authority+category, a division, a GB 11714 code."""
    authority = draw(st.sampled_from(sorted(REGISTRATION_AUTHORITIES)))
    category = draw(st.sampled_from(sorted(REGISTRATION_AUTHORITIES[authority][2])))
    division = draw(st.text("0123456789", min_size=6, max_size=6))
    body = draw(st.text(BODY_CHARS, min_size=8, max_size=8))
    return f"{authority}{category}{division}{body}{organization_code_check_character(body)}"


@given(uscc_prefixes())
def test_every_made_uscc_validates(first17: str) -> None:
    code = make_uscc(first17)
    assert code[:17] == first17
    assert validate_uscc(code) == code


@settings(max_examples=examples(300))
@given(
    uscc_prefixes(),
    st.integers(min_value=0, max_value=17),
    st.sampled_from(USCC_CHARSET + "IOZSV-*#"),
)
def test_every_single_substitution_is_rejected(first17: str, pos: int, ch: str) -> None:
    code = make_uscc(first17)
    if code[pos] == ch:
        ch = USCC_CHARSET[(USCC_CHARSET.index(ch) + 1) % 31]
    typo = code[:pos] + ch + code[pos + 1 :]
    with pytest.raises(IdentifierError):
        validate_uscc(typo)


@given(uscc_prefixes(), st.booleans())
def test_full_width_input_normalises(first17: str, lower: bool) -> None:
    code = make_uscc(first17)
    pasted = "".join(chr(ord(c) + 0xFEE0) for c in (code.lower() if lower else code))
    assert validate_uscc(f"\u3000{pasted}\u3000") == code
    assert validate_identifier(IdKind.USCC, pasted) == code


# --- resident ID --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "zh", "en"),
    [
        ("", "居民身份证号码为空", "resident ID number is empty"),
        (
            "110105491231002",
            "居民身份证号码应为 18 位，实际为 15 位（15 位为第一代旧号码，请使用 18 位号码）",
            "resident ID number must be 18 characters, got 15 "
            "(15 digits is a first-generation number: use the 18-digit number)",
        ),
        (
            "1101051949123100",
            "居民身份证号码应为 18 位，实际为 16 位",
            "resident ID number must be 18 characters, got 16",
        ),
        (
            "110105194912A1002X",
            "居民身份证号码第 13 位应为数字，实际为“A”",
            "resident ID number position 13 must be a digit, got 'A'",
        ),
        (
            "11010519491231002Y",
            "第 18 位校验码应为数字或 X，实际为“Y”",
            "check character (position 18) must be a digit or X, got 'Y'",
        ),
        (
            "110105194902300021",
            "第 7–14 位出生日期“19490230”不是有效日期",
            "birth date (positions 7-14) '19490230' is not a valid date",
        ),
        (
            "110105203001010021",
            "第 7–14 位出生日期 2030-01-01 不合理（应在 1800-01-01 与 2025-01-01 之间）",
            "birth date (positions 7-14) 2030-01-01 is implausible "
            "(expected between 1800-01-01 and 2025-01-01)",
        ),
        (
            "110105179912310021",
            "第 7–14 位出生日期 1799-12-31 不合理（应在 1800-01-01 与 2025-01-01 之间）",
            "birth date (positions 7-14) 1799-12-31 is implausible "
            "(expected between 1800-01-01 and 2025-01-01)",
        ),
        (
            "110105194912310021",
            "第 18 位校验码应为 X，实际为 1",
            "check character (position 18) should be X, got 1",
        ),
    ],
)
def test_resident_id_error_messages(code: str, zh: str, en: str) -> None:
    e = err(validate_resident_id, code, today=TODAY)
    assert (e.zh, e.en) == (zh, en)


@st.composite
def resident_ids(draw: st.DrawFn) -> str:
    address = draw(st.text("0123456789", min_size=6, max_size=6))
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=TODAY))
    sequence = draw(st.text("0123456789", min_size=3, max_size=3))
    first17 = f"{address}{born:%Y%m%d}{sequence}"
    return first17 + resident_id_check_character(first17)


@given(resident_ids())
def test_generated_resident_ids_validate(code: str) -> None:
    assert validate_resident_id(code, today=TODAY) == code


@given(resident_ids(), st.integers(min_value=0, max_value=17), st.sampled_from("0123456789X"))
def test_resident_id_single_substitution_is_rejected(code: str, pos: int, ch: str) -> None:
    if code[pos] == ch:
        ch = "0123456789X"[("0123456789X".index(ch) + 1) % 11]
    with pytest.raises(IdentifierError):
        validate_resident_id(code[:pos] + ch + code[pos + 1 :], today=TODAY)


# --- free text and dispatch ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["product", "project", "behaviour", "other"])
def test_free_text_kinds_strip_and_nfc(kind: str) -> None:
    decomposed = "批次 Cafe\u0301-01"  # e + combining acute
    assert validate_identifier(kind, f"  {decomposed}\u3000") == "批次 Café-01"
    assert validate_identifier(kind, "x" * 64) == "x" * 64


def test_free_text_keeps_compatibility_characters_distinct() -> None:
    # NFKC would turn ① into 1 and merge two different batch numbers: NFC does not.
    assert validate_identifier(IdKind.PRODUCT, "批①") == "批①"
    assert validate_identifier(IdKind.PRODUCT, "ＡＢ１") == "ＡＢ１"


@pytest.mark.parametrize(
    ("kind", "value", "zh", "en"),
    [
        (IdKind.PRODUCT, " \u3000 ", "产品批次号为空", "product id is empty"),
        (
            IdKind.PROJECT,
            "p" * 65,
            "项目编号最长 64 个字符，实际为 65 个",
            "project id must be at most 64 characters, got 65",
        ),
        (
            IdKind.BEHAVIOUR,
            "a\tb",
            "行为编号第 2 个字符 U+0009 不可打印",
            "behaviour id character 2 (U+0009) is not printable",
        ),
        (
            IdKind.OTHER,
            "a\u200bb",
            "标识第 2 个字符 U+200B 不可打印",
            "identifier character 2 (U+200B) is not printable",
        ),
    ],
)
def test_free_text_error_messages(kind: IdKind, value: str, zh: str, en: str) -> None:
    e = err(validate_identifier, kind, value)
    assert (e.zh, e.en) == (zh, en)


def test_dispatch_by_kind() -> None:
    assert validate_identifier("uscc", " 91110108551385082q ") == "91110108551385082Q"
    assert validate_identifier(IdKind.RESIDENT_ID, "11010519491231002x") == "11010519491231002X"
    with pytest.raises(IdentifierError, match="position 18"):
        validate_identifier(IdKind.USCC, "91110108551385082R")
    # The same string is fine as free text: kinds do not leak into each other.
    assert validate_identifier(IdKind.OTHER, "91110108551385082R") == "91110108551385082R"


def test_unknown_kind() -> None:
    e = err(validate_identifier, "passport", "E1234")
    assert e.zh.startswith("未知的标识类型“passport”")
    assert "uscc, registration_no, resident_id, product, project, behaviour, other" in e.en


def test_id_kind_values() -> None:
    assert [k.value for k in IdKind] == [
        "uscc",
        "registration_no",
        "resident_id",
        "product",
        "project",
        "behaviour",
        "other",
    ]


@given(st.sampled_from(list(IdKind)), st.text(min_size=1, max_size=80))
def test_valid_output_is_a_fixed_point_and_nfc(kind: IdKind, value: str) -> None:
    try:
        out = validate_identifier(kind, value)
    except IdentifierError:
        return
    assert out == unicodedata.normalize("NFC", out) == out.strip()
    assert validate_identifier(kind, out) == out


@pytest.mark.parametrize(
    ("value", "kind", "canonical", "region"),
    [
        # shapes seen in the Zhejiang corpus (tests/data/real/README.md)
        ("330327000082876", IdKind.REGISTRATION_NO, "330327000082876", "330327"),  # bad MOD 11,10
        ("3303812901409", IdKind.REGISTRATION_NO, "3303812901409", "330381"),
        ("企合浙绍总字第002112号", IdKind.REGISTRATION_NO, "企合浙绍总字第002112号", None),
        (" 91330000566997460t ", IdKind.USCC, "91330000566997460T", "330000"),
        ("11010519491231002X", IdKind.RESIDENT_ID, "11010519491231002X", None),
        ("CP2026-001", IdKind.OTHER, "CP2026-001", None),
    ],
)
def test_classify_identifiers_of_registry_exports(
    value: str, kind: IdKind, canonical: str, region: str | None
) -> None:
    assert classify_identifier(value) is kind
    assert validate_identifier(kind, value) == canonical
    assert region_of(kind, canonical) == region


def test_a_wrong_uscc_stays_a_uscc_and_says_where() -> None:
    assert classify_identifier("91330302l19373061U") is IdKind.USCC
    e = err(validate_identifier, IdKind.USCC, "91330302l19373061U")
    assert e.en == "check character (position 18) should be A, got U"


@pytest.mark.parametrize(
    ("value", "en"),
    [
        ("33032700008287", None),
        (
            "3303270000828X6",
            "a 15-character registration number must be all digits (a farmers' cooperative's: "
            "6-digit region, NA, 6 digits and a check character)",
        ),
        ("469006NA000129X", None),  # a farmers' cooperative (tests/data/real: Hainan)
        (
            "469006NB000129X",
            "a 15-character registration number must be all digits (a farmers' "
            "cooperative's: 6-digit region, NA, 6 digits and a check character)",
        ),
        (
            "330327",
            "a registration number has 15 digits, or 13 or 14 characters in older forms; got 6",
        ),
        (
            "企合浙绍总字第#02112号",
            "registration number character 8 '#' is not a digit, letter or Chinese character",
        ),
        ("企合浙绍总字第零零二一一二号", "a registration number holds digits"),
    ],
)
def test_registration_numbers(value: str, en: str | None) -> None:
    if en is None:
        assert validate_registration_no(value) == value
    else:
        assert err(validate_registration_no, value).en == en
