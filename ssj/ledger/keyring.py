"""The key ring and the checkpoint log: the ledger's own aggregates, recorded in the ledger.

Key validity is expressed in ledger positions, so a verifier needs nothing but the ledger:
- `Created` at seq s (the genesis, s = 0) makes its key valid from s; it signs itself.
- `Rotated` at seq s is signed by the outgoing key, which stays valid through s;
  the incoming key is valid from s + 1.
- `Revoked` makes every signature by the key at seq >= `as_of_seq` invalid, even retroactively
  (a compromised key), so the verifier fails on them.

The genesis key's type is the ledger's cryptographic suite (`ssj.ledger.suite`): a rotation to a
key of another suite is refused, so a ledger never mixes suites.
"""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ssj.domain import trail
from ssj.errors import ConflictError, ValidationError
from ssj.ledger import note
from ssj.ledger.suite import Suite

KEYRING_ID = uuid5(NAMESPACE_URL, "urn:ssj:keyring")
TLOG_ID = uuid5(NAMESPACE_URL, "urn:ssj:transparency-log")


class KeyRing(Aggregate):
    """Public keys, and which one currently signs."""

    @staticmethod
    def create_id(*_: Any, **__: Any) -> UUID:
        return KEYRING_ID

    class Created(Aggregate.Created):
        verifier_key: str

    @event(Created)
    def __init__(self, verifier_key: str) -> None:
        verifier = note.parse_verifier_key(verifier_key)
        self.keys: dict[str, str] = {verifier.key_id: verifier_key}
        self.active_key_id: str = verifier.key_id
        self.revoked: dict[str, int] = {}

    @property
    def suite(self) -> Suite:
        """The ledger's suite: the type of its keys (the genesis key's, never mixed)."""
        return note.parse_verifier_key(self.keys[self.active_key_id]).suite

    def rotate(self, verifier_key: str) -> None:
        verifier = note.parse_verifier_key(verifier_key)
        if verifier.suite is not self.suite:
            raise ConflictError(
                f"密钥 {verifier.key_id} 属于密码套件 {verifier.suite.name}，"
                f"本账本使用 {self.suite.name}，不能混用",
                f"key {verifier.key_id} is of suite {verifier.suite.name}, this ledger uses "
                f"{self.suite.name}: suites are never mixed",
            )
        if verifier.key_id in self.keys:
            raise ConflictError(
                f"密钥 {verifier.key_id} 已在密钥环中",
                f"key {verifier.key_id} is already in the key ring",
            )
        self._rotated(verifier_key=verifier_key, retired_key_id=self.active_key_id)

    class Rotated(Aggregate.Event):
        verifier_key: str
        retired_key_id: str

    @event(Rotated)
    def _rotated(self, verifier_key: str, retired_key_id: str) -> None:
        key_id = note.parse_verifier_key(verifier_key).key_id
        self.keys[key_id] = verifier_key
        self.active_key_id = key_id

    def revoke(self, key_id: str, as_of_seq: int, reason: str) -> None:
        if key_id not in self.keys:
            raise ValidationError(f"密钥环中没有密钥 {key_id}", f"no key {key_id} in the key ring")
        if key_id == self.active_key_id:
            raise ConflictError(
                f"不能吊销正在使用的密钥 {key_id}，请先轮换",
                f"cannot revoke the active key {key_id}: rotate first",
            )
        if key_id in self.revoked:
            raise ConflictError(f"密钥 {key_id} 已被吊销", f"key {key_id} is already revoked")
        if as_of_seq < 0:
            raise ValidationError("吊销起始序号不能为负", "as-of seq must not be negative")
        if not reason.strip():
            raise ValidationError("吊销必须说明理由", "a revocation needs a reason")
        self._revoked(key_id=key_id, as_of_seq=as_of_seq, reason=reason)

    class Revoked(Aggregate.Event):
        key_id: str
        as_of_seq: int
        reason: str

    @event(Revoked)
    def _revoked(self, key_id: str, as_of_seq: int, reason: str) -> None:
        self.revoked[key_id] = as_of_seq


class TransparencyLog(Aggregate):
    """Every checkpoint the ledger issued, in order."""

    @staticmethod
    def create_id(*_: Any, **__: Any) -> UUID:
        return TLOG_ID

    class Started(Aggregate.Created):
        origin: str

    @event(Started)
    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.last_size = 0

    class CheckpointIssued(Aggregate.Event):
        size: int
        root_hash: str
        signed_note: str

    @event(CheckpointIssued)
    def issue(self, size: int, root_hash: str, signed_note: str) -> None:
        self.last_size = size


# The audit trail (全程留痕): what the ledger's own aggregates say -----------------------------

LEDGER_EVENT_LABELS_ZH: dict[type[Any], str] = {
    KeyRing.Created: "建立密钥环",
    KeyRing.Rotated: "轮换签名密钥",
    KeyRing.Revoked: "吊销签名密钥",
    TransparencyLog.Started: "建立检查点日志",
    TransparencyLog.CheckpointIssued: "签发检查点",
}


@trail.describes(*LEDGER_EVENT_LABELS_ZH)
def _trail_ledger(event: Any, recall: trail.Recall) -> trail.Described:
    zh = LEDGER_EVENT_LABELS_ZH[type(event)]
    return trail.Described(trail.kind_of(event), zh, zh)
