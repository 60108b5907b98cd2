"""drand "quicknet" beacons as an optional public input to a draw seed: pure, no network.

A draw commits to a future quicknet round before anyone can know its randomness; once the round
has passed, the operator fetches the beacon (`https://api.drand.sh/<CHAIN_HASH>/public/<round>`)
and anyone can check it offline. Quicknet is unchained: its randomness is SHA-256 of the BLS
signature, and the signature (BLS12-381 on G1, RFC 9380 hash-to-curve) is over the round number
alone. The hash rule is checked here with the standard library; the signature is checked when
the optional `drand-verify` package is installed (`pip install 'ssj[drand]'`), and the result
says so when it is not, so nobody mistakes an unchecked beacon for a verified one.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ssj.errors import ValidationError

CHAIN_HASH = "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971"
GENESIS_TIME = 1692803367
PERIOD_SECONDS = 3
# The group key of the quicknet chain (drand-verify's default too); pinned here so a verdict
# never depends on a library default that a later release could change.
PUBLIC_KEY = (
    "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c"
    "8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb"
    "5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a"
)
SIGNATURE_BYTES = 48  # a compressed G1 point
RANDOMNESS_BYTES = 32
MAX_ROUND = 2**64 - 1  # drand rounds are uint64

NOT_INSTALLED = "not checked: drand-verify not installed"

BlsStatus = Literal["verified", "invalid", "not checked"]


def round_time(round: int) -> int:
    """Unix time (seconds) at which `round` is published: genesis is round 1."""
    _check_round(round)
    return GENESIS_TIME + (round - 1) * PERIOD_SECONDS


def round_at(unix_seconds: float) -> int:
    """The latest round published at `unix_seconds`; 0 before genesis (no beacon yet)."""
    if unix_seconds < GENESIS_TIME:
        return 0
    return math.floor((unix_seconds - GENESIS_TIME) / PERIOD_SECONDS) + 1


def _check_round(round: object) -> None:
    if not isinstance(round, int) or isinstance(round, bool) or not 1 <= round <= MAX_ROUND:
        raise ValidationError(
            f"drand 轮次应为 1 到 {MAX_ROUND} 的整数，收到 {round!r}",
            f"drand round must be an integer from 1 to {MAX_ROUND}, got {round!r}",
        )


def _hex_field(name: str, value: object, size: int) -> str:
    """Lower-case hex of exactly `size` bytes, so one beacon has one spelling in a seed."""
    if not isinstance(value, str):
        raise ValidationError(
            f"drand 字段 {name} 应为十六进制字符串", f"drand field {name} must be a hex string"
        )
    try:
        data = bytes.fromhex(value)
    except ValueError:
        data = None
    if data is None or len(value) != 2 * len(data):  # fromhex skips spaces: refuse them
        raise ValidationError(
            f"drand 字段 {name} 不是十六进制", f"drand field {name} is not hex: {value[:80]!r}"
        )
    if len(data) != size:
        raise ValidationError(
            f"drand 字段 {name} 应为 {size} 字节，实际 {len(data)} 字节",
            f"drand field {name} must be {size} bytes, got {len(data)}",
        )
    return value.lower()


@dataclass(frozen=True)
class Beacon:
    """One quicknet beacon as published; validated on construction, hex in lower case."""

    round: int
    randomness: str
    signature: str

    def __post_init__(self) -> None:
        _check_round(self.round)
        object.__setattr__(
            self, "randomness", _hex_field("randomness", self.randomness, RANDOMNESS_BYTES)
        )
        object.__setattr__(
            self, "signature", _hex_field("signature", self.signature, SIGNATURE_BYTES)
        )

    @classmethod
    def parse(cls, raw: bytes | str | Mapping[str, Any]) -> Beacon:
        """A beacon from the drand HTTP API's JSON (extra keys such as a chained beacon's
        previous_signature are ignored)."""
        if isinstance(raw, bytes | str):
            try:
                data = json.loads(raw)
            except (ValueError, UnicodeDecodeError) as e:
                raise ValidationError(
                    f"drand 信标不是有效的 JSON：{e}", f"drand beacon is not valid JSON: {e}"
                ) from None
        else:
            data = raw
        if not isinstance(data, Mapping):
            raise ValidationError("drand 信标应为 JSON 对象", "drand beacon must be a JSON object")
        missing = [k for k in ("round", "randomness", "signature") if k not in data]
        if missing:
            raise ValidationError(
                f"drand 信标缺少字段：{', '.join(missing)}",
                f"drand beacon is missing: {', '.join(missing)}",
            )
        return cls(data["round"], data["randomness"], data["signature"])


@dataclass(frozen=True)
class BeaconCheck:
    """What was checked about a beacon; `ok` is False on any failed check, and `verified`
    only when the BLS signature was checked too."""

    beacon: Beacon
    expected_round: int
    round_ok: bool
    randomness_ok: bool
    bls: BlsStatus
    bls_detail: str

    @property
    def ok(self) -> bool:
        return self.round_ok and self.randomness_ok and self.bls != "invalid"

    @property
    def verified(self) -> bool:
        return self.ok and self.bls == "verified"

    def problems(self) -> list[str]:
        """Bilingual lines, one per failed check (empty when `ok`)."""
        out = []
        if not self.round_ok:
            out.append(
                f"drand 轮次不符：应为 {self.expected_round}，信标为 {self.beacon.round} / "
                f"drand round mismatch: expected {self.expected_round}, beacon has "
                f"{self.beacon.round}"
            )
        if not self.randomness_ok:
            out.append(
                "drand 随机数不等于签名的 SHA-256 / "
                "drand randomness is not SHA-256 of the signature"
            )
        if self.bls == "invalid":
            out.append(f"drand BLS 签名无效 / drand BLS signature invalid: {self.bls_detail}")
        return out


def _bls_verifier() -> Callable[..., str] | None:
    """drand_verify.verify_quicknet, or None when the optional package is missing."""
    try:
        from drand_verify import verify_quicknet
    except ImportError:
        return None
    verify: Callable[..., str] = verify_quicknet
    return verify


def check(beacon: Beacon, expected_round: int) -> BeaconCheck:
    """Check a beacon against the round the draw committed to, offline."""
    _check_round(expected_round)
    randomness_ok = hashlib.sha256(bytes.fromhex(beacon.signature)).hexdigest() == (
        beacon.randomness
    )
    verify = _bls_verifier()
    if verify is None:
        bls: BlsStatus = "not checked"
        detail = NOT_INSTALLED
    else:
        try:  # inputs are validated above: the library's panics on bad hex cannot happen
            derived = verify(beacon.round, beacon.signature, PUBLIC_KEY)
        except ValueError as e:
            bls, detail = "invalid", str(e)
        else:
            bls, detail = "verified", "BLS signature verified against the quicknet key"
            randomness_ok = randomness_ok and derived == beacon.randomness
    return BeaconCheck(
        beacon=beacon,
        expected_round=expected_round,
        round_ok=beacon.round == expected_round,
        randomness_ok=randomness_ok,
        bls=bls,
        bls_detail=detail,
    )
