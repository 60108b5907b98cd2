"""The mapper's quick test for text the policy forbids: substring searches first, the regex only
where one finds something. It must say exactly what the regex alone said."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from ssj.domain import text as policy
from ssj.ledger.mapper import _SUSPECT, suspect

# Bytes that make up the suspect patterns, and others, so that near misses are common.
PIECES = st.sampled_from(
    [
        *(bytes([b]) for b in b'\\u01bfrn"a'),
        *(
            bytes([b])
            for b in b"\x7f\xc2\x80\x9f\xa0\xef\xb7\x90\xaf\xbf\xbe\xbc\xf0\xf4\xe4\xb8\xad"
        ),
    ]
)


@given(st.lists(PIECES, max_size=40).map(b"".join))
def test_suspect_says_what_the_regex_says_of_any_bytes(data: bytes) -> None:
    assert suspect(data) == (_SUSPECT.search(data) is not None)


@given(st.text(st.characters(blacklist_categories=["Cs"]), max_size=30))
def test_every_forbidden_text_is_suspect_once_encoded(value: str) -> None:
    encoded = json.dumps({"name": value}, ensure_ascii=False).encode()
    assert suspect(encoded) == (_SUSPECT.search(encoded) is not None)
    if policy.first_problem({"name": value}) is not None:
        assert suspect(encoded), value


def test_a_plain_chinese_state_is_not_suspect_and_a_control_character_is() -> None:
    state = json.dumps({"name": "常州（某某）机械有限公司，地址：天宁区"}, ensure_ascii=False)
    assert not suspect(state.encode())
    assert suspect(json.dumps({"name": "a\x85b"}, ensure_ascii=False).encode())
    assert suspect(json.dumps({"name": "a\ufdd0b"}, ensure_ascii=False).encode())
    assert suspect(json.dumps({"name": "a\U0010ffffb"}, ensure_ascii=False).encode())
