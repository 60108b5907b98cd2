"""C2SP tlog-cosignature/v1: a witness's timestamped signature on a checkpoint.

A cosignature is a signed-note signature line whose key id is SHA-256(name || 0x0A || type ||
public key)[:4] and whose signature is `u64 timestamp (big-endian) || signature` over

    cosignature/v1
    time <timestamp>
    <the checkpoint's note text>

Type 0x04 is the spec's Ed25519 cosignature. A witness of the sm2-sm3 suite signs the same
message with SM2 (GB/T 32918.2, default user id, DER) under type 0xff followed by
`sm2-sm3-cosignature/v1` (signed-note reserves 0xff for types it does not assign); its key
material is the SubjectPublicKeyInfo DER, as for the log's SM2 keys.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from ssj.ledger import note
from ssj.ledger import suite as suites
from ssj.ledger.note import NoteError
from ssj.ledger.suite import Suite

HEADER = "cosignature/v1\n"
MAX_TIMESTAMP = 2**63 - 1
BY_TYPE: dict[bytes, Suite] = {s.cosignature_type: s for s in suites.SUITES.values()}


def _split_type(material: bytes) -> tuple[Suite, bytes] | None:
    for key_type, suite in BY_TYPE.items():
        if material.startswith(key_type) and len(material) > len(key_type):
            return suite, material[len(key_type) :]
    return None


def message(text: str, timestamp: int) -> bytes:
    """What a v1 cosignature signs: header, time line, then the checkpoint's note text."""
    return f"{HEADER}time {timestamp}\n{text}".encode()


@dataclass(frozen=True)
class CosignerKey:
    """A witness's public (verifier) key for cosignatures."""

    name: str
    key_hash: int
    public_key: bytes
    suite: Suite = field(default=suites.ED25519, compare=False)

    @property
    def key_id(self) -> str:
        return f"{self.name}+{self.key_hash:08x}"

    def to_key(self) -> str:
        material = base64.b64encode(self.suite.cosignature_type + self.public_key).decode()
        return f"{self.key_id}+{material}"


@dataclass(frozen=True)
class Cosigner:
    """A witness's private key: signs cosignature lines."""

    name: str
    key_hash: int
    private: bytes = field(repr=False)
    suite: Suite = field(default=suites.ED25519, compare=False)

    @property
    def key_id(self) -> str:
        return f"{self.name}+{self.key_hash:08x}"

    def public(self) -> CosignerKey:
        return CosignerKey(
            self.name, self.key_hash, self.suite.public_material(self.private), self.suite
        )

    def to_key(self) -> str:
        material = base64.b64encode(self.suite.cosignature_type + self.private).decode()
        return f"PRIVATE+KEY+{self.key_id}+{material}"

    def cosign(self, text: str, timestamp: int | None = None) -> str:
        """One signature line (ending in newline) cosigning a checkpoint's note text."""
        ts = int(time.time()) if timestamp is None else timestamp
        if not 0 <= ts <= MAX_TIMESTAMP:
            raise NoteError("时间戳无效", f"invalid cosignature timestamp {ts}")
        signature = self.suite.private_key(self.private).sign(message(text, ts))
        blob = self.key_hash.to_bytes(4, "big") + ts.to_bytes(8, "big") + signature
        return f"{note.SIG_PREFIX}{self.name} {base64.b64encode(blob).decode()}\n"


def _key_hash(name: str, suite: Suite, public: bytes) -> int:
    return note.key_hash(name, public, suite.cosignature_type)


def generate(name: str, suite: Suite = suites.ED25519) -> Cosigner:
    if not note.valid_name(name):
        raise NoteError("见证方名称无效", f"invalid witness name {name!r}")
    private = suite.generate()
    return Cosigner(name, _key_hash(name, suite, suite.public_material(private)), private, suite)


def _parts(s: str) -> tuple[str, int, bytes]:
    name, _, rest = s.partition("+")
    hash8, _, b64 = rest.partition("+")
    try:
        material = base64.b64decode(b64, validate=True)
        key_hash = int(hash8, 16)
    except ValueError:
        raise NoteError("见证方密钥格式错误", "malformed witness key") from None
    if not note.valid_name(name) or len(hash8) != 8 or hash8 != hash8.lower() or not material:
        raise NoteError("见证方密钥格式错误", "malformed witness key")
    return name, key_hash, material


def parse_key(s: str) -> CosignerKey:
    """Parse a witness verifier key "<name>+<hash>+<base64(type || public key)>"."""
    name, key_hash, material = _parts(s.strip() if isinstance(s, str) else "")
    typed = _split_type(material)
    if typed is None:
        raise NoteError(
            "不是见证方（cosignature）密钥", "not a witness cosignature key (type 0x04 or SM2)"
        )
    suite, public = typed
    if not suite.check_public(public) or key_hash != _key_hash(name, suite, public):
        raise NoteError("见证方密钥无效", "invalid witness key (hash or key material)")
    return CosignerKey(name, key_hash, public, suite)


def parse_private(s: str) -> Cosigner:
    prefix = "PRIVATE+KEY+"
    if not isinstance(s, str) or not s.startswith(prefix):
        raise NoteError("见证方私钥格式错误", "malformed witness private key")
    name, key_hash, material = _parts(s[len(prefix) :].strip())
    typed = _split_type(material)
    if typed is None or not typed[0].check_private(typed[1]):
        raise NoteError("见证方私钥格式错误", "malformed witness private key")
    suite, private = typed
    cosigner = Cosigner(name, key_hash, private, suite)
    if key_hash != _key_hash(name, suite, cosigner.public().public_key):
        raise NoteError("见证方私钥哈希不符", "witness private key hash does not match")
    return cosigner


@dataclass(frozen=True)
class Cosignature:
    """A cosignature that verified: who, when."""

    key: CosignerKey
    timestamp: int
    line: str


def verify_lines(
    text: str, lines: Iterable[note.Signature], keys: Iterable[CosignerKey]
) -> tuple[list[Cosignature], list[str]]:
    """Cosignatures among a note's signature lines by the given witness keys: (valid ones, one
    problem per known key whose line does not verify). Unknown lines are ignored (the log's own
    signature, other witnesses)."""
    known = {(k.name, k.key_hash): k for k in keys}
    valid: list[Cosignature] = []
    problems: list[str] = []
    seen: set[tuple[str, int]] = set()
    for sig in lines:
        ident = (sig.name, sig.key_hash)
        key = known.get(ident)
        if key is None or ident in seen:
            continue
        seen.add(ident)
        raw = sig.signature
        if len(raw) < 9:
            problems.append(f"{key.key_id}: malformed cosignature")
            continue
        ts = int.from_bytes(raw[:8], "big")
        if ts > MAX_TIMESTAMP or not key.suite.verify(key.public_key, message(text, ts), raw[8:]):
            problems.append(f"{key.key_id}: cosignature does not verify")
            continue
        line = f"{note.SIG_PREFIX}{sig.name} {base64.b64encode(sig.key_hash.to_bytes(4, 'big') + raw).decode()}\n"
        valid.append(Cosignature(key, ts, line))
    return valid, problems


def cosignatures(
    signed_note: str, keys: Iterable[CosignerKey]
) -> tuple[list[Cosignature], list[str]]:
    """The valid cosignatures on a signed checkpoint (syntax only is checked for the rest)."""
    text, sigs = note.parse_note(signed_note)
    return verify_lines(text, sigs, keys)


def with_lines(signed_note: str, lines: Iterable[str]) -> str:
    """The signed note with extra signature lines appended (each ending in newline)."""
    extra = "".join(line for line in lines if line not in signed_note)
    return signed_note + extra
