"""The signed bytes of a delivered event: orjson must write exactly what the standard library's
`json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)` wrote, or receivers that
verify with either would disagree."""

from __future__ import annotations

import json
import random
from collections import OrderedDict
from typing import Any

import pytest

from ssj.domain.cloudevents import canonical

# Control characters, the JSON escapes, non-ASCII (CJK, full-width brackets, U+2028/9, the BOM,
# private use, astral planes: key order by code point, where UTF-16 order would differ).
CHARS = [chr(i) for i in range(0x250)] + list("罚款〔〕（）：\u2028\u2029\ufeff\ue000\uffff")
CHARS += ["\U0001f600", "\U00010000", "\U0010ffff"]


def stdlib(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def test_every_character_is_written_as_before() -> None:
    for ch in CHARS:
        value = {f"k{ch}": f"a{ch}b", ch: [ch, 1, None, True, False]}
        assert canonical(value) == stdlib(value), repr(ch)


def test_random_documents_are_written_as_before() -> None:
    rnd = random.Random(12)
    for _ in range(3000):
        keys = ["".join(rnd.choices(CHARS, k=rnd.randint(0, 4))) for _ in range(rnd.randint(0, 6))]
        value = {
            k: [rnd.randint(-(2**63), 2**64 - 1), k, {"z": k, "a": [], "m": {}}, (1, "x")]
            for k in keys
        }
        assert canonical(value) == stdlib(value)


def test_values_orjson_would_write_otherwise_take_the_standard_path() -> None:
    # Floats (the scheme has none; orjson writes 1e16 where json writes 1e+16), integers beyond
    # 64 bits, non-string keys, other mappings: written exactly as before, or refused as before.
    for value in (
        {"a": 1e16},
        {"a": [{"b": 0.1}]},
        {"a": 2**70},
        {1: "x"},
        OrderedDict(b=1, a=2),
    ):
        assert canonical(value) == stdlib(value)
    for bad in ({"a": float("nan")}, {"a": "\ud800"}):
        with pytest.raises(ValueError):
            stdlib(bad)
        with pytest.raises(ValueError):
            canonical(bad)
