"""How a record travels: a CloudEvents 1.0 event (JSON format, HTTP binding), signed by the
log's key and carrying a transparency-log inclusion proof. Pure: building, the exact signed
bytes, and the checks a receiving platform makes.

An event is a JSON object with the CloudEvents context attributes (`specversion` 1.0, `id`,
`source`, `type`, `subject`, `time`, `datacontenttype`), the record as `data`, and five
extension attributes (lower-case letters, as the spec requires):

- `ssjkind`: `results` or `penalties`;
- `ssjseq`: the ledger seq of the event the record was built from;
- `ssjproof`: a C2SP `tlog-proof@v1` text: the seq's envelope (the Merkle leaf, base64 in its
  `extra` line), its RFC 9162 inclusion proof (SM3 in place of SHA-256 under the sm2-sm3 suite), and the signed checkpoint (C2SP signed note) it
  is proved against — so the record's origin is in the public log, checkable offline;
- `ssjkeyid`: the log key that signed the event (as `GET /log/keys` lists it);
- `ssjsignature`: base64 signature, in the log key's suite (Ed25519 or SM2), over `SIGNATURE_CONTEXT` followed by the event without
  `ssjsignature`, serialised canonically (keys sorted, no whitespace, UTF-8, no floats anywhere:
  amounts are decimal text) — the same bytes as RFC 8785 JCS for such JSON.

`id` is `<log origin>/<seq>`: the same record always has the same id (the idempotency key; the
HTTP request also carries it as `Idempotency-Key`), and `source` is the log origin, which the
checkpoint names too. The CloudEvents verifiability extension (DSSE) is still a draft and leaves
the bytes of JSON `data` open, hence this explicit scheme.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from ssj.errors import SsjError
from ssj.ledger import note
from ssj.ledger.checkpoint import Checkpoint, CheckpointError, open_checkpoint

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
BATCH_CONTENT_TYPE = "application/cloudevents-batch+json; charset=utf-8"
SIGNATURE_CONTEXT = b"ssj-delivery/v1\n"
PROOF_FORMAT = "c2sp.org/tlog-proof@v1"
HMAC_HEADER = "X-SSJ-Signature"  # sha256=<hex HMAC of the request body>, with a shared secret
EXTENSIONS = ("ssjkind", "ssjseq", "ssjproof", "ssjkeyid", "ssjsignature")


class DeliveryError(SsjError):
    """A delivered event that does not verify."""

    code = "delivery"


def event_id(origin: str, seq: int) -> str:
    return f"{origin}/{seq}"


def unsigned_event(
    *,
    origin: str,
    seq: int,
    kind: str,
    event_type: str,
    subject: str,
    time: str,
    data: Mapping[str, Any],
    proof: str,
    key_id: str,
) -> dict[str, Any]:
    return {
        "specversion": SPEC_VERSION,
        "id": event_id(origin, seq),
        "source": origin,
        "type": event_type,
        "subject": subject,
        "time": time,
        "datacontenttype": "application/json",
        "data": dict(data),
        "ssjkind": kind,
        "ssjseq": seq,
        "ssjproof": proof,
        "ssjkeyid": key_id,
    }


def canonical(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8 (JCS for JSON without floats). orjson writes the same
    bytes as the standard library's `json.dumps(sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)` for float-free JSON with string keys (checked in the tests), some
    fifteen times faster; anything else (floats, which the scheme has none of, other keys,
    integers beyond 64 bits) takes the standard library's path, so no value is written
    differently than before."""
    if not _has_float(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except TypeError:
            pass
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def _has_float(value: Any) -> bool:
    """Whether a float is anywhere in the value (strings, the usual leaves, checked first)."""
    stack = [value]
    while stack:
        found = stack.pop()
        kind = type(found)
        if kind is str or kind is int or kind is bool or found is None:
            continue
        if isinstance(found, dict):
            stack.extend(found.values())
        elif isinstance(found, list | tuple):
            stack.extend(found)
        elif isinstance(found, float):
            return True
        elif isinstance(found, Mapping):
            stack.extend(found.values())
    return False


def signing_bytes(event: Mapping[str, Any]) -> bytes:
    """What `ssjsignature` signs: the context line, then the event without the signature."""
    return SIGNATURE_CONTEXT + canonical({k: v for k, v in event.items() if k != "ssjsignature"})


def with_signature(event: Mapping[str, Any], signature: bytes) -> dict[str, Any]:
    return {**event, "ssjsignature": base64.b64encode(signature).decode("ascii")}


def body(events: Iterable[Mapping[str, Any]], batched: bool) -> bytes:
    """The HTTP request body: one event (structured mode) or a JSON array (batched mode)."""
    found = list(events)
    return canonical(found if batched else found[0])


def hmac_signature(secret: bytes, payload: bytes) -> str:
    return "sha256=" + hmac.new(secret, payload, hashlib.sha256).hexdigest()


def hmac_ok(secret: bytes, payload: bytes, header: str | None) -> bool:
    return header is not None and hmac.compare_digest(hmac_signature(secret, payload), header)


# The inclusion proof (C2SP tlog-proof) ----------------------------------------------------------


def tlog_proof(envelope: bytes, index: int, hashes: Iterable[bytes], checkpoint: str) -> str:
    lines = [PROOF_FORMAT, "extra " + base64.b64encode(envelope).decode("ascii"), f"index {index}"]
    lines += [base64.b64encode(h).decode("ascii") for h in hashes]
    return "\n".join(lines) + "\n\n" + checkpoint


@dataclass(frozen=True)
class Proof:
    envelope: bytes
    index: int
    hashes: list[bytes]
    checkpoint: str


def parse_tlog_proof(text: str) -> Proof:
    bad = DeliveryError("收录证明格式错误", "malformed tlog-proof")
    head, sep, checkpoint = text.partition("\n\n")
    lines = head.split("\n")
    if not sep or len(lines) < 3 or lines[0] != PROOF_FORMAT:
        raise bad
    if not lines[1].startswith("extra ") or not lines[2].startswith("index "):
        raise bad
    try:
        envelope = base64.b64decode(lines[1][6:], validate=True)
        index = int(lines[2][6:])
        hashes = [base64.b64decode(h, validate=True) for h in lines[3:]]
    except (ValueError, binascii.Error):
        raise bad from None
    if lines[2][6:] != str(index) or index < 0:
        raise bad
    return Proof(envelope, index, hashes, checkpoint)


# What a receiving platform checks --------------------------------------------------------------


@functools.lru_cache(maxsize=16)
def _key_ids(verifier_keys: tuple[str, ...]) -> dict[str, str]:
    """The published keys by id, parsed once per key list (not once per event of a batch)."""
    return {note.key_id(k): k for k in verifier_keys}


@functools.lru_cache(maxsize=64)
def _verifier(key: str) -> note.Verifier:
    return note.parse_verifier_key(key)


def verify_event(
    event: Mapping[str, Any],
    verifier_keys: Iterable[str],
    checkpoints: dict[str, Checkpoint] | None = None,
) -> int:
    """Check a received event against the log's published verifier keys; returns its ledger
    seq, or raises DeliveryError saying what failed:

    1. the CloudEvents attributes are there, and `id` is `<source>/<ssjseq>`;
    2. `ssjsignature` verifies with the key `ssjkeyid` over `signing_bytes`;
    3. the proof's checkpoint is signed by a log key and names `source` as its origin;
    4. the proof's envelope is the leaf at index `ssjseq`, included in that checkpoint's tree
       (RFC 9162), and the envelope itself says seq `ssjseq`.

    `checkpoints` caches checkpoints already verified (by their signed text), so a batch proved
    against one checkpoint checks its signature once.
    """
    keys = _key_ids(tuple(verifier_keys))
    try:
        seq = event["ssjseq"]
        source = str(event["source"])
        if event.get("specversion") != SPEC_VERSION or event["id"] != event_id(source, seq):
            raise DeliveryError("事件标识不符", "the event id is not <source>/<ssjseq>")
        key = keys.get(str(event["ssjkeyid"]))
        signature = base64.b64decode(str(event["ssjsignature"]), validate=True)
        proof = parse_tlog_proof(str(event["ssjproof"]))
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise DeliveryError("事件缺少必需属性", "the event lacks a required attribute") from None
    if key is None:
        raise DeliveryError("签名密钥未知", f"unknown signing key {event['ssjkeyid']!r}")
    verifier = _verifier(key)
    if not verifier.verify(signing_bytes(event), signature):
        raise DeliveryError("事件签名无效", "the event signature does not verify")
    checkpoint = (checkpoints or {}).get(proof.checkpoint)
    if checkpoint is None or checkpoint.origin != source:
        try:
            checkpoint = open_checkpoint(proof.checkpoint, list(keys.values()), origin=source)
        except (CheckpointError, note.NoteError) as e:
            raise DeliveryError(f"检查点无效：{e.zh}", f"checkpoint: {e.en}") from None
        if checkpoints is not None:
            checkpoints[proof.checkpoint] = checkpoint
    tree = verifier.suite.tree  # the log's suite: SHA-256 or SM3 (sm2-sm3) tree hashing
    leaf = tree.leaf_hash(proof.envelope)
    if proof.index != seq or not tree.verify_inclusion(
        leaf, seq, checkpoint.size, proof.hashes, checkpoint.root_hash
    ):
        raise DeliveryError("收录证明无效", f"seq {seq} is not proved in the checkpoint")
    try:
        envelope_seq = json.loads(proof.envelope)["seq"]
    except (ValueError, KeyError, TypeError):
        envelope_seq = None
    if envelope_seq != seq:
        raise DeliveryError("信封序号不符", f"the envelope is not the one of seq {seq}")
    return int(seq)
