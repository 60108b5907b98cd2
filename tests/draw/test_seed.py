"""Seed formulas and population roots: injective encodings and pinned known answers.

The known answers pin the public formulas forever: a change here breaks every recorded draw's
reproduction, so it must be a new SEED_DOMAIN, never an edit.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssj.draw.population import frozen, population_root
from ssj.draw.sampler import normalise
from ssj.draw.seed import (
    SEED_DOMAIN,
    draw_seed,
    expert_seed,
    length_prefixed,
    nonce_commitment,
    stratum_seed,
    team_seed,
)

COMMIT = "ab" * 32
NONCE = "cd" * 16
DRAND = "fc1873a13f3545aeade8401532ef5519920652eee6b0d2b19ca12643b87b3587"
DICE = [("张三", "123456"), ("Li Si", "654321")]


def _decode(data: bytes) -> list[str]:
    """Inverse of length_prefixed: if it exists, the encoding is injective."""
    parts, i = [], 0
    while i < len(data):
        n = int.from_bytes(data[i : i + 8], "big")
        parts.append(data[i + 8 : i + 8 + n].decode("utf-8"))
        i += 8 + n
    assert i == len(data)
    return parts


@given(st.lists(st.text(max_size=12), max_size=8))
def test_length_prefixed_decodes_back(parts: list[str]) -> None:
    assert _decode(length_prefixed(parts)) == parts


def test_length_prefixed_layout() -> None:
    assert length_prefixed(["a", "", "张"]) == (
        b"\x00" * 7 + b"\x01a" + b"\x00" * 8 + b"\x00" * 7 + b"\x03" + "张".encode()
    )


def test_seed_matches_the_written_formula() -> None:
    parts = [SEED_DOMAIN, "D-1", COMMIT, NONCE, "2", "张三", "123456", "Li Si", "654321", DRAND]
    encoded = b"".join(len(p.encode()).to_bytes(8, "big") + p.encode() for p in parts)
    assert draw_seed("D-1", COMMIT, NONCE, DICE, DRAND) == hashlib.sha256(encoded).hexdigest()


def test_seed_known_answers() -> None:
    assert draw_seed("D-2024-0001", COMMIT, NONCE, DICE, None) == (
        "5da430069b8360143f326edcf06bda18c2e5d8f0260f13e5ec66016e58b8a338"
    )
    assert draw_seed("D-2024-0001", COMMIT, NONCE, DICE, DRAND) == (
        "b66937d1089d8b371eb73364d6103fe16fca03a77b78ca4fadded6b221cf5202"
    )
    assert draw_seed("", "", "", [], None) == (
        "17711babe7f96470a49d2eb9e8d586e17387612c841b18d77f3bb1ac5e225329"
    )


def test_seed_is_injective_on_boundary_shifts() -> None:
    base = ("D-1", COMMIT, NONCE)
    variants = [
        draw_seed(*base, [("w", "12"), ("v", "3")], None),
        draw_seed(*base, [("w", "1"), ("v", "23")], None),
        draw_seed(*base, [("w1", "2"), ("v", "3")], None),
        draw_seed(*base, [("w", "12v"), ("", "3")], None),
        draw_seed(*base, [("w", "12"), ("v", "3"), ("", "")], None),
        draw_seed(*base, [("w", "12")], None),
        draw_seed(*base, [("v", "3"), ("w", "12")], None),  # witness order is part of the seed
        draw_seed(*base, [("w", "12"), ("v", "3")], DRAND),
        draw_seed("D-1" + COMMIT[:2], COMMIT[2:], NONCE, [("w", "12"), ("v", "3")], None),
        draw_seed("D-1", COMMIT + NONCE[:2], NONCE[2:], [("w", "12"), ("v", "3")], None),
        draw_seed("D-1", COMMIT, NONCE + "1", [("w", "2"), ("v", "3")], None),
        draw_seed("D-1", COMMIT, NONCE, [("1", "w")], None),  # dice count vs a witness named "1"
    ]
    assert len(set(variants)) == len(variants)


dice_lists = st.lists(st.tuples(st.text(max_size=4), st.text("0123456789", max_size=4)), max_size=3)
seed_inputs = st.tuples(
    st.text(max_size=4),
    st.text("0123456789abcdef", max_size=4),
    st.text("0123456789abcdef", max_size=4),
    dice_lists,
    st.one_of(st.none(), st.text("0123456789abcdef", min_size=1, max_size=4)),
)


@given(seed_inputs, seed_inputs)
def test_seed_differs_whenever_the_inputs_differ(a: tuple, b: tuple) -> None:
    assert (draw_seed(*a) == draw_seed(*b)) == (a == b)


def test_nonce_commitment() -> None:
    assert nonce_commitment(NONCE) == hashlib.sha256(bytes.fromhex(NONCE)).hexdigest()
    assert nonce_commitment(NONCE) == (
        "c0a265d5eaedd3be7ff118927bfcc5d53723bca9443650383a2a47223843ed87"
    )
    assert nonce_commitment("00") != nonce_commitment("0000")
    assert nonce_commitment("") == hashlib.sha256(b"").hexdigest()


@pytest.mark.parametrize(
    "spelling", [NONCE.upper(), "CD" + NONCE[2:], "cd " + NONCE[2:], "c", "xy"]
)
def test_nonce_commitment_admits_one_spelling_only(spelling: str) -> None:
    """The seed hashes the nonce's text: a commitment that admitted other spellings of the same
    bytes would let whoever reveals pick among many seeds after the dice are in."""
    with pytest.raises(ValueError):
        nonce_commitment(spelling)


def test_derived_seeds() -> None:
    assert stratum_seed("s", "A类") == "s/A类"
    assert team_seed("s", "91110000600037341L") == "s/team/91110000600037341L"
    assert expert_seed("s", "t") == "s/expert/t"


def _mth(entries: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1, transcribed: MTH({}) = SHA-256(); MTH({d0}) = SHA-256(0x00 || d0);
    MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])), k the largest power of 2 < n."""
    n = len(entries)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + entries[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + _mth(entries[:k]) + _mth(entries[k:])).digest()


def test_population_root_known_answers() -> None:
    three = frozen(["食品经营许可", "a", "91110000600037341L"])
    assert three == ["91110000600037341L", "a", "食品经营许可"]
    pinned = {
        (): "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ("a",): "022a6979e6dab7aa5ae4c3e5e45f7e977112a7e63593820dbec1ec738a24f93c",
        tuple(three): "ae292188f0344ae98b056a99e2645a243b14f0be9cd49a46ff8067d7e0be6a44",
    }
    for ids, root in pinned.items():
        assert population_root(ids) == root
        assert _mth([i.encode() for i in ids]).hex() == root


@given(st.sets(st.text(min_size=1, max_size=6).map(normalise), max_size=40))
def test_population_root_is_rfc9162(ids: set[str]) -> None:
    canonical = frozen(ids)
    assert population_root(canonical) == _mth([i.encode() for i in canonical]).hex()
