"""The envelope: what is signed, chained and logged for every stored event.

The envelope binds a stored event (by originator id and version, which are unique, topic and the
SHA-256 of its exact state bytes) to its position `seq` in one total order, to the actor who
caused it, to the previous envelope, and to the key that signs it. The database's notification id
is deliberately left out: it is only assigned inside the insert, and leaving it out lets a writer
prepare and sign envelopes before it takes the lock (see `chain`). Its canonical bytes (sorted-key
compact JSON) are both the signed message and the Merkle leaf, so nothing outside them is trusted.

The state digest and the chain hash are the ledger's suite's hash: SHA-256 under
`ed25519-sha256` (field `state_sha256`), SM3 under `sm2-sm3` (field `state_sm3`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson

from ssj.errors import ValidationError
from ssj.ledger import suite as suites
from ssj.ledger.suite import Suite

ENVELOPE_VERSION = 1
GENESIS_PREV = bytes(32)
ROLES = ("system", "admin", "operator", "leader", "inspector", "supervisor", "reviewer", "public")


@dataclass(frozen=True)
class Actor:
    """Who caused an event: the user, the department they acted for, and their role."""

    user: str
    department: str
    role: str

    def __post_init__(self) -> None:
        if not self.user or not self.user.strip():
            raise ValidationError("操作人不能为空", "actor user must not be empty")
        if self.role not in ROLES:
            raise ValidationError(
                f"未知角色：{self.role!r}",
                f"unknown role {self.role!r} (one of {', '.join(ROLES)})",
            )

    def as_dict(self) -> dict[str, str]:
        return {"user": self.user, "department": self.department, "role": self.role}


SYSTEM = Actor(user="ssj", department="", role="system")


@dataclass(frozen=True)
class Envelope:
    seq: int
    originator_id: str
    originator_version: int
    topic: str
    state_digest: bytes
    actor: Actor
    recorded_at: str
    prev_hash: bytes
    key_id: str
    state_key: str = suites.ED25519.state_key  # "state_sha256", or "state_sm3" under sm2-sm3

    @property
    def state_sha256(self) -> bytes:
        """The state digest by its ed25519-sha256 name (read `state_digest` in new code)."""
        return self.state_digest

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            {
                "v": ENVELOPE_VERSION,
                "seq": self.seq,
                "originator_id": self.originator_id,
                "originator_version": self.originator_version,
                "topic": self.topic,
                self.state_key: self.state_digest.hex(),
                "actor": self.actor.as_dict(),
                "recorded_at": self.recorded_at,
                "prev": self.prev_hash.hex(),
                "key_id": self.key_id,
            },
            option=orjson.OPT_SORT_KEYS,
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Envelope:
        """Parse stored bytes; what they prove is judged by the verifier, not here."""
        obj: dict[str, Any] = orjson.loads(data)
        if obj.get("v") != ENVELOPE_VERSION:
            raise ValueError(f"unsupported envelope version {obj.get('v')!r}")
        actor = obj["actor"]
        state_key = "state_sm3" if "state_sm3" in obj else "state_sha256"
        envelope = cls(
            seq=obj["seq"],
            originator_id=obj["originator_id"],
            originator_version=obj["originator_version"],
            topic=obj["topic"],
            state_digest=bytes.fromhex(obj[state_key]),
            actor=Actor.__new__(Actor),
            recorded_at=obj["recorded_at"],
            prev_hash=bytes.fromhex(obj["prev"]),
            key_id=obj["key_id"],
            state_key=state_key,
        )
        # Bypass Actor validation: a verifier must read whatever was stored, then judge it.
        object.__setattr__(envelope.actor, "user", actor["user"])
        object.__setattr__(envelope.actor, "department", actor["department"])
        object.__setattr__(envelope.actor, "role", actor["role"])
        return envelope


class EnvelopeWriter:
    """`Envelope.to_bytes` for a batch: the parts that one batch shares (actor, time, key) are
    encoded once, and each envelope is joined from bytes around them, in the same sorted-key
    order, so the bytes are exactly `Envelope.to_bytes`'s (tested against it); about a third of
    the cost of building and encoding an `Envelope` per event."""

    __slots__ = ("_head", "_middle", "_state")

    def __init__(self, actor: Actor, recorded_at: str, key_id: str, state_key: str) -> None:
        dumps = orjson.dumps
        self._head = b"".join(
            (
                b'{"actor":',
                dumps(actor.as_dict(), option=orjson.OPT_SORT_KEYS),
                b',"key_id":',
                dumps(key_id),
                b',"originator_id":',
            )
        )
        self._middle = b'","recorded_at":' + dumps(recorded_at) + b',"seq":'
        self._state = b',"' + state_key.encode() + b'":"'

    def __call__(
        self,
        seq: int,
        originator_id: str,
        originator_version: int,
        topic: str,
        state_digest: bytes,
        prev_hash: bytes,
    ) -> bytes:
        dumps = orjson.dumps
        return b"".join(
            (
                self._head,
                dumps(originator_id),
                b',"originator_version":',
                b"%d" % originator_version,
                b',"prev":"',
                prev_hash.hex().encode(),
                self._middle,
                b"%d" % seq,
                self._state,
                state_digest.hex().encode(),
                b'","topic":',
                dumps(topic),
                b',"v":%d}' % ENVELOPE_VERSION,
            )
        )


def envelope_hash(data: bytes, suite: Suite = suites.ED25519) -> bytes:
    """Hash of an envelope's canonical bytes: what the next envelope's `prev` must hold."""
    return suite.digest(data)


def originator_text(originator_id: UUID | str) -> str:
    return str(originator_id)


_second: tuple[int, str] = (-1, "")  # the last whole second written, and its text


def utc_now_text() -> str:
    return utc_text(time.time_ns())


def utc_text(ns: int) -> str:
    """`ns` nanoseconds after the epoch in UTC, to the microsecond, as `datetime`'s
    `isoformat(timespec="microseconds")` writes it but with "Z". The second's text is kept
    while it lasts: ~0.5 us an append's time against ~1.5 through `datetime` (2026-12-06)."""
    global _second
    seconds, micros = divmod(ns // 1000, 1_000_000)
    last = _second
    if last[0] != seconds:
        last = _second = (seconds, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)))
    return f"{last[1]}.{micros:06d}Z"
