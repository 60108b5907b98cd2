"""drand quicknet: round arithmetic, beacon parsing, and the offline checks on a real beacon."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap

import pytest

from ssj.draw import drand
from ssj.draw.drand import Beacon, check, round_at, round_time
from ssj.errors import ValidationError

ROUND = 657413
SIGNATURE = (
    "b713718a38ae728dfd477991af2822e08d2f305e47718cef9f7848ce4050e7be"
    "41076862b98fad56e91a6b85b89cd97b"
)
RANDOMNESS = "fc1873a13f3545aeade8401532ef5519920652eee6b0d2b19ca12643b87b3587"
API_JSON = json.dumps(
    {"round": ROUND, "randomness": RANDOMNESS, "signature": SIGNATURE, "extra": [1, 2]}
)


def test_round_time_and_round_at_agree() -> None:
    assert round_time(1) == drand.GENESIS_TIME
    assert round_time(ROUND) == 1692803367 + (ROUND - 1) * 3
    for r in (1, 2, ROUND, 10**9):
        t = round_time(r)
        assert round_at(t) == r
        assert round_at(t + 2) == r
        assert round_at(t + 2.999) == r
        assert round_at(t + 3) == r + 1
    assert round_at(drand.GENESIS_TIME - 1) == 0
    assert round_at(0) == 0


@pytest.mark.parametrize("bad", [0, -1, True, 1.0, "5", 2**64])
def test_round_time_rejects_non_rounds(bad: object) -> None:
    with pytest.raises(ValidationError):
        round_time(bad)  # type: ignore[arg-type]


def test_parse_accepts_api_json_as_str_bytes_and_dict() -> None:
    expected = Beacon(ROUND, RANDOMNESS, SIGNATURE)
    assert Beacon.parse(API_JSON) == expected
    assert Beacon.parse(API_JSON.encode()) == expected
    assert Beacon.parse(json.loads(API_JSON)) == expected


def test_parse_lowercases_hex() -> None:
    b = Beacon.parse({"round": ROUND, "randomness": RANDOMNESS.upper(), "signature": SIGNATURE})
    assert b.randomness == RANDOMNESS


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        (json.dumps({"round": ROUND, "signature": SIGNATURE}), "missing: randomness"),
        (json.dumps({"randomness": RANDOMNESS}), "missing: round, signature"),
        (
            json.dumps({"round": "657413", "randomness": RANDOMNESS, "signature": SIGNATURE}),
            "round",
        ),
        (json.dumps({"round": 0, "randomness": RANDOMNESS, "signature": SIGNATURE}), "round"),
        (json.dumps({"round": ROUND, "randomness": "zz" * 32, "signature": SIGNATURE}), "not hex"),
        (json.dumps({"round": ROUND, "randomness": RANDOMNESS, "signature": 5}), "hex string"),
        (
            json.dumps({"round": ROUND, "randomness": RANDOMNESS[:-2], "signature": SIGNATURE}),
            "32 bytes, got 31",
        ),
        (
            json.dumps({"round": ROUND, "randomness": RANDOMNESS, "signature": SIGNATURE + "00"}),
            "48 bytes, got 49",
        ),
        (
            json.dumps(
                {"round": ROUND, "randomness": " " + RANDOMNESS[1:], "signature": SIGNATURE}
            ),
            "not hex",
        ),
    ],
)
def test_parse_rejects_bad_beacons_in_both_languages(raw: str | bytes, fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        Beacon.parse(raw)
    assert fragment in info.value.en
    assert info.value.zh and not info.value.zh.isascii()


def test_real_beacon_verifies() -> None:
    result = check(Beacon.parse(API_JSON), ROUND)
    assert result.round_ok and result.randomness_ok
    assert result.bls == "verified"
    assert result.ok and result.verified
    assert result.problems() == []


def test_signature_claimed_for_another_round_fails_bls() -> None:
    forged = Beacon(ROUND + 1, RANDOMNESS, SIGNATURE)  # sha256 rule still holds
    result = check(forged, ROUND + 1)
    assert result.round_ok and result.randomness_ok
    assert result.bls == "invalid"
    assert not result.ok and not result.verified
    assert any("BLS" in p for p in result.problems())


def test_round_mismatch_and_wrong_randomness_are_reported() -> None:
    assert not check(Beacon.parse(API_JSON), ROUND + 1).round_ok
    wrong = Beacon(ROUND, hashlib.sha256(b"x").hexdigest(), SIGNATURE)
    result = check(wrong, ROUND)
    assert not result.randomness_ok and not result.ok
    assert any("SHA-256" in p for p in result.problems())


def test_signature_that_is_not_a_curve_point_is_invalid_not_a_crash() -> None:
    sig = "00" * 48
    result = check(Beacon(ROUND, hashlib.sha256(bytes(48)).hexdigest(), sig), ROUND)
    assert result.randomness_ok
    assert result.bls == "invalid"


def test_without_drand_verify_the_signature_is_reported_unchecked() -> None:
    script = textwrap.dedent(
        f"""
        import sys
        sys.modules["drand_verify"] = None
        from ssj.draw.drand import Beacon, NOT_INSTALLED, check
        good = check(Beacon({ROUND}, "{RANDOMNESS}", "{SIGNATURE}"), {ROUND})
        forged = check(Beacon({ROUND + 1}, "{RANDOMNESS}", "{SIGNATURE}"), {ROUND + 1})
        assert good.bls == forged.bls == "not checked", (good, forged)
        assert good.bls_detail == NOT_INSTALLED
        assert good.ok and not good.verified
        assert forged.ok and not forged.verified  # only the BLS check could catch it
        print("unchecked")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "unchecked"
